#include "stream_json.h"

static json_t *ms_or_null(int64_t at, int64_t posted)
{
    return at > 0 ? json_integer(at - posted) : json_null();
}

json_t *stream_info_json(const struct stream_info *i, int64_t now)
{
    return json_pack(
        "{s:s, s:s, s:s?, s:s, s:s, s:s, s:I, s:i, s:i, s:{s:o, s:o, s:o, s:o, s:o}, s:I, s:I, "
        "s:{s:I, s:I}, s:i, s:s, s:i}",
        "streamId", i->id, "deviceId", i->device_id, "moduleId",
        i->module_id[0] != '\0' ? i->module_id : NULL, "streamName", i->name, "state",
        stream_state_name(i->state), "requestedUtc", i->posted_utc, "ageMs",
        (json_int_t)(now - i->posted_ms), "responseTimeoutSeconds", i->response_timeout_s,
        "connectTimeoutSeconds", i->connect_timeout_s, "stepsMs", "answered",
        ms_or_null(i->answered_ms, i->posted_ms), "deviceConnected",
        ms_or_null(i->side_ms[STREAM_DEVICE], i->posted_ms), "serviceConnected",
        ms_or_null(i->side_ms[STREAM_SERVICE], i->posted_ms), "connected",
        ms_or_null(i->connected_ms, i->posted_ms), "closed", ms_or_null(i->closed_ms, i->posted_ms),
        "bytesDeviceToService", (json_int_t)i->bytes[STREAM_DEVICE], "bytesServiceToDevice",
        (json_int_t)i->bytes[STREAM_SERVICE], "peakQueuedBytes", "toDevice",
        (json_int_t)i->queued_peak[STREAM_DEVICE], "toService",
        (json_int_t)i->queued_peak[STREAM_SERVICE], "closeCode", i->close_code, "closeReason",
        i->close_reason, "answerStatus", i->answer_status);
}

static json_t *text_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *number_or_null(long long n)
{
    return n >= 0 ? json_integer(n) : json_null();
}

json_t *log_record_json(const struct log_record *r)
{
    return json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "time", r->time_utc,
        "category", text_or_null(r->category), "operationName", text_or_null(r->operation),
        "deviceId", text_or_null(r->device_id), "moduleId", text_or_null(r->module_id), "streamId",
        text_or_null(r->stream_id), "streamName", text_or_null(r->stream_name), "result",
        text_or_null(r->result), "statusCode", number_or_null(r->status_code), "durationMs",
        number_or_null(r->elapsed_ms), "bytesDeviceToService",
        number_or_null(r->bytes_device_to_service), "bytesServiceToDevice",
        number_or_null(r->bytes_service_to_device), "message", text_or_null(r->message));
}
