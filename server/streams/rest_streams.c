/* Device streams on the main endpoint (docs/protocol.md §1): POST to start a stream, and the
 * emulator's views of streams and their log. */
#include "rest_streams.h"

#include "protocol/number.h"
#include "monotonic.h"

#include "stream_json.h"
#include "stream_service.h"
#include "time_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_LIMIT_DEFAULT 1000
#define LOG_LIMIT_MAX 10000

/* Longer than ten digits is not a number of seconds anyone meant. */
#define TIMEOUT_MAX 9999999999ULL
/* Any value above the handshake cap is clamped to it by the stream core anyway. */
#define TIMEOUT_CLAMP_S 1000000

/* Rule 2: integers; absent or 0 means the default. C# writes a TimeSpan's TotalSeconds, so a
 * fraction is tolerated and dropped, and large values are clamped (the cap applies). Returns
 * -1 for anything else. */
static int timeout_header(const struct rest_request *req, const char *name)
{
    const char *v = req->header(req->ctx, name);
    if (v == NULL || v[0] == '\0')
        return 0;
    uint64_t seconds = 0;
    if (ih_parse_uint_dropping_fraction(v, TIMEOUT_MAX, &seconds) != IH_OK)
        return -1;
    return seconds > TIMEOUT_CLAMP_S ? TIMEOUT_CLAMP_S : (int)seconds;
}

/* The ids and name from the path: /twins/{id}/streams/{name} or
 * /twins/{id}/modules/{module}/streams/{name}. Answers 400 and returns -1 when one is bad. */
static int read_target(struct rest_call *call, struct stream_post *p)
{
    struct ih_diag why;
    if (rest_twin_path_ids(call, 6, &p->device_id, &p->module_id) != 0)
        return -1;
    p->name = call->path->segments[call->path->count - 1];
    if (ih_stream_name_check(p->name, strlen(p->name), &why) == IH_OK)
        return 0;
    rest_error(call->res, IH_E_ARGUMENT_INVALID, "%s", why.msg);
    return -1;
}

static int read_timeouts(struct rest_call *call, struct stream_post *p)
{
    static const char connect[] = "iothub-streaming-connect-timeout-in-seconds";
    static const char response[] = "iothub-streaming-response-timeout-in-seconds";
    p->connect_timeout_s = timeout_header(call->req, connect);
    p->response_timeout_s = timeout_header(call->req, response);
    if (p->connect_timeout_s >= 0 && p->response_timeout_s >= 0)
        return 0;
    rest_error(call->res, IH_E_ARGUMENT_INVALID, "%s must be a whole number of seconds",
               p->connect_timeout_s < 0 ? connect : response);
    return -1;
}

/* The 504's info.timeout, as the hub writes it: hh:mm:ss (docs/protocol.md §1.4). */
static void timed_out(struct rest_response *res, int seconds)
{
    char text[16];
    snprintf(text, sizeof text, "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
    json_t *info = json_pack("{s:s}", "timeout", text);
    rest_error_info(res, IH_E_GATEWAY_TIMEOUT, info, "%s",
                    ih_error_default_message(IH_E_GATEWAY_TIMEOUT));
    json_decref(info);
}

/* Rule 4: 200 for accepted and rejected alike, the lowercase headers, True/False exactly, the
 * URL and token only when accepted, and no body (Content-Length: 0). */
static void answer_stream(const void *result, struct rest_response *res)
{
    const struct stream_result *r = result;
    switch (r->outcome) {
    case STREAM_OUTCOME_ACCEPTED:
    case STREAM_OUTCOME_REJECTED:
        res->status = 200;
        rest_add_header(res, "iothub-streaming-is-accepted",
                        r->outcome == STREAM_OUTCOME_ACCEPTED ? "True" : "False");
        if (r->outcome == STREAM_OUTCOME_ACCEPTED) {
            rest_add_header(res, "iothub-streaming-url", r->url);
            rest_add_header(res, "iothub-streaming-auth-token", r->token);
        }
        return;
    case STREAM_OUTCOME_TIMED_OUT:
        timed_out(res, r->response_timeout_s);
        return;
    case STREAM_OUTCOME_UNAVAILABLE:
        rest_error(res, IH_E_SERVICE_UNAVAILABLE, "the emulator is stopping");
        return;
    case STREAM_OUTCOME_DEVICE_GONE:
        rest_error(res, IH_E_DEVICE_NOT_ONLINE,
                   "The operation failed because the requested device isn't online: it was "
                   "deleted or disabled before it answered the stream request");
        return;
    }
}

static void rest_streams_post(struct rest_call *call)
{
    struct stream_post p;
    char reason[300];
    if (call->emu->streams == NULL || call->req->deferred == NULL) {
        rest_error(call->res, IH_E_SERVICE_UNAVAILABLE, "device streams are not available here");
        return;
    }
    if (read_target(call, &p) != 0 || read_timeouts(call, &p) != 0)
        return;
    call->req->deferred->answer = answer_stream;
    switch (
        stream_service_post(call->emu->streams, &p, call->req->deferred, reason, sizeof reason)) {
    case STREAM_POST_PENDING:
        call->res->deferred = 1;
        return;
    case STREAM_POST_NO_DEVICE:
        rest_error(call->res, IH_E_DEVICE_NOT_FOUND, "%s", reason);
        return;
    case STREAM_POST_NOT_ONLINE:
        rest_error(call->res, IH_E_DEVICE_NOT_ONLINE, "%s", reason);
        return;
    case STREAM_POST_UNAVAILABLE:
        rest_error(call->res, IH_E_SERVICE_UNAVAILABLE, "%s", reason);
        return;
    case STREAM_POST_QUOTA:
        rest_error(call->res, IH_E_QUOTA_EXCEEDED, "%s", reason);
        return;
    case STREAM_POST_THROTTLED:
        rest_error(call->res, IH_E_THROTTLED, "%s", reason);
        return;
    }
}

/* GET /emulator/streams: every stream the core knows, newest first. */
static void rest_streams_list(struct rest_call *call)
{
    struct stream_info *list = NULL;
    size_t n = 0;
    if (call->emu->streams == NULL ||
        stream_core_list(stream_service_core(call->emu->streams), &list, &n) != 0) {
        rest_error(call->res, IH_E_SERVICE_UNAVAILABLE, "device streams are not available here");
        return;
    }
    int64_t now = monotonic_ms();
    json_t *array = json_array();
    for (size_t i = 0; i < n && array != NULL; i++)
        json_array_append_new(array, stream_info_json(&list[i], now));
    free(list);
    rest_json(call->res, 200, array);
}

static void append_record(void *ctx, const struct log_record *r)
{
    json_array_append_new(ctx, log_record_json(r));
}

/* GET /emulator/logs?category=DeviceStreams[&deviceId=][&since=][&top=], oldest first. */
static void rest_logs(struct rest_call *call)
{
    char category[64], device[IH_ID_MAX_LEN + 1], since[64], top[16];
    struct log_filter f = {
        .category = rest_query_value(call->req, "category", category, sizeof category),
        .device_id = rest_query_value(call->req, "deviceId", device, sizeof device),
        .since = rest_query_value(call->req, "since", since, sizeof since),
        .limit = LOG_LIMIT_DEFAULT,
    };
    char since_utc[TIME_TEXT_NORMAL_SIZE];
    if (call->req->query(call->req->ctx, "since") != NULL) {
        if (f.since == NULL || time_text_normalize(f.since, since_utc) != 0) {
            rest_error(call->res, IH_E_ARGUMENT_INVALID,
                       "since must be an ISO 8601 time, like 2026-11-26T04:51:19Z");
            return;
        }
        f.since = since_utc;
    }
    const char *limit = rest_query_value(call->req, "top", top, sizeof top);
    if (limit != NULL) {
        uint64_t v = 0;
        if (ih_parse_uint(limit, LOG_LIMIT_MAX, &v) != IH_OK || v < 1) {
            rest_error(call->res, IH_E_ARGUMENT_INVALID, "top must be from 1 to %d", LOG_LIMIT_MAX);
            return;
        }
        f.limit = (size_t)v;
    }
    json_t *array = json_array();
    if (array == NULL ||
        registry_log_each(call->emu->registry, &f, append_record, array) != REGISTRY_OK) {
        json_decref(array);
        rest_error(call->res, IH_E_SERVER_ERROR, "the log could not be read");
        return;
    }
    rest_json(call->res, 200, array);
}

/* GET /emulator/devicestreams: what `az iot hub devicestream show` prints (docs/protocol.md §5). */
static void rest_devicestreams(struct rest_call *call)
{
    const struct emulator *emu = call->emu;
    json_t *endpoints = json_array();
    char url[300];
    if (stream_service_endpoint(emu, 1, "https", url, sizeof url) == 0)
        json_array_append_new(endpoints, json_string(url));
    if (stream_service_endpoint(emu, 0, "http", url, sizeof url) == 0)
        json_array_append_new(endpoints, json_string(url));
    rest_json(call->res, 200, json_pack("{s:o}", "streamingEndpoints", endpoints));
}

static const struct rest_route routes[] = {
    {"POST",
     {"twins", REST_ANY, "streams", REST_ANY},
     4,
     PERM_SERVICE_CONNECT,
     rest_streams_post,
     REST_ERROR_NESTED},
    {"POST",
     {"twins", REST_ANY, "modules", REST_ANY, "streams", REST_ANY},
     6,
     PERM_SERVICE_CONNECT,
     rest_streams_post,
     REST_ERROR_NESTED},
    {"GET", {"emulator", "streams"}, 2, PERM_REGISTRY_READ, rest_streams_list, REST_ERROR_NESTED},
    {"GET", {"emulator", "logs"}, 2, PERM_REGISTRY_READ, rest_logs, REST_ERROR_NESTED},
    {"GET", {"emulator", "devicestreams"}, 2, 0, rest_devicestreams, REST_ERROR_NESTED},
};

const struct rest_route_table rest_streams_routes = {routes, sizeof routes / sizeof routes[0]};
