/* The MQTT endpoint devices connect to: the supervised mosquitto child with the emulator's plugin,
 * the hub's own connection to it, and the presence table fed by the plugin's events. */
#ifndef MQTT_ENDPOINT_H
#define MQTT_ENDPOINT_H

#include "emulator.h"
#include "presence.h"

#include <stddef.h>

struct mqtt_endpoint;

/* The ports the broker serves; CONFIG_PORT_OFF for one that is off. */
struct mqtt_ports {
    int mqtts, mqtt, mqtt_ws;
};

/* A feature's part of the device side (streams, methods; twins, telemetry next). The
 * endpoint names none of them: main hands it their handlers, and it passes each device publish
 * to the handler whose prefix the topic starts with, and every presence change to all. */
struct mqtt_handler {
    const char *topic_prefix; /* NULL: no publishes */
    void (*on_publish)(void *ctx, const char *cid, const char *topic, const void *payload,
                       size_t len);
    void (*on_presence)(void *ctx, const char *cid, struct presence_view view); /* or NULL */
    void *ctx;
};

#define MQTT_MAX_HANDLERS 8

/* Starts the broker and connects the hub to it, with the features' handlers (copied, at most
 * MQTT_MAX_HANDLERS). Returns 0 once the hub's connection is acknowledged; on failure the
 * reason has been logged. */
int mqtt_endpoint_start(struct emulator *emu, const struct mqtt_handler *handlers, size_t count,
                        struct mqtt_endpoint **out);
void mqtt_endpoint_stop(struct mqtt_endpoint *m);

struct mqtt_ports mqtt_endpoint_ports(const struct mqtt_endpoint *m);

/* Whether the client (a device id, or device/module) is connected and listening for feature's
 * requests (a hub_listen bit). m may be NULL (no broker): everyone is offline. */
enum presence_state mqtt_endpoint_presence(struct mqtt_endpoint *m, const char *cid,
                                           unsigned feature);
/* The client as a whole: connected, and what it listens for. */
struct presence_view mqtt_endpoint_view(struct mqtt_endpoint *m, const char *cid);
/* Clients (devices and modules) connected now. */
size_t mqtt_endpoint_connected_count(struct mqtt_endpoint *m);

/* Sends topic with payload (len bytes, may be 0), at QoS 0, to the client cid only. Returns 0
 * when sent. */
int mqtt_endpoint_send(struct mqtt_endpoint *m, const char *cid, const char *topic,
                       const void *payload, size_t len);

/* The same at QoS 1 (docs/protocol.md rule D15, for C2D): the broker keeps the message in the
 * client's session, and sends it again after a reconnect of a persistent session, until the
 * client acknowledges it. Returns 0 when handed to the broker's connection. */
int mqtt_endpoint_deliver(struct mqtt_endpoint *m, const char *cid, const char *topic,
                          const void *payload, size_t len);

/* Disconnects a device and its modules (a device was disabled or deleted). m may be NULL. */
void mqtt_endpoint_kick(struct mqtt_endpoint *m, const char *device_id);

/* For /health: the hub's link to the broker, and how often the broker was restarted. */
int mqtt_endpoint_link_up(struct mqtt_endpoint *m);
unsigned mqtt_endpoint_restarts(struct mqtt_endpoint *m);
int mqtt_endpoint_broker_pid(struct mqtt_endpoint *m);

#endif
