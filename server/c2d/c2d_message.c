#include "c2d_message.h"

#include "json_body.h"
#include "time_text.h"

#include "protocol/base64.h"
#include "protocol/c2d_topic.h"
#include "protocol/format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The body's system properties: JSON name and where the topic takes it. */
static const char *const system_names[] = {"messageId",   "correlationId",   "userId",
                                           "contentType", "contentEncoding", "ack"};
#define SYSTEM_COUNT (sizeof system_names / sizeof system_names[0])
static const char *const acks[] = {"none", "positive", "negative", "full"};

void c2d_message_free(struct c2d_message *m)
{
    if (m == NULL)
        return;
    free(m->message_id);
    free(m->envelope);
    free(m->body);
    memset(m, 0, sizeof *m);
}

static int is_known_field(const char *key)
{
    static const char *const others[] = {"body", "bodyBase64", "properties", "expiryTimeUtc"};
    for (size_t i = 0; i < SYSTEM_COUNT; i++) {
        if (strcmp(key, system_names[i]) == 0)
            return 1;
    }
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        if (strcmp(key, others[i]) == 0)
            return 1;
    }
    return 0;
}

/* A parse in progress: the request, what it becomes, and why it failed. */
struct parse {
    json_t *req;
    struct c2d_message *out;
    json_t *properties, *system;
    size_t bytes; /* counted against C2D_MAX_MESSAGE_BYTES */
    char *reason;
    size_t cap;
};

static enum c2d_parse_result invalid(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum c2d_parse_result invalid(struct parse *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->reason, p->cap, fmt, ap);
    va_end(ap);
    return C2D_PARSE_INVALID;
}

static enum c2d_parse_result read_body(struct parse *p)
{
    json_t *text = json_object_get(p->req, "body"), *b64 = json_object_get(p->req, "bodyBase64");
    if (text != NULL && b64 != NULL)
        return invalid(p, "give body or bodyBase64, not both");
    if ((text != NULL && !json_is_string(text)) || (b64 != NULL && !json_is_string(b64)))
        return invalid(p, "%s must be a string", text != NULL ? "body" : "bodyBase64");
    if (b64 != NULL) {
        if (ih_base64_decode(json_string_value(b64), json_string_length(b64), &p->out->body,
                             &p->out->body_len) != IH_OK)
            return invalid(p, "bodyBase64 is not base64 (RFC 4648, with padding)");
    } else {
        size_t len = text != NULL ? json_string_length(text) : 0;
        if ((p->out->body = malloc(len + 1)) == NULL)
            return invalid(p, "out of memory");
        if (len > 0)
            memcpy(p->out->body, json_string_value(text), len);
        p->out->body_len = len;
    }
    p->bytes += p->out->body_len;
    return C2D_PARSE_OK;
}

/* Application properties: text values; numbers and booleans as their JSON text; null ones left
 * out (docs/protocol.md §12.4: Node would read a key without a value as "undefined"). */
static enum c2d_parse_result read_properties(struct parse *p)
{
    json_t *props = json_object_get(p->req, "properties"), *value;
    const char *key;
    if (props == NULL || json_is_null(props))
        return C2D_PARSE_OK;
    if (!json_is_object(props))
        return invalid(p, "properties must be an object of names and text values");
    json_object_foreach(props, key, value)
    {
        char *text = NULL;
        if (key[0] == '\0')
            return invalid(p, "a property name is empty");
        if (json_is_null(value))
            continue;
        if (json_is_string(value))
            text = strdup(json_string_value(value));
        else if (json_is_number(value) || json_is_boolean(value))
            text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        else
            return invalid(p, "property '%.100s' must be text, a number or a boolean", key);
        if (text == NULL)
            return invalid(p, "out of memory");
        p->bytes += strlen(key) + strlen(text);
        json_object_set_new(p->properties, key, json_string(text));
        free(text);
    }
    return C2D_PARSE_OK;
}

static enum c2d_parse_result read_system(struct parse *p, const char *default_id)
{
    for (size_t i = 0; i < SYSTEM_COUNT; i++) {
        json_t *v = json_object_get(p->req, system_names[i]);
        if (v == NULL || json_is_null(v))
            continue;
        if (!json_is_string(v) || json_string_length(v) == 0)
            return invalid(p, "%s must be a non-empty string", system_names[i]);
        p->bytes += json_string_length(v);
        json_object_set(p->system, system_names[i], v);
    }
    const char *ack = json_string_value(json_object_get(p->system, "ack"));
    int ack_ok = ack == NULL;
    for (size_t i = 0; i < sizeof acks / sizeof acks[0] && !ack_ok; i++)
        ack_ok = strcmp(ack, acks[i]) == 0;
    if (!ack_ok)
        return invalid(p, "ack must be none, positive, negative or full, not '%.40s'", ack);
    if (json_object_get(p->system, "messageId") == NULL)
        json_object_set_new(p->system, "messageId", json_string(default_id));
    const char *id = json_string_value(json_object_get(p->system, "messageId"));
    if (id == NULL || strlen(id) > C2D_MAX_ID_LEN)
        return invalid(p, "messageId must be at most 128 characters");
    p->out->message_id = strdup(id);
    return p->out->message_id != NULL ? C2D_PARSE_OK : invalid(p, "out of memory");
}

static enum c2d_parse_result read_expiry(struct parse *p, int64_t now_ms)
{
    json_t *v = json_object_get(p->req, "expiryTimeUtc");
    p->out->expiry_ms = now_ms + C2D_DEFAULT_TTL_MS;
    if (v == NULL || json_is_null(v))
        return C2D_PARSE_OK;
    if (!json_is_string(v) || time_text_to_ms(json_string_value(v), &p->out->expiry_ms) != 0)
        return invalid(p, "expiryTimeUtc must be an ISO 8601 time, like 2026-12-02T10:00:00Z");
    return C2D_PARSE_OK;
}

static enum c2d_parse_result read_fields(struct parse *p, const char *default_id, int64_t now_ms)
{
    const char *key;
    json_t *value;
    json_object_foreach(p->req, key, value)
    {
        if (!is_known_field(key))
            return invalid(p,
                           "unknown field '%.60s': a message has body or bodyBase64, properties, "
                           "messageId, correlationId, userId, contentType, contentEncoding, ack "
                           "and expiryTimeUtc",
                           key);
    }
    enum c2d_parse_result r = read_body(p);
    if (r == C2D_PARSE_OK)
        r = read_properties(p);
    if (r == C2D_PARSE_OK)
        r = read_system(p, default_id);
    if (r == C2D_PARSE_OK)
        r = read_expiry(p, now_ms);
    if (r == C2D_PARSE_OK && p->bytes > C2D_MAX_MESSAGE_BYTES) {
        ih_reason(p->reason, p->cap, 0,
                  "the message is %zu bytes with its properties; a cloud-to-device message may be "
                  "at most %d (docs/protocol.md rule D14)",
                  p->bytes, C2D_MAX_MESSAGE_BYTES);
        r = C2D_PARSE_TOO_LARGE;
    }
    return r;
}

enum c2d_parse_result c2d_message_parse(const char *json, size_t len, const char *default_id,
                                        int64_t now_ms, struct c2d_message *out, char *reason,
                                        size_t cap)
{
    json_error_t err;
    struct parse p = {NULL, out, json_object(), json_object(), 0, reason, cap};
    memset(out, 0, sizeof *out);
    reason[0] = '\0';
    enum c2d_parse_result r = C2D_PARSE_OK;
    if ((p.req = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err)) == NULL) {
        ih_reason(reason, cap, 0, "the body is not JSON: %s", err.text);
        r = C2D_PARSE_NOT_JSON;
    } else if (!json_is_object(p.req)) {
        r = invalid(&p, "the body must be a JSON object");
    } else if (p.properties == NULL || p.system == NULL) {
        r = invalid(&p, "out of memory");
    } else {
        r = read_fields(&p, default_id, now_ms);
    }
    if (r == C2D_PARSE_OK) {
        json_t *envelope =
            json_pack("{s:O, s:O}", "properties", p.properties, "systemProperties", p.system);
        out->envelope = envelope != NULL ? json_dumps(envelope, JSON_COMPACT) : NULL;
        json_decref(envelope);
        if (out->envelope == NULL)
            r = invalid(&p, "out of memory");
    }
    if (r != C2D_PARSE_OK)
        c2d_message_free(out);
    json_decref(p.req);
    json_decref(p.properties);
    json_decref(p.system);
    return r;
}

static const char *system_value(json_t *system, const char *name)
{
    return json_string_value(json_object_get(system, name));
}

int c2d_message_topic(const char *device_id, const char *envelope, char **topic)
{
    json_t *e = json_loads(envelope, 0, NULL);
    json_t *props = json_object_get(e, "properties"), *sys = json_object_get(e, "systemProperties");
    size_t count = json_is_object(props) ? json_object_size(props) : 0, i = 0;
    struct ih_c2d_pair *pairs = calloc(count + 1, sizeof *pairs);
    const char *key;
    json_t *value;
    int rc = -1;
    *topic = NULL;
    if (e != NULL && pairs != NULL) {
        json_object_foreach(props, key, value)
        {
            pairs[i].name = key;
            pairs[i++].value = json_string_value(value);
        }
        struct ih_c2d_system s = {
            system_value(sys, "messageId"),       system_value(sys, "correlationId"),
            system_value(sys, "userId"),          system_value(sys, "contentType"),
            system_value(sys, "contentEncoding"), system_value(sys, "ack")};
        rc = ih_c2d_topic_format(device_id, &s, pairs, i, topic) == IH_OK ? 0 : -1;
    }
    free(pairs);
    json_decref(e);
    return rc;
}

json_t *c2d_message_view(const struct c2d_row *row)
{
    char enqueued[TIME_TEXT_SIZE], expiry[TIME_TEXT_SIZE], end[TIME_TEXT_SIZE];
    time_text_of_ms(row->enqueued_ms, enqueued);
    time_text_of_ms(row->expiry_ms, expiry);
    time_text_of_ms(row->end_ms, end);
    json_t *e = json_object_of_text(row->envelope);
    json_t *v = json_pack("{s:s, s:I, s:s, s:s, s:s, s:O, s:O}", "messageId", row->message_id,
                          "sequenceNumber", (json_int_t)row->sequence_number, "state", row->state,
                          "enqueuedTimeUtc", enqueued, "expiryTimeUtc", expiry, "properties",
                          json_object_get(e, "properties"), "systemProperties",
                          json_object_get(e, "systemProperties"));
    json_decref(e);
    if (v != NULL && row->end_ms > 0 && json_object_set_new(v, "endTimeUtc", json_string(end)) != 0)
        goto fail;
    if (v != NULL && json_set_body(v, row->body, row->body_len) != 0)
        goto fail;
    return v;
fail:
    json_decref(v);
    return NULL;
}
