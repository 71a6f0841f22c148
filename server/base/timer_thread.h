/* A thread that runs a module's deadlines: it calls tick(ctx, now) when the earliest one passes,
 * and tick handles what is due and returns the next deadline. For modules whose deadlines no
 * event loop of theirs can keep (method calls wait for a device over MQTT while their HTTP
 * requests are suspended). Times are monotonic_ms(). */
#ifndef TIMER_THREAD_H
#define TIMER_THREAD_H

#include <stdint.h>

/* A deadline that never comes. */
#define TIMER_NEVER INT64_MAX

/* Handles what is due at now; returns the next deadline, or TIMER_NEVER. Called on the timer's
 * thread, never twice at once. */
typedef int64_t (*timer_tick)(void *ctx, int64_t now);

struct timer_thread;

/* Starts the thread, which calls tick once at the start. Returns 0, or -1 (nothing started). */
int timer_thread_start(timer_tick tick, void *ctx, struct timer_thread **out);

/* Any thread: a deadline was added or moved; tick runs again soon. */
void timer_thread_wake(struct timer_thread *t);

/* Stops and joins the thread; no tick runs once it returns. t may be NULL. */
void timer_thread_stop(struct timer_thread *t);

#endif
