/* The hub's error responses, in the two forms it uses (which endpoint uses which:
 * docs/differences.md, "Error bodies"), each with the header `iothub-errorcode: <name>`:
 *   nested (streams, methods, 401s)
 *     {"Message":"{\"errorCode\":404001,\"trackingId\":\"...\",\"message\":\"...\",
 *                  \"timestampUtc\":\"...\"}","ExceptionMessage":""}
 *   flat (the registry, twins)
 *     {"Message":"ErrorCode:DeviceNotFound;...","ExceptionMessage":"Tracking
 * ID:...-G:0-TimeStamp:..."}
 */
#ifndef IH_HUB_ERROR_H
#define IH_HUB_ERROR_H

#include "result.h"

#include <jansson.h>
#include <time.h>

enum ih_error_code {
    IH_E_ARGUMENT_INVALID = 400004,
    IH_E_ARGUMENT_NULL = 400005,
    IH_E_FORMAT = 400006,
    IH_E_UNAUTHORIZED = 401002,
    IH_E_QUOTA_EXCEEDED = 403002,
    IH_E_QUEUE_DEPTH_EXCEEDED = 403004,
    IH_E_NOT_FOUND = 404000,
    IH_E_DEVICE_NOT_FOUND = 404001,
    IH_E_MODULE_NOT_FOUND = 404010,
    IH_E_DEVICE_NOT_ONLINE = 404103,
    IH_E_DEVICE_ALREADY_EXISTS = 409001,
    IH_E_PRECONDITION_FAILED = 412001,
    IH_E_MESSAGE_TOO_LARGE = 413001,
    IH_E_THROTTLED = 429001,
    IH_E_SERVER_ERROR = 500001,
    IH_E_BAD_GATEWAY = 502000,
    IH_E_SERVICE_UNAVAILABLE = 503001,
    IH_E_GATEWAY_TIMEOUT = 504101,
};

/* The HTTP status of a code: its first three digits. */
int ih_error_http_status(enum ih_error_code code);

/* The value of the `iothub-errorcode` header ("DeviceNotFound"). */
const char *ih_error_name(enum ih_error_code code);

/* The hub's usual message for a code ("Timed out waiting for the response from device."). */
const char *ih_error_default_message(enum ih_error_code code);

/* Formats the trackingId the hub uses: `{32 hex}-G:0-TimeStamp:MM/dd/yyyy HH:mm:ss`.
 * hex32 is 32 hexadecimal characters chosen by the caller (random). */
ih_result ih_error_tracking_id(const char *hex32, const struct timespec *now, char *out,
                               size_t cap);

/* Formats the nested body. message NULL means the default message; info (may be NULL) is
 * borrowed and added as "info", e.g. {"timeout":"00:01:00"} for 504101. *out: new string. */
ih_result ih_error_body(enum ih_error_code code, const char *message, const char *tracking_id,
                        const struct timespec *now, json_t *info, char **out);

/* The inner object of the nested body on its own, as the hub answers a device's twin request
 * over MQTT (docs/protocol.md rule D7): {"errorCode","trackingId","message","timestampUtc"}.
 * *out: new string. */
ih_result ih_error_body_bare(enum ih_error_code code, const char *message, const char *tracking_id,
                             const struct timespec *now, char **out);

/* Formats the flat body. The Node SDK splits Message at ';' and takes the code's name from
 * before it and the message from after it, so a ';' in message becomes ',', and an empty
 * message is the default one. *out: new string. */
ih_result ih_error_body_flat(enum ih_error_code code, const char *message, const char *tracking_id,
                             char **out);

/* The code named name ("DeviceNotFound"), or 0 when no code has that name. */
long ih_error_code_of(const char *name, size_t len);

/* What a client reads back from an error body: either form above, the nested inner object on
 * its own, or {"Message":"plain text"}. The flat form gives the code of its name. */
struct ih_error_detail {
    long code;         /* errorCode, 0 when the body has none */
    char message[512]; /* the message, "" when the body has none */
};

/* Parses body (len bytes, need not be NUL-terminated). IH_ERR_SYNTAX when it is not one of the
 * forms above; detail is then empty. */
ih_result ih_error_parse(const char *body, size_t len, struct ih_error_detail *detail);

/* ISO 8601 UTC with 7 fractional digits, as the hub writes timestampUtc. */
ih_result ih_format_timestamp_utc(const struct timespec *t, char *out, size_t cap);

#endif
