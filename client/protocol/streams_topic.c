#include "streams_topic.h"

#include "number.h"

#include "percent.h"
#include "topic_query.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char request_prefix[] = "$iothub/streams/POST/";
static const char response_prefix[] = "$iothub/streams/res/";

/* A slice of the topic being parsed. */
struct span {
    const char *p;
    size_t len;
};

/* Splits [p, p+len) on sep, dropping empty parts, like the C SDK's StringToken_Split with
 * include_empty=false. Returns the number of parts, stopping at max + 1. */
static size_t split_nonempty(const char *p, size_t len, char sep, struct span *parts, size_t max)
{
    size_t count = 0;
    const char *end = p + len;
    while (p < end && count <= max) {
        const char *next = memchr(p, sep, (size_t)(end - p));
        const char *part_end = next != NULL ? next : end;
        if (part_end > p) {
            if (count < max)
                parts[count] = (struct span){p, (size_t)(part_end - p)};
            count++;
        }
        p = next != NULL ? next + 1 : end;
    }
    return count;
}

/* 1 when any byte of [p, p+len) is in set; p need not be NUL-terminated. */
static int has_any_of(const char *p, size_t len, const char *set)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '\0' && strchr(set, p[i]) != NULL)
            return 1;
    }
    return 0;
}

static int span_equals(struct span s, const char *lit)
{
    return strlen(lit) == s.len && memcmp(s.p, lit, s.len) == 0;
}

ih_result ih_stream_name_check(const char *name, size_t len, struct ih_diag *diag)
{
    if (len == 0)
        return ih_fail(diag, IH_ERR_MISSING, "the stream name is empty");
    if (len > IH_STREAM_NAME_MAX)
        return ih_fail(diag, IH_ERR_TOO_LONG, "the stream name is longer than %d bytes",
                       IH_STREAM_NAME_MAX);
    if (!ih_utf8_is_printable(name, len))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "the stream name is not printable UTF-8 (control characters or bad bytes)");
    if (has_any_of(name, len, "/?#+"))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "the stream name may not contain '/', '?', '#' or '+': it is one MQTT topic "
                       "level");
    return IH_OK;
}

ih_result ih_stream_token_check(const char *token, struct ih_diag *diag)
{
    size_t len = strlen(token);
    if (len == 0)
        return ih_fail(diag, IH_ERR_MISSING, "empty $rid or $auth");
    if (len > IH_STREAM_TOKEN_MAX)
        return ih_fail(diag, IH_ERR_TOO_LONG, "$rid or $auth longer than %d characters",
                       IH_STREAM_TOKEN_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)token[i];
        if (c <= 0x20 || c >= 0x7f || strchr("/&=%+#", c) != NULL)
            return ih_fail(diag, IH_ERR_SYNTAX,
                           "$rid and $auth may hold only printable ASCII without / & = %% + # or "
                           "space");
    }
    return IH_OK;
}

ih_result ih_topic_format_stream_request(const char *name, const char *rid, const char *url,
                                         const char *auth, char **out, struct ih_diag *diag)
{
    ih_result r = ih_stream_name_check(name, strlen(name), diag);
    if (r == IH_OK)
        r = ih_stream_token_check(rid, diag);
    if (r == IH_OK)
        r = ih_stream_token_check(auth, diag);
    if (r != IH_OK)
        return r;
    if (strlen(url) > IH_STREAM_URL_MAX)
        return ih_fail(diag, IH_ERR_TOO_LONG, "the stream URL is longer than %d characters",
                       IH_STREAM_URL_MAX);
    /* The C SDK's decoder takes escapes of ASCII only (%00-%7F). */
    for (const char *c = url; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
            return ih_fail(diag, IH_ERR_SYNTAX,
                           "the stream URL must be printable ASCII without spaces");
    }
    char *encoded_url = NULL;
    r = ih_pct_encode(url, strlen(url), &encoded_url);
    if (r != IH_OK)
        return r;
    size_t n = strlen(request_prefix) + strlen(name) + strlen(rid) + strlen(encoded_url) +
               strlen(auth) + 32;
    char *topic = malloc(n);
    if (topic != NULL) {
        snprintf(topic, n, "%s%s/?$rid=%s&$url=%s&$auth=%s", request_prefix, name, rid, encoded_url,
                 auth);
        *out = topic;
    }
    free(encoded_url);
    return topic != NULL ? IH_OK : IH_ERR_NOMEM;
}

/* The C SDK's URL_Decode (azure-c-shared-utility urlencode.c): only `! ( ) * - . _` and
 * alphanumerics may appear raw, and an escape must be %XX with a first digit 0-7 (ASCII only). */
static ih_result c_sdk_url_decode(struct span in, char **out)
{
    char *buf = malloc(in.len + 1);
    if (buf == NULL)
        return IH_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.p[i];
        if (c == '%') {
            if (in.len - i < 3 || ih_hex_value(in.p[i + 1]) < 0 || ih_hex_value(in.p[i + 1]) > 7 ||
                ih_hex_value(in.p[i + 2]) < 0)
                goto fail;
            c = (char)(ih_hex_value(in.p[i + 1]) * 16 + ih_hex_value(in.p[i + 2]));
            if (c == 0)
                goto fail;
            i += 2;
        } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     strchr("!()*-._", c) != NULL)) {
            goto fail;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    *out = buf;
    return IH_OK;
fail:
    free(buf);
    return IH_ERR_SYNTAX;
}

#define MAX_PROPERTIES 16

/* One `key=value` pair of the property level, split the C SDK's way. */
static ih_result split_pair(struct span pair, struct span *key, struct span *value,
                            struct ih_diag *diag)
{
    struct span kv[3];
    if (split_nonempty(pair.p, pair.len, '=', kv, 2) != 2)
        return ih_fail(diag, IH_ERR_SYNTAX, "property '%.*s' does not split into key=value",
                       (int)(pair.len > 40 ? 40 : pair.len), pair.p);
    *key = kv[0];
    *value = kv[1];
    return IH_OK;
}

/* Walks the `&`-separated pairs; an empty pair fails the level (StringToken_Split on NULL). */
static ih_result collect_pairs(struct span level, struct span *keys, struct span *values,
                               size_t *count, struct ih_diag *diag)
{
    if (level.len > 0 && level.p[0] == '?') {
        level.p++;
        level.len--;
    }
    const char *p = level.p, *end = level.p + level.len;
    *count = 0;
    for (;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        struct span pair = {p, (size_t)((amp != NULL ? amp : end) - p)};
        if (pair.len == 0)
            return ih_fail(diag, IH_ERR_SYNTAX, "empty property in the topic");
        if (*count == MAX_PROPERTIES)
            return ih_fail(diag, IH_ERR_TOO_LONG, "more than %d properties", MAX_PROPERTIES);
        ih_result r = split_pair(pair, &keys[*count], &values[*count], diag);
        if (r != IH_OK)
            return r;
        for (size_t i = 0; i < *count; i++) {
            if (keys[i].len == keys[*count].len &&
                memcmp(keys[i].p, keys[*count].p, keys[i].len) == 0)
                return ih_fail(diag, IH_ERR_DUPLICATE, "property %.*s appears twice",
                               (int)keys[i].len, keys[i].p);
        }
        (*count)++;
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return IH_OK;
}

static ih_result copy_span(struct span s, char **out)
{
    *out = strndup(s.p, s.len);
    return *out == NULL ? IH_ERR_NOMEM : IH_OK;
}

static ih_result read_request_properties(struct span level, struct ih_stream_request *req,
                                         struct ih_diag *diag)
{
    struct span keys[MAX_PROPERTIES], values[MAX_PROPERTIES];
    size_t count = 0;
    ih_result r = collect_pairs(level, keys, values, &count, diag);
    for (size_t i = 0; i < count && r == IH_OK; i++) {
        if (span_equals(keys[i], "$rid"))
            r = copy_span(values[i], &req->rid);
        else if (span_equals(keys[i], "$auth"))
            r = copy_span(values[i], &req->auth);
        else if (span_equals(keys[i], "$url") &&
                 (r = c_sdk_url_decode(values[i], &req->url)) == IH_ERR_SYNTAX)
            return ih_fail(diag, r, "$url is not URL-encoded the way the C SDK decodes it");
    }
    if (r != IH_OK)
        return r;
    if (req->url == NULL || req->auth == NULL)
        return ih_fail(diag, IH_ERR_MISSING, "the topic lacks %s",
                       req->url == NULL ? "$url" : "$auth");
    return IH_OK;
}

ih_result ih_topic_parse_stream_request(const char *topic, size_t len,
                                        struct ih_stream_request *out, struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    ih_result r = ih_topic_check(topic, len, request_prefix, diag);
    if (r != IH_OK)
        return r;
    struct span levels[5];
    size_t n = split_nonempty(topic, len, '/', levels, 5);
    if (n < 4 || n > 5)
        return ih_fail(diag, IH_ERR_SYNTAX, "a stream request topic has 4 or 5 levels, not %zu", n);
    if (n == 4)
        return ih_fail(diag, IH_ERR_MISSING,
                       "the topic has no property level, so no $url and no $auth");
    r = copy_span(levels[3], &out->name);
    if (r == IH_OK)
        r = read_request_properties(levels[4], out, diag);
    if (r != IH_OK)
        ih_stream_request_free(out);
    return r;
}

void ih_stream_request_free(struct ih_stream_request *req)
{
    free(req->name);
    free(req->rid);
    free(req->url);
    free(req->auth);
    memset(req, 0, sizeof *req);
}

ih_result ih_topic_format_stream_response(int status, const char *rid, char **out)
{
    if (status < 100 || status > 599 || ih_stream_token_check(rid, NULL) != IH_OK)
        return IH_ERR_SYNTAX;
    size_t n = strlen(response_prefix) + strlen(rid) + 16;
    char *topic = malloc(n);
    if (topic == NULL)
        return IH_ERR_NOMEM;
    snprintf(topic, n, "%s%d/?$rid=%s", response_prefix, status, rid);
    *out = topic;
    return IH_OK;
}

static ih_result parse_status(struct span s, int *status)
{
    uint64_t v = 0;
    if (s.len > 3 || ih_parse_uint_n(s.p, s.len, 999, &v) != IH_OK)
        return IH_ERR_SYNTAX;
    *status = (int)v;
    return IH_OK;
}

ih_result ih_topic_parse_stream_response(const char *topic, size_t len,
                                         struct ih_stream_response *out, struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    struct ih_topic_answer a;
    ih_result r = ih_topic_answer_split(topic, len, response_prefix, &a, diag);
    if (r != IH_OK)
        return r;
    if (parse_status((struct span){a.status, a.status_len}, &out->status) != IH_OK)
        return ih_fail(diag, IH_ERR_SYNTAX, "the status level is not a number");
    return ih_topic_answer_rid(&a, &out->rid, diag);
}

void ih_stream_response_free(struct ih_stream_response *res)
{
    free(res->rid);
    memset(res, 0, sizeof *res);
}

int ih_stream_response_accepted(int status)
{
    return status >= 200 && status <= 299;
}
