/* The private topics between the emulator ("the hub"), a privileged MQTT client of its broker,
 * and the emulator's plugin inside that broker. Devices can never publish or subscribe under
 * `$hub/` (the plugin's ACL), so only the hub and the plugin speak this grammar:
 *
 *   hub -> plugin  $hub/to/{cid}/{topic}          deliver {topic} to client {cid} only
 *                  $hub/kick/{device id}          disconnect the device and its modules
 *                  $hub/sync                      re-send the connected/subscribed events
 *   plugin -> hub  $hub/from/{cid}/{topic}        client {cid} published {topic}
 *                  $hub/evt/connected/{cid}       payload: "subscribed" when the session it
 *                                                 resumed already listens for stream requests
 *                  $hub/evt/subscribed/{cid}      it subscribed to $iothub/streams/POST/#
 *                  $hub/evt/unsubscribed/{cid}
 *                  $hub/evt/disconnected/{cid}
 *                  $hub/evt/refused/{cid}         payload: the reason, for the hub's log
 *
 * {cid} is the MQTT client id (a device id, or `device/module`), percent-encoded, since ids may
 * hold `/ + #` that would break a topic level (and libmosquitto refuses `+` and `#` in a topic
 * name). Pure functions only: linked by the emulator and by the plugin. */
#ifndef HUB_BUS_H
#define HUB_BUS_H

#include "protocol/result.h"

#include <stddef.h>

/* The hub's MQTT client id and user name. `~` is not allowed in device ids (docs/protocol.md §1.1),
 * so no device can take this id over. */
#define HUB_BUS_CLIENT_ID "~iothub-emulator"
/* The filter devices subscribe to for stream requests (docs/protocol.md rule 7). */
#define HUB_BUS_STREAM_FILTER "$iothub/streams/POST/#"

enum hub_bus_kind {
    HUB_BUS_TO,
    HUB_BUS_KICK,
    HUB_BUS_SYNC,
    HUB_BUS_FROM,
    HUB_BUS_CONNECTED,
    HUB_BUS_SUBSCRIBED,
    HUB_BUS_UNSUBSCRIBED,
    HUB_BUS_DISCONNECTED,
    HUB_BUS_REFUSED,
};

struct hub_bus_topic {
    enum hub_bus_kind kind;
    char *cid;         /* decoded; NULL for HUB_BUS_SYNC */
    const char *inner; /* for TO and FROM: points into the parsed topic; else NULL */
};

/* Formats a topic of `kind` for cid (NULL for SYNC) and, for TO and FROM, the inner topic.
 * *out: new string. */
ih_result hub_bus_format(enum hub_bus_kind kind, const char *cid, const char *inner, char **out);

/* Parses a `$hub/...` topic. inner keeps pointing into topic, which must outlive the result. */
ih_result hub_bus_parse(const char *topic, struct hub_bus_topic *out);
void hub_bus_topic_free(struct hub_bus_topic *t);

#endif
