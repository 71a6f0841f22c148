/* The MQTT topics of device streams (docs/protocol.md §2.3, §2.4, rules 8 and 9).
 *
 *   hub -> device: $iothub/streams/POST/{name}/?$rid={rid}&$url={encoded wss url}&$auth={token}
 *   device -> hub: $iothub/streams/res/{status}/?$rid={rid}
 */
#ifndef IH_STREAMS_TOPIC_H
#define IH_STREAMS_TOPIC_H

#include "result.h"
#include "topic_query.h"

#include <stddef.h>

#define IH_STREAM_NAME_MAX 256
#define IH_STREAM_TOKEN_MAX 1024
#define IH_STREAM_URL_MAX 1024
/* Every device answer to a stream request starts with it. */
#define IH_STREAMS_RES_PREFIX "$iothub/streams/res/"

struct ih_stream_request {
    char *name;
    char *rid; /* NULL when the topic has no $rid (the C SDK does not require one) */
    char *url; /* decoded */
    char *auth;
};

struct ih_stream_response {
    int status; /* 200 accepts, 400 rejects; any 2xx counts as accepted */
    char *rid;
};

/* A stream name must be non-empty printable UTF-8 of at most IH_STREAM_NAME_MAX bytes with none
 * of `/ ? # +`: it is one topic level, and `+`/`#` are MQTT wildcards (docs/protocol.md rule 8). */
ih_result ih_stream_name_check(const char *name, size_t len, struct ih_diag *diag);

/* `$rid` and `$auth` values: non-empty, at most IH_STREAM_TOKEN_MAX printable ASCII characters,
 * none of `/ & = %` (docs/protocol.md rule 8), `+ #` (MQTT wildcards are not allowed in a topic
 * name) or space. */
ih_result ih_stream_token_check(const char *token, struct ih_diag *diag);

/* Formats the request topic; url (printable ASCII) is percent-encoded completely here.
 * *out: new string. */
ih_result ih_topic_format_stream_request(const char *name, const char *rid, const char *url,
                                         const char *auth, char **out, struct ih_diag *diag);

/* Parses a request topic with the C device SDK's rules (docs/protocol.md §2.3), so anything it
 * accepts the C SDK accepts too:
 * - the prefix `$iothub/streams/POST/` matches case-insensitively;
 * - the topic splits on `/` with empty levels dropped into 4 or 5 levels; level 3 is the name;
 * - level 4 loses one leading `?`, then splits on `&`; an empty pair, a pair that does not split
 *   on `=` (empty parts dropped) into exactly two parts, or a repeated key fails the whole topic;
 * - `$rid`, `$url`, `$auth` match case-sensitively, others are ignored; only `$url` is decoded,
 *   with the C SDK's strict decoder; `$url` and `$auth` are required.
 * A topic with 4 levels has no properties: the C SDK would pass its application a NULL url, and
 * this parser reports IH_ERR_MISSING instead. */
ih_result ih_topic_parse_stream_request(const char *topic, size_t len,
                                        struct ih_stream_request *out, struct ih_diag *diag);
void ih_stream_request_free(struct ih_stream_request *req);

/* `$iothub/streams/res/{status}/?$rid={rid}`; status in 100..599. */
ih_result ih_topic_format_stream_response(int status, const char *rid, char **out);

/* Parses a device's answer leniently: the prefix matches case-insensitively, status is a number
 * 0..999, unknown properties (`$ct`, `$ce`) and malformed pairs are ignored; `$rid` is required. */
ih_result ih_topic_parse_stream_response(const char *topic, size_t len,
                                         struct ih_stream_response *out, struct ih_diag *diag);
void ih_stream_response_free(struct ih_stream_response *res);

/* Rule 9: any 2xx accepts. */
int ih_stream_response_accepted(int status);

#endif
