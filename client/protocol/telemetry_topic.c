#include "telemetry_topic.h"

#include "percent.h"

#include <stdlib.h>
#include <string.h>

/* MQTT's bound on a topic name (a two-byte length). */
#define TOPIC_MAX_LEN 65535

static const char modules_level[] = "modules/";
static const char events_levels[] = "messages/events";

/* A slice of the topic being parsed. */
struct span {
    const char *p;
    size_t len;
};

/* Where the parts of a telemetry topic are; module.p is NULL for a device's own telemetry. */
struct shape {
    struct span device;
    struct span module;
    struct span bag;
};

/* Consumes lit from the front of *rest when it is there. */
static int take_literal(struct span *rest, const char *lit)
{
    size_t n = strlen(lit);
    if (rest->len < n || memcmp(rest->p, lit, n) != 0)
        return 0;
    rest->p += n;
    rest->len -= n;
    return 1;
}

/* Consumes one non-empty topic level and the `/` that ends it. */
static int take_level(struct span *rest, struct span *level)
{
    const char *slash = memchr(rest->p, '/', rest->len);
    if (slash == NULL || slash == rest->p)
        return 0;
    *level = (struct span){rest->p, (size_t)(slash - rest->p)};
    rest->len -= level->len + 1;
    rest->p = slash + 1;
    return 1;
}

/* Finds the ids and the bag; allocates nothing. */
static ih_result read_shape(const char *topic, size_t len, struct shape *s, struct ih_diag *diag)
{
    memset(s, 0, sizeof *s);
    if (len > TOPIC_MAX_LEN)
        return ih_fail(diag, IH_ERR_TOO_LONG, "the topic is longer than %d bytes, MQTT's limit",
                       TOPIC_MAX_LEN);
    if (memchr(topic, '\0', len) != NULL)
        return ih_fail(diag, IH_ERR_SYNTAX, "the topic holds a NUL byte");
    struct span rest = {topic, len};
    if (!take_literal(&rest, IH_TELEMETRY_PREFIX))
        return ih_fail(diag, IH_ERR_SYNTAX, "a telemetry topic starts with " IH_TELEMETRY_PREFIX);
    if (!take_level(&rest, &s->device))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "a telemetry topic is devices/{device id}/messages/events/: the device id "
                       "is empty or not followed by '/'");
    if (take_literal(&rest, modules_level) && !take_level(&rest, &s->module))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "a module's telemetry topic is "
                       "devices/{device id}/modules/{module id}/messages/events/: the module id "
                       "is empty or not followed by '/'");
    if (!take_literal(&rest, events_levels) || (rest.len > 0 && rest.p[0] != '/'))
        return ih_fail(diag, IH_ERR_SYNTAX, "the topic does not go on with %smessages/events/",
                       s->module.p != NULL ? "" : "modules/{module id}/ or ");
    if (rest.len > 0) {
        rest.p++;
        rest.len--;
    }
    /* C# and Node (output events) end the bag with a `/`. */
    if (rest.len > 0 && rest.p[rest.len - 1] == '/')
        rest.len--;
    s->bag = rest;
    return IH_OK;
}

int ih_topic_is_telemetry(const char *topic, size_t len)
{
    struct shape s;
    return read_shape(topic, len, &s, NULL) == IH_OK;
}

/* The next `&`-separated item of *rest (possibly empty), consumed with its `&`. */
static struct span next_item(struct span *rest)
{
    const char *amp = memchr(rest->p, '&', rest->len);
    struct span item = {rest->p, (size_t)((amp != NULL ? amp : rest->p + rest->len) - rest->p)};
    rest->p += item.len;
    rest->len -= item.len;
    if (amp != NULL) {
        rest->p++;
        rest->len--;
    }
    return item;
}

static size_t count_items(struct span bag)
{
    size_t count = 0;
    while (bag.len > 0) {
        if (next_item(&bag).len > 0)
            count++;
    }
    return count;
}

/* One non-empty item: split at its first `=`, decoded, `$.` taken off a system key. */
static ih_result read_property(struct span item, struct ih_property *prop)
{
    const char *eq = memchr(item.p, '=', item.len);
    struct span key = {item.p, eq != NULL ? (size_t)(eq - item.p) : item.len};
    ih_result r = ih_pct_decode_lenient(key.p, key.len, &prop->name);
    if (r == IH_OK && eq != NULL)
        r = ih_pct_decode_lenient(eq + 1, item.len - key.len - 1, &prop->value);
    if (r == IH_OK && strncmp(prop->name, "$.", 2) == 0) {
        prop->system = 1;
        memmove(prop->name, prop->name + 2, strlen(prop->name + 2) + 1);
    }
    return r;
}

static ih_result read_bag(struct span bag, struct ih_telemetry_topic *out, struct ih_diag *diag)
{
    size_t count = count_items(bag);
    if (count > IH_TELEMETRY_MAX_PROPERTIES)
        return ih_fail(diag, IH_ERR_TOO_LONG, "the property bag holds %zu properties, more than %d",
                       count, IH_TELEMETRY_MAX_PROPERTIES);
    if (count == 0)
        return IH_OK;
    out->properties = calloc(count, sizeof *out->properties);
    if (out->properties == NULL)
        return IH_ERR_NOMEM;
    out->count = count;
    ih_result r = IH_OK;
    for (size_t i = 0; i < count && r == IH_OK;) {
        struct span item = next_item(&bag);
        if (item.len > 0)
            r = read_property(item, &out->properties[i++]);
    }
    return r;
}

ih_result ih_topic_parse_telemetry(const char *topic, size_t len, struct ih_telemetry_topic *out,
                                   struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    struct shape s;
    ih_result r = read_shape(topic, len, &s, diag);
    if (r == IH_OK)
        r = ih_pct_decode_lenient(s.device.p, s.device.len, &out->device_id);
    if (r == IH_OK && s.module.p != NULL)
        r = ih_pct_decode_lenient(s.module.p, s.module.len, &out->module_id);
    if (r == IH_OK)
        r = read_bag(s.bag, out, diag);
    if (r != IH_OK)
        ih_telemetry_topic_free(out);
    return r;
}

void ih_telemetry_topic_free(struct ih_telemetry_topic *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->properties[i].name);
        free(t->properties[i].value);
    }
    free(t->properties);
    free(t->device_id);
    free(t->module_id);
    memset(t, 0, sizeof *t);
}
