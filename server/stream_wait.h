/* A stream POST waiting for its answer (issue 4, DESIGN.md §3): the HTTP request is suspended,
 * with no thread blocked, until the device answers or the response timeout passes; then another
 * thread completes the wait and resumes the request.
 *
 * The handshake between the two threads follows libmicrohttpd's rule that a connection is
 * suspended before anyone may resume it (prototypes.md §3): the HTTP thread suspends only if the
 * answer has not come yet, and the completing thread resumes only a suspended request, both
 * under the wait's lock. */
#ifndef STREAM_WAIT_H
#define STREAM_WAIT_H

#include <pthread.h>

enum stream_outcome {
    STREAM_OUTCOME_ACCEPTED,
    STREAM_OUTCOME_REJECTED,
    STREAM_OUTCOME_TIMED_OUT,   /* 504 504101 */
    STREAM_OUTCOME_UNAVAILABLE, /* the emulator is stopping: 503 */
    STREAM_OUTCOME_DEVICE_GONE, /* deleted or disabled before it answered: 404 404103 */
};

struct stream_result {
    enum stream_outcome outcome;
    char url[512];
    char token[64];
    int response_timeout_s; /* for the 504's info.timeout */
};

struct stream_wait {
    pthread_mutex_t lock;
    int done, suspended;
    void (*resume)(void *ctx);
    void *ctx;
    struct stream_result result;
};

/* resume(ctx) restarts the suspended request (MHD_resume_connection). */
void stream_wait_init(struct stream_wait *w, void (*resume)(void *ctx), void *ctx);
void stream_wait_destroy(struct stream_wait *w);

/* Any thread: records the result; resumes the request if it is suspended. Once only. */
void stream_wait_complete(struct stream_wait *w, const struct stream_result *r);

/* The HTTP thread: suspends the request (suspend(ctx)) unless the result is in already.
 * Returns 1 when suspended, 0 when the result can be answered at once. */
int stream_wait_suspend(struct stream_wait *w, void (*suspend)(void *ctx));

/* Whether the result is in (the HTTP thread, after it was resumed). */
int stream_wait_done(struct stream_wait *w);

#endif
