/* GET /emulator/telemetry?deviceId=&moduleId=&since=&top= (RegistryRead): the stored messages,
 * oldest first, as a JSON array (telemetry_json.h). `since` is a sequence number (the messages
 * after it: how a reader follows without gaps or repeats) or an ISO 8601 time (the messages
 * enqueued at or after it). */
#include "rest_telemetry.h"

#include "telemetry_service.h"
#include "time_text.h"

#include "protocol/number.h"

#define TOP_DEFAULT 1000
#define TOP_MAX 10000

struct reading {
    char device[IH_ID_MAX_LEN + 1], module[IH_ID_MAX_LEN + 1], since[64], top[16];
    char since_utc[TIME_TEXT_NORMAL_SIZE];
};

/* `since`: digits are a sequence number, anything else must be a time. */
static int read_since(struct rest_call *call, struct reading *in, struct telemetry_query *q)
{
    const char *since = rest_query_value(call->req, "since", in->since, sizeof in->since);
    uint64_t after = 0;
    if (call->req->query(call->req->ctx, "since") == NULL)
        return 0;
    if (since != NULL && ih_parse_uint(since, INT64_MAX, &after) == IH_OK) {
        q->after = (long long)after;
        return 0;
    }
    if (since != NULL && time_text_normalize(since, in->since_utc) == 0) {
        q->since = in->since_utc;
        return 0;
    }
    rest_error(call->res, IH_E_ARGUMENT_INVALID,
               "since must be a sequence number or an ISO 8601 time, like 2026-11-26T04:51:19Z");
    return -1;
}

static int read_top(struct rest_call *call, struct reading *in, struct telemetry_query *q)
{
    const char *top = rest_query_value(call->req, "top", in->top, sizeof in->top);
    uint64_t v = TOP_DEFAULT;
    if (call->req->query(call->req->ctx, "top") != NULL &&
        (top == NULL || ih_parse_uint(top, TOP_MAX, &v) != IH_OK || v < 1)) {
        rest_error(call->res, IH_E_ARGUMENT_INVALID, "top must be from 1 to %d", TOP_MAX);
        return -1;
    }
    q->top = (size_t)v;
    return 0;
}

static void rest_telemetry_list(struct rest_call *call)
{
    struct reading in;
    struct telemetry_query q = {.keep = call->emu->cfg->telemetry_keep};
    if (call->emu->telemetry == NULL) {
        rest_error(call->res, IH_E_SERVICE_UNAVAILABLE, "telemetry is not available here");
        return;
    }
    q.device_id = rest_query_value(call->req, "deviceId", in.device, sizeof in.device);
    q.module_id = rest_query_value(call->req, "moduleId", in.module, sizeof in.module);
    if (read_since(call, &in, &q) != 0 || read_top(call, &in, &q) != 0)
        return;
    json_t *array = json_array();
    if (array == NULL || telemetry_service_list(call->emu->telemetry, &q, array) != 0) {
        json_decref(array);
        rest_error(call->res, IH_E_SERVER_ERROR, "the telemetry could not be read");
        return;
    }
    rest_json(call->res, 200, array);
}

static const struct rest_route routes[] = {
    {"GET",
     {"emulator", "telemetry"},
     2,
     PERM_REGISTRY_READ,
     rest_telemetry_list,
     REST_ERROR_NESTED},
};

const struct rest_route_table rest_telemetry_routes = {routes, sizeof routes / sizeof routes[0]};
