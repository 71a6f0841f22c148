/* The main endpoint's request handling, independent of the HTTP library: a request comes in as a
 * struct rest_request and leaves as a struct rest_response. http_endpoint.c adapts
 * libmicrohttpd to it; tests and fuzzers call it directly. */
#ifndef REST_H
#define REST_H

#include "emulator.h"
#include "deferred.h"

#include "protocol/hub_error.h"
#include "protocol/streams_topic.h"

#include <stddef.h>

struct event_sub; /* event_hub.h */

#define REST_MAX_HEADERS 4
/* Request bodies past this are dropped and answered 413 (413001). The largest a client may send
 * is a method call's: 128 KB (docs/protocol.md rule D1); the registry's are small. */
#define REST_MAX_BODY (128 * 1024)
#define REST_MAX_SEGMENTS 8

struct rest_request {
    const char *method;
    const char *path; /* as sent: still percent-encoded, without the query */
    /* Look-ups return NULL when absent. Query values come back still percent-encoded: use
     * rest_query_value. */
    const char *(*header)(void *ctx, const char *name);
    const char *(*query)(void *ctx, const char *name);
    void *ctx;
    const char *body;
    size_t body_len;
    int body_too_large; /* the body went past the limit and was dropped */
    /* Where a request the handler answers later waits (the transport's storage; NULL when the
     * transport cannot suspend a request). */
    struct deferred *deferred;
    /* For an event stream (GET /emulator/events): events_wake(events_ctx) restarts the
     * response once there is more to send. NULL when the transport cannot stream. */
    void (*events_wake)(void *ctx);
    void *events_ctx;
    int peer_loopback; /* the client is at 127.0.0.1 or ::1 */
};

struct rest_header {
    const char *name;
    char value[IH_STREAM_URL_MAX]; /* the longest: a streaming URL */
};

/* The hub answers errors in two forms, by endpoint (hub_error.h). */
enum rest_error_form {
    REST_ERROR_NESTED, /* streams, methods, refused tokens, the emulator's own endpoints */
    REST_ERROR_FLAT,   /* the registry (/devices) and twins */
};

struct rest_response {
    int status;
    const char *content_type; /* NULL when there is no body */
    char *body;               /* owned; NULL for none */
    size_t body_len;
    struct rest_header headers[REST_MAX_HEADERS];
    size_t header_count;
    char reason[300];                /* why an error was returned, for the one log line */
    enum rest_error_form error_form; /* set by the router once the caller is authorized */
    /* The answer comes later: the transport suspends the request until req->deferred completes,
     * then calls rest_finish_deferred. */
    int deferred;
    /* An event stream: the body is read from this subscription as it fills (the transport
     * unsubscribes when the connection ends). */
    struct event_sub *events;
};

/* Whether a Host header names this emulator: one of names (its host names, localhost,
 * 127.0.0.1), or [::1], with or without a port. */
int rest_host_is_ours(const char *host, const char *const *names, size_t count);

/* The decoded segments of a path: "/devices/a%2Fb/" -> {"devices", "a/b"}. */
struct rest_path {
    char *segments[REST_MAX_SEGMENTS];
    size_t count;
};

enum rest_path_result {
    REST_PATH_OK,
    REST_PATH_BAD,        /* empty segment, too many segments, no leading '/' */
    REST_PATH_BAD_ESCAPE, /* a '%' without two hex digits, or one that decodes to NUL */
    REST_PATH_NOMEM,
};

/* Splits on '/' and percent-decodes each segment on its own (docs/protocol.md rule 1), so an
 * encoded '/' stays inside its segment. A leading '/' is required, one trailing '/' is ignored; an
 * empty segment or more than REST_MAX_SEGMENTS segments is REST_PATH_BAD, a bad escape or a decoded
 * NUL REST_PATH_BAD_ESCAPE.
 * A raw '+' stays '+': a space is never valid in an id. */
enum rest_path_result rest_path_parse(const char *path, struct rest_path *out);
void rest_path_free(struct rest_path *p);

/* The query value of name, percent-decoded (`+` as a space) into buf; NULL when absent, badly
 * encoded or longer than cap - 1. */
const char *rest_query_value(const struct rest_request *req, const char *name, char *buf,
                             size_t cap);

/* The context a handler gets: the request, its decoded path, and who called. */
struct rest_call {
    struct emulator *emu;
    const struct rest_request *req;
    const struct rest_path *path;
    struct rest_response *res;
};

/* A pattern segment that matches any one segment. */
#define REST_ANY "*"
/* Not a policy permission: the emulator's own pages, opened as --ui-access says. */
#define REST_PERMISSION_UI 0x100

/* One route: a method and a path pattern, the permission a caller's token must grant, and the
 * handler. Each feature has a table of its routes; main hands them all to the router, so the
 * router names none of them. */
struct rest_route {
    const char *method;
    const char *pattern[REST_MAX_SEGMENTS];
    size_t segment_count;
    unsigned permission; /* enum permission, REST_PERMISSION_UI, or 0 for no authentication */
    void (*handler)(struct rest_call *call);
    /* The form of the handler's errors; a refused token is answered nested whatever the route
     * (the only form seen from the hub for 401). */
    enum rest_error_form errors;
};

struct rest_route_table {
    const struct rest_route *routes;
    size_t count;
};

#define REST_MAX_TABLES 8

struct rest_router {
    struct rest_route_table tables[REST_MAX_TABLES];
    size_t count;
};

/* Handles one request with the router's routes. res is filled in full; free it with
 * rest_response_free. */
void rest_handle(const struct rest_router *router, struct emulator *emu,
                 const struct rest_request *req, struct rest_response *res);
void rest_response_free(struct rest_response *res);

/* The one log line of a finished request (rest_handle writes it, except for a deferred one). */
void rest_log_outcome(const struct rest_request *req, const struct rest_response *res);

/* Builds the answer of a deferred request once its wait has completed, and logs it. */
void rest_finish_deferred(const struct rest_request *req, struct rest_response *res);

/* The identity a path under /twins names: segments[1] is the device id, and
 * segments[3] the module id when the path has module_count segments
 * (/twins/{id}/modules/{m}/...). Checked as ids (docs/protocol.md §1.1); a bad one is answered
 * 400 400004 here and -1 returned. */
int rest_twin_path_ids(struct rest_call *call, size_t module_count, const char **device_id,
                       const char **module_id);

/* Helpers for the handlers in rest_*.c. */
void rest_error(struct rest_response *res, enum ih_error_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with an "info" object in the error detail (borrowed), e.g. the 504's timeout. */
void rest_error_info(struct rest_response *res, enum ih_error_code code, json_t *info,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void rest_json(struct rest_response *res, int status, json_t *body); /* steals body */
void rest_add_header(struct rest_response *res, const char *name, const char *value);

/* Rule D19: charges the call's operation (of kind, with a payload of len bytes) to the hub's
 * quotas; past one, the call is answered 429 429001 or 403 403002 here and 1 returned. */
int rest_quota_refused(struct rest_call *call, enum quota_kind kind, size_t len);

#endif
