/* GET, PATCH and PUT /twins/{id} and /twins/{id}/modules/{m} (docs/protocol.md rule D9).
 * Errors take the flat form, as the registry's (rule D18). */
#include "rest_twins.h"

#include "twin_doc.h"
#include "twin_service.h"

#include <stdio.h>
#include <string.h>

/* 200 with the twin, and its etag in ETag too (C# copies it from there). */
static void answer_twin(struct rest_response *res, json_t *twin)
{
    char etag[40];
    snprintf(etag, sizeof etag, "\"%s\"", json_string_value(json_object_get(twin, "etag")));
    rest_json(res, 200, twin);
    if (res->status == 200)
        rest_add_header(res, "ETag", etag);
}

static void answer(struct rest_call *call, enum twin_call_result r, json_t *twin,
                   const char *reason)
{
    switch (r) {
    case TWIN_CALL_OK:
        answer_twin(call->res, twin);
        return;
    case TWIN_CALL_NO_DEVICE:
        rest_error(call->res, IH_E_DEVICE_NOT_FOUND, "%s", reason);
        return;
    case TWIN_CALL_PRECONDITION:
        rest_error(call->res, IH_E_PRECONDITION_FAILED, "%s; GET the twin again", reason);
        return;
    case TWIN_CALL_INVALID:
        rest_error(call->res, IH_E_ARGUMENT_INVALID, "%s", reason);
        return;
    case TWIN_CALL_FORMAT:
        rest_error(call->res, IH_E_FORMAT, "%s", reason);
        return;
    case TWIN_CALL_FAILED:
        rest_error(call->res, IH_E_SERVER_ERROR, "%s", reason);
        return;
    }
}

static int available(struct rest_call *call)
{
    if (call->emu->twins != NULL)
        return 1;
    rest_error(call->res, IH_E_SERVICE_UNAVAILABLE, "twins are not available here");
    return 0;
}

static void rest_twin_get(struct rest_call *call)
{
    struct twin_target t;
    json_t *twin = NULL;
    char reason[300] = "";
    if (!available(call) || rest_twin_path_ids(call, 4, &t.device_id, &t.module_id) != 0 ||
        rest_quota_refused(call, QUOTA_TWIN_READS, 0))
        return;
    enum twin_call_result r = twin_service_get(call->emu->twins, &t, &twin, reason, sizeof reason);
    answer(call, r, twin, reason);
}

static void update(struct rest_call *call, int replace)
{
    struct twin_target t;
    json_t *twin = NULL;
    char reason[300] = "";
    const struct rest_request *req = call->req;
    if (!available(call) || rest_twin_path_ids(call, 4, &t.device_id, &t.module_id) != 0 ||
        rest_quota_refused(call, QUOTA_TWIN_UPDATES, req->body_len))
        return;
    enum twin_call_result r =
        twin_service_update(call->emu->twins, &t, req->body, req->body_len, replace,
                            req->header(req->ctx, "If-Match"), &twin, reason, sizeof reason);
    answer(call, r, twin, reason);
}

static void rest_twin_patch(struct rest_call *call)
{
    update(call, 0);
}

static void rest_twin_put(struct rest_call *call)
{
    update(call, 1);
}

#define TWIN_ROUTES(method, handler, permission)                                                   \
    {method, {"twins", REST_ANY}, 2, permission, handler, REST_ERROR_FLAT},                        \
    {                                                                                              \
        method, {"twins", REST_ANY, "modules", REST_ANY}, 4, permission, handler, REST_ERROR_FLAT  \
    }

/* Tolerant: the registry's permission or ServiceConnect, whichever the caller's policy has
 * (docs/differences.md). */
static const struct rest_route routes[] = {
    TWIN_ROUTES("GET", rest_twin_get, PERM_REGISTRY_READ | PERM_SERVICE_CONNECT),
    TWIN_ROUTES("PATCH", rest_twin_patch, PERM_REGISTRY_WRITE | PERM_SERVICE_CONNECT),
    TWIN_ROUTES("PUT", rest_twin_put, PERM_REGISTRY_WRITE | PERM_SERVICE_CONNECT),
};

const struct rest_route_table rest_twins_routes = {routes, sizeof routes / sizeof routes[0]};
