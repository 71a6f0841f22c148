#include "mqtt_acl.h"

#include <string.h>

static const char device_root[] = "$iothub/streams/";

int mqtt_acl_device_allows(int access, const char *topic)
{
    if (topic == NULL)
        return 0;
    switch (access) {
    case MQTT_ACCESS_READ:
    case MQTT_ACCESS_WRITE:
    case MQTT_ACCESS_SUBSCRIBE:
    case MQTT_ACCESS_UNSUBSCRIBE:
        return strncmp(topic, device_root, sizeof device_root - 1) == 0;
    }
    return 0;
}

/* A request topic has five levels, $iothub/streams/POST/{name}/{properties} (protocol.md §2.3):
 * the filter covers every request when it fixes nothing of the name or the properties. */
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
