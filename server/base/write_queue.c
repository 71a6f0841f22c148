#include "write_queue.h"

#include "log.h"

#include <pthread.h>
#include <stdlib.h>

struct write_queue {
    const char *name;
    size_t max;
    const struct write_queue_ops *ops;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    struct write_queue_item *head, *tail;
    size_t queued;
    unsigned long submitted, written, dropped;
    int stopping;
};

static void *write_loop(void *arg);

struct write_queue *write_queue_start(const char *name, size_t max,
                                      const struct write_queue_ops *ops, void *ctx)
{
    struct write_queue *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->name = name;
    q->max = max;
    q->ops = ops;
    q->ctx = ctx;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->done, NULL);
    if (pthread_create(&q->thread, NULL, write_loop, q) != 0) {
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->work);
        pthread_cond_destroy(&q->done);
        free(q);
        return NULL;
    }
    return q;
}

void write_queue_stop(struct write_queue *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->done);
    free(q);
}

int write_queue_submit(struct write_queue *q, struct write_queue_item *item)
{
    pthread_mutex_lock(&q->lock);
    int full = q->queued >= q->max;
    if (full) {
        if (q->dropped++ % 1000 == 0)
            log_warn(q->name, "the writer is %zu writes behind: dropping (%lu so far)", q->max,
                     q->dropped);
    } else {
        item->next = NULL;
        if (q->tail != NULL)
            q->tail->next = item;
        else
            q->head = item;
        q->tail = item;
        q->queued++;
        q->submitted++;
        pthread_cond_signal(&q->work);
    }
    pthread_mutex_unlock(&q->lock);
    if (full)
        q->ops->free_item(item);
    return full ? -1 : 0;
}

void write_queue_flush(struct write_queue *q)
{
    pthread_mutex_lock(&q->lock);
    unsigned long target = q->submitted;
    while (q->written < target)
        pthread_cond_wait(&q->done, &q->lock);
    pthread_mutex_unlock(&q->lock);
}

static void free_batch(const struct write_queue *q, struct write_queue_item *batch)
{
    while (batch != NULL) {
        struct write_queue_item *next = batch->next;
        q->ops->free_item(batch);
        batch = next;
    }
}

/* Takes the whole queue at once and performs it outside the lock, so submitters wait only for
 * the list operations. */
static void *write_loop(void *arg)
{
    struct write_queue *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->head == NULL && !q->stopping)
            pthread_cond_wait(&q->work, &q->lock);
        if (q->head == NULL)
            break; /* stopping, and everything is written */
        struct write_queue_item *batch = q->head;
        size_t n = q->queued;
        q->head = q->tail = NULL;
        q->queued = 0;
        pthread_mutex_unlock(&q->lock);
        q->ops->write_batch(q->ctx, batch);
        free_batch(q, batch);
        pthread_mutex_lock(&q->lock);
        q->written += n;
        pthread_cond_broadcast(&q->done);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}
