#include "methods_topic.h"

#include "number.h"
#include "utf8.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rid_key[] = "?$rid=";

ih_result ih_method_name_check(const char *name, size_t len, struct ih_diag *diag)
{
    if (len == 0)
        return ih_fail(diag, IH_ERR_MISSING, "the method name is empty");
    if (len > IH_METHOD_NAME_MAX)
        return ih_fail(diag, IH_ERR_TOO_LONG, "the method name is longer than %d bytes",
                       IH_METHOD_NAME_MAX);
    if (!ih_utf8_is_printable(name, len))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "the method name is not printable UTF-8 (control characters or bad bytes)");
    if (memchr(name, '/', len) != NULL || memchr(name, '+', len) != NULL ||
        memchr(name, '#', len) != NULL)
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "the method name may not contain '/', '+' or '#': it is one MQTT topic "
                       "level");
    return IH_OK;
}

static int rid_is_plain(const char *rid)
{
    if (rid[0] == '\0')
        return 0;
    for (const char *c = rid; *c != '\0'; c++) {
        unsigned char u = (unsigned char)*c;
        if (u <= 0x20 || u >= 0x7f || strchr("/&=%+#", u) != NULL)
            return 0;
    }
    return 1;
}

/* prefix + level + "/?$rid=" + rid, as a new string. */
static ih_result format_topic(const char *prefix, const char *level, const char *rid, char **out)
{
    size_t n = strlen(prefix) + strlen(level) + strlen(rid) + sizeof "/?$rid=";
    char *topic = malloc(n);
    if (topic == NULL)
        return IH_ERR_NOMEM;
    snprintf(topic, n, "%s%s/?$rid=%s", prefix, level, rid);
    *out = topic;
    return IH_OK;
}

ih_result ih_topic_format_method_request(const char *name, const char *rid, char **out,
                                         struct ih_diag *diag)
{
    ih_result r = ih_method_name_check(name, strlen(name), diag);
    if (r != IH_OK)
        return r;
    if (!rid_is_plain(rid))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "$rid must be printable ASCII without / & = %% + # or space");
    return format_topic(IH_METHODS_POST_PREFIX, name, rid, out);
}

ih_result ih_topic_parse_method_request(const char *topic, size_t len,
                                        struct ih_method_request *out, struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    ih_result r = ih_topic_check(topic, len, IH_METHODS_POST_PREFIX, diag);
    if (r != IH_OK)
        return r;
    const char *name = topic + strlen(IH_METHODS_POST_PREFIX), *end = topic + len;
    const char *slash = memchr(name, '/', (size_t)(end - name));
    size_t rid_len = sizeof rid_key - 1;
    if (slash == NULL || slash == name || (size_t)(end - slash - 1) <= rid_len ||
        memcmp(slash + 1, rid_key, rid_len) != 0)
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "a method request is $iothub/methods/POST/{name}/?$rid={rid}");
    out->name = strndup(name, (size_t)(slash - name));
    out->rid = strndup(slash + 1 + rid_len, (size_t)(end - slash - 1 - rid_len));
    if (out->name == NULL || out->rid == NULL) {
        ih_method_request_free(out);
        return IH_ERR_NOMEM;
    }
    return IH_OK;
}

void ih_method_request_free(struct ih_method_request *req)
{
    free(req->name);
    free(req->rid);
    memset(req, 0, sizeof *req);
}

ih_result ih_topic_format_method_response(int status, const char *rid, char **out)
{
    if (!rid_is_plain(rid))
        return IH_ERR_SYNTAX;
    char number[16];
    snprintf(number, sizeof number, "%d", status);
    return format_topic(IH_METHODS_RES_PREFIX, number, rid, out);
}

/* A decimal int32 with an optional sign. */
static ih_result parse_status(const char *p, size_t len, int *status)
{
    int negative = len > 0 && p[0] == '-';
    size_t sign = len > 0 && (p[0] == '-' || p[0] == '+');
    uint64_t v = 0;
    if (ih_parse_uint_n(p + sign, len - sign, (uint64_t)INT_MAX + (uint64_t)negative, &v) != IH_OK)
        return IH_ERR_SYNTAX;
    *status = negative ? (int)(-(int64_t)v) : (int)v;
    return IH_OK;
}

ih_result ih_topic_parse_method_response(const char *topic, size_t len,
                                         struct ih_method_response *out, struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    struct ih_topic_answer a;
    ih_result r = ih_topic_answer_split(topic, len, IH_METHODS_RES_PREFIX, &a, diag);
    if (r != IH_OK)
        return r;
    if (parse_status(a.status, a.status_len, &out->status) != IH_OK)
        return ih_fail(diag, IH_ERR_SYNTAX, "the status level is not a 32-bit integer");
    return ih_topic_answer_rid(&a, &out->rid, diag);
}

void ih_method_response_free(struct ih_method_response *res)
{
    free(res->rid);
    memset(res, 0, sizeof *res);
}
