/* POST /twins/{id}/methods and /twins/{id}/modules/{m}/methods (docs/protocol.md rules D1-D4):
 * the request is read and checked here, then waits, suspended, for method_service's outcome.
 * Errors take the nested form (rule D18). */
#include "rest_methods.h"

#include "method_request.h"
#include "method_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* info.timeout as the hub writes it: hh:mm:ss (rule D2). */
static json_t *timeout_info(int seconds)
{
    char text[16];
    snprintf(text, sizeof text, "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
    return json_pack("{s:s}", "timeout", text);
}

static void error_with_timeout(struct rest_response *res, enum ih_error_code code, int seconds,
                               const char *reason)
{
    json_t *info = timeout_info(seconds);
    rest_error_info(res, code, info, "%s", reason);
    json_decref(info);
}

static void discard_result(void *result)
{
    method_result_free(result);
}

/* Rules D2 and D4: the POST's reply once the call has ended. */
static void answer_method(const void *result, struct rest_response *res)
{
    struct method_result *r = (struct method_result *)result;
    switch (r->outcome) {
    case METHOD_OUTCOME_ANSWERED:
        res->status = 200;
        res->content_type = "application/json; charset=utf-8";
        res->body = r->body; /* the response owns it now */
        res->body_len = strlen(r->body);
        r->body = NULL;
        return;
    case METHOD_OUTCOME_BAD_ANSWER:
        rest_error(res, IH_E_BAD_GATEWAY, "%s", r->reason);
        return;
    case METHOD_OUTCOME_TIMED_OUT:
        error_with_timeout(res, IH_E_GATEWAY_TIMEOUT, r->timeout_s, r->reason);
        return;
    case METHOD_OUTCOME_NOT_ONLINE:
        error_with_timeout(res, IH_E_DEVICE_NOT_ONLINE, r->timeout_s, r->reason);
        return;
    case METHOD_OUTCOME_UNAVAILABLE:
        rest_error(res, IH_E_SERVICE_UNAVAILABLE, "%s", r->reason);
        return;
    }
}

static void refuse(struct rest_response *res, enum method_invoke_result r, const char *reason)
{
    switch (r) {
    case METHOD_INVOKE_PENDING:
        return;
    case METHOD_INVOKE_NO_DEVICE:
        rest_error(res, IH_E_DEVICE_NOT_FOUND, "%s", reason);
        return;
    case METHOD_INVOKE_NOT_ONLINE:
        error_with_timeout(res, IH_E_DEVICE_NOT_ONLINE, 0, reason);
        return;
    case METHOD_INVOKE_UNAVAILABLE:
        rest_error(res, IH_E_SERVICE_UNAVAILABLE, "%s", reason);
        return;
    case METHOD_INVOKE_BUSY:
        rest_error(res, IH_E_THROTTLED, "%s", reason);
        return;
    }
}

static void rest_methods_invoke(struct rest_call *call)
{
    struct method_target target;
    struct method_invocation inv;
    char reason[400];
    if (call->emu->methods == NULL || call->req->deferred == NULL) {
        rest_error(call->res, IH_E_SERVICE_UNAVAILABLE, "direct methods are not available here");
        return;
    }
    if (rest_twin_path_ids(call, 5, &target.device_id, &target.module_id) != 0)
        return;
    switch (method_invocation_parse(call->req->body, call->req->body_len, &inv, reason,
                                    sizeof reason)) {
    case METHOD_PARSE_OK:
        break;
    case METHOD_PARSE_INVALID:
        rest_error(call->res, IH_E_ARGUMENT_INVALID, "%s", reason);
        return;
    case METHOD_PARSE_NOMEM:
        rest_error(call->res, IH_E_SERVER_ERROR, "out of memory");
        return;
    }
    /* Rule D19: the call's payload, in 4 KB units, against the methods' throttle. */
    if (rest_quota_refused(call, QUOTA_METHODS, inv.payload_len)) {
        method_invocation_free(&inv);
        return;
    }
    call->req->deferred->answer = answer_method;
    call->req->deferred->discard = discard_result;
    enum method_invoke_result r = method_service_invoke(call->emu->methods, &target, &inv,
                                                        call->req->deferred, reason, sizeof reason);
    if (r == METHOD_INVOKE_PENDING)
        call->res->deferred = 1;
    else
        refuse(call->res, r, reason);
}

static const struct rest_route routes[] = {
    {"POST",
     {"twins", REST_ANY, "methods"},
     3,
     PERM_SERVICE_CONNECT,
     rest_methods_invoke,
     REST_ERROR_NESTED},
    {"POST",
     {"twins", REST_ANY, "modules", REST_ANY, "methods"},
     5,
     PERM_SERVICE_CONNECT,
     rest_methods_invoke,
     REST_ERROR_NESTED},
};

const struct rest_route_table rest_methods_routes = {routes, sizeof routes / sizeof routes[0]};
