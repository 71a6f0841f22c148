#include "rest.h"

#include "auth.h"
#include "keys.h"
#include "log.h"
#include "rest_routes.h"

#include "protocol/percent.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANY "*" /* a pattern segment that matches any one segment */

struct route {
    const char *method;
    const char *pattern[REST_MAX_SEGMENTS];
    size_t segment_count;
    unsigned permission; /* enum permission; 0 for no authentication */
    void (*handler)(struct rest_call *call);
};

static const struct route routes[] = {
    {"GET", {"health"}, 1, 0, rest_health},
    {"GET", {"emulator", "ca.pem"}, 2, 0, rest_ca_certificate},
    {"GET", {"devices"}, 1, PERM_REGISTRY_READ, rest_devices_list},
    {"GET", {"devices", ANY}, 2, PERM_REGISTRY_READ, rest_devices_get},
    {"PUT", {"devices", ANY}, 2, PERM_REGISTRY_WRITE, rest_devices_put},
    {"DELETE", {"devices", ANY}, 2, PERM_REGISTRY_WRITE, rest_devices_delete},
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

enum rest_path_result rest_path_parse(const char *path, struct rest_path *out)
{
    memset(out, 0, sizeof *out);
    if (path == NULL || path[0] != '/')
        return REST_PATH_BAD;
    const char *p = path + 1;
    enum rest_path_result r = REST_PATH_OK;
    while (*p != '\0' && r == REST_PATH_OK) {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || out->count == REST_MAX_SEGMENTS) {
            r = REST_PATH_BAD;
            break;
        }
        ih_result d = ih_pct_decode(p, len, IH_PCT_STRICT, &out->segments[out->count], NULL);
        if (d != IH_OK)
            r = d == IH_ERR_NOMEM ? REST_PATH_NOMEM : REST_PATH_BAD;
        else
            out->count++;
        p = slash != NULL ? slash + 1 : p + len;
    }
    if (r != REST_PATH_OK)
        rest_path_free(out);
    return r;
}

void rest_path_free(struct rest_path *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->segments[i]);
    memset(p, 0, sizeof *p);
}

void rest_add_header(struct rest_response *res, const char *name, const char *value)
{
    if (res->header_count == REST_MAX_HEADERS)
        fatal("more than %d response headers", REST_MAX_HEADERS);
    struct rest_header *h = &res->headers[res->header_count++];
    h->name = name;
    snprintf(h->value, sizeof h->value, "%s", value);
}

static void set_body(struct rest_response *res, int status, char *body, const char *type)
{
    free(res->body);
    res->status = status;
    res->body = body;
    res->body_len = body != NULL ? strlen(body) : 0;
    res->content_type = body != NULL ? type : NULL;
}

void rest_json(struct rest_response *res, int status, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        rest_error(res, IH_E_SERVER_ERROR, "out of memory formatting the response");
        return;
    }
    set_body(res, status, text, "application/json; charset=utf-8");
}

/* protocol.md §6: the nested body, the iothub-errorcode header and a JSON content type. */
void rest_error(struct rest_response *res, enum ih_error_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
    char hex[33], tracking[96];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (keys_random_hex(hex, 16) != 0)
        snprintf(hex, sizeof hex, "%032d", 0);
    char *body = NULL;
    if (ih_error_tracking_id(hex, &now, tracking, sizeof tracking) != IH_OK ||
        ih_error_body(code, res->reason, tracking, &now, NULL, &body) != IH_OK)
        body = NULL;
    res->header_count = 0;
    set_body(res, ih_error_http_status(code), body, "application/json; charset=utf-8");
    rest_add_header(res, "iothub-errorcode", ih_error_name(code));
}

void rest_response_free(struct rest_response *res)
{
    free(res->body);
    memset(res, 0, sizeof *res);
}

static int segments_match(const struct route *r, const struct rest_path *path)
{
    if (r->segment_count != path->count)
        return 0;
    for (size_t i = 0; i < path->count; i++) {
        if (strcmp(r->pattern[i], ANY) != 0 && strcmp(r->pattern[i], path->segments[i]) != 0)
            return 0;
    }
    return 1;
}

/* The resource a token must cover: "/devices/{id}" under a device, else the hub itself. */
static void resource_path(const struct rest_path *path, char *out, size_t cap)
{
    if (path->count >= 2 && strcmp(path->segments[0], "devices") == 0)
        snprintf(out, cap, "/devices/%s", path->segments[1]);
    else
        out[0] = '\0';
}

static int authorized(struct rest_call *call, unsigned permission)
{
    char resource[300], reason[256], policy[64];
    resource_path(call->path, resource, sizeof resource);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const char *header = call->req->header(call->req->ctx, "Authorization");
    switch (auth_check_policy(call->emu, header, resource, permission, now.tv_sec, reason,
                              sizeof reason, policy)) {
    case AUTH_OK:
        return 1;
    case AUTH_DENIED:
        rest_error(call->res, IH_E_UNAUTHORIZED, "Unauthorized: %s", reason);
        return 0;
    case AUTH_ERROR:
        break;
    }
    rest_error(call->res, IH_E_SERVER_ERROR, "the registry failed while checking the token");
    return 0;
}

/* Methods that a path supports, for the message when the method is not one of them. */
static void allowed_methods(const struct rest_path *path, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ROUTE_COUNT && n < cap; i++) {
        if (segments_match(&routes[i], path))
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n > 0 ? ", " : "", routes[i].method);
    }
}

static void dispatch(struct rest_call *call)
{
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        const struct route *r = &routes[i];
        if (strcmp(r->method, call->req->method) != 0 || !segments_match(r, call->path))
            continue;
        if (r->permission != 0 && !authorized(call, r->permission))
            return;
        r->handler(call);
        return;
    }
    char allowed[64];
    allowed_methods(call->path, allowed, sizeof allowed);
    if (allowed[0] != '\0')
        rest_error(call->res, IH_E_NOT_FOUND, "%s is not supported on this path; use %s",
                   call->req->method, allowed);
    else
        rest_error(call->res, IH_E_NOT_FOUND, "there is no such resource on the IoT hub");
}

static void log_outcome(const struct rest_request *req, const struct rest_response *res)
{
    if (res->status >= 400)
        log_info("main", "%s %.200s -> %d %s: %s", req->method, req->path, res->status,
                 res->header_count > 0 ? res->headers[0].value : "", res->reason);
    else
        log_trace("main", "%s %.200s -> %d", req->method, req->path, res->status);
}

void rest_handle(struct emulator *emu, const struct rest_request *req, struct rest_response *res)
{
    memset(res, 0, sizeof *res);
    struct rest_path path;
    struct rest_call call = {emu, req, &path, res};
    if (req->body_too_large) {
        rest_error(res, IH_E_MESSAGE_TOO_LARGE, "the request body is larger than the %d-byte limit",
                   REST_MAX_BODY);
    } else {
        switch (rest_path_parse(req->path, &path)) {
        case REST_PATH_OK:
            dispatch(&call);
            rest_path_free(&path);
            break;
        case REST_PATH_BAD:
            rest_error(res, IH_E_NOT_FOUND,
                       "the path is not valid: empty segment, bad %%-escape or too many segments");
            break;
        case REST_PATH_NOMEM:
            rest_error(res, IH_E_SERVER_ERROR, "out of memory");
            break;
        }
    }
    log_outcome(req, res);
}
