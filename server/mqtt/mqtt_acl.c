#include "mqtt_acl.h"

/* mosquitto_plugin.h needs mosquitto_broker.h first; they define MOSQ_ACL_*. */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <string.h>

static const char subscribe_root[] = "$iothub/streams/";
static const char answer_root[] = "$iothub/streams/res/";

/* Ours and mosquitto's names for the same access values. */
_Static_assert(MQTT_ACCESS_READ == MOSQ_ACL_READ, "ACL access values");
_Static_assert(MQTT_ACCESS_WRITE == MOSQ_ACL_WRITE, "ACL access values");
_Static_assert(MQTT_ACCESS_SUBSCRIBE == MOSQ_ACL_SUBSCRIBE, "ACL access values");
_Static_assert(MQTT_ACCESS_UNSUBSCRIBE == MOSQ_ACL_UNSUBSCRIBE, "ACL access values");

static int starts_with(const char *topic, const char *root, size_t root_len)
{
    return strncmp(topic, root, root_len) == 0;
}

int mqtt_acl_device_allows(int access, const char *topic)
{
    if (topic == NULL)
        return 0;
    switch (access) {
    case MQTT_ACCESS_SUBSCRIBE:
    case MQTT_ACCESS_UNSUBSCRIBE:
        return starts_with(topic, subscribe_root, sizeof subscribe_root - 1);
    case MQTT_ACCESS_WRITE:
        return starts_with(topic, answer_root, sizeof answer_root - 1);
    case MQTT_ACCESS_READ:
        /* Everything a device must get arrives by the plugin's direct delivery, which skips this
         * check. A regular delivery could only come from another device, through a publish
         * the plugin never saw, such as a will message: never. */
        return 0;
    }
    return 0;
}

/* A request topic has five levels, $iothub/streams/POST/{name}/{properties}
 * (docs/protocol.md §2.3): the filter covers every request when it fixes nothing of the name or the
 * properties. */
int mqtt_filter_covers_stream_requests(const char *filter)
{
    static const char *const fixed[3] = {"$iothub", "streams", "POST"};
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
