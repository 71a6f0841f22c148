#include "rest_c2d.h"

#include "c2d_service.h"
#include "time_text.h"

#include "protocol/identity.h"

#include <string.h>

static void answer_error(struct rest_call *call, enum c2d_call_result r, const char *reason)
{
    switch (r) {
    case C2D_CALL_OK:
        return;
    case C2D_CALL_NO_DEVICE:
        rest_error(call->res, IH_E_DEVICE_NOT_FOUND, "%s", reason);
        return;
    case C2D_CALL_FULL:
        rest_error(call->res, IH_E_QUEUE_DEPTH_EXCEEDED, "%s", reason);
        return;
    case C2D_CALL_NOT_JSON:
        rest_error(call->res, IH_E_FORMAT, "%s", reason);
        return;
    case C2D_CALL_INVALID:
        rest_error(call->res, IH_E_ARGUMENT_INVALID, "%s", reason);
        return;
    case C2D_CALL_TOO_LARGE:
        rest_error(call->res, IH_E_MESSAGE_TOO_LARGE, "%s", reason);
        return;
    case C2D_CALL_FAILED:
        rest_error(call->res, IH_E_SERVER_ERROR, "%s", reason);
        return;
    }
}

/* The device id of /emulator/devices/{id}/... or /devices/{id}/..., checked. */
static const char *device_of(struct rest_call *call, size_t index)
{
    struct ih_diag why;
    const char *id = call->path->segments[index];
    if (call->emu->c2d == NULL) {
        rest_error(call->res, IH_E_SERVICE_UNAVAILABLE,
                   "cloud-to-device messages are not available here");
        return NULL;
    }
    if (ih_id_check(id, strlen(id), "device id", &why) == IH_OK)
        return id;
    rest_error(call->res, IH_E_ARGUMENT_INVALID, "%s", why.msg);
    return NULL;
}

static void rest_c2d_send(struct rest_call *call)
{
    const char *device_id = device_of(call, 2);
    struct c2d_sent sent;
    char reason[400] = "", expiry[TIME_TEXT_SIZE];
    if (device_id == NULL || rest_quota_refused(call, QUOTA_C2D, call->req->body_len))
        return;
    enum c2d_call_result r = c2d_service_send(call->emu->c2d, device_id, call->req->body,
                                              call->req->body_len, &sent, reason, sizeof reason);
    if (r != C2D_CALL_OK) {
        answer_error(call, r, reason);
        return;
    }
    time_text_of_ms(sent.expiry_ms, expiry);
    rest_json(call->res, 202,
              json_pack("{s:s, s:s, s:I, s:s}", "messageId", sent.message_id, "deviceId", device_id,
                        "sequenceNumber", (json_int_t)sent.sequence_number, "expiryTimeUtc",
                        expiry));
}

static void rest_c2d_list(struct rest_call *call)
{
    const char *device_id = device_of(call, 2);
    if (device_id == NULL)
        return;
    json_t *array = json_array();
    enum c2d_call_result r =
        array != NULL ? c2d_service_list(call->emu->c2d, device_id, array) : C2D_CALL_FAILED;
    if (r == C2D_CALL_OK) {
        rest_json(call->res, 200, array);
        return;
    }
    json_decref(array);
    answer_error(call, r, r == C2D_CALL_NO_DEVICE ? device_id : "the queue could not be read");
}

/* The hub's purge: {"totalMessagesPurged":n,"deviceId":…,"moduleId":null}. */
static void rest_c2d_purge(struct rest_call *call)
{
    const char *device_id = device_of(call, 1);
    size_t purged = 0;
    if (device_id == NULL)
        return;
    enum c2d_call_result r = c2d_service_purge(call->emu->c2d, device_id, &purged);
    if (r != C2D_CALL_OK) {
        answer_error(call, r,
                     r == C2D_CALL_NO_DEVICE ? device_id : "the queue could not be purged");
        return;
    }
    rest_json(call->res, 200,
              json_pack("{s:I, s:s, s:n}", "totalMessagesPurged", (json_int_t)purged, "deviceId",
                        device_id, "moduleId"));
}

#define DEVICEBOUND {"emulator", "devices", REST_ANY, "messages", "devicebound"}, 5

static const struct rest_route routes[] = {
    {"POST", DEVICEBOUND, PERM_SERVICE_CONNECT, rest_c2d_send, REST_ERROR_NESTED},
    {"GET", DEVICEBOUND, PERM_SERVICE_CONNECT, rest_c2d_list, REST_ERROR_NESTED},
    {"DELETE",
     {"devices", REST_ANY, "commands"},
     3,
     PERM_SERVICE_CONNECT,
     rest_c2d_purge,
     REST_ERROR_FLAT},
};

const struct rest_route_table rest_c2d_routes = {routes, sizeof routes / sizeof routes[0]};
