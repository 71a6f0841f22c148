/* The device agent's MQTT connection to the hub (docs/protocol.md §2.1-2.2): MQTT 3.1.1 over TLS
 * with libmosquitto, as the Azure SDKs connect: client id = device id (or device/module), user name
 * HOST/ID/?api-version=..., a device SAS token as the password, clean session off. It subscribes at
 * QoS 0 to $iothub/streams/POST/# and $iothub/streams/res/# (rule 7), to $iothub/methods/POST/#
 * when it takes method calls (rule D3), to $iothub/twin/res/# and
 * $iothub/twin/PATCH/properties/desired/# when it keeps its twin (rules D5-D8), and at QoS 1 to
 * devices/{id}/messages/devicebound/# when it takes cloud-to-device messages (rule D13), on every
 * connection, reconnects with backoff, and renews its SAS token before it expires by reconnecting
 * with a new one. */
#ifndef IH_MQTT_LINK_H
#define IH_MQTT_LINK_H

#include "protocol/twin_topic.h"

#include <stddef.h>

struct mqtt_link;

struct mqtt_link_options {
    const char *host;                  /* the hub's host name: the SAS audience and the user name */
    const char *connect_host;          /* where to connect: HostName, or GatewayHostName */
    int port;                          /* 8883 unless told otherwise */
    const char *device_id, *module_id; /* module_id NULL for a device */
    const char *key;                   /* base64 device key; NULL when a fixed token is given */
    const char *fixed_token;           /* SharedAccessSignature=... from the connection string */
    const char *ca_file;               /* NULL for the system's CAs */
    int sas_ttl_s;                     /* lifetime of each token made from the key */
    /* A stream request arrived (on the MQTT thread; return quickly). */
    void (*on_request)(void *ctx, const char *topic);
    /* A method call arrived (on the MQTT thread; return quickly). NULL: the device takes none,
     * and does not subscribe to them. */
    void (*on_method)(void *ctx, const char *topic, const void *payload, size_t len);
    /* A twin answer or a desired notification arrived, any topic under $iothub/twin/ (on the
     * MQTT thread; return quickly). NULL: the device keeps no twin, and does not subscribe. */
    void (*on_twin)(void *ctx, const char *topic, const void *payload, size_t len);
    /* A cloud-to-device message arrived, any topic under devices/ (on the MQTT thread; return
     * quickly); libmosquitto acknowledges it (PUBACK). NULL: the device takes none, and does not
     * subscribe; a module never subscribes (it has none, rule D17). */
    void (*on_c2d)(void *ctx, const char *topic, const void *payload, size_t len);
    /* The subscriptions are granted (after every connect; on the MQTT thread). */
    void (*on_listening)(void *ctx);
    void *ctx;
};

/* Starts the connection thread. Returns 0, or -1 with err. */
int mqtt_link_start(const struct mqtt_link_options *o, struct mqtt_link **out, char *err,
                    size_t err_len);

/* Publishes the device's answer to a stream request (QoS 0, empty payload, docs/protocol.md
 * rule 9); any thread. Returns 0, or -1 when it could not be sent (not connected). */
int mqtt_link_answer(struct mqtt_link *link, const char *rid, int status);

/* Publishes the device's answer to a method call (QoS 0, body: JSON or empty, docs/protocol.md
 * rule D4); any thread. While the connection is down it waits, as stream answers do. Returns 0,
 * or -1 when it cannot be sent (too many waiting, or a $rid that cannot go back in a topic). */
int mqtt_link_answer_method(struct mqtt_link *link, const char *rid, int status, const char *body,
                            size_t len);

/* Sends a twin request (QoS 0): IH_TWIN_GET (rule D5, body ignored by the hub) or
 * IH_TWIN_PATCH_REPORTED, a reported properties PATCH whose body is a JSON object (rule D6); the
 * answer comes to on_twin with this $rid (printable ASCII without `/ & = % + #` or space). Any
 * thread. Returns 0, or -1 when the connection is down (it is not queued: the next connection's
 * subscriptions would come after it) or rid cannot go in a topic. */
int mqtt_link_twin_request(struct mqtt_link *link, enum ih_twin_op op, const char *rid,
                           const char *body, size_t len);

/* Blocks until the link gives up for good (the hub refused the credentials); returns the
 * reason in err. */
void mqtt_link_wait_fatal(struct mqtt_link *link, char *err, size_t err_len);

#endif
