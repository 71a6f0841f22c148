/* One of the hub's operation throttles (docs/protocol.md rule D19): at most `limit` units of
 * cost in a window of time. The window is fixed: it starts with the first operation after the
 * previous window ended, so a burst within a window passes up to the limit (the hub, too,
 * applies its throttles over minutes and lets bursts through for a while). Thread-safe; the
 * caller brings the clock. */
#ifndef THROTTLE_H
#define THROTTLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Rule D19: the hub applies its throttles in minute ranges. */
#define THROTTLE_HUB_WINDOW_MS 60000

struct throttle {
    pthread_mutex_t mu;
    long long limit; /* 0: no limit */
    int64_t window_ms;
    int64_t start_ms; /* the current window's start */
    long long used;   /* in the current window */
};

void throttle_init(struct throttle *t, long long limit, int64_t window_ms);
void throttle_destroy(struct throttle *t);

/* Takes cost units at now_ms: 1 when they fit in the window's limit, 0 when the operation is
 * throttled (and nothing is taken). */
int throttle_take(struct throttle *t, long long cost, int64_t now_ms);

/* The refusal of an operation t throttled, for error bodies and logs: counted says what t counts
 * ("twin reads"), name is its `--quota NAME=N`. */
void throttle_reason(const struct throttle *t, const char *counted, const char *name, char *out,
                     size_t cap);

#endif
