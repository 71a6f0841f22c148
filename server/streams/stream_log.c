#include "stream_log.h"

#include "log.h"

#include <stdio.h>
#include <string.h>

static long long elapsed_ms(const struct stream_event *ev, int64_t at)
{
    return at > 0 && ev->info.posted_ms > 0 ? (long long)(at - ev->info.posted_ms) : -1;
}

/* When the step happened, in the stream's clock. */
static int64_t step_time(const struct stream_event *ev)
{
    const struct stream_info *i = &ev->info;
    switch (ev->step) {
    case STEP_REQUESTED:
        return i->posted_ms;
    case STEP_ACCEPTED:
    case STEP_REJECTED:
        return i->answered_ms;
    case STEP_SIDE_CONNECTED:
        return i->side_ms[ev->side];
    case STEP_CONNECTED:
        return i->connected_ms;
    case STEP_TIMED_OUT:
    case STEP_CLOSED:
        return i->closed_ms;
    }
    return 0;
}

const char *stream_log_result(const struct stream_event *ev)
{
    switch (ev->step) {
    case STEP_REJECTED:
        return "rejected";
    case STEP_TIMED_OUT:
        return "timeout";
    case STEP_CLOSED:
        return strcmp(ev->info.close_reason, "handshake_timeout") == 0 ? "timeout" : "closed";
    default:
        return "success";
    }
}

static int status_of(const struct stream_event *ev)
{
    switch (ev->step) {
    case STEP_ACCEPTED:
    case STEP_REJECTED:
        return ev->info.answer_status;
    case STEP_TIMED_OUT:
        return 504;
    case STEP_CLOSED:
        return ev->info.close_code > 0 ? ev->info.close_code : -1;
    default:
        return -1;
    }
}

/* The narration of the product page's five handshake steps (docs/protocol.md §8). */
static void narrate(const struct stream_event *ev, long long ms)
{
    const struct stream_info *i = &ev->info;
    switch (ev->step) {
    case STEP_REQUESTED:
        log_trace("stream",
                  "[%s] step 2/5: the service asks for stream '%s' to '%s%s%s'; the hub "
                  "sends $iothub/streams/POST/%s/?$rid=%s&$url=...&$auth=... to the device over "
                  "MQTT and waits up to %d s for its answer",
                  i->id, i->name, i->device_id, i->module_id[0] ? "/" : "", i->module_id, i->name,
                  i->rid, i->response_timeout_s);
        return;
    case STEP_ACCEPTED:
        log_trace("stream",
                  "[%s] step 3/5: the device accepted ($iothub/streams/res/%d) after "
                  "%lld ms; the service gets 200 with iothub-streaming-is-accepted: True, the "
                  "streaming URL and its own token; both sides have %d s to connect",
                  i->id, i->answer_status, ms, i->connect_timeout_s);
        return;
    case STEP_REJECTED:
        log_trace("stream",
                  "[%s] step 3/5: the device rejected ($iothub/streams/res/%d) after "
                  "%lld ms; the service gets 200 with iothub-streaming-is-accepted: False",
                  i->id, i->answer_status, ms);
        return;
    case STEP_TIMED_OUT:
        log_trace("stream",
                  "[%s] step 3/5: no answer from the device in %d s; the service gets "
                  "504 504101",
                  i->id, i->response_timeout_s);
        return;
    case STEP_SIDE_CONNECTED:
        log_trace("stream",
                  "[%s] step %d/5: the %s's WebSocket is up at the streaming endpoint, "
                  "%lld ms after the request",
                  i->id, ev->side == STREAM_DEVICE ? 4 : 5, stream_side_name(ev->side), ms);
        return;
    case STEP_CONNECTED:
        log_trace("stream",
                  "[%s] handshake complete in %lld ms: the streaming endpoint relays "
                  "bytes between service and device",
                  i->id, ms);
        return;
    case STEP_CLOSED:
        log_trace("stream",
                  "[%s] closed (%s, code %d) after %lld ms: %llu bytes device->service, "
                  "%llu bytes service->device",
                  i->id, i->close_reason, i->close_code, ms,
                  (unsigned long long)i->bytes[STREAM_DEVICE],
                  (unsigned long long)i->bytes[STREAM_SERVICE]);
        return;
    }
}

/* Every rejection, timeout and close, once, for people who do not run with --trace. */
static void report_end(const struct stream_event *ev, long long ms)
{
    const struct stream_info *i = &ev->info;
    if (ev->step == STEP_REJECTED)
        log_info("stream", "stream %s to '%s' (%s): rejected by the device (status %d)", i->id,
                 i->device_id, i->name, i->answer_status);
    else if (ev->step == STEP_TIMED_OUT)
        log_info("stream", "stream %s to '%s' (%s): no answer from the device in %d s (504)", i->id,
                 i->device_id, i->name, i->response_timeout_s);
    else if (ev->step == STEP_CLOSED)
        log_info("stream",
                 "stream %s to '%s' (%s): closed, %s (code %d), after %lld ms, %llu "
                 "bytes device->service, %llu bytes service->device",
                 i->id, i->device_id, i->name, i->close_reason, i->close_code, ms,
                 (unsigned long long)i->bytes[STREAM_DEVICE],
                 (unsigned long long)i->bytes[STREAM_SERVICE]);
}

static void write_row(struct registry *reg, const struct stream_event *ev, long long ms)
{
    const struct stream_info *i = &ev->info;
    int closed = ev->step == STEP_CLOSED;
    char message[128] = "";
    if (closed)
        snprintf(message, sizeof message, "%s", i->close_reason);
    else if (ev->step == STEP_SIDE_CONNECTED)
        snprintf(message, sizeof message, "%s connected", stream_side_name(ev->side));
    struct log_record r = {
        .category = "DeviceStreams",
        .operation = stream_step_name(ev->step),
        .device_id = i->device_id,
        .module_id = i->module_id[0] != '\0' ? i->module_id : NULL,
        .stream_id = i->id,
        .stream_name = i->name,
        .result = stream_log_result(ev),
        .message = message[0] != '\0' ? message : NULL,
        .status_code = status_of(ev),
        .elapsed_ms = ms,
        .bytes_device_to_service = closed ? (long long)i->bytes[STREAM_DEVICE] : -1,
        .bytes_service_to_device = closed ? (long long)i->bytes[STREAM_SERVICE] : -1,
    };
    registry_log_append(reg, &r);
}

void stream_log_event(void *ctx, const struct stream_event *ev)
{
    long long ms = elapsed_ms(ev, step_time(ev));
    if (ms < 0)
        ms = 0;
    write_row(ctx, ev, ms);
    if (log_enabled(LOG_TRACE))
        narrate(ev, ms);
    report_end(ev, ms);
}
