/* The MQTT topics of device twins (docs/protocol.md §12.2, rules D5-D8).
 *
 *   device -> hub: $iothub/twin/GET/?$rid={rid}
 *                  $iothub/twin/PATCH/properties/reported/?$rid={rid}
 *   hub -> device: $iothub/twin/res/{status}/?$rid={rid}[&$version={n}]
 *                  $iothub/twin/PATCH/properties/desired/?$version={n}
 */
#ifndef IH_TWIN_TOPIC_H
#define IH_TWIN_TOPIC_H

#include "result.h"
#include "topic_query.h"

#include <stddef.h>

#define IH_TWIN_PREFIX "$iothub/twin/"
#define IH_TWIN_RES_FILTER "$iothub/twin/res/#"
#define IH_TWIN_DESIRED_FILTER "$iothub/twin/PATCH/properties/desired/#"
#define IH_TWIN_GET_PREFIX "$iothub/twin/GET/"
#define IH_TWIN_REPORTED_PREFIX "$iothub/twin/PATCH/properties/reported/"
#define IH_TWIN_RES_PREFIX "$iothub/twin/res/"
#define IH_TWIN_DESIRED_PREFIX "$iothub/twin/PATCH/properties/desired/"
/* A `$rid` the hub echoes: the device chose it (a packet id, a GUID, a word). */
#define IH_TWIN_RID_MAX 128

enum ih_twin_op {
    IH_TWIN_GET,
    IH_TWIN_PATCH_REPORTED,
};

struct ih_twin_request {
    enum ih_twin_op op;
    char rid[IH_TWIN_RID_MAX + 1]; /* exactly as sent, to be echoed byte for byte (rule D6) */
};

/* A device's twin request: the operation's prefix exactly, then `?$rid=`; the `$rid` runs to
 * the next `&` or the end, and is at most IH_TWIN_RID_MAX bytes. */
ih_result ih_topic_parse_twin_request(const char *topic, size_t len, struct ih_twin_request *out,
                                      struct ih_diag *diag);

/* Rules D5-D7: `$rid` first, then `$version` when version >= 0. *out: new string. */
ih_result ih_topic_format_twin_response(int status, const char *rid, long long version, char **out);

/* Rule D8. *out: new string. */
ih_result ih_topic_format_twin_desired(long long version, char **out);

/* ---- the device's side ---- */

/* Rules D5 and D6: `$iothub/twin/GET/?$rid={rid}` or
 * `$iothub/twin/PATCH/properties/reported/?$rid={rid}`. rid: 1 to IH_TWIN_RID_MAX bytes of
 * printable ASCII without `/ & = % + #` or space, so that the hub's answer brings it back as it
 * went. *out: new string. */
ih_result ih_topic_format_twin_request(enum ih_twin_op op, const char *rid, char **out,
                                       struct ih_diag *diag);

/* The hub's answer to a device's twin request (rules D5-D7). */
struct ih_twin_response {
    int status;                    /* 200 (GET), 204 (reported PATCH), or a 4xx or 5xx */
    char rid[IH_TWIN_RID_MAX + 1]; /* as the hub echoed it */
    long long version;             /* `$version` (a 204's new reported version); -1 when absent */
};

/* The device's reading of `$iothub/twin/res/{status}/?$rid={rid}[&$version={n}]`, lenient as
 * the SDKs: the prefix matches case-insensitively, the status is a decimal number up to 999,
 * the query's pairs come in any order and unknown or malformed ones are ignored. `$rid` is
 * required (the first one counts, at most IH_TWIN_RID_MAX bytes); a `$version`, when present,
 * must be a decimal number. */
ih_result ih_topic_parse_twin_response(const char *topic, size_t len, struct ih_twin_response *out,
                                       struct ih_diag *diag);

/* Rule D8: the version of `$iothub/twin/PATCH/properties/desired/?$version={n}`, read as
 * leniently; `$version` is required. */
ih_result ih_topic_parse_twin_desired(const char *topic, size_t len, long long *version,
                                      struct ih_diag *diag);

#endif
