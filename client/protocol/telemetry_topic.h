/* The topics of device-to-cloud telemetry (docs/protocol.md §12.3, rules D10-D11):
 *
 *   devices/{device id}/messages/events/{property bag}
 *   devices/{device id}/modules/{module id}/messages/events/{property bag}
 *
 * The property bag is what every SDK writes its own way: `&`-separated `key=value` pairs,
 * percent-encoded by Node, C# and Python, raw in the C SDK (values may hold `/`, `=` and
 * spaces). It is read leniently, as rule D10 says. */
#ifndef IH_TELEMETRY_TOPIC_H
#define IH_TELEMETRY_TOPIC_H

#include "result.h"

#include <stddef.h>

#define IH_TELEMETRY_PREFIX "devices/"
/* Properties in one bag, at most. */
#define IH_TELEMETRY_MAX_PROPERTIES 256

struct ih_property {
    char *name;  /* decoded, never NULL; for a system property without its `$.` */
    char *value; /* decoded; NULL for a key without `=` */
    int system;  /* the wire key started with `$.` (or `%24.`) */
};

struct ih_telemetry_topic {
    /* The topic's level, percent-decoded leniently (Python encodes it), never empty. A raw `%XX`
     * in an id (IoT Hub ids may hold `%`) reads decoded too, so an ACL compares the identity with
     * the raw level first, then with this. */
    char *device_id;
    char *module_id;                /* NULL for a device's own telemetry; never empty */
    struct ih_property *properties; /* in the bag's order; NULL when count is 0 */
    size_t count;
};

/* Parses a telemetry topic. The levels `devices/`, `modules/` and `messages/events` match
 * exactly (MQTT topics are case-sensitive). The bag is everything after `messages/events/`; a
 * topic that ends at `messages/events` or `messages/events/` has an empty bag. One trailing `/`
 * is dropped (C# and Node's output events end a bag with it), so a raw C SDK value that ends in
 * `/` loses it. The rest splits on `&`, empty items are skipped, each item splits at its first
 * `=` (a key without `=` has a NULL value; `=v` has an empty name), and keys and values are
 * percent-decoded leniently (either hex case, `+` kept, a `%` without two hex digits kept as it
 * is; an escape that decodes to NUL is kept as it is, so no result holds a NUL). A decoded key
 * starting with `$.` is a system property, known or not. Properties keep the bag's order,
 * duplicates included; decoded bytes are not checked for UTF-8. Topics of up to 65535 bytes,
 * MQTT's limit, are read. IH_ERR_SYNTAX when the topic has another shape (an empty id, a
 * missing `messages/events`) or holds a NUL byte, IH_ERR_TOO_LONG past 65535 bytes or past
 * IH_TELEMETRY_MAX_PROPERTIES properties. On failure *out is left empty (all NULL, count 0). */
ih_result ih_topic_parse_telemetry(const char *topic, size_t len, struct ih_telemetry_topic *out,
                                   struct ih_diag *diag);
void ih_telemetry_topic_free(struct ih_telemetry_topic *t);

/* Whether a topic is a telemetry topic at all (its shape, not its bag): for an ACL check. 1 exactly
 * when ih_topic_parse_telemetry would succeed but for its bag's size (IH_ERR_TOO_LONG past
 * IH_TELEMETRY_MAX_PROPERTIES properties) or a failed allocation. */
int ih_topic_is_telemetry(const char *topic, size_t len);

#endif
