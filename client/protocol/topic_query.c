#include "topic_query.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

ih_result ih_topic_check(const char *topic, size_t len, const char *prefix, struct ih_diag *diag)
{
    if (len > IH_TOPIC_MAX_LEN)
        return ih_fail(diag, IH_ERR_TOO_LONG, "topic longer than %d bytes", IH_TOPIC_MAX_LEN);
    size_t plen = strlen(prefix);
    if (len < plen || strncasecmp(topic, prefix, plen) != 0)
        return ih_fail(diag, IH_ERR_SYNTAX, "the topic does not start with %s", prefix);
    /* MQTT topic names never hold U+0000; values cut short at one would be read two ways
     * (found by fuzzing). */
    if (memchr(topic, '\0', len) != NULL)
        return ih_fail(diag, IH_ERR_SYNTAX, "the topic holds a NUL byte");
    return IH_OK;
}

ih_result ih_topic_find_rid(const char *level, size_t len, char **rid)
{
    const char *p = level, *end = level + len;
    if (p < end && *p == '?')
        p++;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp != NULL ? amp : end;
        if ((size_t)(pair_end - p) > 5 && memcmp(p, "$rid=", 5) == 0) {
            *rid = strndup(p + 5, (size_t)(pair_end - p - 5));
            return *rid != NULL ? IH_OK : IH_ERR_NOMEM;
        }
        p = amp != NULL ? amp + 1 : end;
    }
    return IH_ERR_MISSING;
}

ih_result ih_topic_answer_split(const char *topic, size_t len, const char *prefix,
                                struct ih_topic_answer *out, struct ih_diag *diag)
{
    ih_result r = ih_topic_check(topic, len, prefix, diag);
    if (r != IH_OK)
        return r;
    const char *rest = topic + strlen(prefix), *end = topic + len;
    const char *slash = memchr(rest, '/', (size_t)(end - rest));
    out->status = rest;
    out->status_len = (size_t)((slash != NULL ? slash : end) - rest);
    out->query = slash != NULL ? slash + 1 : end;
    out->query_len = (size_t)(end - out->query);
    return IH_OK;
}

ih_result ih_topic_answer_rid(const struct ih_topic_answer *a, char **rid, struct ih_diag *diag)
{
    ih_result r = ih_topic_find_rid(a->query, a->query_len, rid);
    return r == IH_ERR_MISSING ? ih_fail(diag, r, "the answer has no $rid") : r;
}
