/* The plugin's view of connected clients: client id -> its current connection, and what its
 * session listens for (stream requests, method calls: hub_bus.h's enum hub_listen).
 *
 * Takeover: when a device connects again with the same client id, mosquitto reports the new
 * connection before the old one's disconnect. The map keeps the newest connection, so the old one's
 * disconnect is recognised as stale and not reported. */
#ifndef CLIENT_MAP_H
#define CLIENT_MAP_H

#include "strmap.h"

struct client_state {
    const void *connection; /* the broker's struct mosquitto *, NULL while disconnected */
    char **covering;        /* the session's filters that cover a feature's requests */
    size_t covering_count;
    int persistent; /* clean session false: the broker keeps the session */
    /* What its telemetry is stamped with (docs/protocol.md rule D12), set at each connect. */
    char generation_id[24];
    char model_id[128]; /* the CONNECT user name's model-id, "" when none */
};

/* Records a new connection and returns its state (client_listens says whether a resumed session
 * already listens), or NULL when out of memory. Only a persistent session that follows a
 * persistent one keeps its subscriptions, as in mosquitto. */
struct client_state *client_map_connect(struct strmap *m, const char *cid, const void *connection,
                                        int clean_session);

/* What the session of cid listens for: the hub_listen bits of the filters it holds. */
unsigned client_listens(const struct client_state *s, const char *cid);

/* Adds (subscribe) or removes (unsubscribe) a filter that covers a feature's requests
 * (mqtt_filter_listens); subscribing twice to the same filter keeps one, as in MQTT. Returns 0,
 * or -1 when out of memory. */
int client_note_filter(struct client_state *s, const char *filter, int subscribe);

/* Frees a state (for strmap_free). */
void client_state_free(void *state);

/* The state of a client id, or NULL. */
struct client_state *client_map_find(const struct strmap *m, const char *cid);

/* Records a disconnect. Returns 1 when connection was the current one (a real disconnect), 0 when
 * it was stale (taken over) or unknown. Clients without a persistent session are forgotten. */
int client_map_disconnect(struct strmap *m, const char *cid, const void *connection);

/* Calls fn(cid, state, arg) for every connected client; fn must not change the map. */
void client_map_each_connected(const struct strmap *m,
                               void (*fn)(const char *cid, struct client_state *s, void *arg),
                               void *arg);

#endif
