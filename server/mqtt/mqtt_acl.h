/* What a device may do on the broker (docs/protocol.md rules D11 and D15): subscribe under
 * $iothub/streams/, $iothub/methods/POST/, $iothub/twin/res/ and
 * $iothub/twin/PATCH/properties/desired/; publish its answers under $iothub/streams/res/ and
 * $iothub/methods/res/, its twin requests under $iothub/twin/GET/ and
 * $iothub/twin/PATCH/properties/reported/, and its own telemetry; and receive nothing by a regular
 * delivery (the hub's messages come by the plugin's direct delivery). Never anything under $hub/,
 * the hub's private topics. Pure functions, used by the mosquitto plugin's ACL callback. */
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

struct ih_telemetry_topic;

/* mqtt_acl_device_allows, and for cid (a device id, or device/module) its own telemetry topics
 * (docs/protocol.md rule D10) and, for a device, its own cloud-to-device filters under
 * devices/{id}/messages/devicebound/ (rule D13): another identity's are refused. */
int mqtt_acl_client_allows(int access, const char *topic, const char *cid);

/* Whether the telemetry topic (t: topic parsed) names cid itself, its ids raw or decoded. */
int mqtt_telemetry_topic_is_own(const char *topic, const struct ih_telemetry_topic *t,
                                const char *cid);

/* The hub_listen bit of the requests client cid subscribing to filter receives, all of them
 * whatever their name (docs/protocol.md rules 7 and D2: the SDKs use $iothub/streams/POST/# and
 * $iothub/methods/POST/#; $iothub/streams/# and $iothub/methods/POST/+/+ do too), or 0. A filter
 * for one name does not count. C2D (rule D13) is a device's own devicebound filter. */
unsigned mqtt_filter_listens(const char *filter, const char *cid);

#endif
