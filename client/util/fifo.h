/* Shared by the emulator and the clients. A first-in first-out list of items linked through
 * their first member (struct ih_fifo_link), for the byte queues of the relay and the clients'
 * WebSocket and for the registry's write queue. It holds no lock and counts nothing: its owner
 * does both. */
#ifndef IH_FIFO_H
#define IH_FIFO_H

#include <stdlib.h>

struct ih_fifo_link {
    struct ih_fifo_link *next;
};

struct ih_fifo {
    struct ih_fifo_link *head, *tail; /* both NULL when empty */
};

static inline void ih_fifo_push(struct ih_fifo *q, struct ih_fifo_link *item)
{
    item->next = NULL;
    if (q->tail != NULL)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
}

/* The first item, taken off the list; NULL when it is empty. */
static inline struct ih_fifo_link *ih_fifo_pop(struct ih_fifo *q)
{
    struct ih_fifo_link *item = q->head;
    if (item != NULL) {
        q->head = item->next;
        if (q->head == NULL)
            q->tail = NULL;
    }
    return item;
}

/* Frees every item (each one malloc'd) and empties the list. */
static inline void ih_fifo_free_all(struct ih_fifo *q)
{
    for (struct ih_fifo_link *item = q->head, *next; item != NULL; item = next) {
        next = item->next;
        free(item);
    }
    q->head = q->tail = NULL;
}

#endif
