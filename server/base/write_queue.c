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
    struct ih_fifo items;
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
        ih_fifo_push(&q->items, &item->link);
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

static void free_batch(const struct write_queue *q, struct ih_fifo *batch)
{
    struct ih_fifo_link *link;
    while ((link = ih_fifo_pop(batch)) != NULL)
        q->ops->free_item((struct write_queue_item *)link);
}

/* Takes the whole queue at once and performs it outside the lock, so submitters wait only for
 * the list operations. */
static void *write_loop(void *arg)
{
    struct write_queue *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->items.head == NULL && !q->stopping)
            pthread_cond_wait(&q->work, &q->lock);
        if (q->items.head == NULL)
            break; /* stopping, and everything is written */
        struct ih_fifo batch = q->items;
        size_t n = q->queued;
        q->items.head = q->items.tail = NULL;
        q->queued = 0;
        pthread_mutex_unlock(&q->lock);
        q->ops->write_batch(q->ctx, (const struct write_queue_item *)batch.head);
        free_batch(q, &batch);
        pthread_mutex_lock(&q->lock);
        q->written += n;
        pthread_cond_broadcast(&q->done);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}
