#include "twin_topic.h"

#include "number.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rid_key[] = "?$rid=";

ih_result ih_topic_parse_twin_request(const char *topic, size_t len, struct ih_twin_request *out,
                                      struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    ih_result r = ih_topic_check(topic, len, IH_TWIN_PREFIX, diag);
    if (r != IH_OK)
        return r;
    size_t skip;
    if (len >= strlen(IH_TWIN_GET_PREFIX) &&
        memcmp(topic, IH_TWIN_GET_PREFIX, strlen(IH_TWIN_GET_PREFIX)) == 0) {
        out->op = IH_TWIN_GET;
        skip = strlen(IH_TWIN_GET_PREFIX);
    } else if (len >= strlen(IH_TWIN_REPORTED_PREFIX) &&
               memcmp(topic, IH_TWIN_REPORTED_PREFIX, strlen(IH_TWIN_REPORTED_PREFIX)) == 0) {
        out->op = IH_TWIN_PATCH_REPORTED;
        skip = strlen(IH_TWIN_REPORTED_PREFIX);
    } else {
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "a device's twin request is " IH_TWIN_GET_PREFIX
                       " or " IH_TWIN_REPORTED_PREFIX);
    }
    const char *query = topic + skip, *end = topic + len;
    size_t key = sizeof rid_key - 1;
    if ((size_t)(end - query) < key || memcmp(query, rid_key, key) != 0)
        return ih_fail(diag, IH_ERR_MISSING, "the request has no ?$rid=");
    const char *rid = query + key;
    const char *amp = memchr(rid, '&', (size_t)(end - rid));
    size_t rid_len = (size_t)((amp != NULL ? amp : end) - rid);
    if (rid_len == 0)
        return ih_fail(diag, IH_ERR_MISSING, "the request's $rid is empty");
    if (rid_len > IH_TWIN_RID_MAX)
        return ih_fail(diag, IH_ERR_TOO_LONG, "$rid is longer than %d bytes", IH_TWIN_RID_MAX);
    memcpy(out->rid, rid, rid_len);
    out->rid[rid_len] = '\0';
    return IH_OK;
}

ih_result ih_topic_format_twin_response(int status, const char *rid, long long version, char **out)
{
    size_t n = strlen(IH_TWIN_RES_PREFIX) + strlen(rid) + 64;
    char *topic = malloc(n);
    if (topic == NULL)
        return IH_ERR_NOMEM;
    if (version >= 0)
        snprintf(topic, n, "%s%d/?$rid=%s&$version=%lld", IH_TWIN_RES_PREFIX, status, rid, version);
    else
        snprintf(topic, n, "%s%d/?$rid=%s", IH_TWIN_RES_PREFIX, status, rid);
    *out = topic;
    return IH_OK;
}

ih_result ih_topic_format_twin_desired(long long version, char **out)
{
    char *topic = malloc(sizeof IH_TWIN_DESIRED_PREFIX + 32);
    if (topic == NULL)
        return IH_ERR_NOMEM;
    snprintf(topic, sizeof IH_TWIN_DESIRED_PREFIX + 32, "%s?$version=%lld", IH_TWIN_DESIRED_PREFIX,
             version);
    *out = topic;
    return IH_OK;
}

/* ---- the device's side ---- */

static int twin_rid_is_plain(const char *rid)
{
    size_t len = strlen(rid);
    if (len == 0 || len > IH_TWIN_RID_MAX)
        return 0;
    for (const char *c = rid; *c != '\0'; c++) {
        unsigned char u = (unsigned char)*c;
        if (u <= 0x20 || u >= 0x7f || strchr("/&=%+#", u) != NULL)
            return 0;
    }
    return 1;
}

ih_result ih_topic_format_twin_request(enum ih_twin_op op, const char *rid, char **out,
                                       struct ih_diag *diag)
{
    if (!twin_rid_is_plain(rid))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "$rid must be 1 to %d bytes of printable ASCII without / & = %% + # or "
                       "space",
                       IH_TWIN_RID_MAX);
    const char *prefix = op == IH_TWIN_GET ? IH_TWIN_GET_PREFIX : IH_TWIN_REPORTED_PREFIX;
    size_t n = strlen(prefix) + sizeof rid_key + strlen(rid);
    char *topic = malloc(n);
    if (topic == NULL)
        return IH_ERR_NOMEM;
    snprintf(topic, n, "%s%s%s", prefix, rid_key, rid);
    *out = topic;
    return IH_OK;
}

/* The value of the first `key=` pair of a query level (one leading `?` skipped); NULL when
 * there is none. */
static const char *query_value(const char *level, const char *end, const char *key,
                               size_t *value_len)
{
    size_t key_len = strlen(key);
    const char *p = level < end && *level == '?' ? level + 1 : level;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp != NULL ? amp : end;
        if ((size_t)(pair_end - p) > key_len && memcmp(p, key, key_len) == 0 && p[key_len] == '=') {
            *value_len = (size_t)(pair_end - p - key_len - 1);
            return p + key_len + 1;
        }
        p = amp != NULL ? amp + 1 : end;
    }
    return NULL;
}

/* `$version` of a query level: -1 when absent. */
static ih_result query_version(const char *level, const char *end, long long *version,
                               struct ih_diag *diag)
{
    size_t len = 0;
    const char *value = query_value(level, end, "$version", &len);
    uint64_t v = 0;
    *version = -1;
    if (value == NULL)
        return IH_OK;
    if (ih_parse_uint_n(value, len, (uint64_t)LLONG_MAX, &v) != IH_OK)
        return ih_fail(diag, IH_ERR_SYNTAX, "$version is not a decimal number");
    *version = (long long)v;
    return IH_OK;
}

ih_result ih_topic_parse_twin_response(const char *topic, size_t len, struct ih_twin_response *out,
                                       struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    out->version = -1;
    ih_result r = ih_topic_check(topic, len, IH_TWIN_RES_PREFIX, diag);
    if (r != IH_OK)
        return r;
    const char *status = topic + strlen(IH_TWIN_RES_PREFIX), *end = topic + len;
    const char *slash = memchr(status, '/', (size_t)(end - status));
    uint64_t code = 0;
    if (ih_parse_uint_n(status, (size_t)((slash != NULL ? slash : end) - status), 999, &code) !=
        IH_OK)
        return ih_fail(diag, IH_ERR_SYNTAX, "the status level is not a number up to 999");
    out->status = (int)code;
    size_t rid_len = 0;
    const char *rid = slash != NULL ? query_value(slash + 1, end, "$rid", &rid_len) : NULL;
    if (rid == NULL || rid_len == 0)
        return ih_fail(diag, IH_ERR_MISSING, "the answer has no $rid");
    if (rid_len > IH_TWIN_RID_MAX)
        return ih_fail(diag, IH_ERR_TOO_LONG, "$rid is longer than %d bytes", IH_TWIN_RID_MAX);
    memcpy(out->rid, rid, rid_len);
    out->rid[rid_len] = '\0';
    return query_version(slash + 1, end, &out->version, diag);
}

ih_result ih_topic_parse_twin_desired(const char *topic, size_t len, long long *version,
                                      struct ih_diag *diag)
{
    *version = -1;
    ih_result r = ih_topic_check(topic, len, IH_TWIN_DESIRED_PREFIX, diag);
    if (r != IH_OK)
        return r;
    const char *query = topic + strlen(IH_TWIN_DESIRED_PREFIX), *end = topic + len;
    r = query_version(query, end, version, diag);
    if (r == IH_OK && *version < 0)
        return ih_fail(diag, IH_ERR_MISSING, "the notification has no $version");
    return r;
}
