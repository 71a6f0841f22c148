/* What the $iothub request and answer topics share (docs/protocol.md §2.3, rule D3): the bound on a
 * topic's length, its prefix matched the C SDK's way, and the `$rid` of its query level. Used by
 * streams_topic.c and methods_topic.c. */
#ifndef IH_TOPIC_QUERY_H
#define IH_TOPIC_QUERY_H

#include "result.h"

#include <stddef.h>

#define IH_TOPIC_MAX_LEN 4096

/* The topic is at most IH_TOPIC_MAX_LEN bytes, holds no NUL, and starts with prefix, matched
 * case-insensitively as the C SDK does. */
ih_result ih_topic_check(const char *topic, size_t len, const char *prefix, struct ih_diag *diag);

/* Finds `$rid=` among the `&`-separated pairs of a query level (one leading `?` skipped),
 * skipping anything malformed; *rid: a new string. IH_ERR_MISSING when there is none. */
ih_result ih_topic_find_rid(const char *level, size_t len, char **rid);

/* An answer topic, {prefix}{status}/{query} (docs/protocol.md rules 9 and D4): checked as
 * ih_topic_check does, split into its status level (not read here) and the query after it
 * (empty when there is none). */
struct ih_topic_answer {
    const char *status, *query; /* point into the topic */
    size_t status_len, query_len;
};

ih_result ih_topic_answer_split(const char *topic, size_t len, const char *prefix,
                                struct ih_topic_answer *out, struct ih_diag *diag);

/* The answer's `$rid` (ih_topic_find_rid); IH_ERR_MISSING says "the answer has no $rid". */
ih_result ih_topic_answer_rid(const struct ih_topic_answer *a, char **rid, struct ih_diag *diag);

#endif
