/* Which devices are connected to the broker and listening for stream requests, as the plugin
 * reports it over the hub bus. Kept in memory for the stream POST's "is it online" check
 * (docs/protocol.md §1.4: 404103 at once when it is not), and written to the registry's
 * connectionState, connectionStateUpdatedTime and lastActivityTime. Thread-safe. */
#ifndef PRESENCE_H
#define PRESENCE_H

#include "hub_bus.h"
#include "registry.h"

#include <stddef.h>

enum presence_state {
    PRESENCE_OFFLINE,
    PRESENCE_ONLINE,    /* connected, not subscribed to $iothub/streams/POST/# */
    PRESENCE_LISTENING, /* connected and subscribed: a stream request can reach it */
};

struct presence;

/* observer (may be NULL) hears of every change of a client's state, outside the lock, in the
 * thread that applied it; cid NULL means every client went offline (presence_reset). */
typedef void (*presence_observer)(void *ctx, const char *cid, enum presence_state state);

struct presence *presence_new(struct registry *reg, presence_observer observer, void *ctx);
void presence_free(struct presence *p);

/* Applies a plugin event (CONNECTED, SUBSCRIBED, UNSUBSCRIBED, DISCONNECTED). */
void presence_apply(struct presence *p, enum hub_bus_kind kind, const char *cid,
                    const char *payload);
/* The client published something: its device was active. */
void presence_touch(struct presence *p, const char *cid);
/* The link to the broker is gone: every client is offline (a new broker starts empty). */
void presence_reset(struct presence *p);

enum presence_state presence_get(struct presence *p, const char *cid);
/* Connected clients (devices and modules). */
size_t presence_count(struct presence *p);

#endif
