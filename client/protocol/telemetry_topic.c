#include "telemetry_topic.h"

#include "percent.h"
#include "property_bag.h"

#include <stdlib.h>
#include <string.h>

static const char modules_level[] = "modules/";
static const char events_levels[] = "messages/events";

/* Where the parts of a telemetry topic are; module.p is NULL for a device's own telemetry. */
struct shape {
    struct ih_span device;
    struct ih_span module;
    struct ih_span bag;
};

/* Finds the ids and the bag; allocates nothing. */
static ih_result read_shape(const char *topic, size_t len, struct shape *s, struct ih_diag *diag)
{
    memset(s, 0, sizeof *s);
    ih_result r = ih_bag_topic_check(topic, len, diag);
    if (r != IH_OK)
        return r;
    struct ih_span rest = {topic, len};
    if (!ih_span_take_literal(&rest, IH_TELEMETRY_PREFIX))
        return ih_fail(diag, IH_ERR_SYNTAX, "a telemetry topic starts with " IH_TELEMETRY_PREFIX);
    if (!ih_span_take_level(&rest, &s->device))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "a telemetry topic is devices/{device id}/messages/events/: the device id "
                       "is empty or not followed by '/'");
    if (ih_span_take_literal(&rest, modules_level) && !ih_span_take_level(&rest, &s->module))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "a module's telemetry topic is "
                       "devices/{device id}/modules/{module id}/messages/events/: the module id "
                       "is empty or not followed by '/'");
    if (!ih_span_take_literal(&rest, events_levels) || (rest.len > 0 && rest.p[0] != '/'))
        return ih_fail(diag, IH_ERR_SYNTAX, "the topic does not go on with %smessages/events/",
                       s->module.p != NULL ? "" : "modules/{module id}/ or ");
    s->bag = ih_bag_of_rest(rest);
    return IH_OK;
}

int ih_topic_is_telemetry(const char *topic, size_t len)
{
    struct shape s;
    return read_shape(topic, len, &s, NULL) == IH_OK;
}

static int is_item(struct ih_span item)
{
    return item.len > 0;
}

/* One non-empty item: split at its first `=`, decoded, `$.` taken off a system key. */
static ih_result read_property(struct ih_span item, struct ih_property *prop)
{
    ih_result r = ih_bag_decode_item(item, &prop->name, &prop->value);
    if (r == IH_OK && strncmp(prop->name, "$.", 2) == 0) {
        prop->system = 1;
        memmove(prop->name, prop->name + 2, strlen(prop->name + 2) + 1);
    }
    return r;
}

static ih_result read_bag(struct ih_span bag, struct ih_telemetry_topic *out, struct ih_diag *diag)
{
    size_t count = ih_bag_count(bag, is_item);
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
        struct ih_span item = ih_bag_next_item(&bag);
        if (is_item(item))
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
