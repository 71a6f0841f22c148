#include "deferred.h"

#include "log.h"

#include <string.h>

void deferred_init(struct deferred *d, void (*resume)(void *ctx), void *ctx)
{
    memset(d, 0, sizeof *d);
    pthread_mutex_init(&d->lock, NULL);
    d->resume = resume;
    d->ctx = ctx;
}

void deferred_destroy(struct deferred *d)
{
    if (d->done && !d->answered && d->discard != NULL)
        d->discard(d->result);
    pthread_mutex_destroy(&d->lock);
}

void deferred_complete(struct deferred *d, const void *result, size_t len)
{
    if (len > sizeof d->result)
        fatal("a deferred result of %zu bytes, more than DEFERRED_RESULT_SIZE", len);
    pthread_mutex_lock(&d->lock);
    int resume = 0;
    void (*fn)(void *ctx) = d->resume;
    void *ctx = d->ctx;
    if (!d->done) {
        memcpy(d->result, result, len);
        d->done = 1;
        resume = d->suspended;
        d->suspended = 0;
    }
    pthread_mutex_unlock(&d->lock);
    /* Outside the lock, and d untouched: once resumed, the HTTP thread may answer the request
     * and free d at once (it cannot before: a suspended request is not served). */
    if (resume)
        fn(ctx);
}

int deferred_suspend(struct deferred *d, void (*suspend)(void *ctx))
{
    pthread_mutex_lock(&d->lock);
    int wait = !d->done;
    if (wait) {
        suspend(d->ctx);
        d->suspended = 1;
    }
    pthread_mutex_unlock(&d->lock);
    return wait;
}

int deferred_done(struct deferred *d)
{
    pthread_mutex_lock(&d->lock);
    int done = d->done;
    pthread_mutex_unlock(&d->lock);
    return done;
}
