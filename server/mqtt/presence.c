#include "presence.h"

#include "log.h"
#include "strmap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PRESENCE_BUCKETS 4096
/* lastActivityTime is written at most this often per client: it is a hint, not a log. */
#define TOUCH_INTERVAL_SECONDS 1

struct presence {
    pthread_mutex_t lock;
    struct strmap clients; /* cid -> struct client_presence */
    struct registry *registry;
    presence_observer observer;
    void *observer_ctx;
};

struct client_presence {
    unsigned listens;
    time_t last_touch; /* CLOCK_MONOTONIC seconds */
};

struct presence *presence_new(struct registry *reg, presence_observer observer, void *ctx)
{
    struct presence *p = calloc(1, sizeof *p);
    if (p == NULL || strmap_init(&p->clients, PRESENCE_BUCKETS) != 0) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->registry = reg;
    p->observer = observer;
    p->observer_ctx = ctx;
    return p;
}

void presence_free(struct presence *p)
{
    if (p == NULL)
        return;
    strmap_free(&p->clients, free);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static time_t monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

/* Callers hold the lock. Returns the client's entry, created when new. */
static struct client_presence *connect_locked(struct presence *p, const char *cid)
{
    struct strmap_entry *e = strmap_put(&p->clients, cid);
    if (e != NULL && e->value == NULL)
        e->value = calloc(1, sizeof(struct client_presence));
    if (e != NULL && e->value == NULL)
        strmap_remove(&p->clients, cid);
    return e != NULL ? e->value : NULL;
}

/* Updates the table; returns 1 when the client's connection state changed (connected or
 * disconnected), which the registry must hear of. */
static int apply_locked(struct presence *p, enum hub_bus_kind kind, const char *cid,
                        const char *payload)
{
    struct strmap_entry *e = strmap_find(&p->clients, cid);
    struct client_presence *c = e != NULL ? e->value : NULL;
    switch (kind) {
    case HUB_BUS_CONNECTED:
        if (c == NULL && (c = connect_locked(p, cid)) == NULL)
            return 0;
        c->listens = hub_bus_listens_parse(payload);
        c->last_touch = monotonic_seconds();
        return 1;
    case HUB_BUS_LISTENS:
        if (c != NULL)
            c->listens = hub_bus_listens_parse(payload);
        return 0;
    case HUB_BUS_DISCONNECTED:
        free(strmap_remove(&p->clients, cid));
        return 1;
    default:
        return 0;
    }
}

/* Only a device's own connection changes its registry state; a module's does not. */
static int is_device(const char *cid)
{
    return strchr(cid, '/') == NULL;
}

/* "stream requests, method calls", for the log. */
static void listens_words(unsigned listens, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *words;
    } names[] = {{HUB_LISTEN_STREAMS, "stream requests"},
                 {HUB_LISTEN_METHODS, "method calls"},
                 {HUB_LISTEN_TWIN, "twin answers"},
                 {HUB_LISTEN_DESIRED, "desired properties"},
                 {HUB_LISTEN_C2D, "cloud-to-device messages"}};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0] && n < cap; i++) {
        if (listens & names[i].bit)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n > 0 ? ", " : "", names[i].words);
    }
}

static void log_change(enum hub_bus_kind kind, const char *cid, unsigned listens)
{
    char words[128];
    listens_words(listens, words, sizeof words);
    if (kind == HUB_BUS_CONNECTED && listens != 0)
        log_info("mqtt", "'%s' connected (resumed session, listening for %s)", cid, words);
    else if (kind == HUB_BUS_CONNECTED)
        log_info("mqtt", "'%s' connected", cid);
    else if (kind == HUB_BUS_DISCONNECTED)
        log_info("mqtt", "'%s' disconnected", cid);
    else if (listens & HUB_LISTEN_STREAMS)
        log_trace("mqtt",
                  "step 1/5: '%s' listens for %s: subscribed to $iothub/streams/POST/#, stream "
                  "requests can reach it now",
                  cid, words);
    else
        log_trace("mqtt", "'%s' listens for %s", cid, listens != 0 ? words : "nothing");
}

void presence_apply(struct presence *p, enum hub_bus_kind kind, const char *cid,
                    const char *payload)
{
    pthread_mutex_lock(&p->lock);
    int changed = apply_locked(p, kind, cid, payload);
    pthread_mutex_unlock(&p->lock);
    log_change(kind, cid, hub_bus_listens_parse(payload));
    /* The registry is written outside the lock: presence_get (the HTTP thread) never waits on
     * SQLite. */
    if (changed && is_device(cid))
        registry_device_set_connected(p->registry, cid, kind == HUB_BUS_CONNECTED);
    if (p->observer != NULL)
        p->observer(p->observer_ctx, cid, presence_view(p, cid));
}

/* Whether cid's activity is due to be written again, and notes that it is. */
static int touch_due(struct presence *p, const char *cid)
{
    time_t now = monotonic_seconds();
    pthread_mutex_lock(&p->lock);
    struct strmap_entry *e = strmap_find(&p->clients, cid);
    struct client_presence *c = e != NULL ? e->value : NULL;
    int due = c == NULL || now - c->last_touch >= TOUCH_INTERVAL_SECONDS;
    if (c != NULL && due)
        c->last_touch = now;
    pthread_mutex_unlock(&p->lock);
    return due;
}

void presence_touch(struct presence *p, const char *cid)
{
    char device[IH_ID_MAX_LEN + 1];
    size_t n = strcspn(cid, "/");
    if (n >= sizeof device || !touch_due(p, cid))
        return;
    memcpy(device, cid, n);
    device[n] = '\0';
    registry_device_touch(p->registry, device);
}

void presence_reset(struct presence *p)
{
    pthread_mutex_lock(&p->lock);
    strmap_clear(&p->clients, free);
    pthread_mutex_unlock(&p->lock);
    registry_reset_connections(p->registry);
    if (p->observer != NULL)
        p->observer(p->observer_ctx, NULL, (struct presence_view){0, 0});
}

struct presence_view presence_view(struct presence *p, const char *cid)
{
    pthread_mutex_lock(&p->lock);
    struct strmap_entry *e = strmap_find(&p->clients, cid);
    struct presence_view v = {e != NULL,
                              e != NULL ? ((struct client_presence *)e->value)->listens : 0};
    pthread_mutex_unlock(&p->lock);
    return v;
}

enum presence_state presence_get(struct presence *p, const char *cid, unsigned feature)
{
    struct presence_view v = presence_view(p, cid);
    return !v.connected                 ? PRESENCE_OFFLINE
           : (v.listens & feature) != 0 ? PRESENCE_LISTENING
                                        : PRESENCE_ONLINE;
}

size_t presence_count(struct presence *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->clients.count;
    pthread_mutex_unlock(&p->lock);
    return n;
}
