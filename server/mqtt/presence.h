/* Which devices are connected to the broker and what they listen for (stream requests, method
 * calls), as the plugin reports it over the hub bus. Kept in memory for the "is it online" checks
 * of a stream POST or a method call (docs/protocol.md §1.4 and rule D2: 404103 at once when it is
 * not), and written to the registry's connectionState, connectionStateUpdatedTime and
 * lastActivityTime. Thread-safe. */
#ifndef PRESENCE_H
#define PRESENCE_H

#include "hub_bus.h"
#include "registry.h"

#include <stddef.h>

/* A client's state for one feature (an enum hub_listen bit). */
enum presence_state {
    PRESENCE_OFFLINE,
    PRESENCE_ONLINE,    /* connected, not subscribed to the feature's requests */
    PRESENCE_LISTENING, /* connected and subscribed: the feature's requests can reach it */
};

/* A client as a whole: connected or not, and the hub_listen bits of what it listens for. */
struct presence_view {
    int connected;
    unsigned listens;
};

struct presence;

/* observer (may be NULL) hears of every change of a client's state, outside the lock, in the
 * thread that applied it; cid NULL means every client went offline (presence_reset). */
typedef void (*presence_observer)(void *ctx, const char *cid, struct presence_view view);

struct presence *presence_new(struct registry *reg, presence_observer observer, void *ctx);
void presence_free(struct presence *p);

/* Applies a plugin event (CONNECTED, LISTENS, DISCONNECTED). */
void presence_apply(struct presence *p, enum hub_bus_kind kind, const char *cid,
                    const char *payload);
/* The client published something: its device was active. */
void presence_touch(struct presence *p, const char *cid);
/* The link to the broker is gone: every client is offline (a new broker starts empty). */
void presence_reset(struct presence *p);

struct presence_view presence_view(struct presence *p, const char *cid);
/* The client's state for feature (one hub_listen bit). */
enum presence_state presence_get(struct presence *p, const char *cid, unsigned feature);
/* Connected clients (devices and modules). */
size_t presence_count(struct presence *p);

#endif
