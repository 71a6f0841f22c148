/* The MQTT topics of direct methods (docs/protocol.md §12.1, rules D3 and D4).
 *
 *   hub -> device: $iothub/methods/POST/{method name}/?$rid={rid}
 *   device -> hub: $iothub/methods/res/{status}/?$rid={rid}
 */
#ifndef IH_METHODS_TOPIC_H
#define IH_METHODS_TOPIC_H

#include "result.h"
#include "topic_query.h"

#include <stddef.h>

/* A method name takes one topic level of a topic at most IH_TOPIC_MAX_LEN long. */
#define IH_METHOD_NAME_MAX 1024
/* The filter a device subscribes to for method calls, and the prefix of every call. */
#define IH_METHODS_FILTER "$iothub/methods/POST/#"
#define IH_METHODS_POST_PREFIX "$iothub/methods/POST/"
/* Every device answer to a method call starts with it. */
#define IH_METHODS_RES_PREFIX "$iothub/methods/res/"

/* Rule D1: the name is forwarded as sent; refused are only names that cannot be one MQTT topic
 * level: empty, longer than IH_METHOD_NAME_MAX, not printable UTF-8, or holding `/ + #`. */
ih_result ih_method_name_check(const char *name, size_t len, struct ih_diag *diag);

/* Rule D3: `$rid` is the only query key, so the C and C# SDKs, which take all that follows
 * `?$rid=`, read it exactly. rid: printable ASCII without `/ & = % + #` or space. */
ih_result ih_topic_format_method_request(const char *name, const char *rid, char **out,
                                         struct ih_diag *diag);

struct ih_method_request {
    char *name;
    char *rid; /* everything after `?$rid=`, as the C SDK reads it */
};

/* The device's reading: level 3 is the name, level 4 must start with `?$rid=`. */
ih_result ih_topic_parse_method_request(const char *topic, size_t len,
                                        struct ih_method_request *out, struct ih_diag *diag);
void ih_method_request_free(struct ih_method_request *req);

/* Rule D4: `$iothub/methods/res/{status}/?$rid={rid}`. */
ih_result ih_topic_format_method_response(int status, const char *rid, char **out);

struct ih_method_response {
    int status; /* any 32-bit integer the device chose */
    char *rid;
};

/* The hub's reading, lenient: the prefix matches case-insensitively, the status is a decimal
 * int32 (a sign allowed), other query keys are ignored; `$rid` is required. */
ih_result ih_topic_parse_method_response(const char *topic, size_t len,
                                         struct ih_method_response *out, struct ih_diag *diag);
void ih_method_response_free(struct ih_method_response *res);

#endif
