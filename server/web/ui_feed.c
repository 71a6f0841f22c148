#include "ui_feed.h"

#include "mqtt_endpoint.h"
#include "stream_json.h"
#include "monotonic.h"
#include "stream_service.h"

#include "util/deadline.h"

#include <jansson.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Traffic of relaying streams goes out this often; nothing faster. */
#define TICK_MS 1000
/* An SSE comment this often keeps proxies and the browser from closing an idle stream. */
#define KEEPALIVE_TICKS 15
#define SNAPSHOT_DEVICES 1000
#define SNAPSHOT_STREAMS 300
#define SNAPSHOT_LOG_ROWS 500
#define SNAPSHOT_TELEMETRY 50
/* Pages open at once, at most: each costs a snapshot from SQLite on the HTTP thread. */
#define SUBSCRIBERS_MAX 64

struct ui_feed {
    struct emulator *emu;
    struct event_hub *hub;
    pthread_t ticker;
    pthread_mutex_t lock;
    pthread_cond_t stop;
    int stopping;
};

static void publish(struct ui_feed *f, const char *name, json_t *data)
{
    char *text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
    if (text != NULL)
        event_hub_publish(f->hub, name, text);
    free(text);
    json_decref(data);
}

/* "listening" stays what the page has always shown: ready for a stream request. */
static const char *presence_name(struct presence_view v)
{
    return !v.connected                            ? "offline"
           : (v.listens & HUB_LISTEN_STREAMS) != 0 ? "listening"
                                                   : "online";
}

void ui_feed_on_stream_event(void *ctx, const struct stream_event *ev)
{
    struct ui_feed *f = ctx;
    char at[TIME_TEXT_SIZE];
    time_text_now(at);
    json_t *stream = stream_info_json(&ev->info, monotonic_ms());
    publish(f, "stream",
            json_pack("{s:s, s:s, s:s, s:o}", "step", stream_step_name(ev->step), "side",
                      stream_side_name(ev->side), "at", at, "stream", stream));
}

static const char *method_outcome_name(enum method_outcome o)
{
    switch (o) {
    case METHOD_OUTCOME_ANSWERED:
        return "answered";
    case METHOD_OUTCOME_BAD_ANSWER:
        return "bad_answer";
    case METHOD_OUTCOME_TIMED_OUT:
        return "timed_out";
    case METHOD_OUTCOME_NOT_ONLINE:
        return "not_online";
    case METHOD_OUTCOME_UNAVAILABLE:
        break;
    }
    return "unavailable";
}

void ui_feed_on_method_event(void *ctx, const struct method_event *ev)
{
    struct ui_feed *f = ctx;
    char at[TIME_TEXT_SIZE];
    time_text_now(at);
    int ended = ev->step == METHOD_STEP_ENDED;
    json_t *data = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "step", ended ? "ended" : "sent",
                             "client", ev->cid, "method", ev->name, "rid", (json_int_t)ev->rid,
                             "elapsedMs", (json_int_t)ev->elapsed_ms, "at", at);
    if (data != NULL && ended) {
        json_object_set_new(data, "result", json_string(method_outcome_name(ev->outcome)));
        if (ev->outcome == METHOD_OUTCOME_ANSWERED)
            json_object_set_new(data, "status", json_integer(ev->status));
    }
    publish(f, "method", data);
}

void ui_feed_on_twin_event(void *ctx, const struct twin_event *ev)
{
    static const char *const names[] = {"device_get", "device_reported", "service_get",
                                        "service_update", "desired_notified"};
    struct ui_feed *f = ctx;
    if (ev->op == TWIN_OP_SERVICE_GET) /* reads change nothing on the page */
        return;
    char at[TIME_TEXT_SIZE];
    time_text_now(at);
    json_t *data = json_pack("{s:s, s:s, s:b, s:s}", "client", ev->cid, "operation", names[ev->op],
                             "ok", ev->ok, "at", at);
    if (data != NULL && ev->desired_version > 0)
        json_object_set_new(data, "desiredVersion", json_integer(ev->desired_version));
    if (data != NULL && ev->reported_version > 0)
        json_object_set_new(data, "reportedVersion", json_integer(ev->reported_version));
    if (data != NULL && ev->view != NULL)
        json_object_set_new(data, "twin", json_deep_copy(ev->view));
    publish(f, "twin", data);
}

void ui_feed_on_telemetry(void *ctx, const json_t *message, size_t body_len)
{
    (void)body_len;
    publish(ctx, "telemetry", json_deep_copy(message));
}

void ui_feed_on_presence(void *ctx, const char *cid, struct presence_view view)
{
    struct ui_feed *f = ctx;
    char at[TIME_TEXT_SIZE];
    time_text_now(at);
    if (cid == NULL)
        publish(f, "devices-offline", json_pack("{s:s}", "at", at));
    else
        publish(f, "device",
                json_pack("{s:s, s:s, s:b, s:s, s:s}", "deviceId", cid, "presence",
                          presence_name(view), "methods", (view.listens & HUB_LISTEN_METHODS) != 0,
                          "connectionState", view.connected ? "Connected" : "Disconnected", "at",
                          at));
}

/* ---- the snapshot ---- */

/* A device, with its twin as the device sees it (no $metadata). */
static json_t *device_json(struct emulator *emu, const struct device *d, struct presence_view v)
{
    struct twin_target t = {d->id, NULL};
    json_t *twin = emu->twins != NULL ? twin_service_device_view(emu->twins, &t) : NULL;
    json_t *device = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "deviceId", d->id, "status",
                               d->enabled ? "enabled" : "disabled", "connectionState",
                               d->connected ? "Connected" : "Disconnected", "presence",
                               presence_name(v), "methods", (v.listens & HUB_LISTEN_METHODS) != 0,
                               "lastActivityTime", d->last_activity_time);
    if (device != NULL && twin != NULL)
        json_object_set_new(device, "twin", twin);
    else
        json_decref(twin);
    return device;
}

static json_t *hub_json(const struct emulator *emu)
{
    return json_pack("{s:s, s:s, s:i, s:i, s:i}", "hostName", emu->host_name, "version",
                     IOTHUB_VERSION, "httpsPort", emu->https_port, "streamsPort", emu->streams_port,
                     "handshakeTimeoutSeconds", emu->cfg->handshake_timeout_s);
}

static json_t *devices_json(struct emulator *emu)
{
    struct device *list = NULL;
    size_t n = 0;
    json_t *array = json_array();
    if (registry_device_list(emu->registry, SNAPSHOT_DEVICES, &list, &n) != REGISTRY_OK)
        return array;
    for (size_t i = 0; i < n; i++) {
        const struct device *d = &list[i];
        json_array_append_new(array, device_json(emu, d, mqtt_endpoint_view(emu->mqtt, d->id)));
    }
    free(list);
    return array;
}

static json_t *streams_json(struct emulator *emu)
{
    struct stream_info *list = NULL;
    size_t n = 0;
    json_t *array = json_array();
    if (emu->streams == NULL || stream_core_list(stream_service_core(emu->streams), &list, &n) != 0)
        return array;
    int64_t now = monotonic_ms();
    for (size_t i = 0; i < n && i < SNAPSHOT_STREAMS; i++) /* newest first */
        json_array_append_new(array, stream_info_json(&list[i], now));
    free(list);
    return array;
}

static void add_row(void *ctx, const struct log_record *r)
{
    json_array_append_new(ctx, log_record_json(r));
}

static json_t *log_json(struct emulator *emu)
{
    json_t *array = json_array();
    struct log_filter f = {"DeviceStreams", NULL, NULL, SNAPSHOT_LOG_ROWS};
    registry_log_each(emu->registry, &f, add_row, array);
    return array;
}

/* The newest telemetry messages, oldest first. */
static json_t *telemetry_json_tail(struct emulator *emu)
{
    json_t *array = json_array();
    struct telemetry_query q = {.keep = SNAPSHOT_TELEMETRY, .top = SNAPSHOT_TELEMETRY};
    if (emu->telemetry != NULL && array != NULL)
        telemetry_service_list(emu->telemetry, &q, array);
    return array;
}

enum ui_subscribe_result ui_feed_subscribe(struct ui_feed *f, void (*wake)(void *ctx), void *ctx,
                                           struct event_sub **out)
{
    if (event_hub_subscriber_count(f->hub) >= SUBSCRIBERS_MAX)
        return UI_SUBSCRIBE_TOO_MANY;
    /* Subscribed first, so nothing published while the snapshot is made is missed: it comes
     * after the snapshot, and the page applies it on top. */
    struct event_sub *s = event_hub_subscribe(f->hub, wake, ctx);
    if (s == NULL)
        return UI_SUBSCRIBE_CLOSED;
    json_t *snapshot = json_pack("{s:o, s:o, s:o, s:o, s:o}", "hub", hub_json(f->emu), "devices",
                                 devices_json(f->emu), "streams", streams_json(f->emu), "log",
                                 log_json(f->emu), "telemetry", telemetry_json_tail(f->emu));
    char *text = snapshot != NULL ? json_dumps(snapshot, JSON_COMPACT) : NULL;
    json_decref(snapshot);
    int rc = text != NULL ? event_sub_prepend(s, "snapshot", text) : -1;
    free(text);
    if (rc != 0) {
        event_hub_unsubscribe(s);
        return UI_SUBSCRIBE_NO_MEMORY;
    }
    *out = s;
    return UI_SUBSCRIBE_OK;
}

/* ---- the ticker ---- */

/* Bytes of every stream relaying now. */
static json_t *traffic_json(struct emulator *emu)
{
    struct stream_info *list = NULL;
    size_t n = 0;
    if (emu->streams == NULL || stream_core_list(stream_service_core(emu->streams), &list, &n) != 0)
        return NULL;
    json_t *array = json_array();
    for (size_t i = 0; i < n; i++) {
        if (list[i].state != STREAM_CONNECTED)
            continue;
        json_array_append_new(
            array, json_pack("{s:s, s:I, s:I}", "streamId", list[i].id, "bytesDeviceToService",
                             (json_int_t)list[i].bytes[STREAM_DEVICE], "bytesServiceToDevice",
                             (json_int_t)list[i].bytes[STREAM_SERVICE]));
    }
    free(list);
    if (json_array_size(array) == 0) {
        json_decref(array);
        return NULL;
    }
    return array;
}

static int wait_tick(struct ui_feed *f)
{
    struct timespec until = deadline_after_ms(TICK_MS);
    pthread_mutex_lock(&f->lock);
    while (!f->stopping && pthread_cond_timedwait(&f->stop, &f->lock, &until) == 0)
        ;
    int stopping = f->stopping;
    pthread_mutex_unlock(&f->lock);
    return stopping;
}

static void *tick(void *arg)
{
    struct ui_feed *f = arg;
    for (unsigned n = 1; !wait_tick(f); n++) {
        if (event_hub_subscriber_count(f->hub) == 0)
            continue;
        json_t *traffic = traffic_json(f->emu);
        if (traffic != NULL)
            publish(f, "traffic", traffic);
        else if (n % KEEPALIVE_TICKS == 0)
            event_hub_publish(f->hub, NULL, "keep-alive");
    }
    return NULL;
}

struct ui_feed *ui_feed_start(struct emulator *emu)
{
    struct ui_feed *f = calloc(1, sizeof *f);
    if (f == NULL || (f->hub = event_hub_new()) == NULL) {
        free(f);
        return NULL;
    }
    f->emu = emu;
    pthread_mutex_init(&f->lock, NULL);
    deadline_cond_init(&f->stop);
    if (pthread_create(&f->ticker, NULL, tick, f) != 0) {
        event_hub_free(f->hub);
        pthread_cond_destroy(&f->stop);
        pthread_mutex_destroy(&f->lock);
        free(f);
        return NULL;
    }
    return f;
}

void ui_feed_close(struct ui_feed *f)
{
    if (f == NULL)
        return;
    /* The ticker reads the stream service, which goes away soon after: it stops first. */
    pthread_mutex_lock(&f->lock);
    int running = !f->stopping;
    f->stopping = 1;
    pthread_cond_broadcast(&f->stop);
    pthread_mutex_unlock(&f->lock);
    if (running)
        pthread_join(f->ticker, NULL);
    event_hub_close(f->hub);
}

void ui_feed_free(struct ui_feed *f)
{
    if (f == NULL)
        return;
    ui_feed_close(f);
    event_hub_free(f->hub);
    pthread_cond_destroy(&f->stop);
    pthread_mutex_destroy(&f->lock);
    free(f);
}
