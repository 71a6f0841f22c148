/* The topic a cloud-to-device message reaches its device on (docs/protocol.md §12.4, rule D13):
 *
 *   devices/{device id}/messages/devicebound/{property bag}
 *
 * The bag is `&`-separated `key=value` pairs, each key and value percent-encoded, in the order
 * %24.mid, %24.to, %24.cid, %24.uid, %24.ct, %24.ce, iothub-ack, then the application properties.
 * %24.to is always there (C# reads the topic's fifth level, so the bag is never empty), a
 * property without a value is left out (Node would read it as "undefined"), and the topic never
 * ends with `/`. The device id stays raw, as in the hub's captured topics. */
#ifndef IH_C2D_TOPIC_H
#define IH_C2D_TOPIC_H

#include "result.h"

#include <stddef.h>

#define IH_C2D_FILTER_SUFFIX "/messages/devicebound/#"

struct ih_c2d_pair {
    const char *name;
    const char *value; /* NULL: left out */
};

/* The message's system properties; NULL or "" for one that is not set. */
struct ih_c2d_system {
    const char *message_id, *correlation_id, *user_id, *content_type, *content_encoding, *ack;
};

/* *out: a new string. IH_ERR_SYNTAX for an empty device id or an empty property name. */
ih_result ih_c2d_topic_format(const char *device_id, const struct ih_c2d_system *sys,
                              const struct ih_c2d_pair *props, size_t count, char **out);

#endif
