/* What the readers of the `devices/{id}/messages/…/{property bag}` topics share (docs/protocol.md
 * rules D10 and D13): a slice of the topic taken a piece at a time without copying, the checks
 * every such topic gets (MQTT's length bound, no NUL), and the bag's items, `&`-separated, each
 * split at its first `=` and percent-decoded leniently. Used by telemetry_topic.c (the hub reads
 * what a device sends) and c2d_bag.c (a device reads what the hub sends). Pure. */
#ifndef IH_PROPERTY_BAG_H
#define IH_PROPERTY_BAG_H

#include "result.h"

#include <stddef.h>

/* MQTT's bound on a topic name (a two-byte length). */
#define IH_BAG_TOPIC_MAX_LEN 65535

/* A slice of the topic being read. */
struct ih_span {
    const char *p;
    size_t len;
};

/* The topic is at most IH_BAG_TOPIC_MAX_LEN bytes and holds no NUL. */
ih_result ih_bag_topic_check(const char *topic, size_t len, struct ih_diag *diag);

/* Consumes lit from the front of *rest when it is there; 1 when it was. */
int ih_span_take_literal(struct ih_span *rest, const char *lit);

/* Consumes one non-empty topic level and the `/` that ends it; 1 when there was one. */
int ih_span_take_level(struct ih_span *rest, struct ih_span *level);

/* The bag that follows a topic's fixed levels: rest without its leading `/` and without one
 * trailing `/` (C# and Node end a bag with one); empty when there is none. */
struct ih_span ih_bag_of_rest(struct ih_span rest);

/* The next `&`-separated item of *rest (possibly empty), consumed with its `&`. */
struct ih_span ih_bag_next_item(struct ih_span *rest);

/* The items of bag that keep accepts. */
size_t ih_bag_count(struct ih_span bag, int (*keep)(struct ih_span item));

/* An item's key (before its first `=`, or all of it) into *name and its value into *value (NULL
 * when it has no `=`), both percent-decoded leniently (ih_pct_decode_lenient): new strings. */
ih_result ih_bag_decode_item(struct ih_span item, char **name, char **value);

#endif
