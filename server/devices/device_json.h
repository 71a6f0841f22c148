/* The device JSON of the registry API (docs/protocol.md §5): parsing a PUT body into a patch and
 * formatting a stored device. Sans-I/O, so it is unit-tested and fuzzed. */
#ifndef DEVICE_JSON_H
#define DEVICE_JSON_H

#include "registry.h"

#include "protocol/result.h"

#include <jansson.h>
#include <stddef.h>

/* What a PUT body asks for. A field the body leaves out keeps its current value on update; on
 * create the defaults apply: enabled, no reason, generated keys. Keys given as null or "" count as
 * left out (Node sends "" on create to ask for generated keys); statusReason null clears it. */
struct device_patch {
    int has_enabled, enabled;
    int has_status_reason, status_reason_is_null;
    char status_reason[STATUS_REASON_SIZE];
    char primary_key[KEY_TEXT_MAX]; /* "" when not given */
    char secondary_key[KEY_TEXT_MAX];
    int has_iot_edge, iot_edge;
};

enum device_json_error {
    DEVICE_JSON_OK = 0,
    DEVICE_JSON_MALFORMED, /* not JSON, or not an object: the hub's IotHubFormatError */
    DEVICE_JSON_INVALID,   /* JSON, but a field is wrong: ArgumentInvalid */
    DEVICE_JSON_NOMEM,
};

/* Parses body for the device whose id is in the URL; a deviceId in the body must equal it. The
 * caller bounds len (the main endpoint takes at most REST_MAX_BODY bytes). */
enum device_json_error device_json_parse(const char *body, size_t len, const char *path_id,
                                         struct device_patch *out, struct ih_diag *diag);

/* Applies a patch to d (a stored device, or a zeroed one with defaults for a create). */
void device_patch_apply(const struct device_patch *p, struct device *d);

/* The device as the hub returns it; a new reference (caller decrefs), NULL on allocation failure.
 */
json_t *device_json_object(const struct device *d);

#endif
