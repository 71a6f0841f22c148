#include "throttle.h"

#include <stdio.h>

void throttle_init(struct throttle *t, long long limit, int64_t window_ms)
{
    pthread_mutex_init(&t->mu, NULL);
    t->limit = limit;
    t->window_ms = window_ms;
    t->start_ms = 0;
    t->used = 0;
}

void throttle_destroy(struct throttle *t)
{
    pthread_mutex_destroy(&t->mu);
}

int throttle_take(struct throttle *t, long long cost, int64_t now_ms)
{
    if (t->limit <= 0)
        return 1;
    pthread_mutex_lock(&t->mu);
    if (t->used == 0 || now_ms - t->start_ms >= t->window_ms) {
        t->start_ms = now_ms;
        t->used = 0;
    }
    int fits = cost <= t->limit - t->used;
    if (fits)
        t->used += cost;
    pthread_mutex_unlock(&t->mu);
    return fits;
}

void throttle_reason(const struct throttle *t, const char *counted, const char *name, char *out,
                     size_t cap)
{
    snprintf(out, cap,
             "throttled: more than %lld %s a minute (--quota %s=N, or --fidelity strict's); back "
             "off and retry",
             t->limit, counted, name);
}
