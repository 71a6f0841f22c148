/* Device streams as the service sees them (docs/protocol.md §1-2): a POST asks a device for
 * a stream over MQTT, the device's answer or the response timeout decides it, and the POST gets
 * its reply (rule 4). The glue between the main endpoint, the MQTT endpoint, the stream core and
 * the streaming endpoint. */
#ifndef STREAM_SERVICE_H
#define STREAM_SERVICE_H

#include "emulator.h"
#include "mqtt_endpoint.h"
#include "stream_core.h"
#include "deferred.h"

#include <stddef.h>

struct stream_service;

/* How a stream POST ends: what stream_service completes its deferred request with. */
enum stream_outcome {
    STREAM_OUTCOME_ACCEPTED,
    STREAM_OUTCOME_REJECTED,
    STREAM_OUTCOME_TIMED_OUT,   /* 504 504101 */
    STREAM_OUTCOME_UNAVAILABLE, /* the emulator is stopping: 503 */
    STREAM_OUTCOME_DEVICE_GONE, /* deleted or disabled before it answered: 404 404103 */
};

struct stream_result {
    enum stream_outcome outcome;
    char url[IH_STREAM_URL_MAX];
    char token[STREAM_TOKEN_LEN + 1];
    int response_timeout_s; /* for the 504's info.timeout */
};

_Static_assert(sizeof(struct stream_result) <= DEFERRED_RESULT_SIZE,
               "a stream's result fits a deferred request");

/* Why the hub closes a bridge's sides: said in their close frames. */
enum stream_close_why {
    STREAM_CLOSE_UNPAIRED,    /* the deadline passed, or the device turned the stream down */
    STREAM_CLOSE_DEVICE_GONE, /* the device was deleted or disabled */
};

/* What the streaming endpoint lends the service (all thread-safe). */
struct stream_relay_ops {
    void (*wake)(void *ctx); /* deadlines changed: re-arm the timer */
    /* close the sides attached to a bridge */
    void (*close_bridge)(void *ctx, const char *id, enum stream_close_why why);
    void *ctx;
};

/* Who else follows every step of every stream (the metrics, the web page); main registers them,
 * so the service names none of them. */
struct stream_observer {
    void (*on_event)(void *ctx, const struct stream_event *ev);
    void *ctx;
};

#define STREAM_MAX_OBSERVERS 4

/* Observers are copied (at most STREAM_MAX_OBSERVERS). */
struct stream_service *stream_service_new(struct emulator *emu,
                                          const struct stream_observer *observers, size_t count);
void stream_service_free(struct stream_service *svc);

struct stream_core *stream_service_core(struct stream_service *svc);
void stream_service_set_relay(struct stream_service *svc, const struct stream_relay_ops *ops);

struct stream_post {
    const char *device_id;
    const char *module_id; /* NULL for a device */
    const char *name;
    int response_timeout_s; /* 0: the default */
    int connect_timeout_s;
};

enum stream_post_result {
    STREAM_POST_PENDING,     /* the device was asked: wait completes later */
    STREAM_POST_NO_DEVICE,   /* 404 404001 */
    STREAM_POST_NOT_ONLINE,  /* 404 404103, at once (docs/protocol.md §1.4) */
    STREAM_POST_UNAVAILABLE, /* 503: the broker link is down, or no streaming endpoint */
    STREAM_POST_QUOTA,       /* 403 403002: too many streams at once */
    STREAM_POST_THROTTLED,   /* 429 429001: too many handshakes, or too many a second */
};

/* Asks the device for a stream. On PENDING, wait is completed later from another thread; else
 * reason says why, for the error body. */
enum stream_post_result stream_service_post(struct stream_service *svc, const struct stream_post *p,
                                            struct deferred *wait, char *reason, size_t reason_len);

/* The service's part of the MQTT endpoint: device publishes under IH_STREAMS_RES_PREFIX, the
 * devices' stream answers (docs/protocol.md rule 9). */
struct mqtt_handler stream_service_mqtt_handler(struct stream_service *svc);

/* The device was deleted or disabled (disabled != 0): its streams end, pending and live alike,
 * and a POST still waiting for it is answered 404103. */
void stream_service_end_device(struct stream_service *svc, const char *device_id, int disabled);

/* A deadline passed (called by the streaming endpoint's timer). */
void stream_service_on_expiry(struct stream_service *svc, const struct stream_expiry *e);

/* Refuses new streams and completes every waiting POST with 503 (before the main endpoint
 * stops). */
void stream_service_shutdown(struct stream_service *svc);

/* The streaming endpoint's base URL, SCHEME://HOST:PORT, for its TLS (tls) or plain listener.
 * 0, or -1 when that listener is off. */
int stream_service_endpoint(const struct emulator *emu, int tls, const char *scheme, char *out,
                            size_t cap);

/* The streaming URL of a bridge: wss://HOST:PORT/bridges/ID (docs/protocol.md rule 11). 0, or -1
 * when no streaming listener is up. */
int stream_service_url(const struct emulator *emu, const char *id, char *out, size_t cap);

#endif
