#include "rest.h"

#include "auth.h"
#include "keys.h"
#include "log.h"
#include "rest_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANY "*" /* a pattern segment that matches any one segment */
/* Not a policy permission: the emulator's own pages, opened as --ui-access says. */
#define ROUTE_UI 0x100

struct route {
    const char *method;
    const char *pattern[REST_MAX_SEGMENTS];
    size_t segment_count;
    unsigned permission; /* enum permission, ROUTE_UI, or 0 for no authentication */
    void (*handler)(struct rest_call *call);
    /* The form of the handler's errors; a refused token is answered nested whatever the route
     * (the only form seen from the hub for 401). */
    enum rest_error_form errors;
};

static const struct route routes[] = {
    {"GET", {NULL}, 0, ROUTE_UI, rest_ui_page, REST_ERROR_NESTED},
    {"GET", {"emulator", "events"}, 2, ROUTE_UI, rest_ui_events, REST_ERROR_NESTED},
    {"GET", {"metrics"}, 1, ROUTE_UI, rest_metrics, REST_ERROR_NESTED},
    {"GET", {"health"}, 1, 0, rest_health, REST_ERROR_NESTED},
    {"GET", {"emulator", "ca.pem"}, 2, 0, rest_ca_certificate, REST_ERROR_NESTED},
    {"GET", {"devices"}, 1, PERM_REGISTRY_READ, rest_devices_list, REST_ERROR_FLAT},
    {"GET", {"devices", ANY}, 2, PERM_REGISTRY_READ, rest_devices_get, REST_ERROR_FLAT},
    {"PUT", {"devices", ANY}, 2, PERM_REGISTRY_WRITE, rest_devices_put, REST_ERROR_FLAT},
    {"DELETE", {"devices", ANY}, 2, PERM_REGISTRY_WRITE, rest_devices_delete, REST_ERROR_FLAT},
    {"POST",
     {"twins", ANY, "streams", ANY},
     4,
     PERM_SERVICE_CONNECT,
     rest_streams_post,
     REST_ERROR_NESTED},
    {"POST",
     {"twins", ANY, "modules", ANY, "streams", ANY},
     6,
     PERM_SERVICE_CONNECT,
     rest_streams_post,
     REST_ERROR_NESTED},
    {"GET", {"emulator", "streams"}, 2, PERM_REGISTRY_READ, rest_streams_list, REST_ERROR_NESTED},
    {"GET", {"emulator", "logs"}, 2, PERM_REGISTRY_READ, rest_logs, REST_ERROR_NESTED},
    {"GET", {"emulator", "devicestreams"}, 2, 0, rest_devicestreams, REST_ERROR_NESTED},
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

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

/* The resource a token must cover: "/devices/{id}" under a device (registry and streams
 * alike), with "/modules/{m}" for a module's stream, else the hub itself. */
static void resource_path(const struct rest_path *path, char *out, size_t cap)
{
    const char *first = path->count >= 2 ? path->segments[0] : "";
    if (strcmp(first, "twins") == 0 && path->count == 6)
        snprintf(out, cap, "/devices/%s/modules/%s", path->segments[1], path->segments[3]);
    else if (strcmp(first, "devices") == 0 || strcmp(first, "twins") == 0)
        snprintf(out, cap, "/devices/%s", path->segments[1]);
    else
        out[0] = '\0';
}

/* Checks token (an Authorization value) for permission; answers the refusal itself. */
static int token_grants(struct rest_call *call, const char *token, unsigned permission,
                        const char *hint)
{
    char resource[300], reason[256], policy[64];
    resource_path(call->path, resource, sizeof resource);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    switch (auth_check_policy(call->emu, token, resource, permission, now.tv_sec, reason,
                              sizeof reason, policy)) {
    case AUTH_OK:
        return 1;
    case AUTH_DENIED:
        rest_error(call->res, IH_E_UNAUTHORIZED, "Unauthorized: %s%s", reason, hint);
        return 0;
    case AUTH_ERROR:
        break;
    }
    rest_error(call->res, IH_E_SERVER_ERROR, "the registry failed while checking the token");
    return 0;
}

/* The web page, its events and /metrics (issue 6): open to everyone, to clients on this
 * machine's loopback address, or to a RegistryRead token in the Authorization header or in
 * ?token= (a browser's EventSource cannot send headers). */
static int ui_authorized(struct rest_call *call)
{
    static const char hint[] =
        " (the web page, its events and /metrics take a RegistryRead token here: the "
        "Authorization header or ?token=, or run the emulator with --ui-access open)";
    static const char query_hint[] =
        " (this was the ?token= value: URL-encode a RegistryRead SAS token there, or run the "
        "emulator with --ui-access open)";
    const struct emulator *emu = call->emu;
    int access = emu->cfg->ui_access;
    /* A loopback client naming another host is a page of another site in a local browser
     * (DNS rebinding): not local. */
    const char *host = call->req->header(call->req->ctx, "Host");
    int local = call->req->peer_loopback &&
                rest_host_is_ours(host, emu->audience_hosts, emu->audience_host_count);
    if (access == UI_ACCESS_OPEN || (access == UI_ACCESS_LOCAL && local))
        return 1;
    char query_token[1024];
    const char *token = call->req->header(call->req->ctx, "Authorization");
    if (token != NULL)
        return token_grants(call, token, PERM_REGISTRY_READ, hint);
    token = rest_query_value(call->req, "token", query_token, sizeof query_token);
    return token_grants(call, token, PERM_REGISTRY_READ, token != NULL ? query_hint : hint);
}

static int authorized(struct rest_call *call, unsigned permission)
{
    if (permission == ROUTE_UI)
        return ui_authorized(call);
    return token_grants(call, call->req->header(call->req->ctx, "Authorization"), permission, "");
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
        call->res->error_form = r->errors;
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

void rest_log_outcome(const struct rest_request *req, const struct rest_response *res)
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
        case REST_PATH_BAD_ESCAPE:
            rest_error(res, IH_E_ARGUMENT_INVALID,
                       "the path has a bad %%-escape: each %% needs two hex digits, and %%00 is "
                       "not allowed in an id");
            break;
        case REST_PATH_BAD:
            rest_error(res, IH_E_NOT_FOUND,
                       "there is no such resource on the IoT hub (empty path segment or too many "
                       "segments)");
            break;
        case REST_PATH_NOMEM:
            rest_error(res, IH_E_SERVER_ERROR, "out of memory");
            break;
        }
    }
    if (!res->deferred)
        rest_log_outcome(req, res);
}
