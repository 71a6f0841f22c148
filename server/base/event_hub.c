#include "event_hub.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct event_sub {
    struct event_sub *next, *prev;
    struct event_hub *hub;
    char *queue; /* SSE text not yet read: len bytes from queue + head */
    size_t head, len, cap;
    size_t exempt; /* the snapshot's bytes still queued, at the front: not backlog */
    int ended, waiting;
    void (*wake)(void *ctx);
    void *ctx;
};

struct event_hub {
    pthread_mutex_t lock; /* the list, and every subscriber's fields */
    struct event_sub *subs;
    size_t count;
    int closed;
};

/* Wake-ups delivered once the lock is released (a woken connection may finish and free its
 * subscriber at once). Past WAKES_MAX at a time, the rest are delivered under the lock. */
#define WAKES_MAX 32

struct wakes {
    struct {
        void (*fn)(void *ctx);
        void *ctx;
    } list[WAKES_MAX];
    size_t count;
};

struct event_hub *event_hub_new(void)
{
    struct event_hub *h = calloc(1, sizeof *h);
    if (h != NULL)
        pthread_mutex_init(&h->lock, NULL);
    return h;
}

void event_hub_free(struct event_hub *h)
{
    if (h == NULL)
        return;
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* "event: NAME\ndata: DATA\n\n", or ": DATA\n\n" for a comment. */
static char *format_event(const char *name, const char *data, size_t *len)
{
    size_t n = strlen(data) + (name != NULL ? strlen(name) : 0) + 32;
    char *text = malloc(n);
    if (text == NULL)
        return NULL;
    int written = name != NULL ? snprintf(text, n, "event: %s\ndata: %s\n\n", name, data)
                               : snprintf(text, n, ": %s\n\n", data);
    *len = (size_t)written;
    return text;
}

/* Callers hold the lock. A subscriber that ends lets go of its queue at once. */
static void end(struct event_sub *s)
{
    s->ended = 1;
    free(s->queue);
    s->queue = NULL;
    s->head = s->len = s->cap = s->exempt = 0;
}

/* Callers hold the lock. Makes room for n more bytes after what is queued. */
static int reserve(struct event_sub *s, size_t n)
{
    if (s->head > 0) {
        memmove(s->queue, s->queue + s->head, s->len);
        s->head = 0;
    }
    if (s->len + n <= s->cap)
        return 0;
    size_t cap = s->cap > 0 ? s->cap : 4096;
    while (cap < s->len + n)
        cap *= 2;
    char *grown = realloc(s->queue, cap);
    if (grown == NULL)
        return -1;
    s->queue = grown;
    s->cap = cap;
    return 0;
}

/* Callers hold the lock. Appends, or ends a subscriber too far behind (past limit). */
static int append(struct event_sub *s, const char *text, size_t n, size_t limit)
{
    if (s->ended)
        return -1;
    if (s->len - s->exempt + n > limit || (s->head + s->len + n > s->cap && reserve(s, n) != 0)) {
        end(s);
        return -1;
    }
    memcpy(s->queue + s->head + s->len, text, n);
    s->len += n;
    return 0;
}

/* Callers hold the lock: a waiting subscriber is woken once. */
static void take_wake(struct event_sub *s, struct wakes *w)
{
    if (!s->waiting)
        return;
    s->waiting = 0;
    if (w->count == WAKES_MAX) {
        s->wake(s->ctx);
        return;
    }
    w->list[w->count].fn = s->wake;
    w->list[w->count].ctx = s->ctx;
    w->count++;
}

static void deliver(const struct wakes *w)
{
    for (size_t i = 0; i < w->count; i++)
        w->list[i].fn(w->list[i].ctx);
}

void event_hub_publish(struct event_hub *h, const char *name, const char *data)
{
    size_t n = 0;
    char *text = format_event(name, data, &n);
    if (text == NULL)
        return;
    struct wakes w = {.count = 0};
    pthread_mutex_lock(&h->lock);
    for (struct event_sub *s = h->subs; s != NULL; s = s->next) {
        append(s, text, n, EVENT_HUB_BACKLOG_MAX);
        take_wake(s, &w); /* an ended one too: its next read returns -1 */
    }
    pthread_mutex_unlock(&h->lock);
    free(text);
    deliver(&w);
}

struct event_sub *event_hub_subscribe(struct event_hub *h, void (*wake)(void *ctx), void *ctx)
{
    struct event_sub *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->hub = h;
    s->wake = wake;
    s->ctx = ctx;
    pthread_mutex_lock(&h->lock);
    int closed = h->closed;
    if (!closed) {
        s->next = h->subs;
        if (h->subs != NULL)
            h->subs->prev = s;
        h->subs = s;
        h->count++;
    }
    pthread_mutex_unlock(&h->lock);
    if (closed) {
        free(s);
        return NULL;
    }
    return s;
}

int event_sub_prepend(struct event_sub *s, const char *name, const char *data)
{
    size_t n = 0;
    char *text = format_event(name, data, &n);
    if (text == NULL)
        return -1;
    pthread_mutex_lock(&s->hub->lock);
    /* The snapshot does not count against the backlog: a big hub must not lock pages out. */
    int rc = s->ended || reserve(s, n) != 0 ? -1 : 0;
    if (rc == 0) {
        memmove(s->queue + n, s->queue, s->len);
        memcpy(s->queue, text, n);
        s->len += n;
        s->exempt += n;
    } else {
        end(s);
    }
    pthread_mutex_unlock(&s->hub->lock);
    free(text);
    return rc;
}

ssize_t event_sub_read(struct event_sub *s, char *buf, size_t cap, void (*wait)(void *ctx))
{
    pthread_mutex_lock(&s->hub->lock);
    ssize_t n;
    if (s->len > 0) {
        size_t take = s->len < cap ? s->len : cap;
        memcpy(buf, s->queue + s->head, take);
        s->head = take < s->len ? s->head + take : 0;
        s->len -= take;
        s->exempt = take < s->exempt ? s->exempt - take : 0;
        n = (ssize_t)take;
    } else if (s->ended) {
        n = -1;
    } else {
        s->waiting = 1;
        wait(s->ctx);
        n = 0;
    }
    pthread_mutex_unlock(&s->hub->lock);
    return n;
}

void event_hub_unsubscribe(struct event_sub *s)
{
    if (s == NULL)
        return;
    struct event_hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h->subs = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    h->count--;
    pthread_mutex_unlock(&h->lock);
    free(s->queue);
    free(s);
}

void event_hub_close(struct event_hub *h)
{
    struct wakes w = {.count = 0};
    pthread_mutex_lock(&h->lock);
    h->closed = 1;
    for (struct event_sub *s = h->subs; s != NULL; s = s->next) {
        end(s);
        take_wake(s, &w);
    }
    pthread_mutex_unlock(&h->lock);
    deliver(&w);
}

size_t event_hub_subscriber_count(struct event_hub *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = h->count;
    pthread_mutex_unlock(&h->lock);
    return n;
}
