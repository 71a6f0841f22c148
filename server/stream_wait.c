#include "stream_wait.h"

#include <string.h>

void stream_wait_init(struct stream_wait *w, void (*resume)(void *ctx), void *ctx)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    w->resume = resume;
    w->ctx = ctx;
}

void stream_wait_destroy(struct stream_wait *w)
{
    pthread_mutex_destroy(&w->lock);
}

void stream_wait_complete(struct stream_wait *w, const struct stream_result *r)
{
    pthread_mutex_lock(&w->lock);
    int resume = 0;
    void (*fn)(void *ctx) = w->resume;
    void *ctx = w->ctx;
    if (!w->done) {
        w->result = *r;
        w->done = 1;
        resume = w->suspended;
        w->suspended = 0;
    }
    pthread_mutex_unlock(&w->lock);
    /* Outside the lock, and w untouched: once resumed, the HTTP thread may answer the request
     * and free w at once (it cannot before: a suspended request is not served). */
    if (resume)
        fn(ctx);
}

int stream_wait_suspend(struct stream_wait *w, void (*suspend)(void *ctx))
{
    pthread_mutex_lock(&w->lock);
    int wait = !w->done;
    if (wait) {
        suspend(w->ctx);
        w->suspended = 1;
    }
    pthread_mutex_unlock(&w->lock);
    return wait;
}

int stream_wait_done(struct stream_wait *w)
{
    pthread_mutex_lock(&w->lock);
    int done = w->done;
    pthread_mutex_unlock(&w->lock);
    return done;
}
