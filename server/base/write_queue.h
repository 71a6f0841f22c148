/* A queue of writes that one thread of its own performs in batches, so the threads that submit
 * them (MQTT events, the streaming endpoint) never wait on storage. It knows nothing of what a
 * write is: its owner gives the function that performs a batch and the one that frees an item. */
#ifndef WRITE_QUEUE_H
#define WRITE_QUEUE_H

#include "util/fifo.h"

#include <stddef.h>

/* The first member of every queued item. */
struct write_queue_item {
    struct ih_fifo_link link; /* the queue's; link.next is the next item of a batch */
};

struct write_queue_ops {
    /* On the queue's thread: performs the items from `batch` on, in the order submitted. */
    void (*write_batch)(void *ctx, const struct write_queue_item *batch);
    void (*free_item)(struct write_queue_item *item);
};

struct write_queue;

/* Starts the thread. At most `max` items wait at once: past that, submissions are dropped (and
 * counted, and logged under `name`) rather than let memory grow without bound. Returns NULL when
 * out of memory or when no thread could be started. */
struct write_queue *write_queue_start(const char *name, size_t max,
                                      const struct write_queue_ops *ops, void *ctx);
/* Performs what is queued, then stops the thread. q may be NULL. */
void write_queue_stop(struct write_queue *q);

/* Takes the item (freed once written, or at once when dropped). Returns 0, or -1 when the
 * queue was full and the item was dropped. */
int write_queue_submit(struct write_queue *q, struct write_queue_item *item);

/* Returns once every item submitted before the call is written. */
void write_queue_flush(struct write_queue *q);

#endif
