/* The emulator's Prometheus metrics, served at /metrics in the text exposition format: streams
 * initiated, accepted, rejected and timed out, active streams, a histogram of handshake durations
 * (POST to both sides connected), bytes relayed each way, connected devices and broker restarts;
 * direct method calls by outcome, twin operations by kind, telemetry messages and bytes,
 * cloud-to-device messages by step.
 * Counting is lock-free; rendering is pure. */
#ifndef METRICS_H
#define METRICS_H

#include "method_service.h"
#include "c2d_service.h"
#include "telemetry_service.h"
#include "twin_service.h"
#include "stream_core.h"

#include <stddef.h>
#include <stdint.h>

/* Upper bounds of the handshake histogram's buckets, in seconds (+Inf is added). */
#define METRICS_HANDSHAKE_BUCKETS 14

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* The stream core's observer feeds it every step. */
void metrics_on_stream_event(void *ctx, const struct stream_event *ev);

/* The method service's observer feeds it every call's end. */
void metrics_on_method_event(void *ctx, const struct method_event *ev);

/* The twin service's observer feeds it every operation. */
void metrics_on_twin_event(void *ctx, const struct twin_event *ev);

/* The telemetry service's observer feeds it every stored message. */
void metrics_on_telemetry(void *ctx, const json_t *message, size_t body_len);

/* The C2D service's observer: messages sent, completed, expired and purged. */
void metrics_on_c2d_event(void *ctx, const struct c2d_event *ev);

/* What the counters do not hold, read from their owners when rendering. */
struct metrics_gauges {
    uint64_t bytes_relayed[2]; /* [STREAM_DEVICE]: device to service */
    size_t connected_devices;  /* MQTT clients connected now */
    unsigned broker_restarts;
};

/* The exposition text; *out is a new string the caller frees. Returns 0, or -1 when out of
 * memory. */
int metrics_render(struct metrics *m, const struct metrics_gauges *g, char **out);

#endif
