/* The device's reading of the topic a cloud-to-device message arrives on (docs/protocol.md §12.4,
 * rule D13):
 *
 *   devices/{device id}/messages/devicebound/{property bag}
 *
 * The hub writes the bag as `&`-separated `key=value` pairs, each key and value percent-encoded:
 * `%24.mid`, `%24.to`, `%24.cid`, `%24.uid`, `%24.ct`, `%24.ce`, `iothub-ack`, then the
 * application properties. A device reads it leniently, as the SDKs do: this is the reader; the
 * hub's writer is c2d_topic.h. */
#ifndef IH_C2D_BAG_H
#define IH_C2D_BAG_H

#include "result.h"

#include <stddef.h>

#define IH_C2D_BAG_PREFIX "devices/"
#define IH_C2D_BAG_LEVELS "messages/devicebound"
/* Pairs in one bag, at most. */
#define IH_C2D_BAG_MAX_PAIRS 256

struct ih_c2d_bag_pair {
    char *name;  /* decoded, never NULL nor empty; a system property keeps its `$.` ("$.mid") */
    char *value; /* decoded, never NULL (may be empty) */
};

struct ih_c2d_bag {
    char *device_id;               /* the topic's level as it is (the hub sends it raw), never "" */
    struct ih_c2d_bag_pair *pairs; /* in the bag's order, duplicates kept; NULL when count is 0 */
    size_t count;
};

/* Parses a devicebound topic. `devices/` and `messages/devicebound` match exactly (MQTT topics
 * are case-sensitive); the bag is everything after `messages/devicebound/` (none when the topic
 * ends at `messages/devicebound` or `messages/devicebound/`), one trailing `/` dropped. The bag
 * splits on `&`; an item without `=` or with an empty key is skipped, as are empty items; an
 * item splits at its first `=`; keys and values are percent-decoded leniently (either hex case,
 * `+` kept, a `%` without two hex digits kept as it is, an escape that decodes to NUL kept as it
 * is, so no result holds a NUL). Decoded bytes are not checked for UTF-8. Topics of up to 65535
 * bytes, MQTT's limit, are read. IH_ERR_SYNTAX for another shape (an empty device id, no
 * `messages/devicebound`) or a NUL byte, IH_ERR_TOO_LONG past 65535 bytes or past
 * IH_C2D_BAG_MAX_PAIRS pairs. On failure *out is left empty (all NULL, count 0). */
ih_result ih_c2d_bag_parse(const char *topic, size_t len, struct ih_c2d_bag *out,
                           struct ih_diag *diag);
void ih_c2d_bag_free(struct ih_c2d_bag *bag);

/* The value of the first pair named name (decoded: "$.mid", "color"), or NULL. */
const char *ih_c2d_bag_get(const struct ih_c2d_bag *bag, const char *name);

#endif
