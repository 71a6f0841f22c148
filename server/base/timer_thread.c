#include "timer_thread.h"

#include "monotonic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct timer_thread {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC, the clock of the deadlines */
    int woken, stopping;
    timer_tick tick;
    void *ctx;
};

static struct timespec as_timespec(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    return ts;
}

/* Waits, the lock held, until next, a wake or a stop. */
static void wait_for(struct timer_thread *t, int64_t next)
{
    while (!t->woken && !t->stopping) {
        if (next == TIMER_NEVER) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        struct timespec until = as_timespec(next);
        if (pthread_cond_timedwait(&t->cond, &t->lock, &until) == ETIMEDOUT)
            return;
    }
}

static void *run(void *arg)
{
    struct timer_thread *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        t->woken = 0;
        pthread_mutex_unlock(&t->lock);
        int64_t next = t->tick(t->ctx, monotonic_ms());
        pthread_mutex_lock(&t->lock);
        wait_for(t, next);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int timer_thread_start(timer_tick tick, void *ctx, struct timer_thread **out)
{
    struct timer_thread *t = calloc(1, sizeof *t);
    pthread_condattr_t attr;
    if (t == NULL)
        return -1;
    t->tick = tick;
    t->ctx = ctx;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

static void signal_thread(struct timer_thread *t, int stop)
{
    pthread_mutex_lock(&t->lock);
    t->woken = 1;
    t->stopping |= stop;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

void timer_thread_wake(struct timer_thread *t)
{
    signal_thread(t, 0);
}

void timer_thread_stop(struct timer_thread *t)
{
    if (t == NULL)
        return;
    signal_thread(t, 1);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
