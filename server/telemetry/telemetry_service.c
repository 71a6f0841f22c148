#include "telemetry_service.h"

#include "fsutil.h"
#include "log.h"
#include "telemetry_json.h"

#include "protocol/number.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct telemetry_service {
    struct emulator *emu;
    pthread_mutex_t lock; /* the store's connection: one thread at a time */
    struct telemetry_store *store;
    struct telemetry_observer observers[TELEMETRY_MAX_OBSERVERS];
    size_t observer_count;
};

struct telemetry_service *telemetry_service_new(struct emulator *emu,
                                                const struct telemetry_observer *observers,
                                                size_t count)
{
    if (count > TELEMETRY_MAX_OBSERVERS)
        fatal("%zu telemetry observers, more than TELEMETRY_MAX_OBSERVERS", count);
    struct telemetry_service *svc = calloc(1, sizeof *svc);
    char *path = fs_join(emu->state_dir, TELEMETRY_STORE_FILE), err[300] = "";
    if (svc == NULL || path == NULL ||
        (svc->store = telemetry_store_open(path, 1, err, sizeof err)) == NULL) {
        log_error("main", "cannot open the telemetry store %s: %s", path != NULL ? path : "",
                  err[0] != '\0' ? err : "out of memory");
        free(path);
        free(svc);
        return NULL;
    }
    free(path);
    svc->emu = emu;
    memcpy(svc->observers, observers, count * sizeof *observers);
    svc->observer_count = count;
    pthread_mutex_init(&svc->lock, NULL);
    return svc;
}

void telemetry_service_free(struct telemetry_service *svc)
{
    if (svc == NULL)
        return;
    telemetry_store_close(svc->store);
    pthread_mutex_destroy(&svc->lock);
    free(svc);
}

static void append(void *ctx, const struct telemetry_record *r)
{
    json_array_append_new(ctx, telemetry_json(r));
}

int telemetry_service_list(struct telemetry_service *svc, const struct telemetry_query *q,
                           json_t *array)
{
    char err[300] = "";
    pthread_mutex_lock(&svc->lock);
    long long n = telemetry_store_each(svc->store, q, append, array, err, sizeof err);
    pthread_mutex_unlock(&svc->lock);
    if (n < 0)
        log_warn("telemetry", "%s", err);
    return n < 0 ? -1 : 0;
}

struct stored {
    struct telemetry_service *svc;
    size_t body_len;
    json_t *message;
};

static void keep_one(void *ctx, const struct telemetry_record *r)
{
    struct stored *s = ctx;
    s->message = telemetry_json(r);
    s->body_len = r->body_len;
}

/* The plugin stored a message: the observers get it. */
static void on_stored(void *ctx, const char *cid, const char *topic, const void *payload,
                      size_t len)
{
    (void)topic;
    struct telemetry_service *svc = ctx;
    uint64_t seq = 0;
    char err[300] = "";
    if (ih_parse_uint_n(payload, len, INT64_MAX, &seq) != IH_OK || seq == 0) {
        log_warn("telemetry", "the broker noted a message of '%s' without a sequence number", cid);
        return;
    }
    struct telemetry_query q = {.after = (long long)seq - 1, .top = 1};
    struct stored s = {svc, 0, NULL};
    pthread_mutex_lock(&svc->lock);
    long long n = telemetry_store_each(svc->store, &q, keep_one, &s, err, sizeof err);
    pthread_mutex_unlock(&svc->lock);
    if (n < 0)
        log_warn("telemetry", "message %llu of '%s' could not be read back: %s",
                 (unsigned long long)seq, cid, err);
    log_trace("telemetry", "'%s' sent message %llu (%zu bytes)", cid, (unsigned long long)seq,
              s.body_len);
    for (size_t i = 0; s.message != NULL && i < svc->observer_count; i++)
        svc->observers[i].on_message(svc->observers[i].ctx, s.message, s.body_len);
    json_decref(s.message);
}

struct mqtt_handler telemetry_service_mqtt_handler(struct telemetry_service *svc)
{
    struct mqtt_handler h = {HUB_BUS_STORED_TELEMETRY, on_stored, NULL, svc};
    return h;
}
