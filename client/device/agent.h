/* The device agent's stream sessions: each stream request is answered by the --accept policy (and,
 * for the proxy, by whether the target takes a connection), then the device side of the stream is
 * opened and echoed or bridged to the target. Method calls get the --method answers. */
#ifndef IH_AGENT_H
#define IH_AGENT_H

#include "mqtt_link.h"

#include "transport/loop.h"

enum agent_mode { AGENT_ECHO, AGENT_PROXY };

/* A canned answer to a direct method (--method NAME=JSON). */
struct agent_method {
    char *name;
    const char *body; /* JSON, or "" for an empty body */
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
    struct ih_loop *loop;
    struct mqtt_link *link;
    int announced; /* the listening line went out */
};

/* mqtt_link's on_request: starts a session for the request topic. */
void agent_on_request(void *ctx, const char *topic);

/* mqtt_link's on_method: answers the call at once, on the MQTT thread. */
void agent_on_method(void *ctx, const char *topic, const void *payload, size_t len);

/* mqtt_link's on_listening: says so, on stdout the first time (scripts wait for the line). */
void agent_on_listening(void *ctx);

#endif
