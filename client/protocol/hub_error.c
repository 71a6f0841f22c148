#include "hub_error.h"

#include "format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct error_entry {
    enum ih_error_code code;
    const char *name;
    const char *message;
};

/* Names from the C# SDK's ErrorCode.cs; messages as the hub words them where captured
 * (docs/protocol.md §1.4, §6). */
static const struct error_entry errors[] = {
    {IH_E_ARGUMENT_INVALID, "ArgumentInvalid", "The request is invalid."},
    {IH_E_ARGUMENT_NULL, "ArgumentNull", "A required argument is missing."},
    {IH_E_FORMAT, "IotHubFormatError", "The request body is not valid JSON."},
    {IH_E_UNAUTHORIZED, "IotHubUnauthorizedAccess", "Unauthorized"},
    {IH_E_QUOTA_EXCEEDED, "IotHubQuotaExceeded", "The quota was exceeded."},
    {IH_E_QUEUE_DEPTH_EXCEEDED, "DeviceMaximumQueueDepthExceeded",
     "The device's cloud-to-device queue is full."},
    /* No capture of the hub's answer to an unknown path exists; the name is not one of the C# SDK's
     * ErrorCode names, so C# does not pair it with a different number. */
    {IH_E_NOT_FOUND, "ResourceNotFound", "The requested resource was not found."},
    {IH_E_DEVICE_NOT_FOUND, "DeviceNotFound", "The device was not found."},
    {IH_E_MODULE_NOT_FOUND, "ModuleNotFound", "The module was not found."},
    {IH_E_DEVICE_NOT_ONLINE, "DeviceNotOnline",
     "The operation failed because the requested device isn't online or hasn't registered the "
     "device streams callback."},
    {IH_E_DEVICE_ALREADY_EXISTS, "DeviceAlreadyExists", "A device with this id already exists."},
    {IH_E_PRECONDITION_FAILED, "PreconditionFailed", "The etag does not match."},
    {IH_E_MESSAGE_TOO_LARGE, "MessageTooLarge", "The request body is too large."},
    {IH_E_THROTTLED, "ThrottlingException", "Too many requests: throttled."},
    {IH_E_SERVER_ERROR, "ServerError", "The emulator failed to handle the request."},
    {IH_E_BAD_GATEWAY, "GenericBadGateway", "The device's answer could not be read."},
    {IH_E_SERVICE_UNAVAILABLE, "ServiceUnavailable", "The service is unavailable."},
    {IH_E_GATEWAY_TIMEOUT, "GatewayTimeout", "Timed out waiting for the response from device."},
};

static const struct error_entry *find_entry(enum ih_error_code code)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        if (errors[i].code == code)
            return &errors[i];
    }
    return NULL;
}

int ih_error_http_status(enum ih_error_code code)
{
    return (int)code / 1000;
}

const char *ih_error_name(enum ih_error_code code)
{
    const struct error_entry *e = find_entry(code);
    return e != NULL ? e->name : "ServerError";
}

const char *ih_error_default_message(enum ih_error_code code)
{
    const struct error_entry *e = find_entry(code);
    return e != NULL ? e->message : "Error";
}

ih_result ih_error_tracking_id(const char *hex32, const struct timespec *now, char *out, size_t cap)
{
    struct tm tm;
    if (gmtime_r(&now->tv_sec, &tm) == NULL)
        return IH_ERR_SYNTAX;
    return ih_format(out, cap, "%.32s-G:0-TimeStamp:%02d/%02d/%04d %02d:%02d:%02d", hex32,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
}

ih_result ih_format_timestamp_utc(const struct timespec *t, char *out, size_t cap)
{
    struct tm tm;
    if (gmtime_r(&t->tv_sec, &tm) == NULL)
        return IH_ERR_SYNTAX;
    return ih_format(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%07ldZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t->tv_nsec / 100);
}

/* The inner object, in the order the hub writes its fields. */
static json_t *inner_error(enum ih_error_code code, const char *message, const char *tracking_id,
                           const char *timestamp, json_t *info)
{
    json_t *inner = json_object();
    if (inner == NULL)
        return NULL;
    /* A message quoting peer input that is not UTF-8 falls back to the code's own message. */
    json_t *text = json_string(message);
    if (text == NULL)
        text = json_string(ih_error_default_message(code));
    int failed = json_object_set_new(inner, "errorCode", json_integer(code)) ||
                 json_object_set_new(inner, "trackingId", json_string(tracking_id)) ||
                 json_object_set_new(inner, "message", text) ||
                 (info != NULL && json_object_set(inner, "info", info)) ||
                 json_object_set_new(inner, "timestampUtc", json_string(timestamp));
    if (failed) {
        json_decref(inner);
        return NULL;
    }
    return inner;
}

ih_result ih_error_body(enum ih_error_code code, const char *message, const char *tracking_id,
                        const struct timespec *now, json_t *info, char **out)
{
    char timestamp[40];
    ih_result r = ih_format_timestamp_utc(now, timestamp, sizeof timestamp);
    if (r != IH_OK)
        return r;
    json_t *inner = inner_error(code, message != NULL ? message : ih_error_default_message(code),
                                tracking_id, timestamp, info);
    char *inner_text = inner != NULL ? json_dumps(inner, JSON_COMPACT) : NULL;
    json_t *outer = inner_text != NULL
                        ? json_pack("{s:s, s:s}", "Message", inner_text, "ExceptionMessage", "")
                        : NULL;
    *out = outer != NULL ? json_dumps(outer, JSON_COMPACT) : NULL;
    json_decref(inner);
    json_decref(outer);
    free(inner_text);
    return *out != NULL ? IH_OK : IH_ERR_NOMEM;
}

ih_result ih_error_body_bare(enum ih_error_code code, const char *message, const char *tracking_id,
                             const struct timespec *now, char **out)
{
    char timestamp[40];
    ih_result r = ih_format_timestamp_utc(now, timestamp, sizeof timestamp);
    if (r != IH_OK)
        return r;
    json_t *inner = inner_error(code, message != NULL ? message : ih_error_default_message(code),
                                tracking_id, timestamp, NULL);
    *out = inner != NULL ? json_dumps(inner, JSON_COMPACT) : NULL;
    json_decref(inner);
    return *out != NULL ? IH_OK : IH_ERR_NOMEM;
}

long ih_error_code_of(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        if (strlen(errors[i].name) == len && memcmp(errors[i].name, name, len) == 0)
            return (long)errors[i].code;
    }
    return 0;
}

ih_result ih_error_body_flat(enum ih_error_code code, const char *message, const char *tracking_id,
                             char **out)
{
    *out = NULL;
    if (message == NULL || message[0] == '\0')
        message = ih_error_default_message(code);
    const char *name = ih_error_name(code);
    size_t cap = strlen("ErrorCode:;") + strlen(name) + strlen(message) + 1;
    size_t exception_cap = strlen("Tracking ID:") + strlen(tracking_id) + 1;
    char *text = malloc(cap);
    char *exception = malloc(exception_cap);
    json_t *outer = NULL;
    if (text != NULL && exception != NULL) {
        snprintf(text, cap, "ErrorCode:%s;%s", name, message);
        for (char *c = strchr(text, ';') + 1; (c = strchr(c, ';')) != NULL;)
            *c = ',';
        snprintf(exception, exception_cap, "Tracking ID:%s", tracking_id);
        json_t *m = json_string(text);
        if (m == NULL) /* a message quoting peer input that is not UTF-8 */
            m = json_sprintf("ErrorCode:%s;%s", name, ih_error_default_message(code));
        outer = json_pack("{s:o?, s:s}", "Message", m, "ExceptionMessage", exception);
    }
    if (outer != NULL)
        *out = json_dumps(outer, JSON_COMPACT);
    json_decref(outer);
    free(text);
    free(exception);
    return *out != NULL ? IH_OK : IH_ERR_NOMEM;
}

/* Message of the flat form: "ErrorCode:<Name>;<text>". */
static int read_flat(const char *message, struct ih_error_detail *d)
{
    static const char prefix[] = "ErrorCode:";
    if (strncmp(message, prefix, strlen(prefix)) != 0)
        return -1; /* checked first: a shorter message ends before the name would start */
    const char *name = message + strlen(prefix);
    const char *semicolon = strchr(name, ';');
    if (semicolon == NULL)
        return -1;
    d->code = ih_error_code_of(name, (size_t)(semicolon - name));
    snprintf(d->message, sizeof d->message, "%s", semicolon + 1);
    return 0;
}

/* The inner object: {"errorCode":N,"message":"..."} (other members ignored). */
static int read_inner(json_t *inner, struct ih_error_detail *d)
{
    json_t *code = json_object_get(inner, "errorCode");
    json_t *message = json_object_get(inner, "message");
    if (!json_is_integer(code) && !json_is_string(message))
        return -1;
    if (json_is_integer(code))
        d->code = (long)json_integer_value(code);
    if (json_is_string(message))
        snprintf(d->message, sizeof d->message, "%s", json_string_value(message));
    return 0;
}

ih_result ih_error_parse(const char *body, size_t len, struct ih_error_detail *detail)
{
    memset(detail, 0, sizeof *detail);
    json_t *outer = body != NULL ? json_loadb(body, len, JSON_DECODE_ANY, NULL) : NULL;
    int rc = -1;
    if (json_is_object(outer)) {
        json_t *message = json_object_get(outer, "Message");
        json_t *inner = json_is_string(message)
                            ? json_loads(json_string_value(message), JSON_DECODE_ANY, NULL)
                            : NULL;
        if (json_is_object(inner)) {
            rc = read_inner(inner, detail);
        } else if (json_is_string(message)) {
            if (read_flat(json_string_value(message), detail) != 0)
                snprintf(detail->message, sizeof detail->message, "%s", json_string_value(message));
            rc = 0;
        } else {
            rc = read_inner(outer, detail);
        }
        json_decref(inner);
    }
    json_decref(outer);
    if (rc != 0)
        memset(detail, 0, sizeof *detail);
    return rc == 0 ? IH_OK : IH_ERR_SYNTAX;
}
