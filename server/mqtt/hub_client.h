/* The hub's own MQTT connection to its broker: a libmosquitto client on the broker's private Unix
 * socket, authenticated with the run's secret. It receives the plugin's events and the devices'
 * publishes over the hub bus (hub_bus.h), and sends stream requests to one device.
 *
 * Callbacks run on libmosquitto's loop thread. */
#ifndef HUB_CLIENT_H
#define HUB_CLIENT_H

#include "hub_bus.h"

#include <stddef.h>

struct hub_client_handlers {
    /* CONNECTED, SUBSCRIBED, UNSUBSCRIBED, DISCONNECTED, REFUSED; payload is NUL-terminated. */
    void (*on_event)(void *ctx, enum hub_bus_kind kind, const char *cid, const char *payload);
    /* A device (or module) published topic. */
    void (*on_publish)(void *ctx, const char *cid, const char *topic, const void *payload,
                       size_t len);
    /* up=1: connected and subscribed, with the plugin asked to re-send who is connected;
     * up=0: the connection is lost (libmosquitto reconnects on its own). */
    void (*on_link)(void *ctx, int up);
    void *ctx;
};

struct hub_client;

/* Connects and waits (up to 10 s) until the broker acknowledged the connection and the
 * subscriptions, so nothing the plugin reports afterwards is missed. */
int hub_client_start(const char *socket_path, const char *secret,
                     const struct hub_client_handlers *h, struct hub_client **out, char *err,
                     size_t err_len);
void hub_client_stop(struct hub_client *hc);

int hub_client_is_up(struct hub_client *hc);

/* Publishes topic to the client cid only, at QoS 0 (docs/protocol.md rule 8). Returns 0 when
 * sent. */
int hub_client_send(struct hub_client *hc, const char *cid, const char *topic, const void *payload,
                    size_t len);

/* The same at QoS 1, on the bus and to the client (docs/protocol.md rule D15: C2D): the broker
 * keeps it in the client's session until the client acknowledges it. */
int hub_client_deliver(struct hub_client *hc, const char *cid, const char *topic,
                       const void *payload, size_t len);

/* Disconnects the device and its modules. Returns 0 when the request was sent. */
int hub_client_kick(struct hub_client *hc, const char *device_id);

#endif
