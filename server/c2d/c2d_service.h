/* Cloud-to-device messages (docs/protocol.md §12.4, rules D13, D14, D16): a service's message is
 * committed to its device's queue before it is answered, and handed to the device's MQTT session,
 * in queue order, at QoS 1, as soon as the device listens: at once, when it subscribes, or when a
 * persistent session that subscribed comes back. The glue between the message (c2d_message), the
 * registry's queue and the MQTT edge.
 *
 * A message counts as completed once the broker holds it for the device's session: mosquitto's
 * plugin interface does not tell the hub of the device's PUBACK, so the redelivery rule D13 gives
 * the hub is the broker's (docs/differences.md). */
#ifndef C2D_SERVICE_H
#define C2D_SERVICE_H

#include "c2d_message.h"
#include "emulator.h"
#include "mqtt_endpoint.h"

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>

/* Rule D14: Enqueued messages per device, at most. */
#define C2D_MAX_QUEUE_DEPTH 50

struct c2d_service;

/* Every message's steps, for the metrics (main registers them). */
enum c2d_step {
    C2D_STEP_SENT,      /* a service's message was queued */
    C2D_STEP_COMPLETED, /* handed to the device's session */
    C2D_STEP_EXPIRED,   /* its expiry passed while it was queued */
    C2D_STEP_PURGED,    /* the service purged the queue */
};

struct c2d_event {
    enum c2d_step step;
    const char *device_id;
    const char *message_id; /* SENT and COMPLETED; else NULL */
    size_t count;           /* messages this event stands for (EXPIRED, PURGED may be many) */
};

struct c2d_observer {
    void (*on_event)(void *ctx, const struct c2d_event *ev);
    void *ctx;
};

#define C2D_MAX_OBSERVERS 4

struct c2d_service *c2d_service_new(struct emulator *emu, const struct c2d_observer *observers,
                                    size_t count);
void c2d_service_free(struct c2d_service *svc);

/* The devices that start listening for their messages. */
struct mqtt_handler c2d_service_mqtt_handler(struct c2d_service *svc);

enum c2d_call_result {
    C2D_CALL_OK,
    C2D_CALL_NO_DEVICE, /* 404 404001 */
    C2D_CALL_FULL,      /* 403 403004 */
    C2D_CALL_NOT_JSON,  /* 400 400006 */
    C2D_CALL_INVALID,   /* 400 400004 */
    C2D_CALL_TOO_LARGE, /* 413 413001 */
    C2D_CALL_FAILED,    /* 500: the store failed */
};

struct c2d_sent {
    char message_id[C2D_MAX_ID_LEN + 1];
    long long sequence_number;
    int64_t expiry_ms;
};

/* Queues a message (body: the POST's JSON) for device_id and delivers it when the device
 * listens. On anything but OK, reason says why. */
enum c2d_call_result c2d_service_send(struct c2d_service *svc, const char *device_id,
                                      const char *body, size_t len, struct c2d_sent *sent,
                                      char *reason, size_t cap);

/* The device's queue and its recent history, oldest first, appended to array. */
enum c2d_call_result c2d_service_list(struct c2d_service *svc, const char *device_id,
                                      json_t *array);

/* Drops the device's queued messages; *purged: how many. */
enum c2d_call_result c2d_service_purge(struct c2d_service *svc, const char *device_id,
                                       size_t *purged);

#endif
