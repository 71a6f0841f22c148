#include "mqtt_acl.h"

#include "hub_bus.h"

/* mosquitto_plugin.h needs mosquitto_broker.h first; they define MOSQ_ACL_*. */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <string.h>

/* Where a device may subscribe, and publish (rules D11 and D15). */
static const char *const subscribe_roots[] = {"$iothub/streams/", "$iothub/methods/POST/"};
static const char *const publish_roots[] = {"$iothub/streams/res/", "$iothub/methods/res/"};
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

/* Whether filter matches every topic $iothub/{feature}/POST/{name}/{properties}: five levels
 * (docs/protocol.md §2.3, rule D3), the filter fixing nothing of the name or the properties. */
static int covers_requests_of(const char *filter, const char *feature)
{
    const char *fixed[3] = {"$iothub", feature, "POST"};
    const char *level = filter;
    for (int i = 0; i < 5; i++) {
        const char *end = strchr(level, '/');
        size_t len = end != NULL ? (size_t)(end - level) : strlen(level);
        if (len == 1 && level[0] == '#')
            return end == NULL && i > 0;                /* '#' alone never matches a '$' topic */
        int any = len == 1 && level[0] == '+' && i > 0; /* '+' never matches '$iothub' */
        if (!any && (i >= 3 || len != strlen(fixed[i]) || memcmp(level, fixed[i], len) != 0))
            return 0;
        if (end == NULL)
            return i == 4; /* exactly five levels */
        level = end + 1;
    }
    return 0; /* more than five levels */
}

unsigned mqtt_filter_listens(const char *filter)
{
    return (covers_requests_of(filter, "streams") ? HUB_LISTEN_STREAMS : 0) |
           (covers_requests_of(filter, "methods") ? HUB_LISTEN_METHODS : 0);
}
