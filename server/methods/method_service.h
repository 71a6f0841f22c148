/* Direct methods as the service sees them (docs/protocol.md §12.1): a POST names a device (or
 * module) and a method; the hub publishes the call to that identity over MQTT once it listens
 * (rules D2, D3), and the device's answer or a timeout decides the POST's reply (rule D4). The
 * glue between the main endpoint, the MQTT endpoint and the table of calls in flight. */
#ifndef METHOD_SERVICE_H
#define METHOD_SERVICE_H

#include "deferred.h"
#include "emulator.h"
#include "method_request.h"
#include "mqtt_endpoint.h"

#include <stddef.h>
#include <stdint.h>

struct method_service;

/* How a call ends: what the service completes its deferred request with. */
enum method_outcome {
    METHOD_OUTCOME_ANSWERED,    /* 200 with body */
    METHOD_OUTCOME_BAD_ANSWER,  /* 502 502000: the device's body is not JSON */
    METHOD_OUTCOME_TIMED_OUT,   /* 504 504101 */
    METHOD_OUTCOME_NOT_ONLINE,  /* 404 404103: nobody listened within the connect timeout */
    METHOD_OUTCOME_UNAVAILABLE, /* 503: the emulator is stopping */
};

struct method_result {
    enum method_outcome outcome;
    int timeout_s; /* the info.timeout of a 504 or a 404103 */
    char *body;    /* ANSWERED: the 200 body; owned by the result (method_result_free) */
    char reason[400];
};

_Static_assert(sizeof(struct method_result) <= DEFERRED_RESULT_SIZE,
               "a method's result fits a deferred request");

void method_result_free(struct method_result *r);

/* Every call's steps, for the metrics and the web page (main registers them). */
enum method_step {
    METHOD_STEP_SENT,  /* published to the identity */
    METHOD_STEP_ENDED, /* outcome decided */
};

struct method_event {
    enum method_step step;
    const char *cid;
    const char *name;
    uint64_t rid;
    enum method_outcome outcome; /* ENDED */
    int status;                  /* ENDED and ANSWERED: the device's status */
    int64_t elapsed_ms;          /* since the POST */
};

struct method_observer {
    void (*on_event)(void *ctx, const struct method_event *ev);
    void *ctx;
};

#define METHOD_MAX_OBSERVERS 4
/* Calls in flight at once, all identities together: each holds a suspended HTTP request. */
#define METHOD_MAX_IN_FLIGHT 4096

struct method_service *method_service_new(struct emulator *emu,
                                          const struct method_observer *observers, size_t count);
void method_service_free(struct method_service *svc);

struct method_target {
    const char *device_id;
    const char *module_id; /* NULL for the device itself */
};

enum method_invoke_result {
    METHOD_INVOKE_PENDING,     /* wait completes later */
    METHOD_INVOKE_NO_DEVICE,   /* 404 404001 */
    METHOD_INVOKE_NOT_ONLINE,  /* 404 404103 at once (connect timeout 0) */
    METHOD_INVOKE_UNAVAILABLE, /* 503: no broker link, stopping */
    METHOD_INVOKE_BUSY,        /* 429 429001: METHOD_MAX_IN_FLIGHT calls are waiting */
};

/* Starts a call; inv's name and payload are taken (inv is left empty). On PENDING, wait is
 * completed later from another thread; else reason says why, for the error body. */
enum method_invoke_result method_service_invoke(struct method_service *svc,
                                                const struct method_target *target,
                                                struct method_invocation *inv,
                                                struct deferred *wait, char *reason, size_t cap);

/* The service's part of the MQTT endpoint: the devices' answers under IH_METHODS_RES_PREFIX, and
 * identities that start listening for calls. */
struct mqtt_handler method_service_mqtt_handler(struct method_service *svc);

/* Refuses new calls and completes every waiting one with 503 (before the main endpoint stops). */
void method_service_shutdown(struct method_service *svc);

#endif
