/* A request answered later: its handler starts something another thread finishes (a device's
 * answer to a stream request, or its timeout), and the HTTP request is suspended meanwhile, with
 * no thread blocked. The completing thread stores the result here and resumes the request; the
 * HTTP thread then asks the handler's `answer` to turn the result into the response.
 *
 * libmicrohttpd requires a connection to be suspended before anyone resumes it: the HTTP thread
 * suspends only if the result is not in yet, and the completing thread resumes only a suspended
 * request, both under the lock. */
#ifndef DEFERRED_H
#define DEFERRED_H

#include <pthread.h>
#include <stddef.h>

struct rest_response;

/* Room for the largest result a handler completes with (a stream's URL and token). */
#define DEFERRED_RESULT_SIZE 2048

struct deferred {
    pthread_mutex_t lock;
    int done, suspended;
    void (*resume)(void *ctx); /* the transport's: restarts the suspended request */
    void *ctx;
    /* Set by the handler that defers, before it starts the work: builds the response from the
     * result (on the HTTP thread, once done). */
    void (*answer)(const void *result, struct rest_response *res);
    /* Optional, set with answer: frees what a result owns (a method's payload) when the request
     * ends without being answered. answer frees it otherwise. */
    void (*discard)(void *result);
    int answered; /* answer has run */
    _Alignas(max_align_t) unsigned char result[DEFERRED_RESULT_SIZE];
};

void deferred_init(struct deferred *d, void (*resume)(void *ctx), void *ctx);
void deferred_destroy(struct deferred *d);

/* Any thread: records the result (len bytes, at most DEFERRED_RESULT_SIZE) and resumes the
 * request if it is suspended. Only the first completion counts. */
void deferred_complete(struct deferred *d, const void *result, size_t len);

/* The HTTP thread: suspends the request (suspend(ctx)) unless the result is in already.
 * Returns 1 when suspended, 0 when the result can be answered at once. */
int deferred_suspend(struct deferred *d, void (*suspend)(void *ctx));

/* Whether the result is in. */
int deferred_done(struct deferred *d);

#endif
