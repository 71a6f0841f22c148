#include "mqtt_acl.h"

#include "hub_bus.h"

#include "protocol/c2d_topic.h"
#include "protocol/percent.h"
#include "protocol/telemetry_topic.h"

/* mosquitto_plugin.h needs mosquitto_broker.h first; they define MOSQ_ACL_*. */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <stdlib.h>
#include <string.h>

/* Where a device may subscribe, and publish (rules D11 and D15). */
static const char *const subscribe_roots[] = {"$iothub/streams/", "$iothub/methods/POST/",
                                              "$iothub/twin/res/",
                                              "$iothub/twin/PATCH/properties/desired/"};
static const char *const publish_roots[] = {"$iothub/streams/res/", "$iothub/methods/res/",
                                            "$iothub/twin/GET/",
                                            "$iothub/twin/PATCH/properties/reported/"};
#define ROOT_COUNT(a) (sizeof(a) / sizeof(a)[0])

/* Ours and mosquitto's names for the same access values. */
_Static_assert(MQTT_ACCESS_READ == MOSQ_ACL_READ, "ACL access values");
_Static_assert(MQTT_ACCESS_WRITE == MOSQ_ACL_WRITE, "ACL access values");
_Static_assert(MQTT_ACCESS_SUBSCRIBE == MOSQ_ACL_SUBSCRIBE, "ACL access values");
_Static_assert(MQTT_ACCESS_UNSUBSCRIBE == MOSQ_ACL_UNSUBSCRIBE, "ACL access values");

static int under_any(const char *topic, const char *const *roots, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strncmp(topic, roots[i], strlen(roots[i])) == 0)
            return 1;
    }
    return 0;
}

int mqtt_acl_device_allows(int access, const char *topic)
{
    if (topic == NULL)
        return 0;
    switch (access) {
    case MQTT_ACCESS_SUBSCRIBE:
    case MQTT_ACCESS_UNSUBSCRIBE:
        return under_any(topic, subscribe_roots, ROOT_COUNT(subscribe_roots));
    case MQTT_ACCESS_WRITE:
        return under_any(topic, publish_roots, ROOT_COUNT(publish_roots));
    case MQTT_ACCESS_READ:
        /* Everything a device must get arrives by the plugin's direct delivery, which skips this
         * check. A regular delivery could only come from another device, through a publish
         * the plugin never saw, such as a will message: never. */
        return 0;
    }
    return 0;
}

/* The topic as cid writes its own ids, unencoded: devices/{d}/[modules/{m}/]messages/events. */
static int raw_ids_match(const char *topic, const char *cid)
{
    static const char devices[] = "devices/";
    size_t n = strcspn(cid, "/");
    if (strncmp(topic, devices, sizeof devices - 1) != 0)
        return 0;
    const char *rest = topic + sizeof devices - 1;
    if (strncmp(rest, cid, n) != 0 || rest[n] != '/')
        return 0;
    rest += n + 1;
    if (cid[n] == '/') {
        size_t m = strlen(cid + n + 1);
        if (strncmp(rest, "modules/", 8) != 0 || strncmp(rest + 8, cid + n + 1, m) != 0 ||
            rest[8 + m] != '/')
            return 0;
        rest += 8 + m + 1;
    }
    return strncmp(rest, "messages/events", 15) == 0;
}

int mqtt_telemetry_topic_is_own(const char *topic, const struct ih_telemetry_topic *t,
                                const char *cid)
{
    /* Ids travel raw (C, Node, C#) or percent-encoded (Python): either matches
     * (docs/protocol.md §12.3). */
    size_t n = strlen(t->device_id);
    int decoded = strncmp(cid, t->device_id, n) == 0 &&
                  (t->module_id == NULL ? cid[n] == '\0'
                                        : cid[n] == '/' && strcmp(cid + n + 1, t->module_id) == 0);
    return decoded || raw_ids_match(topic, cid);
}

/* Whether level (len bytes) names the device cid, raw or percent-encoded (Python encodes it). */
static int level_names(const char *level, size_t len, const char *cid)
{
    if (strlen(cid) == len && memcmp(level, cid, len) == 0)
        return 1;
    char *decoded = NULL;
    int same = ih_pct_decode(level, len, IH_PCT_STRICT, &decoded, NULL) == IH_OK &&
               strcmp(decoded, cid) == 0;
    free(decoded);
    return same;
}

/* For a filter under devices/{cid}/messages/devicebound/ (rule D13; a module has no C2D, rule
 * D17): what follows that prefix; else NULL. */
static const char *own_c2d_rest(const char *filter, const char *cid)
{
    static const char devices[] = "devices/", tail[] = "/messages/devicebound/";
    if (filter == NULL || cid == NULL || strchr(cid, '/') != NULL ||
        strncmp(filter, devices, sizeof devices - 1) != 0)
        return NULL;
    const char *level = filter + sizeof devices - 1;
    size_t len = strcspn(level, "/");
    if (!level_names(level, len, cid) || strncmp(level + len, tail, sizeof tail - 1) != 0)
        return NULL;
    return level + len + sizeof tail - 1;
}

int mqtt_acl_client_allows(int access, const char *topic, const char *cid)
{
    if (mqtt_acl_device_allows(access, topic))
        return 1;
    if ((access == MQTT_ACCESS_SUBSCRIBE || access == MQTT_ACCESS_UNSUBSCRIBE) &&
        own_c2d_rest(topic, cid) != NULL)
        return 1;
    if (access != MQTT_ACCESS_WRITE || topic == NULL || cid == NULL ||
        !ih_topic_is_telemetry(topic, strlen(topic)))
        return 0;
    struct ih_telemetry_topic t;
    if (ih_topic_parse_telemetry(topic, strlen(topic), &t, NULL) != IH_OK)
        return 0;
    int own = mqtt_telemetry_topic_is_own(topic, &t, cid);
    ih_telemetry_topic_free(&t);
    return own;
}

/* Whether filter matches every topic of `levels` levels that starts with the fixed ones: the
 * filter fixes nothing of the rest (docs/protocol.md §2.3, rules D3, D5 and D8). */
static int covers(const char *filter, const char *const *fixed, int fixed_count, int levels)
{
    const char *level = filter;
    for (int i = 0; i < levels; i++) {
        const char *end = strchr(level, '/');
        size_t len = end != NULL ? (size_t)(end - level) : strlen(level);
        if (len == 1 && level[0] == '#')
            return end == NULL && i > 0;                /* '#' alone never matches a '$' topic */
        int any = len == 1 && level[0] == '+' && i > 0; /* '+' never matches '$iothub' */
        if (!any &&
            (i >= fixed_count || len != strlen(fixed[i]) || memcmp(level, fixed[i], len) != 0))
            return 0;
        if (end == NULL)
            return i == levels - 1; /* exactly that many levels */
        level = end + 1;
    }
    return 0; /* more levels */
}

/* Rule D13: the device's own devices/{id}/messages/devicebound/# (or /+: the hub's bag holds no
 * `/`) covers every message the hub sends it. */
static unsigned c2d_listens(const char *filter, const char *cid)
{
    const char *rest = own_c2d_rest(filter, cid);
    return rest != NULL && (strcmp(rest, "#") == 0 || strcmp(rest, "+") == 0) ? HUB_LISTEN_C2D : 0;
}

unsigned mqtt_filter_listens(const char *filter, const char *cid)
{
    /* $iothub/streams/POST/{name}/{properties}, $iothub/methods/POST/{name}/?$rid=,
     * $iothub/twin/res/{status}/?$rid=, $iothub/twin/PATCH/properties/desired/?$version= */
    static const char *const streams[] = {"$iothub", "streams", "POST"};
    static const char *const methods[] = {"$iothub", "methods", "POST"};
    static const char *const twin[] = {"$iothub", "twin", "res"};
    static const char *const desired[] = {"$iothub", "twin", "PATCH", "properties", "desired"};
    return (covers(filter, streams, 3, 5) ? HUB_LISTEN_STREAMS : 0) |
           (covers(filter, methods, 3, 5) ? HUB_LISTEN_METHODS : 0) |
           (covers(filter, twin, 3, 5) ? HUB_LISTEN_TWIN : 0) |
           (covers(filter, desired, 5, 6) ? HUB_LISTEN_DESIRED : 0) | c2d_listens(filter, cid);
}
