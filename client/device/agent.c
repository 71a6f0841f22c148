#include "agent.h"

#include "cli_common.h"

#include "protocol/methods_topic.h"
#include "protocol/streams_topic.h"
#include "transport/pump.h"
#include "transport/tcp.h"
#include "transport/wsock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The target must take the connection this fast, or the stream is refused. */
#define TARGET_TIMEOUT_MS 2000
#define WS_OPEN_TIMEOUT_MS 20000
#define ACCEPTED 200
#define REJECTED 400
#define ECHO_PIECE (64 * 1024)
/* A method with no --method answer gets 501, as the C# SDK answers (docs/protocol.md rule D4). */
#define METHOD_OK 200
#define METHOD_NOT_IMPLEMENTED 501

struct session {
    struct agent *agent;
    struct ih_stream_request req;
};

static int name_accepted(const struct agent *a, const char *name)
{
    if (a->accept == NULL)
        return 1;
    for (int i = 0; i < a->accept_count; i++) {
        if (strcmp(a->accept[i], name) == 0)
            return 1;
    }
    return 0;
}

static void answer(struct session *s, int status, const char *why)
{
    /* Said before it is sent: whoever reads this log after the service has its answer finds
     * the reason here. */
    if (status != ACCEPTED)
        cli_info("stream '%s' rejected: %s", s->req.name, why);
    if (mqtt_link_answer(s->agent->link, s->req.rid, status) != 0)
        cli_error("stream '%s': the answer could not be sent (the MQTT connection is down)",
                  s->req.name);
}

static void echo(struct ih_wsock *ws, struct ih_pump_totals *t)
{
    unsigned char *buf = malloc(ECHO_PIECE);
    ssize_t n;
    while (buf != NULL && (n = ih_wsock_read(ws, buf, ECHO_PIECE)) > 0) {
        t->from_stream += (uint64_t)n;
        if (ih_wsock_write(ws, buf, (size_t)n) != 0)
            break;
        t->to_stream += (uint64_t)n;
    }
    free(buf);
}

static ssize_t ws_read(void *ctx, void *buf, size_t cap)
{
    return ih_wsock_read(ctx, buf, cap);
}

static int ws_write(void *ctx, const void *buf, size_t len)
{
    return ih_wsock_write(ctx, buf, len);
}

static void ws_close(void *ctx, int code, const char *reason)
{
    ih_wsock_close(ctx, code, reason);
}

/* The device's side of an accepted stream, until it closes. */
static void run_stream(struct session *s, int target)
{
    struct agent *a = s->agent;
    struct ih_wsock_options o = {s->req.url, s->req.auth, a->ws_protocol, WS_OPEN_TIMEOUT_MS};
    struct ih_wsock *ws = NULL;
    char err[300];
    if (ih_wsock_open(a->loop, &o, &ws, err, sizeof err) != 0) {
        cli_error("stream '%s': cannot open its WebSocket: %s", s->req.name, err);
        return;
    }
    const char *proto = ih_wsock_subprotocol(ws);
    if (proto[0] != '\0')
        cli_info("stream '%s' connected with subprotocol %s", s->req.name, proto);
    struct ih_pump_totals t = {0, 0, 0};
    if (a->mode == AGENT_ECHO) {
        echo(ws, &t);
    } else {
        struct ih_pump_stream ps = {ws_read, ws_write, ws_close, ws};
        ih_pump_run(&ps, target, target, &t);
    }
    char reason[128] = "";
    int code = ih_wsock_close_code(ws, reason, sizeof reason);
    cli_info("stream '%s' closed (%s, code %d): %llu bytes from the service, %llu to it",
             s->req.name, t.local_ended_first ? "by the target" : "by the service", code,
             (unsigned long long)t.from_stream, (unsigned long long)t.to_stream);
    ih_wsock_free(ws);
}

static void *session_main(void *arg)
{
    struct session *s = arg;
    struct agent *a = s->agent;
    int target = -1;
    char err[300];
    if (!name_accepted(a, s->req.name)) {
        answer(s, REJECTED, "its name is not one of --accept");
    } else if (a->mode == AGENT_PROXY &&
               (target = ih_tcp_connect(a->target_host, a->target_port, TARGET_TIMEOUT_MS, err,
                                        sizeof err)) < 0) {
        /* Refused at once rather than accepted and hung up. */
        char why[400];
        snprintf(why, sizeof why, "the target is down (%s)", err);
        answer(s, REJECTED, why);
    } else {
        cli_info("stream '%s' accepted", s->req.name);
        answer(s, ACCEPTED, NULL);
        run_stream(s, target);
    }
    if (target >= 0)
        close(target);
    ih_stream_request_free(&s->req);
    free(s);
    return NULL;
}

void agent_on_request(void *ctx, const char *topic)
{
    struct agent *a = ctx;
    struct ih_diag why = {{0}};
    struct session *s = calloc(1, sizeof *s);
    pthread_t t;
    if (s == NULL)
        return;
    s->agent = a;
    if (ih_topic_parse_stream_request(topic, strlen(topic), &s->req, &why) != IH_OK ||
        s->req.rid == NULL) {
        cli_error("a stream request the agent cannot read (%s): %.300s",
                  why.msg[0] ? why.msg : "no $rid", topic);
        ih_stream_request_free(&s->req);
        free(s);
        return;
    }
    if (pthread_create(&t, NULL, session_main, s) != 0) {
        cli_error("cannot start a thread for stream '%s'", s->req.name);
        ih_stream_request_free(&s->req);
        free(s);
        return;
    }
    pthread_detach(t);
}

static const struct agent_method *find_method(const struct agent *a, const char *name)
{
    for (int i = 0; i < a->method_count; i++) {
        if (strcmp(a->methods[i].name, name) == 0)
            return &a->methods[i];
    }
    return NULL;
}

void agent_on_method(void *ctx, const char *topic, const void *payload, size_t len)
{
    (void)payload; /* a canned answer does not depend on the request */
    (void)len;
    struct agent *a = ctx;
    struct ih_method_request req;
    struct ih_diag why = {{0}};
    if (ih_topic_parse_method_request(topic, strlen(topic), &req, &why) != IH_OK) {
        cli_error("a method call the agent cannot read (%s): %.300s",
                  why.msg[0] ? why.msg : "out of memory", topic);
        return;
    }
    const struct agent_method *m = find_method(a, req.name);
    int status = m != NULL ? METHOD_OK : METHOD_NOT_IMPLEMENTED;
    const char *body = m != NULL ? m->body : "";
    /* Said before it is sent, as for streams: the line is there once the service has its answer. */
    cli_info("method '%s' called ($rid %s): answered %d%s", req.name, req.rid, status,
             m != NULL ? "" : " (no --method answer for it)");
    if (mqtt_link_answer_method(a->link, req.rid, status, body, strlen(body)) != 0)
        cli_error("method '%s': the answer could not be sent (the MQTT connection is down, or "
                  "the $rid cannot go back in a topic)",
                  req.name);
    ih_method_request_free(&req);
}

void agent_on_listening(void *ctx)
{
    struct agent *a = ctx;
    const char *methods = a->method_count > 0 ? " and method calls" : "";
    const char *twin = a->twin ? " and twin updates" : "";
    const char *c2d = a->c2d ? " and cloud-to-device messages" : "";
    /* The twin is asked for first: once the line is out, a desired change gets its answer. */
    if (a->twin)
        agent_twin_connected(a);
    if (a->announced) {
        cli_info("connected again; listening for stream requests%s%s%s", methods, twin, c2d);
        return;
    }
    a->announced = 1;
    printf("iothub-device: listening for stream requests (%s)%s%s%s\n",
           a->mode == AGENT_ECHO ? "echo" : "proxy", methods, twin, c2d);
    fflush(stdout);
}
