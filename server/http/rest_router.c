#include "rest.h"

#include "auth.h"
#include "keys.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int segments_match(const struct rest_route *r, const struct rest_path *path)
{
    if (r->segment_count != path->count)
        return 0;
    for (size_t i = 0; i < path->count; i++) {
        if (strcmp(r->pattern[i], REST_ANY) != 0 && strcmp(r->pattern[i], path->segments[i]) != 0)
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
    char resource[300], reason[256], policy[POLICY_NAME_SIZE];
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

/* The web page, its events and /metrics: open to everyone, to clients on this machine's loopback
 * address, or to a RegistryRead token in the Authorization header or in ?token= (a browser's
 * EventSource cannot send headers). */
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
    if (permission == REST_PERMISSION_UI)
        return ui_authorized(call);
    return token_grants(call, call->req->header(call->req->ctx, "Authorization"), permission, "");
}

/* Methods that a path supports, for the message when the method is not one of them. */
static void allowed_methods(const struct rest_router *router, const struct rest_path *path,
                            char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t t = 0; t < router->count; t++) {
        const struct rest_route_table *table = &router->tables[t];
        for (size_t i = 0; i < table->count && n < cap; i++) {
            if (segments_match(&table->routes[i], path))
                n += (size_t)snprintf(out + n, cap - n, "%s%s", n > 0 ? ", " : "",
                                      table->routes[i].method);
        }
    }
}

static const struct rest_route *find_route(const struct rest_router *router,
                                           const struct rest_call *call)
{
    for (size_t t = 0; t < router->count; t++) {
        const struct rest_route_table *table = &router->tables[t];
        for (size_t i = 0; i < table->count; i++) {
            const struct rest_route *r = &table->routes[i];
            if (strcmp(r->method, call->req->method) == 0 && segments_match(r, call->path))
                return r;
        }
    }
    return NULL;
}

static void dispatch(const struct rest_router *router, struct rest_call *call)
{
    const struct rest_route *r = find_route(router, call);
    if (r != NULL) {
        if (r->permission != 0 && !authorized(call, r->permission))
            return;
        call->res->error_form = r->errors;
        r->handler(call);
        return;
    }
    char allowed[64];
    allowed_methods(router, call->path, allowed, sizeof allowed);
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

void rest_handle(const struct rest_router *router, struct emulator *emu,
                 const struct rest_request *req, struct rest_response *res)
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
            dispatch(router, &call);
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

void rest_finish_deferred(const struct rest_request *req, struct rest_response *res)
{
    memset(res, 0, sizeof *res);
    req->deferred->answer(req->deferred->result, res);
    req->deferred->answered = 1;
    rest_log_outcome(req, res);
}
