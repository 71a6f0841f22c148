/* The device registry API (docs/protocol.md §5): PUT, GET and DELETE /devices/{id},
 * GET /devices. */
#include "rest_devices.h"

#include "device_json.h"
#include "keys.h"

#include "protocol/percent.h"
#include "protocol/number.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GET /devices returns at most this many, like the hub's `top` limit. */
#define LIST_MAX 1000

/* The id from the path, checked against the hub's id rules; NULL after answering 400. */
static const char *device_id(struct rest_call *call)
{
    const char *id = call->path->segments[1];
    struct ih_diag why;
    if (ih_id_check(id, strlen(id), "device id", &why) != IH_OK) {
        rest_error(call->res, IH_E_ARGUMENT_INVALID, "%s", why.msg);
        return NULL;
    }
    return id;
}

static void reply_device(struct rest_call *call, const struct device *d)
{
    char etag[32], quoted[40];
    registry_etag_text(d->etag, etag);
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    rest_json(call->res, 200, device_json_object(d));
    if (call->res->status == 200)
        rest_add_header(call->res, "ETag", quoted);
}

static void registry_failed(struct rest_call *call, enum registry_result r, const char *id)
{
    switch (r) {
    case REGISTRY_NOT_FOUND:
        rest_error(call->res, IH_E_DEVICE_NOT_FOUND, "device '%s' is not registered", id);
        return;
    case REGISTRY_EXISTS:
        rest_error(call->res, IH_E_DEVICE_ALREADY_EXISTS,
                   "device '%s' already exists; to change it, send If-Match: * or its etag", id);
        return;
    case REGISTRY_PRECONDITION:
        rest_error(call->res, IH_E_PRECONDITION_FAILED,
                   "If-Match does not match the current etag of device '%s'; GET it again", id);
        return;
    case REGISTRY_OK:
    case REGISTRY_FULL: /* only queues fill up */
    case REGISTRY_ERR:
        break;
    }
    rest_error(call->res, IH_E_SERVER_ERROR, "the registry failed; see the emulator's log");
}

static void rest_devices_get(struct rest_call *call)
{
    const char *id = device_id(call);
    struct device d;
    if (id == NULL)
        return;
    enum registry_result r = registry_device_get(call->emu->registry, id, &d);
    if (r == REGISTRY_OK)
        reply_device(call, &d);
    else
        registry_failed(call, r, id);
}

/* Without If-Match a PUT creates the device; with one it updates it (docs/protocol.md §5). */
static enum registry_result create_or_update(struct rest_call *call, const char *id,
                                             const struct device_patch *patch, struct device *d)
{
    const char *if_match = call->req->header(call->req->ctx, "If-Match");
    if (if_match == NULL) {
        memset(d, 0, sizeof *d);
        snprintf(d->id, sizeof d->id, "%s", id);
        d->enabled = 1;
        device_patch_apply(patch, d);
        if (keys_generate_if_empty(d->primary_key) != 0 ||
            keys_generate_if_empty(d->secondary_key) != 0)
            return REGISTRY_ERR;
        return registry_device_create(call->emu->registry, d);
    }
    enum registry_result r = registry_device_get(call->emu->registry, id, d);
    if (r != REGISTRY_OK)
        return r;
    device_patch_apply(patch, d);
    return registry_device_update(call->emu->registry, d, if_match);
}

static void rest_devices_put(struct rest_call *call)
{
    const char *id = device_id(call);
    if (id == NULL)
        return;
    struct device_patch patch;
    struct ih_diag why = {{0}};
    switch (device_json_parse(call->req->body != NULL ? call->req->body : "", call->req->body_len,
                              id, &patch, &why)) {
    case DEVICE_JSON_OK:
        break;
    case DEVICE_JSON_MALFORMED:
        rest_error(call->res, IH_E_FORMAT, "%s", why.msg);
        return;
    case DEVICE_JSON_INVALID:
        rest_error(call->res, IH_E_ARGUMENT_INVALID, "%s", why.msg);
        return;
    case DEVICE_JSON_NOMEM:
        rest_error(call->res, IH_E_SERVER_ERROR, "out of memory");
        return;
    }
    struct device d;
    enum registry_result r = create_or_update(call, id, &patch, &d);
    if (r != REGISTRY_OK) {
        registry_failed(call, r, id);
        return;
    }
    reply_device(call, &d);
}

static void rest_devices_delete(struct rest_call *call)
{
    const char *id = device_id(call);
    if (id == NULL)
        return;
    const char *if_match = call->req->header(call->req->ctx, "If-Match");
    enum registry_result r = registry_device_delete(call->emu->registry, id, if_match);
    if (r != REGISTRY_OK) {
        registry_failed(call, r, id);
        return;
    }
    call->res->status = 204;
}

/* `top`: 1..LIST_MAX, default LIST_MAX. Returns 0 after answering 400. */
static size_t list_limit(struct rest_call *call)
{
    char buf[16];
    if (call->req->query(call->req->ctx, "top") == NULL)
        return LIST_MAX;
    const char *text = rest_query_value(call->req, "top", buf, sizeof buf);
    uint64_t top = 0;
    if (text == NULL || ih_parse_uint(text, LIST_MAX, &top) != IH_OK || top < 1) {
        rest_error(call->res, IH_E_ARGUMENT_INVALID, "top must be a number from 1 to %d", LIST_MAX);
        return 0;
    }
    return (size_t)top;
}

static void rest_devices_list(struct rest_call *call)
{
    size_t max = list_limit(call), count = 0;
    struct device *devices = NULL;
    if (max == 0)
        return;
    if (registry_device_list(call->emu->registry, max, &devices, &count) != REGISTRY_OK) {
        rest_error(call->res, IH_E_SERVER_ERROR, "the registry failed; see the emulator's log");
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < count && list != NULL; i++) {
        if (json_array_append_new(list, device_json_object(&devices[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    free(devices);
    rest_json(call->res, 200, list);
}

static const struct rest_route routes[] = {
    {"GET", {"devices"}, 1, PERM_REGISTRY_READ, rest_devices_list, REST_ERROR_FLAT},
    {"GET", {"devices", REST_ANY}, 2, PERM_REGISTRY_READ, rest_devices_get, REST_ERROR_FLAT},
    {"PUT", {"devices", REST_ANY}, 2, PERM_REGISTRY_WRITE, rest_devices_put, REST_ERROR_FLAT},
    {"DELETE", {"devices", REST_ANY}, 2, PERM_REGISTRY_WRITE, rest_devices_delete, REST_ERROR_FLAT},
};

const struct rest_route_table rest_devices_routes = {routes, sizeof routes / sizeof routes[0]};
