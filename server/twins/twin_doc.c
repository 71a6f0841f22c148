#include "twin_doc.h"

#include "protocol/base64.h"
#include "protocol/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the document ---- */

static const char *const sections[] = {"tags", "desired", "reported", "desiredMetadata",
                                       "reportedMetadata"};

json_t *twin_doc_load(const char *text, const char *now, char *reason, size_t cap)
{
    if (text == NULL)
        return json_pack("{s:{}, s:{}, s:{}, s:I, s:I, s:{s:s, s:I}, s:{s:s}, s:I, s:I}", "tags",
                         "desired", "reported", "desiredVersion", (json_int_t)1, "reportedVersion",
                         (json_int_t)1, "desiredMetadata", "$lastUpdated", now,
                         "$lastUpdatedVersion", (json_int_t)1, "reportedMetadata", "$lastUpdated",
                         now, "version", (json_int_t)2, "etag", (json_int_t)1);
    json_error_t error;
    json_t *doc = json_loads(text, 0, &error);
    for (size_t i = 0; doc != NULL && i < sizeof sections / sizeof sections[0]; i++) {
        if (!json_is_object(json_object_get(doc, sections[i]))) {
            json_decref(doc);
            doc = NULL;
        }
    }
    if (doc == NULL)
        snprintf(reason, cap, "the stored twin document is damaged");
    return doc;
}

char *twin_doc_dump(const json_t *doc)
{
    return json_dumps(doc, JSON_COMPACT);
}

long long twin_doc_number(const json_t *doc, const char *field)
{
    return (long long)json_integer_value(json_object_get(doc, field));
}

static void bump(json_t *doc, const char *field)
{
    json_object_set_new(doc, field, json_integer(twin_doc_number(doc, field) + 1));
}

/* ---- rule D9's limits ---- */

static int key_is_valid(const char *key)
{
    size_t len = strlen(key);
    if (len == 0 || len > TWIN_KEY_MAX || !ih_utf8_is_printable(key, len))
        return 0;
    for (const char *c = key; *c != '\0'; c++) {
        if (*c == '.' || *c == '$' || *c == ' ' || (unsigned char)*c == 0x7f)
            return 0;
    }
    return 1;
}

/* `$metadata` and `$version` in a patch are the hub's own, and ignored. */
static int is_ignored_key(const char *key)
{
    return strcmp(key, "$metadata") == 0 || strcmp(key, "$version") == 0;
}

static int check_value(json_t *v, int depth, char *reason, size_t cap);

static int check_object(json_t *obj, int depth, char *reason, size_t cap)
{
    if (depth > TWIN_DEPTH_MAX) {
        snprintf(reason, cap, "objects nest deeper than %d levels", TWIN_DEPTH_MAX);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (is_ignored_key(key))
            continue;
        if (!key_is_valid(key)) {
            snprintf(reason, cap,
                     "the key '%.60s' is invalid: keys are 1 to %d bytes without '.', '$', "
                     "spaces or control characters",
                     key, TWIN_KEY_MAX);
            return -1;
        }
        if (check_value(v, depth, reason, cap) != 0)
            return -1;
    }
    return 0;
}

static int check_value(json_t *v, int depth, char *reason, size_t cap)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return check_object(v, depth + 1, reason, cap);
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (check_value(e, depth, reason, cap) != 0)
                return -1;
        }
        return 0;
    }
    case JSON_STRING:
        if (json_string_length(v) <= TWIN_STRING_MAX)
            return 0;
        snprintf(reason, cap, "a string is longer than %d bytes", TWIN_STRING_MAX);
        return -1;
    case JSON_INTEGER:
        if (json_integer_value(v) <= TWIN_INTEGER_MAX && json_integer_value(v) >= -TWIN_INTEGER_MAX)
            return 0;
        snprintf(reason, cap, "an integer is outside -%lld..%lld", TWIN_INTEGER_MAX,
                 TWIN_INTEGER_MAX);
        return -1;
    default:
        return 0;
    }
}

/* The size rule D9 counts: key lengths plus values (strings by characters, numbers 8,
 * booleans 4), $-keys left out. */
static size_t size_of(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = 0;
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child)
        {
            if (key[0] != '$')
                n += ih_utf8_length(key, strlen(key)) + size_of(child);
        }
        return n;
    }
    case JSON_ARRAY: {
        size_t n = 0, i;
        json_t *e;
        json_array_foreach(v, i, e) n += size_of(e);
        return n;
    }
    case JSON_STRING:
        return ih_utf8_length(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
    case JSON_REAL:
        return 8;
    case JSON_TRUE:
    case JSON_FALSE:
        return 4;
    default:
        return 0;
    }
}

static int check_size(json_t *doc, const char *section, size_t max, char *reason, size_t cap)
{
    size_t n = size_of(json_object_get(doc, section));
    if (n <= max)
        return 0;
    snprintf(reason, cap, "the %s would take %zu bytes, more than the %zu allowed", section, n,
             max);
    return -1;
}

/* ---- merging ---- */

static void stamp(json_t *meta, const char *now, long long version)
{
    json_object_set_new(meta, "$lastUpdated", json_string(now));
    if (version > 0)
        json_object_set_new(meta, "$lastUpdatedVersion", json_integer(version));
}

/* The metadata of a value written whole at now. */
static json_t *meta_for(json_t *value, const char *now, long long version)
{
    json_t *meta = json_object();
    stamp(meta, now, version);
    const char *key;
    json_t *child;
    if (json_is_object(value)) {
        json_object_foreach(value, key, child)
            json_object_set_new(meta, key, meta_for(child, now, version));
    }
    return meta;
}

/* A patch's value as stored: inside a new object, nulls and $-keys mean nothing. */
static json_t *stored_copy(json_t *v)
{
    if (!json_is_object(v))
        return json_deep_copy(v);
    json_t *copy = json_object();
    const char *key;
    json_t *child;
    json_object_foreach(v, key, child)
    {
        if (!json_is_null(child) && key[0] != '$')
            json_object_set_new(copy, key, stored_copy(child));
    }
    return copy;
}

/* Rule D6's merge: members replace members, objects merge, null deletes, arrays are values.
 * meta (NULL for tags) follows the section; version > 0 for desired. */
static void merge(json_t *section, json_t *meta, json_t *patch, const char *now, long long version)
{
    const char *key;
    json_t *v;
    json_object_foreach(patch, key, v)
    {
        if (key[0] == '$')
            continue;
        json_t *current = json_object_get(section, key);
        if (json_is_null(v)) {
            json_object_del(section, key);
            if (meta != NULL)
                json_object_del(meta, key);
        } else if (json_is_object(v) && json_is_object(current)) {
            json_t *child_meta = meta != NULL ? json_object_get(meta, key) : NULL;
            if (meta != NULL && !json_is_object(child_meta)) {
                child_meta = json_object();
                json_object_set_new(meta, key, child_meta);
            }
            merge(current, child_meta, v, now, version);
        } else {
            json_object_set_new(section, key, stored_copy(v));
            if (meta != NULL)
                json_object_set_new(meta, key, meta_for(v, now, version));
        }
    }
    if (meta != NULL)
        stamp(meta, now, version);
}

/* The body as an object. NULL with *e: TWIN_FORMAT when it is not JSON or not an object,
 * TWIN_INVALID for an integer past 64 bits (valid JSON, past rule D9's bound). */
static json_t *parse_object(const char *text, size_t len, enum twin_error *e, char *reason,
                            size_t cap)
{
    json_error_t error;
    json_t *v = json_loadb(text != NULL ? text : "", len, JSON_DECODE_ANY, &error);
    if (json_is_object(v))
        return v;
    *e = TWIN_FORMAT;
    if (v == NULL && json_error_code(&error) == json_error_numeric_overflow) {
        *e = TWIN_INVALID;
        snprintf(reason, cap, "an integer is outside -%lld..%lld", TWIN_INTEGER_MAX,
                 TWIN_INTEGER_MAX);
    } else if (v == NULL) {
        snprintf(reason, cap, "the body is not JSON: %s", error.text);
    } else {
        snprintf(reason, cap, "the body must be a JSON object");
    }
    json_decref(v);
    return NULL;
}

enum twin_error twin_doc_patch_reported(json_t *doc, const char *patch, size_t len, const char *now,
                                        char *reason, size_t cap)
{
    enum twin_error e = TWIN_OK;
    json_t *p = parse_object(patch, len, &e, reason, cap);
    if (p == NULL)
        return TWIN_INVALID; /* rule D7: the device gets 400 400004 */
    enum twin_error r = TWIN_INVALID;
    if (check_object(p, 0, reason, cap) == 0) {
        merge(json_object_get(doc, "reported"), json_object_get(doc, "reportedMetadata"), p, now,
              0);
        if (check_size(doc, "reported", TWIN_PROPERTIES_MAX, reason, cap) == 0) {
            bump(doc, "reportedVersion");
            bump(doc, "version");
            bump(doc, "etag");
            r = TWIN_OK;
        }
    }
    json_decref(p);
    return r;
}

/* ---- the service's update ---- */

/* A member that must be an object or absent (NULL); null counts as absent for a PATCH and as
 * empty for a PUT. */
static int member_object(json_t *parent, const char *key, json_t **out, char *reason, size_t cap)
{
    json_t *v = json_object_get(parent, key);
    *out = json_is_object(v) ? v : NULL;
    if (v == NULL || json_is_null(v) || json_is_object(v))
        return 0;
    snprintf(reason, cap, "%s must be a JSON object", key);
    return -1;
}

/* PUT's notification: the new desired section, with null for each member it no longer has, so
 * that a device merging it ends with the same section (rule D8's tolerant reading). */
static json_t *replacement_notice(json_t *old, json_t *replacement)
{
    json_t *notice = json_deep_copy(replacement);
    const char *key;
    json_t *v;
    json_object_foreach(old, key, v)
    {
        if (json_object_get(replacement, key) == NULL)
            json_object_set_new(notice, key, json_null());
    }
    return notice;
}

static void replace_desired(json_t *doc, json_t *desired, const char *now, json_t **notice)
{
    long long version = twin_doc_number(doc, "desiredVersion") + 1;
    json_t *fresh = desired != NULL ? stored_copy(desired) : json_object();
    *notice = replacement_notice(json_object_get(doc, "desired"), fresh);
    json_object_set_new(doc, "desiredMetadata", meta_for(fresh, now, version));
    json_object_set_new(doc, "desired", fresh);
}

static void apply_desired(json_t *doc, json_t *desired, int replace, const char *now,
                          json_t **notify)
{
    long long version = twin_doc_number(doc, "desiredVersion") + 1;
    json_t *notice = NULL;
    if (replace) {
        replace_desired(doc, desired, now, &notice);
    } else {
        merge(json_object_get(doc, "desired"), json_object_get(doc, "desiredMetadata"), desired,
              now, version);
        notice = json_deep_copy(desired); /* nulls kept: they delete on the device too */
        json_object_del(notice, "$metadata");
    }
    json_object_set_new(doc, "desiredVersion", json_integer(version));
    json_object_set_new(notice, "$version", json_integer(version));
    *notify = notice;
}

static void apply_tags(json_t *doc, json_t *tags, int replace)
{
    if (replace)
        json_object_set_new(doc, "tags", tags != NULL ? stored_copy(tags) : json_object());
    else
        merge(json_object_get(doc, "tags"), NULL, tags, NULL, 0);
}

enum twin_error twin_doc_update(json_t *doc, const char *body, size_t len, int replace,
                                const char *now, json_t **notify, char *reason, size_t cap)
{
    *notify = NULL;
    enum twin_error e = TWIN_OK;
    json_t *b = parse_object(body, len, &e, reason, cap);
    if (b == NULL)
        return e;
    json_t *tags = NULL, *properties = NULL, *desired = NULL;
    enum twin_error r = TWIN_INVALID;
    if (member_object(b, "tags", &tags, reason, cap) != 0 ||
        member_object(b, "properties", &properties, reason, cap) != 0 ||
        (properties != NULL && member_object(properties, "desired", &desired, reason, cap) != 0) ||
        (tags != NULL && check_object(tags, 0, reason, cap) != 0) ||
        (desired != NULL && check_object(desired, 0, reason, cap) != 0))
        goto done;
    if (replace || tags != NULL)
        apply_tags(doc, tags, replace);
    if (replace || desired != NULL)
        apply_desired(doc, desired, replace, now, notify);
    if (check_size(doc, "tags", TWIN_TAGS_MAX, reason, cap) != 0 ||
        check_size(doc, "desired", TWIN_PROPERTIES_MAX, reason, cap) != 0) {
        json_decref(*notify);
        *notify = NULL;
        goto done;
    }
    if (replace || tags != NULL || desired != NULL) {
        bump(doc, "version");
        bump(doc, "etag");
    }
    r = TWIN_OK;
done:
    json_decref(b);
    return r;
}

/* ---- views ---- */

static json_t *section_view(const json_t *doc, const char *section, const char *meta,
                            const char *version)
{
    json_t *view = json_deep_copy(json_object_get(doc, section));
    if (meta != NULL)
        json_object_set(view, "$metadata", json_object_get(doc, meta));
    json_object_set_new(view, "$version", json_integer(twin_doc_number(doc, version)));
    return view;
}

json_t *twin_doc_device_view(const json_t *doc)
{
    return json_pack("{s:o, s:o}", "desired", section_view(doc, "desired", NULL, "desiredVersion"),
                     "reported", section_view(doc, "reported", NULL, "reportedVersion"));
}

json_t *twin_doc_properties_view(const json_t *doc)
{
    return json_pack("{s:o, s:o}", "desired",
                     section_view(doc, "desired", "desiredMetadata", "desiredVersion"), "reported",
                     section_view(doc, "reported", "reportedMetadata", "reportedVersion"));
}

json_t *twin_doc_tags(const json_t *doc)
{
    return json_deep_copy(json_object_get(doc, "tags"));
}

void twin_etag_text(long long etag, char out[16])
{
    unsigned char be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)((unsigned long long)etag >> (56 - 8 * i));
    char *text = NULL;
    if (ih_base64_encode(be, sizeof be, &text) == IH_OK && strlen(text) < 16)
        snprintf(out, 16, "%s", text);
    else
        snprintf(out, 16, "AAAAAAAAAAA=");
    free(text);
}
