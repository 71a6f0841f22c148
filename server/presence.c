#include "presence.h"

#include "log.h"
#include "strmap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PRESENCE_BUCKETS 4096

struct presence {
    pthread_mutex_t lock;
    struct strmap clients; /* cid -> struct client_presence */
    struct registry *registry;
};

struct client_presence {
    int subscribed;
};

struct presence *presence_new(struct registry *reg)
{
    struct presence *p = calloc(1, sizeof *p);
    if (p == NULL || strmap_init(&p->clients, PRESENCE_BUCKETS) != 0) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->registry = reg;
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

/* Only a device's own connection changes its registry state; a module's does not. */
static void record_connection(struct presence *p, const char *cid, int connected)
{
    if (strchr(cid, '/') == NULL)
        registry_device_set_connected(p->registry, cid, connected);
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

void presence_apply(struct presence *p, enum hub_bus_kind kind, const char *cid,
                    const char *payload)
{
    pthread_mutex_lock(&p->lock);
    struct strmap_entry *e = strmap_find(&p->clients, cid);
    struct client_presence *c = e != NULL ? e->value : NULL;
    switch (kind) {
    case HUB_BUS_CONNECTED:
        if ((c = connect_locked(p, cid)) != NULL)
            c->subscribed = payload != NULL && strcmp(payload, "subscribed") == 0;
        log_info("mqtt", "'%s' connected%s", cid,
                 c != NULL && c->subscribed ? " (resumed session, listening for streams)" : "");
        record_connection(p, cid, 1);
        break;
    case HUB_BUS_SUBSCRIBED:
    case HUB_BUS_UNSUBSCRIBED:
        if (c != NULL)
            c->subscribed = kind == HUB_BUS_SUBSCRIBED;
        log_trace("mqtt", "'%s' %s stream requests", cid,
                  kind == HUB_BUS_SUBSCRIBED ? "listens for" : "stopped listening for");
        break;
    case HUB_BUS_DISCONNECTED:
        free(strmap_remove(&p->clients, cid));
        log_info("mqtt", "'%s' disconnected", cid);
        record_connection(p, cid, 0);
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&p->lock);
}

void presence_touch(struct presence *p, const char *cid)
{
    char device[IH_ID_MAX_LEN + 1];
    size_t n = strcspn(cid, "/");
    if (n >= sizeof device)
        return;
    memcpy(device, cid, n);
    device[n] = '\0';
    registry_device_touch(p->registry, device);
}

void presence_reset(struct presence *p)
{
    pthread_mutex_lock(&p->lock);
    strmap_clear(&p->clients, free);
    registry_reset_connections(p->registry);
    pthread_mutex_unlock(&p->lock);
}

enum presence_state presence_get(struct presence *p, const char *cid)
{
    pthread_mutex_lock(&p->lock);
    struct strmap_entry *e = strmap_find(&p->clients, cid);
    enum presence_state s = e == NULL                                          ? PRESENCE_OFFLINE
                            : ((struct client_presence *)e->value)->subscribed ? PRESENCE_LISTENING
                                                                               : PRESENCE_ONLINE;
    pthread_mutex_unlock(&p->lock);
    return s;
}

size_t presence_count(struct presence *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->clients.count;
    pthread_mutex_unlock(&p->lock);
    return n;
}
