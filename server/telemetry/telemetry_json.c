#include "telemetry_json.h"

#include "protocol/base64.h"
#include "protocol/utf8.h"

#include <stdlib.h>

/* The stored property objects; a damaged one shows as {}. */
static json_t *object_of(const char *text)
{
    json_t *v = text != NULL ? json_loads(text, 0, NULL) : NULL;
    if (json_is_object(v))
        return v;
    json_decref(v);
    return json_object();
}

/* The body as text when it is UTF-8 (control characters allowed: JSON escapes them). */
static int is_text(const void *body, size_t len)
{
    struct ih_utf8_stream s;
    ih_utf8_stream_init(&s);
    return ih_utf8_stream_feed(&s, body, len) == 0 && ih_utf8_stream_end(&s) == 0;
}

json_t *telemetry_json(const struct telemetry_record *r)
{
    char *base64 = NULL;
    /* SQLite gives an empty blob as NULL. */
    const char *body = r->body_len > 0 ? r->body : "";
    if (ih_base64_encode((const unsigned char *)body, r->body_len, &base64) != IH_OK)
        return NULL;
    json_t *m = json_pack("{s:s, s:s?, s:s, s:I, s:o, s:o}", "deviceId", r->device_id, "moduleId",
                          r->module_id, "enqueuedTimeUtc", r->enqueued_time, "sequenceNumber",
                          (json_int_t)r->sequence_number, "properties", object_of(r->properties),
                          "systemProperties", object_of(r->system_properties));
    if (m != NULL && is_text(body, r->body_len))
        json_object_set_new(m, "body", json_stringn(body, r->body_len));
    if (m != NULL)
        json_object_set_new(m, "bodyBase64", json_string(base64));
    free(base64);
    return m;
}
