/* Device-to-cloud telemetry as the emulator serves it (docs/protocol.md §12.3): the broker's
 * plugin stores each message (rules D10-D12) and tells the hub its sequence number; this reads
 * the stored messages back, for GET /emulator/telemetry and for the observers (the live event
 * stream, the metrics). Thread-safe. */
#ifndef TELEMETRY_SERVICE_H
#define TELEMETRY_SERVICE_H

#include "emulator.h"
#include "mqtt_endpoint.h"
#include "telemetry_store.h"

#include <jansson.h>

#include <stddef.h>

struct telemetry_service;

/* Every stored message as JSON (telemetry_json), and its body's size. */
struct telemetry_observer {
    void (*on_message)(void *ctx, const json_t *message, size_t body_len);
    void *ctx;
};

#define TELEMETRY_MAX_OBSERVERS 4

/* Creates the store in the state directory when it is missing (before the broker starts: the
 * plugin opens it). NULL with the reason logged. */
struct telemetry_service *telemetry_service_new(struct emulator *emu,
                                                const struct telemetry_observer *observers,
                                                size_t count);
void telemetry_service_free(struct telemetry_service *svc);

/* The plugin's notes under HUB_BUS_STORED_TELEMETRY. */
struct mqtt_handler telemetry_service_mqtt_handler(struct telemetry_service *svc);

/* Appends to array (a JSON array) the messages q selects, oldest first. 0, or -1 with the
 * reason logged. */
int telemetry_service_list(struct telemetry_service *svc, const struct telemetry_query *q,
                           json_t *array);

#endif
