#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double handshake_bounds[METRICS_HANDSHAKE_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60};

struct metrics {
    _Atomic uint64_t initiated, accepted, rejected, timed_out, ended;
    /* handshake[i]: handshakes of at most handshake_bounds[i] (not cumulative here). */
    _Atomic uint64_t handshake[METRICS_HANDSHAKE_BUCKETS + 1];
    _Atomic uint64_t handshake_sum_us;
    _Atomic uint64_t methods[METHOD_OUTCOME_UNAVAILABLE + 1]; /* calls ended, by outcome */
    _Atomic uint64_t twins[TWIN_OP_DESIRED_NOTIFIED + 1][2];  /* by operation, [ok] */
    _Atomic uint64_t telemetry_messages, telemetry_bytes;
    _Atomic uint64_t c2d[C2D_STEP_PURGED + 1]; /* cloud-to-device messages, by step */
};

struct metrics *metrics_new(void)
{
    return calloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
    free(m);
}

static void add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

void metrics_on_method_event(void *ctx, const struct method_event *ev)
{
    struct metrics *m = ctx;
    if (ev->step == METHOD_STEP_ENDED && ev->outcome <= METHOD_OUTCOME_UNAVAILABLE)
        add(&m->methods[ev->outcome], 1);
}

void metrics_on_twin_event(void *ctx, const struct twin_event *ev)
{
    struct metrics *m = ctx;
    if (ev->op <= TWIN_OP_DESIRED_NOTIFIED)
        add(&m->twins[ev->op][ev->ok != 0], 1);
}

void metrics_on_telemetry(void *ctx, const json_t *message, size_t body_len)
{
    (void)message;
    struct metrics *m = ctx;
    add(&m->telemetry_messages, 1);
    add(&m->telemetry_bytes, body_len);
}

void metrics_on_c2d_event(void *ctx, const struct c2d_event *ev)
{
    struct metrics *m = ctx;
    if (ev->step <= C2D_STEP_PURGED)
        add(&m->c2d[ev->step], ev->count);
}

static void observe_handshake(struct metrics *m, int64_t ms)
{
    double seconds = (double)ms / 1000.0;
    size_t i = 0;
    while (i < METRICS_HANDSHAKE_BUCKETS && seconds > handshake_bounds[i])
        i++;
    add(&m->handshake[i], 1);
    add(&m->handshake_sum_us, (uint64_t)(ms > 0 ? ms : 0) * 1000);
}

void metrics_on_stream_event(void *ctx, const struct stream_event *ev)
{
    struct metrics *m = ctx;
    switch (ev->step) {
    case STEP_REQUESTED:
        add(&m->initiated, 1);
        return;
    case STEP_ACCEPTED:
        add(&m->accepted, 1);
        return;
    case STEP_REJECTED:
        add(&m->rejected, 1);
        add(&m->ended, 1);
        return;
    case STEP_TIMED_OUT:
        add(&m->timed_out, 1);
        add(&m->ended, 1);
        return;
    case STEP_CONNECTED:
        observe_handshake(m, ev->info.connected_ms - ev->info.posted_ms);
        return;
    case STEP_CLOSED:
        add(&m->ended, 1);
        return;
    case STEP_SIDE_CONNECTED:
        return;
    }
}

/* A growing text buffer; once out of memory it stays failed. */
struct text {
    char *buf;
    size_t len, cap;
    int failed;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
        } else if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        } else {
            size_t cap = (t->cap + (size_t)n + 1) * 2;
            char *grown = realloc(t->buf, cap);
            if (grown == NULL)
                t->failed = 1;
            t->buf = grown != NULL ? grown : t->buf;
            t->cap = grown != NULL ? cap : t->cap;
        }
    }
}

static void counter(struct text *t, const char *name, const char *help, uint64_t value)
{
    put(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
        (unsigned long long)value);
}

static void gauge(struct text *t, const char *name, const char *help, uint64_t value)
{
    put(t, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
        (unsigned long long)value);
}

static void histogram(struct text *t, struct metrics *m)
{
    static const char name[] = "iothub_stream_handshake_seconds";
    put(t,
        "# HELP %s Time from a stream's POST to both of its WebSockets connected.\n"
        "# TYPE %s histogram\n",
        name, name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < METRICS_HANDSHAKE_BUCKETS; i++) {
        cumulative += get(&m->handshake[i]);
        put(t, "%s_bucket{le=\"%g\"} %llu\n", name, handshake_bounds[i],
            (unsigned long long)cumulative);
    }
    cumulative += get(&m->handshake[METRICS_HANDSHAKE_BUCKETS]);
    /* The count is the +Inf bucket's total, read once: never out of step with it. */
    put(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
        (unsigned long long)cumulative, name, (double)get(&m->handshake_sum_us) / 1e6, name,
        (unsigned long long)cumulative);
}

/* One counter, a sample per outcome. */
static void methods(struct text *t, struct metrics *m)
{
    static const char *const names[] = {"answered", "bad_answer", "timed_out", "not_online",
                                        "unavailable"};
    _Static_assert(sizeof names / sizeof names[0] == METHOD_OUTCOME_UNAVAILABLE + 1,
                   "a name per outcome");
    put(t, "# HELP iothub_method_calls_total Direct method calls ended, by result.\n"
           "# TYPE iothub_method_calls_total counter\n");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        put(t, "iothub_method_calls_total{result=\"%s\"} %llu\n", names[i],
            (unsigned long long)get(&m->methods[i]));
}

/* One counter, a sample per operation and result. */
static void twins(struct text *t, struct metrics *m)
{
    static const char *const names[] = {"device_get", "device_reported", "service_get",
                                        "service_update", "desired_notified"};
    _Static_assert(sizeof names / sizeof names[0] == TWIN_OP_DESIRED_NOTIFIED + 1,
                   "a name per operation");
    put(t, "# HELP iothub_twin_operations_total Twin operations, by kind and result.\n"
           "# TYPE iothub_twin_operations_total counter\n");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        for (int ok = 1; ok >= 0; ok--)
            put(t, "iothub_twin_operations_total{operation=\"%s\",result=\"%s\"} %llu\n", names[i],
                ok ? "ok" : "refused", (unsigned long long)get(&m->twins[i][ok]));
}

/* One counter, a sample per step. */
static void c2d(struct text *t, struct metrics *m)
{
    static const char *const names[] = {"sent", "completed", "expired", "purged"};
    _Static_assert(sizeof names / sizeof names[0] == C2D_STEP_PURGED + 1, "a name per step");
    put(t, "# HELP iothub_c2d_messages_total Cloud-to-device messages: sent (queued), completed "
           "(handed to the device's session), expired and purged in the queue.\n"
           "# TYPE iothub_c2d_messages_total counter\n");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        put(t, "iothub_c2d_messages_total{outcome=\"%s\"} %llu\n", names[i],
            (unsigned long long)get(&m->c2d[i]));
}

int metrics_render(struct metrics *m, const struct metrics_gauges *g, char **out)
{
    struct text t = {malloc(4096), 0, 4096, 0};
    t.failed = t.buf == NULL;
    uint64_t initiated = get(&m->initiated), ended = get(&m->ended);
    counter(&t, "iothub_streams_initiated_total", "Stream requests sent to devices.", initiated);
    counter(&t, "iothub_streams_accepted_total", "Stream requests the device accepted.",
            get(&m->accepted));
    counter(&t, "iothub_streams_rejected_total", "Stream requests the device rejected.",
            get(&m->rejected));
    counter(&t, "iothub_streams_timed_out_total",
            "Stream requests the device did not answer in time (504).", get(&m->timed_out));
    gauge(&t, "iothub_streams_active", "Streams requested and not yet over.",
          initiated > ended ? initiated - ended : 0);
    histogram(&t, m);
    put(&t,
        "# HELP iothub_stream_bytes_relayed_total Bytes the streaming endpoint relayed.\n"
        "# TYPE iothub_stream_bytes_relayed_total counter\n"
        "iothub_stream_bytes_relayed_total{direction=\"device_to_service\"} %llu\n"
        "iothub_stream_bytes_relayed_total{direction=\"service_to_device\"} %llu\n",
        (unsigned long long)g->bytes_relayed[STREAM_DEVICE],
        (unsigned long long)g->bytes_relayed[STREAM_SERVICE]);
    gauge(&t, "iothub_devices_connected", "Devices and modules connected over MQTT now.",
          g->connected_devices);
    counter(&t, "iothub_broker_restarts_total", "Times the MQTT broker was started again.",
            g->broker_restarts);
    methods(&t, m);
    twins(&t, m);
    counter(&t, "iothub_telemetry_messages_total", "Telemetry messages devices sent, stored.",
            get(&m->telemetry_messages));
    counter(&t, "iothub_telemetry_bytes_total", "Bytes of telemetry bodies stored.",
            get(&m->telemetry_bytes));
    c2d(&t, m);
    if (t.failed) {
        free(t.buf);
        return -1;
    }
    *out = t.buf;
    return 0;
}
