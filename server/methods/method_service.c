#include "method_service.h"

#include "hub_quotas.h"
#include "log.h"
#include "method_table.h"
#include "monotonic.h"
#include "registry.h"
#include "timer_thread.h"

#include "protocol/hub_error.h"
#include "protocol/methods_topic.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct method_service {
    struct emulator *emu;
    pthread_mutex_t lock; /* the table, next_rid, shut; sends happen under it (see send_call) */
    struct method_table calls;
    uint64_t next_rid;
    int shut;
    struct timer_thread *timer;
    struct method_observer observers[METHOD_MAX_OBSERVERS];
    size_t observer_count;
};

void method_result_free(struct method_result *r)
{
    free(r->body);
    r->body = NULL;
}

static void observe(struct method_service *svc, const struct method_event *ev)
{
    for (size_t i = 0; i < svc->observer_count; i++)
        svc->observers[i].on_event(svc->observers[i].ctx, ev);
}

/* Ends a call removed from the table: its POST gets result, observers hear of it. Outside the
 * lock: completing resumes the HTTP request. */
static void finish(struct method_service *svc, struct method_call *c, struct method_result *r,
                   int status)
{
    struct method_event ev = {METHOD_STEP_ENDED,
                              c->cid,
                              c->name,
                              c->rid,
                              r->outcome,
                              status,
                              monotonic_ms() - c->started_ms};
    log_trace("method", "'%s' method '%s' ($rid=%" PRIu64 ") ended in %" PRId64 " ms: %s", c->cid,
              c->name, c->rid, ev.elapsed_ms, r->reason);
    deferred_complete(c->wait, r, sizeof *r);
    observe(svc, &ev);
    method_call_free(c);
}

/* Rule D3: QoS 0, to that identity only, the payload as the body. Called with the lock held, so
 * that an answer cannot arrive before the call is in the table as sent. */
static int send_call(struct method_service *svc, struct method_call *c)
{
    char rid[24];
    char *topic = NULL;
    struct ih_diag why = {{0}};
    snprintf(rid, sizeof rid, "%" PRIu64, c->rid);
    int rc =
        ih_topic_format_method_request(c->name, rid, &topic, &why) == IH_OK &&
                mqtt_endpoint_send(svc->emu->mqtt, c->cid, topic, c->payload, c->payload_len) == 0
            ? 0
            : -1;
    if (rc != 0)
        log_warn("method", "the call of '%s' to '%s' could not be sent: %s", c->name, c->cid,
                 why.msg[0] != '\0' ? why.msg : "the MQTT broker did not take it");
    c->sent = 1;
    c->deadline_ms = monotonic_ms() + (int64_t)c->response_timeout_s * 1000;
    free(c->payload); /* sent: no longer needed */
    c->payload = NULL;
    free(topic);
    return rc;
}

static void observe_sent(struct method_service *svc, const struct method_call *c)
{
    struct method_event ev = {METHOD_STEP_SENT,
                              c->cid,
                              c->name,
                              c->rid,
                              METHOD_OUTCOME_ANSWERED,
                              0,
                              monotonic_ms() - c->started_ms};
    observe(svc, &ev);
}

/* Rule D2's message for an identity that does not listen, with what it lacks. */
static void not_online_reason(struct method_service *svc, const char *cid, char *reason, size_t cap)
{
    enum presence_state s = mqtt_endpoint_presence(svc->emu->mqtt, cid, HUB_LISTEN_METHODS);
    snprintf(reason, cap,
             "The operation failed because the requested device isn't online or hasn't "
             "registered the direct method callback: '%s' is %s",
             cid,
             s == PRESENCE_OFFLINE ? "not connected over MQTT"
                                   : "connected but not subscribed to " IH_METHODS_FILTER);
}

static int64_t tick(void *ctx, int64_t now)
{
    struct method_service *svc = ctx;
    for (;;) {
        pthread_mutex_lock(&svc->lock);
        struct method_call *c = method_table_take_due(&svc->calls, now);
        pthread_mutex_unlock(&svc->lock);
        if (c == NULL)
            break;
        struct method_result r = {0};
        if (c->sent) {
            r.outcome = METHOD_OUTCOME_TIMED_OUT;
            r.timeout_s = c->response_timeout_s;
            /* The hub's words exactly (docs/protocol.md §6); finish() logs which call it was. */
            snprintf(r.reason, sizeof r.reason, "%s",
                     ih_error_default_message(IH_E_GATEWAY_TIMEOUT));
        } else {
            r.outcome = METHOD_OUTCOME_NOT_ONLINE;
            r.timeout_s = c->connect_timeout_s;
            not_online_reason(svc, c->cid, r.reason, sizeof r.reason);
        }
        finish(svc, c, &r, 0);
    }
    pthread_mutex_lock(&svc->lock);
    int64_t next = method_table_next_deadline(&svc->calls);
    pthread_mutex_unlock(&svc->lock);
    return next == INT64_MAX ? TIMER_NEVER : next;
}

struct method_service *method_service_new(struct emulator *emu,
                                          const struct method_observer *observers, size_t count)
{
    if (count > METHOD_MAX_OBSERVERS)
        fatal("%zu method observers, more than METHOD_MAX_OBSERVERS", count);
    struct method_service *svc = calloc(1, sizeof *svc);
    if (svc == NULL)
        return NULL;
    svc->emu = emu;
    memcpy(svc->observers, observers, count * sizeof *observers);
    svc->observer_count = count;
    svc->next_rid = 1;
    method_table_init(&svc->calls, METHOD_MAX_IN_FLIGHT);
    pthread_mutex_init(&svc->lock, NULL);
    if (timer_thread_start(tick, svc, &svc->timer) != 0) {
        pthread_mutex_destroy(&svc->lock);
        free(svc);
        return NULL;
    }
    return svc;
}

void method_service_free(struct method_service *svc)
{
    if (svc == NULL)
        return;
    timer_thread_stop(svc->timer);
    for (struct method_call *c; (c = method_table_take_any(&svc->calls)) != NULL;)
        method_call_free(c);
    pthread_mutex_destroy(&svc->lock);
    free(svc);
}

static char *client_id(const struct method_target *t)
{
    char *cid = NULL;
    if (t->module_id == NULL)
        return strdup(t->device_id);
    return asprintf(&cid, "%s/%s", t->device_id, t->module_id) < 0 ? NULL : cid;
}

static enum method_invoke_result
check_device(struct method_service *svc, const struct method_target *t, char *reason, size_t cap)
{
    struct device d;
    enum registry_result r = registry_device_get(svc->emu->registry, t->device_id, &d);
    if (r == REGISTRY_NOT_FOUND) {
        snprintf(reason, cap, "device '%s' is not registered", t->device_id);
        return METHOD_INVOKE_NO_DEVICE;
    }
    if (r != REGISTRY_OK) {
        snprintf(reason, cap, "the registry could not be read (see the emulator's log); try again");
        return METHOD_INVOKE_UNAVAILABLE;
    }
    if (!mqtt_endpoint_link_up(svc->emu->mqtt)) {
        snprintf(reason, cap, "the emulator's MQTT broker is not reachable; try again");
        return METHOD_INVOKE_UNAVAILABLE;
    }
    return METHOD_INVOKE_PENDING;
}

static struct method_call *new_call(struct method_invocation *inv, char *cid, struct deferred *wait)
{
    struct method_call *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->cid = cid;
    c->name = inv->name;
    c->payload = inv->payload;
    c->payload_len = inv->payload_len;
    c->response_timeout_s = inv->response_timeout_s;
    c->connect_timeout_s = inv->connect_timeout_s;
    c->wait = wait;
    c->started_ms = monotonic_ms();
    c->deadline_ms = c->started_ms + (int64_t)inv->connect_timeout_s * 1000;
    memset(inv, 0, sizeof *inv);
    return c;
}

/* Under the lock, so that the presence handler (which takes it) sees the call once it is in the
 * table: an identity that starts listening after the check below finds the call waiting. */
static enum method_invoke_result enqueue(struct method_service *svc, struct method_call *c,
                                         char *reason, size_t cap)
{
    int listening =
        mqtt_endpoint_presence(svc->emu->mqtt, c->cid, HUB_LISTEN_METHODS) == PRESENCE_LISTENING;
    if (svc->shut) {
        snprintf(reason, cap, "the emulator is stopping");
        return METHOD_INVOKE_UNAVAILABLE;
    }
    if (!listening && c->connect_timeout_s == 0) {
        not_online_reason(svc, c->cid, reason, cap);
        return METHOD_INVOKE_NOT_ONLINE;
    }
    if (method_table_add(&svc->calls, c) != 0) {
        snprintf(reason, cap, "%d method calls are waiting for devices, the limit; retry",
                 METHOD_MAX_IN_FLIGHT);
        return METHOD_INVOKE_BUSY;
    }
    c->rid = svc->next_rid++;
    if (listening)
        send_call(svc, c);
    return METHOD_INVOKE_PENDING;
}

enum method_invoke_result method_service_invoke(struct method_service *svc,
                                                const struct method_target *target,
                                                struct method_invocation *inv,
                                                struct deferred *wait, char *reason, size_t cap)
{
    enum method_invoke_result r = check_device(svc, target, reason, cap);
    if (r != METHOD_INVOKE_PENDING) {
        method_invocation_free(inv);
        return r;
    }
    char *cid = client_id(target);
    struct method_call *c = cid != NULL ? new_call(inv, cid, wait) : NULL;
    if (c == NULL) {
        free(cid);
        method_invocation_free(inv);
        snprintf(reason, cap, "out of memory");
        return METHOD_INVOKE_UNAVAILABLE;
    }
    pthread_mutex_lock(&svc->lock);
    r = enqueue(svc, c, reason, cap);
    if (r == METHOD_INVOKE_PENDING && c->sent)
        observe_sent(svc, c); /* under the lock: once it is released, an answer may end c */
    pthread_mutex_unlock(&svc->lock);
    if (r != METHOD_INVOKE_PENDING)
        method_call_free(c);
    else
        timer_thread_wake(svc->timer);
    return r;
}

/* Rule D4: the answer decides the call; unknown, late and foreign answers are logged and
 * dropped. */
static void on_answer(void *ctx, const char *cid, const char *topic, const void *payload,
                      size_t len)
{
    struct method_service *svc = ctx;
    struct ih_method_response res;
    struct ih_diag why = {{0}};
    if (ih_topic_parse_method_response(topic, strlen(topic), &res, &why) != IH_OK) {
        log_info_limited("method", "'%s' sent a method answer the hub cannot read (%s): %.200s",
                         cid, why.msg, topic);
        return;
    }
    enum method_match match;
    pthread_mutex_lock(&svc->lock);
    struct method_call *c = method_table_take_answer(&svc->calls, cid, res.rid, &match);
    pthread_mutex_unlock(&svc->lock);
    if (c == NULL) {
        log_info_limited("method", "'%s' answered $rid=%.40s, %s; the answer is dropped", cid,
                         res.rid,
                         match == METHOD_MATCH_IMPOSTOR ? "a call sent to another identity"
                                                        : "which no call waits for (unknown, "
                                                          "or answered or timed out already)");
        ih_method_response_free(&res);
        return;
    }
    hub_quotas_count(svc->emu->quotas, len); /* rule D19: an answer counts as messages too */
    struct method_result r = {METHOD_OUTCOME_ANSWERED, 0, NULL, ""};
    r.body = method_answer_body(res.status, payload, len, r.reason, sizeof r.reason);
    if (r.body == NULL)
        r.outcome = r.reason[0] != '\0' ? METHOD_OUTCOME_BAD_ANSWER : METHOD_OUTCOME_UNAVAILABLE;
    else
        snprintf(r.reason, sizeof r.reason, "answered with status %d", res.status);
    finish(svc, c, &r, res.status);
    ih_method_response_free(&res);
}

/* Calls that waited for cid go out now that it listens (rule D2's connect timeout). */
static void on_presence(void *ctx, const char *cid, struct presence_view view)
{
    struct method_service *svc = ctx;
    if (cid == NULL || (view.listens & HUB_LISTEN_METHODS) == 0)
        return;
    int woke = 0;
    pthread_mutex_lock(&svc->lock);
    for (struct method_call *c; (c = method_table_waiting_for(&svc->calls, cid)) != NULL;) {
        send_call(svc, c);
        observe_sent(svc, c);
        woke = 1;
    }
    pthread_mutex_unlock(&svc->lock);
    if (woke)
        timer_thread_wake(svc->timer);
}

struct mqtt_handler method_service_mqtt_handler(struct method_service *svc)
{
    struct mqtt_handler h = {IH_METHODS_RES_PREFIX, on_answer, on_presence, svc};
    return h;
}

void method_service_shutdown(struct method_service *svc)
{
    if (svc == NULL)
        return;
    pthread_mutex_lock(&svc->lock);
    svc->shut = 1;
    pthread_mutex_unlock(&svc->lock);
    for (;;) {
        pthread_mutex_lock(&svc->lock);
        struct method_call *c = method_table_take_any(&svc->calls);
        pthread_mutex_unlock(&svc->lock);
        if (c == NULL)
            break;
        struct method_result r = {METHOD_OUTCOME_UNAVAILABLE, 0, NULL, "the emulator is stopping"};
        finish(svc, c, &r, 0);
    }
}
