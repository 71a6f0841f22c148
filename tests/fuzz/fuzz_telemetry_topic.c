/* The telemetry topics (docs/protocol.md rule D10): the input as a topic, not NUL-terminated.
 * Checks what a caller relies on (ids never empty, names never NULL, the shape check agrees with
 * the parser), and that a parsed topic, written back fully percent-encoded the way Python does,
 * parses to the same ids and properties. */
#include "fuzz.h"

#include "protocol/percent.h"
#include "protocol/telemetry_topic.h"

/* Appends s percent-encoded to buf at *n; buf has room (3 bytes per input byte). */
static void append_encoded(char *buf, size_t *n, const char *s)
{
    char *enc = NULL;
    if (ih_pct_encode(s, strlen(s), &enc) != IH_OK)
        abort();
    size_t len = strlen(enc);
    memcpy(buf + *n, enc, len);
    *n += len;
    free(enc);
}

static void append_raw(char *buf, size_t *n, const char *s)
{
    memcpy(buf + *n, s, strlen(s));
    *n += strlen(s);
}

/* The topic Python would send for t, with one trailing `/` as C# adds. *len: its length. */
static char *encode(const struct ih_telemetry_topic *t, size_t *len)
{
    size_t room = 64 + 3 * strlen(t->device_id) + (t->module_id ? 3 * strlen(t->module_id) : 0);
    for (size_t i = 0; i < t->count; i++)
        room += 8 + 3 * strlen(t->properties[i].name) +
                (t->properties[i].value ? 3 * strlen(t->properties[i].value) : 0);
    char *buf = malloc(room);
    if (buf == NULL)
        abort();
    size_t n = 0;
    append_raw(buf, &n, "devices/");
    append_encoded(buf, &n, t->device_id);
    if (t->module_id != NULL) {
        append_raw(buf, &n, "/modules/");
        append_encoded(buf, &n, t->module_id);
    }
    append_raw(buf, &n, "/messages/events/");
    for (size_t i = 0; i < t->count; i++) {
        const struct ih_property *p = &t->properties[i];
        append_raw(buf, &n, i > 0 ? "&" : "");
        append_raw(buf, &n, p->system ? "%24." : "");
        append_encoded(buf, &n, p->name);
        if (p->value != NULL) {
            append_raw(buf, &n, "=");
            append_encoded(buf, &n, p->value);
        }
    }
    append_raw(buf, &n, t->count > 0 ? "/" : "");
    *len = n;
    return buf;
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void round_trip(const struct ih_telemetry_topic *t)
{
    size_t len = 0;
    char *topic = encode(t, &len);
    struct ih_telemetry_topic again;
    ih_result r = ih_topic_parse_telemetry(topic, len, &again, NULL);
    if (r == IH_ERR_TOO_LONG && len > 65535) {
        free(topic);
        return;
    }
    if (r != IH_OK || !same_text(again.device_id, t->device_id) ||
        !same_text(again.module_id, t->module_id) || again.count != t->count)
        abort();
    for (size_t i = 0; i < t->count; i++) {
        const struct ih_property *a = &again.properties[i], *b = &t->properties[i];
        if (a->system != b->system || !same_text(a->name, b->name) ||
            !same_text(a->value, b->value))
            abort();
    }
    ih_telemetry_topic_free(&again);
    free(topic);
}

static void check(const struct ih_telemetry_topic *t, size_t size)
{
    if (t->device_id == NULL || t->device_id[0] == '\0' ||
        (t->module_id != NULL && t->module_id[0] == '\0') ||
        t->count > IH_TELEMETRY_MAX_PROPERTIES || (t->count > 0) != (t->properties != NULL))
        abort();
    /* Decoding never lengthens, and `name=value` pairs never overlap. */
    size_t total = strlen(t->device_id) + (t->module_id ? strlen(t->module_id) : 0);
    for (size_t i = 0; i < t->count; i++) {
        const struct ih_property *p = &t->properties[i];
        if (p->name == NULL || (p->name[0] == '\0' && p->value == NULL && !p->system))
            abort();
        total += strlen(p->name) + (p->value ? strlen(p->value) : 0);
    }
    if (total > size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *topic = (const char *)data;
    struct ih_telemetry_topic t;
    struct ih_diag diag;
    ih_result r = ih_topic_parse_telemetry(topic, size, &t, &diag);
    int shape = ih_topic_is_telemetry(topic, size);
    if ((r == IH_OK && !shape) || (r == IH_ERR_SYNTAX && shape) ||
        (r != IH_OK && r != IH_ERR_SYNTAX && r != IH_ERR_TOO_LONG && r != IH_ERR_NOMEM))
        abort();
    if (r != IH_OK) {
        if (t.device_id != NULL || t.module_id != NULL || t.properties != NULL || t.count != 0)
            abort();
        return 0;
    }
    check(&t, size);
    round_trip(&t);
    ih_telemetry_topic_free(&t);
    return 0;
}
