/* The private topics between the emulator ("the hub"), a privileged MQTT client of its broker,
 * and the emulator's plugin inside that broker. Devices can never publish or subscribe under
 * `$hub/` (the plugin's ACL), so only the hub and the plugin speak this grammar:
 *
 *   hub -> plugin  $hub/to/{cid}/{topic}          deliver {topic} to client {cid} only
 *                  $hub/kick/{device id}          disconnect the device and its modules
 *                  $hub/sync                      re-send the connected/subscribed events
 *   plugin -> hub  $hub/from/{cid}/{topic}        client {cid} published {topic}
 *                  $hub/from/{cid}/$stored/telemetry  client {cid}'s telemetry was stored;
 *                                                 payload: its sequence number
 *                  $hub/evt/connected/{cid}       payload: what the session listens for (a
 *                                                 resumed one may already), hub_bus_listens_text
 *                  $hub/evt/listens/{cid}         a (un)subscription changed that; payload: the
 *                                                 new value
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

/* The inner topic of a device publish the plugin stored itself (its telemetry). */
#define HUB_BUS_STORED_TELEMETRY "$stored/telemetry"

/* What a client's session listens for: the hub sends a feature's requests only to a client whose
 * session holds a filter that covers all of them (docs/protocol.md rules 7 and D2). A set of
 * bits. */
enum hub_listen {
    HUB_LISTEN_STREAMS = 1, /* $iothub/streams/POST/# */
    HUB_LISTEN_METHODS = 2, /* $iothub/methods/POST/# */
    HUB_LISTEN_TWIN = 4,    /* $iothub/twin/res/#: answers to its twin requests */
    HUB_LISTEN_DESIRED = 8, /* $iothub/twin/PATCH/properties/desired/# */
    HUB_LISTEN_C2D = 16,    /* devices/{own id}/messages/devicebound/# */
};

#define HUB_LISTENS_TEXT_SIZE 12
/* The set as an event's payload, in decimal. */
void hub_bus_listens_text(unsigned listens, char out[HUB_LISTENS_TEXT_SIZE]);
/* Reads it back; anything else is the empty set. */
unsigned hub_bus_listens_parse(const char *payload);

enum hub_bus_kind {
    HUB_BUS_TO,
    HUB_BUS_KICK,
    HUB_BUS_SYNC,
    HUB_BUS_FROM,
    HUB_BUS_CONNECTED,
    HUB_BUS_LISTENS,
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
