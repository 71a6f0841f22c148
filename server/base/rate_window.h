/* A burst allowance per window of time, for things that repeat without bound when a client
 * misbehaves: log lines of one kind, refusal events. The first `burst` occurrences of each window
 * pass; the rest are held back and counted, and the count is handed over once, when the next
 * occurrence after the window comes, so it can be reported ("…and 12801 more like it"). Pure: the
 * caller brings the clock and any locking. */
#ifndef RATE_WINDOW_H
#define RATE_WINDOW_H

#include <stdint.h>

struct rate_window {
    int64_t start_ms; /* the current window's start; 0 before the first occurrence */
    unsigned passed, held;
};

struct rate_held {
    unsigned count;   /* occurrences held back in the window that ended; 0 when none */
    int64_t start_ms; /* that window's start */
};

/* One occurrence at now_ms: 1 when it may pass, 0 when it is held back. *ended reports what the
 * window that just ended held back (count 0 when none, or when the window goes on). */
int rate_window_take(struct rate_window *w, int64_t now_ms, unsigned burst, int64_t window_ms,
                     struct rate_held *ended);

/* What the current window holds back (to report at exit); the window is then empty. */
struct rate_held rate_window_drain(struct rate_window *w);

#endif
