/* A twin's state and the rules that change it, sans I/O (docs/protocol.md §12.2, rules D5-D9):
 * tags, desired and reported properties with their `$metadata` and `$version`, and the twin's
 * version and etag. Kept as one JSON document, stored as text by the registry:
 *
 *   {"tags":{}, "desired":{}, "reported":{}, "desiredVersion":1, "reportedVersion":1,
 *    "desiredMetadata":{"$lastUpdated":..,"$lastUpdatedVersion":1}, "reportedMetadata":{..},
 *    "version":2, "etag":1}
 *
 * A metadata tree mirrors its section: every object level has `$lastUpdated` (desired ones also
 * `$lastUpdatedVersion`), and a member's node sits under the member's name. */
#ifndef TWIN_DOC_H
#define TWIN_DOC_H

#include <jansson.h>

#include <stddef.h>

/* Rule D9's limits. */
#define TWIN_KEY_MAX 1024
#define TWIN_STRING_MAX 4096
#define TWIN_DEPTH_MAX 10
#define TWIN_INTEGER_MAX 4503599627370495LL /* 2^52 - 1 */
#define TWIN_TAGS_MAX 8192
#define TWIN_PROPERTIES_MAX 32768

enum twin_error {
    TWIN_OK,
    TWIN_INVALID, /* 400 400004: reason says why */
    TWIN_FORMAT,  /* 400 400006: not JSON, or not an object */
    TWIN_NOMEM,
};

/* The document from its stored text; a new twin, last updated at now, when text is NULL. NULL
 * when out of memory or the text is not a twin document (reason says so). */
json_t *twin_doc_load(const char *text, const char *now, char *reason, size_t cap);
/* The text to store; NULL when out of memory. */
char *twin_doc_dump(const json_t *doc);

/* Rule D6: merges the device's reported patch (len bytes of JSON) at time now. */
enum twin_error twin_doc_patch_reported(json_t *doc, const char *patch, size_t len, const char *now,
                                        char *reason, size_t cap);

/* Rule D9: the service's PATCH (replace 0) or PUT (replace 1) body: only `tags` and
 * `properties.desired` count. *notify gets the desired notification's body (rule D8: the patch
 * with `$version`) when desired properties changed, else NULL; the caller frees it. */
enum twin_error twin_doc_update(json_t *doc, const char *body, size_t len, int replace,
                                const char *now, json_t **notify, char *reason, size_t cap);

long long twin_doc_number(const json_t *doc, const char *field); /* "version", "etag", ... */

/* Rule D5: {"desired":{…,"$version":n},"reported":{…,"$version":m}}, no $metadata. */
json_t *twin_doc_device_view(const json_t *doc);
/* Rule D9: {"desired":{…,"$metadata":…,"$version":n},"reported":{…}} for the service's twin. */
json_t *twin_doc_properties_view(const json_t *doc);
/* The tags object (a new reference). */
json_t *twin_doc_tags(const json_t *doc);

/* The twin's etag as the hub writes it: base64 of the 64-bit big-endian counter
 * ("AAAAAAAAAAE=" is 1). */
void twin_etag_text(long long etag, char out[16]);

#endif
