#include "stream_service.h"

#include "log.h"
#include "monotonic.h"
#include "mqtt_endpoint.h"
#include "registry.h"
#include "stream_log.h"

#include "protocol/streams_topic.h"
#include "protocol/format.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long finished streams stay in GET /emulator/streams. */
#define HISTORY_MS (10 * 60 * 1000)

struct stream_service {
    struct emulator *emu;
    struct stream_core *core;
    /* Lent by the streaming endpoint; called by the MQTT, HTTP and lws threads, so they are
     * swapped and called under relay_lock: once set to none, no call is running. */
    pthread_mutex_t relay_lock;
    struct stream_relay_ops relay;
    struct stream_limits limits;
    struct stream_observer observers[STREAM_MAX_OBSERVERS];
    size_t observer_count;
};

/* Every step of every stream goes to the log, then to each observer. */
static void observe(void *ctx, const struct stream_event *ev)
{
    struct stream_service *svc = ctx;
    stream_log_event(svc->emu->registry, ev);
    for (size_t i = 0; i < svc->observer_count; i++)
        svc->observers[i].on_event(svc->observers[i].ctx, ev);
}

struct stream_service *stream_service_new(struct emulator *emu,
                                          const struct stream_observer *observers, size_t count)
{
    if (count > STREAM_MAX_OBSERVERS)
        fatal("%zu stream observers, more than STREAM_MAX_OBSERVERS", count);
    struct stream_service *svc = calloc(1, sizeof *svc);
    if (svc == NULL)
        return NULL;
    memcpy(svc->observers, observers, count * sizeof *observers);
    svc->observer_count = count;
    int cap = emu->cfg->handshake_timeout_s;
    config_stream_limits(emu->cfg, &svc->limits);
    struct stream_core_settings s = {
        .handshake_cap_s = cap,
        .default_response_s = cap,
        .default_connect_s = cap,
        .history_ms = HISTORY_MS,
        .observer = observe,
        .observer_ctx = svc,
        .max_streams = svc->limits.max_streams,
        .max_pending = svc->limits.max_pending,
        .rate_per_s = svc->limits.rate_per_s,
    };
    svc->emu = emu;
    if ((svc->core = stream_core_new(&s)) == NULL) {
        free(svc);
        return NULL;
    }
    pthread_mutex_init(&svc->relay_lock, NULL);
    return svc;
}

void stream_service_free(struct stream_service *svc)
{
    if (svc == NULL)
        return;
    stream_core_free(svc->core);
    pthread_mutex_destroy(&svc->relay_lock);
    free(svc);
}

struct stream_core *stream_service_core(struct stream_service *svc)
{
    return svc->core;
}

void stream_service_set_relay(struct stream_service *svc, const struct stream_relay_ops *ops)
{
    pthread_mutex_lock(&svc->relay_lock);
    svc->relay = *ops;
    pthread_mutex_unlock(&svc->relay_lock);
}

/* Deadlines changed: the streaming endpoint re-arms its timer. */
static void relay_wake(struct stream_service *svc)
{
    pthread_mutex_lock(&svc->relay_lock);
    if (svc->relay.wake != NULL)
        svc->relay.wake(svc->relay.ctx);
    pthread_mutex_unlock(&svc->relay_lock);
}

static void relay_close_bridge(struct stream_service *svc, const char *id,
                               enum stream_close_why why)
{
    pthread_mutex_lock(&svc->relay_lock);
    if (svc->relay.close_bridge != NULL)
        svc->relay.close_bridge(svc->relay.ctx, id, why);
    pthread_mutex_unlock(&svc->relay_lock);
}

int stream_service_endpoint(const struct emulator *emu, int tls, const char *scheme, char *out,
                            size_t cap)
{
    int port = tls ? emu->streams_port : emu->streams_plain_port;
    if (port == CONFIG_PORT_OFF)
        return -1;
    return ih_format(out, cap, "%s://%s:%d", scheme, emu->host_name, port) == IH_OK ? 0 : -1;
}

int stream_service_url(const struct emulator *emu, const char *id, char *out, size_t cap)
{
    /* wss always when it is served: the C device uses TLS whatever the scheme (docs/protocol.md
     * rule 11). */
    int tls = emu->streams_port != CONFIG_PORT_OFF;
    char base[IH_STREAM_URL_MAX];
    if (stream_service_endpoint(emu, tls, tls ? "wss" : "ws", base, sizeof base) != 0)
        return -1;
    return ih_format(out, cap, "%s/bridges/%s", base, id) == IH_OK ? 0 : -1;
}

static void client_id(const struct stream_post *p, char *out, size_t cap)
{
    if (p->module_id != NULL)
        snprintf(out, cap, "%s/%s", p->device_id, p->module_id);
    else
        snprintf(out, cap, "%s", p->device_id);
}

/* The device must exist and listen for stream requests now: 404103 at once otherwise
 * (docs/protocol.md §1.4). */
static enum stream_post_result check_device(struct stream_service *svc, const struct stream_post *p,
                                            const char *cid, char *reason, size_t len)
{
    struct device d;
    enum registry_result r = registry_device_get(svc->emu->registry, p->device_id, &d);
    if (r == REGISTRY_NOT_FOUND) {
        snprintf(reason, len, "device '%s' is not registered", p->device_id);
        return STREAM_POST_NO_DEVICE;
    }
    if (r != REGISTRY_OK) {
        snprintf(reason, len, "the registry could not be read (see the emulator's log); try again");
        return STREAM_POST_UNAVAILABLE;
    }
    if (!mqtt_endpoint_link_up(svc->emu->mqtt)) {
        snprintf(reason, len, "the emulator's MQTT broker is not reachable; try again");
        return STREAM_POST_UNAVAILABLE;
    }
    switch (mqtt_endpoint_presence(svc->emu->mqtt, cid, HUB_LISTEN_STREAMS)) {
    case PRESENCE_OFFLINE:
        snprintf(reason, len,
                 "The operation failed because the requested device isn't online: '%s' is not "
                 "connected over MQTT",
                 cid);
        return STREAM_POST_NOT_ONLINE;
    case PRESENCE_ONLINE:
        snprintf(reason, len,
                 "The operation failed because the requested device hasn't registered for "
                 "device streams: '%s' is connected but not subscribed to $iothub/streams/POST/#",
                 cid);
        return STREAM_POST_NOT_ONLINE;
    case PRESENCE_LISTENING:
        break;
    }
    return STREAM_POST_PENDING;
}

/* The stream request to the device (docs/protocol.md rule 8): QoS 0, empty payload, to that
 * client only. Returns 0, or -1 with reason saying which step failed. */
static int send_request(struct stream_service *svc, const struct stream_post *p, const char *cid,
                        const struct stream_tickets *t, char *reason, size_t reason_len)
{
    char url[IH_STREAM_URL_MAX];
    char *topic = NULL;
    struct ih_diag why = {{0}};
    int rc = -1;
    if (stream_service_url(svc->emu, t->id, url, sizeof url) != 0) {
        snprintf(reason, reason_len, "no streaming endpoint is up to give '%s' a URL", cid);
        goto done;
    }
    if (ih_topic_format_stream_request(p->name, t->rid, url, t->device_token, &topic, &why) !=
        IH_OK) {
        snprintf(reason, reason_len, "the stream request to '%s' cannot be written: %s", cid,
                 why.msg);
        goto done;
    }
    if (mqtt_endpoint_send(svc->emu->mqtt, cid, topic, NULL, 0) != 0) {
        snprintf(reason, reason_len,
                 "the stream request could not be sent to '%s': the MQTT broker did not take it",
                 cid);
        goto done;
    }
    rc = 0;
done:
    free(topic);
    return rc;
}

enum stream_post_result stream_service_post(struct stream_service *svc, const struct stream_post *p,
                                            struct deferred *wait, char *reason, size_t reason_len)
{
    char cid[2 * IH_ID_MAX_LEN + 2];
    client_id(p, cid, sizeof cid);
    enum stream_post_result r = check_device(svc, p, cid, reason, reason_len);
    if (r != STREAM_POST_PENDING)
        return r;
    char posted[TIME_TEXT_SIZE];
    time_text_now(posted);
    struct stream_open req = {p->device_id,         p->module_id, p->name, p->response_timeout_s,
                              p->connect_timeout_s, wait,         posted};
    struct stream_tickets t;
    switch (stream_core_open(svc->core, &req, monotonic_ms(), &t)) {
    case STREAM_OPEN_OK:
        break;
    case STREAM_OPEN_SHUT:
        snprintf(reason, reason_len, "the emulator is stopping");
        return STREAM_POST_UNAVAILABLE;
    case STREAM_OPEN_FAILED:
        snprintf(reason, reason_len, "the emulator could not open a stream (out of memory)");
        return STREAM_POST_UNAVAILABLE;
    case STREAM_OPEN_TOO_MANY:
        snprintf(reason, reason_len,
                 "%d streams are open, the limit (--max-streams, or --fidelity strict's 50)",
                 svc->limits.max_streams);
        return STREAM_POST_QUOTA;
    case STREAM_OPEN_BUSY:
        snprintf(reason, reason_len,
                 "%d stream handshakes are under way, the limit (--max-pending-handshakes); "
                 "retry",
                 svc->limits.max_pending);
        return STREAM_POST_THROTTLED;
    case STREAM_OPEN_THROTTLED:
        snprintf(reason, reason_len,
                 "more than %d new streams a second (--stream-rate, or --fidelity strict's 5); "
                 "retry",
                 svc->limits.rate_per_s);
        return STREAM_POST_THROTTLED;
    }
    if (send_request(svc, p, cid, &t, reason, reason_len) != 0) {
        /* Nobody else may complete this wait now: the POST is answered here. */
        stream_core_cancel(svc->core, t.id, monotonic_ms());
        return STREAM_POST_UNAVAILABLE;
    }
    relay_wake(svc);
    return STREAM_POST_PENDING;
}

static void complete(struct stream_service *svc, const struct stream_decision *d)
{
    if (d->wait == NULL)
        return;
    struct stream_result r = {.response_timeout_s = d->response_timeout_s};
    if (d->timed_out) {
        r.outcome = STREAM_OUTCOME_TIMED_OUT;
    } else if (d->device_gone) {
        r.outcome = STREAM_OUTCOME_DEVICE_GONE;
    } else if (d->accepted && stream_service_url(svc->emu, d->id, r.url, sizeof r.url) == 0) {
        r.outcome = STREAM_OUTCOME_ACCEPTED;
        snprintf(r.token, sizeof r.token, "%s", d->service_token);
    } else {
        r.outcome = STREAM_OUTCOME_REJECTED;
    }
    deferred_complete(d->wait, &r, sizeof r);
}

static void on_device_publish(void *ctx, const char *cid, const char *topic, const void *payload,
                              size_t len)
{
    (void)
        payload; /* an answer's payload is empty (docs/protocol.md rule 9): only the topic counts */
    (void)len;
    struct stream_service *svc = ctx;
    struct ih_stream_response res;
    struct ih_diag why = {{0}};
    if (ih_topic_parse_stream_response(topic, strlen(topic), &res, &why) != IH_OK) {
        log_info("stream", "'%s' sent a stream answer the hub cannot read (%s): %.200s", cid,
                 why.msg, topic);
        return;
    }
    struct stream_decision d;
    switch (stream_core_answer(svc->core, cid, res.rid, res.status, monotonic_ms(), &d)) {
    case ANSWER_OK:
        complete(svc, &d);
        if (!d.accepted)
            relay_close_bridge(svc, d.id, STREAM_CLOSE_UNPAIRED);
        else
            relay_wake(svc); /* the connect deadline starts now */
        break;
    case ANSWER_UNKNOWN:
        log_info("stream", "'%s' answered $rid=%s, which no stream has", cid, res.rid);
        break;
    case ANSWER_IMPOSTOR:
        log_info("stream", "'%s' answered $rid=%s, a request sent to another client", cid, res.rid);
        break;
    case ANSWER_LATE:
        log_info("stream", "'%s' answered $rid=%s too late: the stream had timed out", cid,
                 res.rid);
        break;
    case ANSWER_DUPLICATE:
        log_info("stream",
                 "'%s' answered $rid=%s again (status %d): the first answer stands, this one "
                 "is ignored",
                 cid, res.rid, res.status);
        break;
    }
    ih_stream_response_free(&res);
}

struct mqtt_handler stream_service_mqtt_handler(struct stream_service *svc)
{
    struct mqtt_handler h = {
        .topic_prefix = IH_STREAMS_RES_PREFIX, .on_publish = on_device_publish, .ctx = svc};
    return h;
}

void stream_service_on_expiry(struct stream_service *svc, const struct stream_expiry *e)
{
    complete(svc, &e->decision);
    if (e->close_sides)
        relay_close_bridge(svc, e->id, STREAM_CLOSE_UNPAIRED);
}

static void on_device_gone(void *ctx, const struct stream_expiry *e)
{
    struct stream_service *svc = ctx;
    complete(svc, &e->decision);
    relay_close_bridge(svc, e->id, STREAM_CLOSE_DEVICE_GONE);
}

void stream_service_end_device(struct stream_service *svc, const char *device_id, int disabled)
{
    if (svc == NULL)
        return;
    stream_core_end_device(svc->core, device_id, disabled ? "device_disabled" : "device_deleted",
                           monotonic_ms(), on_device_gone, svc);
    relay_wake(svc);
}

static void abandon(void *ctx, struct deferred *w)
{
    (void)ctx;
    struct stream_result r = {.outcome = STREAM_OUTCOME_UNAVAILABLE};
    deferred_complete(w, &r, sizeof r);
}

void stream_service_shutdown(struct stream_service *svc)
{
    if (svc != NULL)
        stream_core_shut(svc->core, abandon, svc);
}
