#include "c2d_service.h"

#include "keys.h"
#include "log.h"
#include "time_text.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct c2d_service {
    struct emulator *emu;
    struct c2d_observer observers[C2D_MAX_OBSERVERS];
    size_t observer_count;
    /* One delivery at a time: a message is read Enqueued, handed over and marked Completed
     * before another delivery reads the queue, so none goes out twice. */
    pthread_mutex_t delivery;
};

static void observe(struct c2d_service *svc, enum c2d_step step, const char *device_id,
                    const char *message_id, size_t count)
{
    struct c2d_event ev = {step, device_id, message_id, count};
    for (size_t i = 0; i < svc->observer_count; i++)
        svc->observers[i].on_event(svc->observers[i].ctx, &ev);
}

/* Rule D14: messages whose expiry passed while queued, noticed by a call on their queue. */
static void observe_expired(struct c2d_service *svc, const char *device_id,
                            const struct c2d_effects *fx)
{
    if (fx->expired == 0)
        return;
    log_info("c2d", "device '%s': %zu cloud-to-device message(s) expired in the queue", device_id,
             fx->expired);
    observe(svc, C2D_STEP_EXPIRED, device_id, NULL, fx->expired);
}

/* A message id in the form the hub's service SDKs make them: a random UUID. */
static void new_message_id(char out[37])
{
    char hex[33];
    if (keys_random_hex(hex, 16) != 0)
        fatal("c2d: no random bytes for a message id");
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* Rule D13: the device's Enqueued messages, in order, to its session at QoS 1, then Completed
 * together (one commit). A message the broker link does not take stays Enqueued. */
static void deliver(struct c2d_service *svc, const char *device_id)
{
    struct c2d_effects fx = {0};
    struct c2d_row *rows = NULL;
    size_t count = 0, sent = 0;
    pthread_mutex_lock(&svc->delivery);
    if (mqtt_endpoint_presence(svc->emu->mqtt, device_id, HUB_LISTEN_C2D) != PRESENCE_LISTENING ||
        registry_c2d_enqueued(svc->emu->registry, device_id, time_now_ms(), C2D_MAX_QUEUE_DEPTH,
                              &rows, &count, &fx) != REGISTRY_OK)
        count = 0;
    long long *done = calloc(count + 1, sizeof *done);
    for (size_t i = 0; i < count && done != NULL; i++) {
        char *topic = NULL;
        int ok = c2d_message_topic(device_id, rows[i].envelope, &topic) == 0 &&
                 mqtt_endpoint_deliver(svc->emu->mqtt, device_id, topic, rows[i].body,
                                       rows[i].body_len) == 0;
        free(topic);
        if (!ok) {
            log_warn("c2d",
                     "device '%s': message '%s' could not be handed to the broker; it stays "
                     "queued until the device listens again",
                     device_id, rows[i].message_id);
            break;
        }
        done[sent++] = rows[i].sequence_number;
    }
    if (sent > 0 && registry_c2d_complete(svc->emu->registry, device_id, done, sent,
                                          time_now_ms()) != REGISTRY_OK)
        log_error("c2d", "device '%s': %zu delivered message(s) could not be marked completed",
                  device_id, sent);
    pthread_mutex_unlock(&svc->delivery);
    observe_expired(svc, device_id, &fx);
    for (size_t i = 0; i < sent; i++)
        observe(svc, C2D_STEP_COMPLETED, device_id, rows[i].message_id, 1);
    free(done);
    c2d_rows_free(rows, count);
}

static enum c2d_call_result of_parse(enum c2d_parse_result r)
{
    switch (r) {
    case C2D_PARSE_OK:
        return C2D_CALL_OK;
    case C2D_PARSE_NOT_JSON:
        return C2D_CALL_NOT_JSON;
    case C2D_PARSE_TOO_LARGE:
        return C2D_CALL_TOO_LARGE;
    case C2D_PARSE_INVALID:
        break;
    }
    return C2D_CALL_INVALID;
}

static enum c2d_call_result of_registry(enum registry_result r)
{
    return r == REGISTRY_OK          ? C2D_CALL_OK
           : r == REGISTRY_NOT_FOUND ? C2D_CALL_NO_DEVICE
           : r == REGISTRY_FULL      ? C2D_CALL_FULL
                                     : C2D_CALL_FAILED;
}

enum c2d_call_result c2d_service_send(struct c2d_service *svc, const char *device_id,
                                      const char *body, size_t len, struct c2d_sent *sent,
                                      char *reason, size_t cap)
{
    char default_id[37];
    struct c2d_message m;
    struct c2d_effects fx = {0};
    int64_t now = time_now_ms();
    new_message_id(default_id);
    enum c2d_call_result r =
        of_parse(c2d_message_parse(body, len, default_id, now, &m, reason, cap));
    if (r != C2D_CALL_OK)
        return r;
    struct c2d_row row = {.message_id = m.message_id,
                          .expiry_ms = m.expiry_ms,
                          .envelope = m.envelope,
                          .body = m.body,
                          .body_len = m.body_len};
    r = of_registry(registry_c2d_enqueue(svc->emu->registry, device_id, &row, now,
                                         C2D_MAX_QUEUE_DEPTH, &sent->sequence_number, &fx));
    if (r == C2D_CALL_FULL)
        snprintf(reason, cap,
                 "Maximum queue depth exceeded: device '%s' already has %d messages queued "
                 "(docs/protocol.md rule D14)",
                 device_id, C2D_MAX_QUEUE_DEPTH);
    else if (r == C2D_CALL_NO_DEVICE)
        snprintf(reason, cap, "%s", device_id);
    else if (r == C2D_CALL_FAILED)
        snprintf(reason, cap, "the message could not be stored");
    if (r == C2D_CALL_OK) {
        snprintf(sent->message_id, sizeof sent->message_id, "%s", m.message_id);
        sent->expiry_ms = m.expiry_ms;
    }
    c2d_message_free(&m);
    observe_expired(svc, device_id, &fx);
    if (r == C2D_CALL_OK) {
        observe(svc, C2D_STEP_SENT, device_id, sent->message_id, 1);
        deliver(svc, device_id);
    }
    return r;
}

enum c2d_call_result c2d_service_list(struct c2d_service *svc, const char *device_id, json_t *array)
{
    struct c2d_effects fx = {0};
    struct c2d_row *rows = NULL;
    size_t count = 0;
    enum c2d_call_result r = of_registry(
        registry_c2d_list(svc->emu->registry, device_id, time_now_ms(), &rows, &count, &fx));
    for (size_t i = 0; i < count && r == C2D_CALL_OK; i++) {
        if (json_array_append_new(array, c2d_message_view(&rows[i])) != 0)
            r = C2D_CALL_FAILED;
    }
    c2d_rows_free(rows, count);
    observe_expired(svc, device_id, &fx);
    return r;
}

enum c2d_call_result c2d_service_purge(struct c2d_service *svc, const char *device_id,
                                       size_t *purged)
{
    struct c2d_effects fx = {0};
    enum c2d_call_result r =
        of_registry(registry_c2d_purge(svc->emu->registry, device_id, time_now_ms(), purged, &fx));
    observe_expired(svc, device_id, &fx);
    if (r == C2D_CALL_OK && *purged > 0)
        observe(svc, C2D_STEP_PURGED, device_id, NULL, *purged);
    return r;
}

/* Rules D13 and D16: a device that listens (it subscribed, or its persistent session did) gets
 * what waits in its queue. */
static void on_presence(void *ctx, const char *cid, struct presence_view view)
{
    if (cid != NULL && view.connected && (view.listens & HUB_LISTEN_C2D) != 0)
        deliver(ctx, cid);
}

struct mqtt_handler c2d_service_mqtt_handler(struct c2d_service *svc)
{
    struct mqtt_handler h = {NULL, NULL, on_presence, svc};
    return h;
}

struct c2d_service *c2d_service_new(struct emulator *emu, const struct c2d_observer *observers,
                                    size_t count)
{
    struct c2d_service *svc = calloc(1, sizeof *svc);
    if (svc == NULL || count > C2D_MAX_OBSERVERS) {
        free(svc);
        return NULL;
    }
    svc->emu = emu;
    memcpy(svc->observers, observers, count * sizeof *observers);
    svc->observer_count = count;
    pthread_mutex_init(&svc->delivery, NULL);
    return svc;
}

void c2d_service_free(struct c2d_service *svc)
{
    if (svc == NULL)
        return;
    pthread_mutex_destroy(&svc->delivery);
    free(svc);
}
