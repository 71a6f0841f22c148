/* The device agent's stream sessions: each stream request is answered by the --accept policy (and,
 * for the proxy, by whether the target takes a connection), then the device side of the stream is
 * opened and echoed or bridged to the target. Method calls get the --method answers. With --twin
 * it keeps its twin as a device app does (agent_twin.c): reads it on every connection, reports
 * the --report patches once, and acknowledges each desired change. A device (not a module) logs
 * each cloud-to-device message it gets (agent_c2d.c). */
#ifndef IH_AGENT_H
#define IH_AGENT_H

#include "mqtt_link.h"

#include "transport/loop.h"

/* Twin requests waiting for the hub's answer, at most: older ones are forgotten (their answers
 * are logged as unknown), as are those of a dropped connection (rule D16). */
#define AGENT_TWIN_PENDING 16

enum agent_mode { AGENT_ECHO, AGENT_PROXY };

/* A canned answer to a direct method (--method NAME=JSON). */
struct agent_method {
    char *name;
    const char *body; /* JSON, or "" for an empty body */
};

/* A twin request sent, until its answer comes. */
struct agent_twin_request {
    char rid[24]; /* "" for a free slot */
    int is_get;
    char what[120]; /* the reported patch, for the log (cut short) */
};

struct agent {
    enum agent_mode mode;
    char target_host[256];
    int target_port;
    const char *const *accept; /* stream names to accept; NULL accepts all */
    int accept_count;
    const char *ws_protocol;            /* Sec-WebSocket-Protocol to ask for, or NULL */
    const struct agent_method *methods; /* answered with 200; any other method gets 501 */
    int method_count;
    int twin;                   /* --twin */
    int c2d;                    /* takes cloud-to-device messages: a device, not a module */
    const char *const *reports; /* --report patches (JSON objects), sent once */
    int report_count;
    struct ih_loop *loop;
    struct mqtt_link *link;
    int announced; /* the listening line went out */
    /* The twin's state; the MQTT thread only. */
    unsigned long twin_rid;  /* the last $rid used */
    int reports_sent;        /* the --report patches went out */
    long long desired_acked; /* the newest desired version acknowledged; 0: none */
    struct agent_twin_request twin_requests[AGENT_TWIN_PENDING];
    int twin_next; /* the slot the next request takes */
};

/* mqtt_link's on_request: starts a session for the request topic. */
void agent_on_request(void *ctx, const char *topic);

/* mqtt_link's on_method: answers the call at once, on the MQTT thread. */
void agent_on_method(void *ctx, const char *topic, const void *payload, size_t len);

/* mqtt_link's on_listening: says so, on stdout the first time (scripts wait for the line); with
 * --twin, reads the twin, and sends the --report patches the first time. */
void agent_on_listening(void *ctx);

/* mqtt_link's on_twin: logs the hub's answers, and each desired change, which it acknowledges
 * by reporting {"lastDesiredVersion":N}. On the MQTT thread. */
void agent_on_twin(void *ctx, const char *topic, const void *payload, size_t len);

/* With --twin, on every connection (agent_on_listening): GET the twin; the first time, the
 * --report patches too. */
void agent_twin_connected(struct agent *a);

/* mqtt_link's on_c2d: logs the message, one line: its id, its body, its properties. On the MQTT
 * thread; libmosquitto acknowledges it (PUBACK). */
void agent_on_c2d(void *ctx, const char *topic, const void *payload, size_t len);

#endif
