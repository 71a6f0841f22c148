/* What a device may do on the broker: subscribe under $iothub/streams/, publish its answers under
 * $iothub/streams/res/, and receive nothing by a regular delivery (stream requests come by the
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

/* 1 when a device subscribing to filter receives every stream request, whatever its name
 * (docs/protocol.md rule 7: the SDKs use $iothub/streams/POST/#; $iothub/streams/# and
 * $iothub/streams/POST/+/+ do too). A filter for one stream name does not count. */
int mqtt_filter_covers_stream_requests(const char *filter);

#endif
