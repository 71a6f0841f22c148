/* What a device may do on the broker (docs/protocol.md rules D11 and D15): subscribe under
 * $iothub/streams/ and $iothub/methods/POST/, publish its answers under $iothub/streams/res/ and
 * $iothub/methods/res/, and receive nothing by a regular delivery (the hub's requests come by the
 * plugin's direct delivery). Never anything under $hub/, the hub's private topics. Pure functions,
 * used by the mosquitto plugin's ACL callback. */
#ifndef MQTT_ACL_H
#define MQTT_ACL_H

/* The access values of mosquitto's ACL event (MOSQ_ACL_READ ... in mosquitto.h). */
enum mqtt_access {
    MQTT_ACCESS_READ = 1,
    MQTT_ACCESS_WRITE = 2,
    MQTT_ACCESS_SUBSCRIBE = 4,
    MQTT_ACCESS_UNSUBSCRIBE = 8,
};

/* 1 when a device may do access on topic (a topic name, or a filter for (un)subscribe). A
 * device's will message is published with the same WRITE check, and delivered only to readers. */
int mqtt_acl_device_allows(int access, const char *topic);

/* The hub_listen bit of the requests a device subscribing to filter receives, all of them
 * whatever their name (docs/protocol.md rules 7 and D2: the SDKs use $iothub/streams/POST/# and
 * $iothub/methods/POST/#; $iothub/streams/# and $iothub/methods/POST/+/+ do too), or 0. A filter
 * for one name does not count. */
unsigned mqtt_filter_listens(const char *filter);

#endif
