/* Cloud-to-device queues in the registry's file (docs/protocol.md §12.4, rules D13, D14, D16).
 * The registry keeps each message's envelope (JSON text) and body and knows nothing of their
 * content (server/c2d does); it makes every change atomic and durable, committed before any
 * answer, and keeps each device's cloudToDeviceMessageCount equal to its queue's depth.
 *
 * A message is Enqueued until it is handed to its device's session (Completed), its expiry passes
 * first (Expired, noticed by the next call on that device's queue) or the queue is purged
 * (Purged). Finished messages are kept for the queue's view, the newest C2D_KEEP_FINISHED per
 * device. */
#ifndef REGISTRY_C2D_H
#define REGISTRY_C2D_H

#include "registry.h"

#include <stddef.h>
#include <stdint.h>

#define C2D_STATE_ENQUEUED "Enqueued"
#define C2D_STATE_COMPLETED "Completed"
#define C2D_STATE_EXPIRED "Expired"
#define C2D_STATE_PURGED "Purged"

#define C2D_KEEP_FINISHED 50

struct c2d_row {
    long long sequence_number;
    char *message_id;
    char *state;         /* C2D_STATE_* */
    int64_t enqueued_ms; /* Unix time, milliseconds */
    int64_t expiry_ms;
    int64_t end_ms; /* when it finished; 0 while Enqueued */
    char *envelope;
    unsigned char *body;
    size_t body_len;
};

void c2d_row_free(struct c2d_row *row);
void c2d_rows_free(struct c2d_row *rows, size_t count);

/* What each call also did: the messages whose expiry it noticed, for the metrics. */
struct c2d_effects {
    size_t expired;
};

/* Adds a message (in: message_id, expiry_ms, envelope, body; the rest is set here) to device_id's
 * queue at now_ms. *sequence_number: the new message's. REGISTRY_NOT_FOUND: no such device;
 * REGISTRY_FULL: max_depth messages are Enqueued (rule D14). */
enum registry_result registry_c2d_enqueue(struct registry *reg, const char *device_id,
                                          const struct c2d_row *in, int64_t now_ms,
                                          size_t max_depth, long long *sequence_number,
                                          struct c2d_effects *fx);

/* The device's Enqueued messages, oldest first (at most max): *rows a new array (c2d_rows_free).
 * REGISTRY_NOT_FOUND: no such device. */
enum registry_result registry_c2d_enqueued(struct registry *reg, const char *device_id,
                                           int64_t now_ms, size_t max, struct c2d_row **rows,
                                           size_t *count, struct c2d_effects *fx);

/* Marks the device's Enqueued messages with these sequence numbers Completed, in one transaction
 * (one that is not Enqueued any more is left as it is). */
enum registry_result registry_c2d_complete(struct registry *reg, const char *device_id,
                                           const long long *sequence_numbers, size_t count,
                                           int64_t now_ms);

/* Every message of the device's queue and history, oldest first. */
enum registry_result registry_c2d_list(struct registry *reg, const char *device_id, int64_t now_ms,
                                       struct c2d_row **rows, size_t *count,
                                       struct c2d_effects *fx);

/* Marks every Enqueued message Purged; *purged: how many. */
enum registry_result registry_c2d_purge(struct registry *reg, const char *device_id, int64_t now_ms,
                                        size_t *purged, struct c2d_effects *fx);

#endif
