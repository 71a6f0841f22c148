/* Shared by the emulator and the clients. Absolute deadlines for pthread_cond_timedwait on
 * condition variables made with deadline_cond_init: they measure CLOCK_MONOTONIC, so a change of
 * the wall clock neither stretches nor cuts a wait. */
#ifndef DEADLINE_H
#define DEADLINE_H

#include <pthread.h>
#include <time.h>

static inline int deadline_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

static inline struct timespec deadline_after_ms(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

#endif
