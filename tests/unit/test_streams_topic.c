/* Unit tests of protocol/streams_topic.[ch]: the $iothub/streams MQTT topics
 * (docs/protocol.md §2.3, §2.4, rules 8 and 9). */
#include "protocol/streams_topic.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL "wss://host:443/bridges/abc"
#define TOPIC                                                                                      \
    "$iothub/streams/POST/TestStream/?$rid=1&$url=wss%3A%2F%2Fhost%3A443%2Fbridges%2Fabc"          \
    "&$auth=tok-en_1.x"
/* The C SDK's unit test topic, quoted in docs/protocol.md §2.3. */
#define C_SDK_TOPIC                                                                                \
    "$iothub/streams/POST/TestStream/?$rid=1&$url=wss%3A%2F%2Fservername.streaming.private.azure-" \
    "devices-int.net%3A443%2Fbridges%2F3acd50143144f6b82e0f7299afe911bd"                           \
    "&$auth=ucHqFGN0o9Vh-ojlhELmXyTUol05iuAhigMckeI-vlb&$ip=111.222.333.444"
#define ENC_URL "wss%3A%2F%2Fh%3A1%2Fb"

/* ---- The C# device SDK's request-topic reading (docs/protocol.md §2.3), re-implemented. ---- */

struct csharp_request {
    char name[300];
    char rid[300];
    char url[1100];
    char auth[1100];
};

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Uri.UnescapeDataString, close enough: %XX decoded, anything else copied. */
static void unescape_data_string(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        if (in[i] == '%' && i + 2 < len && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
            out[n++] = (char)(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
            i += 2;
        } else {
            out[n++] = in[i];
        }
    }
    out[n] = '\0';
}

static void copy_bounded(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* MqttTopicName.Split('/') keeping empty tokens must give exactly 5; the prefix matches
 * case-insensitively; tokens[4] minus one leading '?' splits on '&', then each pair at its first
 * '='; $url is unescaped and must be an absolute URI; a missing $rid or $auth becomes "".
 * Returns 1 when the C# SDK would accept the topic, filling out. */
static int csharp_parses(const char *topic, struct csharp_request *out)
{
    memset(out, 0, sizeof *out);
    if (strncasecmp(topic, "$iothub/streams/POST/", 21) != 0)
        return 0;
    const char *tokens[6];
    size_t lens[6], count = 0;
    const char *p = topic;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (count == 6)
            return 0;
        tokens[count] = p;
        lens[count] = len;
        count++;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    if (count != 5)
        return 0;
    copy_bounded(out->name, sizeof out->name, tokens[3], lens[3]);
    const char *q = tokens[4], *end = tokens[4] + lens[4];
    if (q < end && *q == '?')
        q++;
    int have_url = 0;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(pair_end - q));
        const char *value = eq != NULL ? eq + 1 : pair_end;
        size_t key_len = (size_t)((eq != NULL ? eq : pair_end) - q);
        size_t value_len = (size_t)(pair_end - value);
        if (key_len == 4 && memcmp(q, "$rid", 4) == 0) {
            copy_bounded(out->rid, sizeof out->rid, value, value_len);
        } else if (key_len == 5 && memcmp(q, "$auth", 5) == 0) {
            copy_bounded(out->auth, sizeof out->auth, value, value_len);
        } else if (key_len == 4 && memcmp(q, "$url", 4) == 0) {
            unescape_data_string(value, value_len, out->url, sizeof out->url);
            have_url = 1;
        }
        q = amp != NULL ? amp + 1 : end;
    }
    /* new Uri(...): absolute, with a scheme. */
    return have_url && strstr(out->url, "://") != NULL;
}

static void check_csharp(const char *topic, const char *name, const char *rid, const char *url,
                         const char *auth)
{
    struct csharp_request cs;
    ck_assert_msg(csharp_parses(topic, &cs), "the C# rules refuse %s", topic);
    ck_assert_str_eq(cs.name, name);
    ck_assert_str_eq(cs.rid, rid);
    ck_assert_str_eq(cs.url, url);
    ck_assert_str_eq(cs.auth, auth);
}

/* ---- Helpers over the library. ---- */

static void parse_request_ok(const char *topic, struct ih_stream_request *req)
{
    struct ih_diag diag = {{0}};
    ih_result r = ih_topic_parse_stream_request(topic, strlen(topic), req, &diag);
    ck_assert_msg(r == IH_OK, "parse of %s: %s (%s)", topic, ih_result_name(r), diag.msg);
}

static void parse_request_fails(const char *topic, ih_result expected)
{
    struct ih_stream_request req;
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_topic_parse_stream_request(topic, strlen(topic), &req, &diag), expected);
    ck_assert_msg(diag.msg[0] != '\0', "no diag for %s", topic);
    ck_assert_ptr_null(req.name);
    ck_assert_ptr_null(req.rid);
    ck_assert_ptr_null(req.url);
    ck_assert_ptr_null(req.auth);
}

/* Builds `$iothub/streams/POST/s/?{props}` and parses it. */
static ih_result parse_props(const char *props, struct ih_stream_request *req)
{
    char topic[600];
    snprintf(topic, sizeof topic, "$iothub/streams/POST/s/?%s", props);
    return ih_topic_parse_stream_request(topic, strlen(topic), req, NULL);
}

static void props_fail(const char *props, ih_result expected)
{
    struct ih_stream_request req;
    ck_assert_msg(parse_props(props, &req) == expected, "'%s' did not give %s", props,
                  ih_result_name(expected));
    ck_assert_ptr_null(req.name);
}

static void format_request_fails(const char *name, const char *rid, const char *url,
                                 const char *auth, ih_result expected)
{
    char *topic = NULL;
    struct ih_diag diag = {{0}};
    ih_result r = ih_topic_format_stream_request(name, rid, url, auth, &topic, &diag);
    int produced = topic != NULL;
    free(topic);
    ck_assert_msg(r == expected, "format(name=%s, rid=%s, url=%s, auth=%s) gave %s, expected %s",
                  name, rid, url, auth, ih_result_name(r), ih_result_name(expected));
    ck_assert_msg(!produced, "a topic was produced on failure");
    ck_assert_msg(diag.msg[0] != '\0', "no diag");
}

/* ---- Request: format. ---- */

START_TEST(format_request_exact)
{
    char *topic = NULL;
    ck_assert_result(
        ih_topic_format_stream_request("TestStream", "1", URL, "tok-en_1.x", &topic, NULL), IH_OK);
    ck_assert_str_eq(topic, TOPIC);
    free(topic);
}
END_TEST

START_TEST(format_request_parses_back)
{
    char *topic = NULL;
    ck_assert_result(
        ih_topic_format_stream_request("TestStream", "1", URL, "tok-en_1.x", &topic, NULL), IH_OK);
    struct ih_stream_request req;
    parse_request_ok(topic, &req);
    ck_assert_str_eq(req.name, "TestStream");
    ck_assert_str_eq(req.rid, "1");
    ck_assert_str_eq(req.url, URL);
    ck_assert_str_eq(req.auth, "tok-en_1.x");
    ih_stream_request_free(&req);
    ck_assert_ptr_null(req.name);
    free(topic);
}
END_TEST

START_TEST(format_request_satisfies_csharp_rules)
{
    char *topic = NULL;
    ck_assert_result(
        ih_topic_format_stream_request("TestStream", "1", URL, "tok-en_1.x", &topic, NULL), IH_OK);
    check_csharp(topic, "TestStream", "1", URL, "tok-en_1.x");
    free(topic);
}
END_TEST

START_TEST(format_request_hard_urls_and_names)
{
    /* A URL with a query, a fragment and every delimiter; a UTF-8 name; a JWT-like auth. */
    static const struct {
        const char *name, *rid, *url, *auth;
    } cases[] = {
        {"TestStream", "0123456789abcdef", "wss://127.0.0.1:8443/bridges/abc?x=1&y=a/b#frag",
         "eyJhbGciOi.eyJzdWIi.Sfl-KxwRJ_adQ"},
        {"Str\xc3\xb6mung", "42", "wss://h.example:443/bridges/~user/%41+b%20c", "a"},
        {"name with spaces & = % $", "r", "wss://[::1]:443/bridges/x", "t"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *topic = NULL;
        ck_assert_result(ih_topic_format_stream_request(cases[i].name, cases[i].rid, cases[i].url,
                                                        cases[i].auth, &topic, NULL),
                         IH_OK);
        /* Five levels, nothing to trip MQTT: no wildcard, no raw delimiter after the name. */
        const char *props = strstr(topic, "/?");
        ck_assert_ptr_nonnull(props);
        ck_assert_ptr_null(strchr(props + 2, '/'));
        ck_assert_ptr_null(strchr(topic, '#'));
        ck_assert_ptr_null(strchr(topic, '+'));
        check_csharp(topic, cases[i].name, cases[i].rid, cases[i].url, cases[i].auth);
        struct ih_stream_request req;
        parse_request_ok(topic, &req);
        ck_assert_str_eq(req.name, cases[i].name);
        ck_assert_str_eq(req.rid, cases[i].rid);
        ck_assert_str_eq(req.url, cases[i].url);
        ck_assert_str_eq(req.auth, cases[i].auth);
        ih_stream_request_free(&req);
        free(topic);
    }
}
END_TEST

START_TEST(format_request_refuses_bad_names)
{
    format_request_fails("", "1", URL, "a", IH_ERR_MISSING);
    format_request_fails("a/b", "1", URL, "a", IH_ERR_SYNTAX);
    format_request_fails("a?b", "1", URL, "a", IH_ERR_SYNTAX);
    format_request_fails("a#", "1", URL, "a", IH_ERR_SYNTAX);
    format_request_fails("+", "1", URL, "a", IH_ERR_SYNTAX);
    format_request_fails("tab\there", "1", URL, "a", IH_ERR_SYNTAX);
    format_request_fails("del\x7f", "1", URL, "a", IH_ERR_SYNTAX);
    format_request_fails("bad\xc3", "1", URL, "a", IH_ERR_SYNTAX);
    char longname[IH_STREAM_NAME_MAX + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    format_request_fails(longname, "1", URL, "a", IH_ERR_TOO_LONG);
    longname[IH_STREAM_NAME_MAX] = '\0';
    char *topic = NULL;
    ck_assert_result(ih_topic_format_stream_request(longname, "1", URL, "a", &topic, NULL), IH_OK);
    free(topic);
}
END_TEST

START_TEST(format_request_refuses_bad_tokens)
{
    static const char *const bad[] = {"a/b",   "a&b", "a=b",      "a%b",  "a b",
                                      "abc==", "\t",  "\xc3\xa9", "a\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        format_request_fails("s", bad[i], URL, "a", IH_ERR_SYNTAX);
        format_request_fails("s", "1", URL, bad[i], IH_ERR_SYNTAX);
    }
    format_request_fails("s", "", URL, "a", IH_ERR_MISSING);
    format_request_fails("s", "1", URL, "", IH_ERR_MISSING);
    char long_token[IH_STREAM_TOKEN_MAX + 2];
    memset(long_token, 't', sizeof long_token - 1);
    long_token[sizeof long_token - 1] = '\0';
    format_request_fails("s", long_token, URL, "a", IH_ERR_TOO_LONG);
    format_request_fails("s", "1", URL, long_token, IH_ERR_TOO_LONG);
    char long_url[IH_STREAM_URL_MAX + 2];
    memset(long_url, 'u', sizeof long_url - 1);
    long_url[sizeof long_url - 1] = '\0';
    format_request_fails("s", "1", long_url, "a", IH_ERR_TOO_LONG);
}
END_TEST

START_TEST(format_request_refuses_mqtt_wildcards_in_tokens)
{
    /* MQTT 3.1.1 [MQTT-3.3.2-2]: a PUBLISH topic name holds no '+' or '#' anywhere; brokers
     * (mosquitto_pub_topic_check) refuse it. The name check refuses them for that reason; $rid
     * and $auth sit in the same topic, so they must be refused there too. */
    format_request_fails("s", "r+1", URL, "a", IH_ERR_SYNTAX);
    format_request_fails("s", "r#1", URL, "a", IH_ERR_SYNTAX);
    format_request_fails("s", "1", URL, "tok+en", IH_ERR_SYNTAX);
    format_request_fails("s", "1", URL, "tok#en", IH_ERR_SYNTAX);
}
END_TEST

START_TEST(format_request_output_parses_with_its_own_parser)
{
    /* Whatever the formatter accepts must survive the C SDK's rules, which
     * ih_topic_parse_stream_request implements: the C SDK's URL decoder refuses escapes above
     * %7F, so a URL with non-ASCII bytes must be refused when formatting. */
    char *topic = NULL;
    ih_result r =
        ih_topic_format_stream_request("s", "1", "wss://h:443/bridges/\xc3\xa9", "a", &topic, NULL);
    ih_result p = IH_OK;
    if (r == IH_OK) {
        struct ih_stream_request req;
        p = ih_topic_parse_stream_request(topic, strlen(topic), &req, NULL);
        if (p == IH_OK)
            ih_stream_request_free(&req);
        free(topic);
    }
    ck_assert_msg(p == IH_OK,
                  "formatted a topic with a non-ASCII $url that the C SDK rules refuse (%s)",
                  ih_result_name(p));
}
END_TEST

/* ---- Request: parse with the C SDK's rules. ---- */

START_TEST(parse_c_sdk_example)
{
    struct ih_stream_request req;
    parse_request_ok(C_SDK_TOPIC, &req);
    ck_assert_str_eq(req.name, "TestStream");
    ck_assert_str_eq(req.rid, "1");
    ck_assert_str_eq(req.url,
                     "wss://servername.streaming.private.azure-devices-int.net:443/bridges/"
                     "3acd50143144f6b82e0f7299afe911bd");
    ck_assert_str_eq(req.auth, "ucHqFGN0o9Vh-ojlhELmXyTUol05iuAhigMckeI-vlb");
    ih_stream_request_free(&req);
    check_csharp(C_SDK_TOPIC, "TestStream", "1",
                 "wss://servername.streaming.private.azure-devices-int.net:443/bridges/"
                 "3acd50143144f6b82e0f7299afe911bd",
                 "ucHqFGN0o9Vh-ojlhELmXyTUol05iuAhigMckeI-vlb");
}
END_TEST

START_TEST(parse_prefix_case_insensitive)
{
    struct ih_stream_request req;
    parse_request_ok("$IOTHUB/Streams/post/S/?$rid=1&$url=" ENC_URL "&$auth=a", &req);
    ck_assert_str_eq(req.name, "S");
    ck_assert_str_eq(req.url, "wss://h:1/b");
    ih_stream_request_free(&req);
    parse_request_fails("$iothub/streams/PUT/S/?$rid=1&$url=" ENC_URL "&$auth=a", IH_ERR_SYNTAX);
    parse_request_fails("$iothub/streams/res/200/?$rid=1", IH_ERR_SYNTAX);
    parse_request_fails("", IH_ERR_SYNTAX);
}
END_TEST

START_TEST(parse_double_slashes_dropped)
{
    struct ih_stream_request req;
    parse_request_ok("$iothub/streams/POST//S//?$rid=1&$url=" ENC_URL "&$auth=a", &req);
    ck_assert_str_eq(req.name, "S");
    ck_assert_str_eq(req.auth, "a");
    ih_stream_request_free(&req);
    parse_request_ok("$iothub/streams/POST/S/?$rid=1&$url=" ENC_URL "&$auth=a/", &req);
    ck_assert_str_eq(req.auth, "a");
    ih_stream_request_free(&req);
}
END_TEST

START_TEST(parse_level_count)
{
    parse_request_fails("$iothub/streams/POST/S", IH_ERR_MISSING);
    parse_request_fails("$iothub/streams/POST/S/", IH_ERR_MISSING);
    parse_request_fails("$iothub/streams/POST/S//", IH_ERR_MISSING);
    parse_request_fails("$iothub/streams/POST/", IH_ERR_SYNTAX);
    parse_request_fails("$iothub/streams/POST/a/b/?$rid=1&$url=" ENC_URL "&$auth=a", IH_ERR_SYNTAX);
    parse_request_fails("$iothub/streams/POST/S/?$rid=1&$url=" ENC_URL "&$auth=a/b", IH_ERR_SYNTAX);
}
END_TEST

START_TEST(parse_pairs)
{
    props_fail("$rid=1&&$url=" ENC_URL "&$auth=a", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=" ENC_URL "&$auth=a&", IH_ERR_SYNTAX);
    props_fail("&$rid=1&$url=" ENC_URL "&$auth=a", IH_ERR_SYNTAX);
    props_fail("$rid=a=b&$url=" ENC_URL "&$auth=a", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=" ENC_URL "&$auth=a&$ip=1=2", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=" ENC_URL "&$auth", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=" ENC_URL "&$auth=", IH_ERR_SYNTAX);
    props_fail("$rid=1&$rid=2&$url=" ENC_URL "&$auth=a", IH_ERR_DUPLICATE);
    props_fail("$rid=1&$url=" ENC_URL "&$auth=a&$auth=a", IH_ERR_DUPLICATE);
}
END_TEST

START_TEST(parse_empty_parts_dropped)
{
    struct ih_stream_request req;
    ck_assert_result(parse_props("$rid=1&$url=" ENC_URL "&$auth=abc==", &req), IH_OK);
    ck_assert_str_eq(req.auth, "abc");
    ih_stream_request_free(&req);
    /* Only one leading '?' goes: without one the level is read as is. */
    ck_assert_result(
        ih_topic_parse_stream_request(
            UNIT_S("$iothub/streams/POST/S/$rid=1&$url=" ENC_URL "&$auth=a"), &req, NULL),
        IH_OK);
    ck_assert_str_eq(req.rid, "1");
    ih_stream_request_free(&req);
}
END_TEST

START_TEST(parse_keys_case_sensitive)
{
    props_fail("$rid=1&$URL=" ENC_URL "&$auth=a", IH_ERR_MISSING);
    props_fail("$rid=1&$url=" ENC_URL "&$Auth=a", IH_ERR_MISSING);
    props_fail("$rid=1&$auth=a", IH_ERR_MISSING);
    props_fail("$rid=1&$url=" ENC_URL, IH_ERR_MISSING);
    /* A wrong-case $rid is just unknown: the request has no rid. */
    struct ih_stream_request req;
    ck_assert_result(parse_props("$RID=1&$url=" ENC_URL "&$auth=a", &req), IH_OK);
    ck_assert_ptr_null(req.rid);
    ih_stream_request_free(&req);
}
END_TEST

START_TEST(parse_url_with_c_sdk_decoder)
{
    props_fail("$rid=1&$url=wss:%2F%2Fh&$auth=a", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=wss%3A%2F%2Fh%2F~x&$auth=a", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=wss%3A%2F%2Fh%2Fa+b&$auth=a", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=wss%3A%2F%2Fh%2F%C3%A9&$auth=a", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=wss%3A%2F%2Fh%2F%zz&$auth=a", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=wss%3A%2F%2Fh%2F%4&$auth=a", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=wss%3A%2F%2Fh%2F%00&$auth=a", IH_ERR_SYNTAX);
    props_fail("$rid=1&$url=wss%3A%2F%2Fh%3Fa%3Db$&$auth=a", IH_ERR_SYNTAX);
    /* Lower-case escapes and the C SDK's raw set `! ( ) * - . _` are fine. */
    struct ih_stream_request req;
    ck_assert_result(parse_props("$rid=1&$url=wss%3a%2f%2fh%3a1%2f!()*-._%7e&$auth=a", &req),
                     IH_OK);
    ck_assert_str_eq(req.url, "wss://h:1/!()*-._~");
    ih_stream_request_free(&req);
}
END_TEST

START_TEST(parse_rid_optional_others_ignored)
{
    struct ih_stream_request req;
    ck_assert_result(parse_props("$url=" ENC_URL "&$auth=a", &req), IH_OK);
    ck_assert_ptr_null(req.rid);
    ck_assert_str_eq(req.url, "wss://h:1/b");
    ck_assert_str_eq(req.auth, "a");
    ih_stream_request_free(&req);
    ck_assert_result(parse_props("$ip=1.2.3.4&$auth=x%2Fy&$url=" ENC_URL "&$rid=r&other=1", &req),
                     IH_OK);
    /* $auth is used as is. */
    ck_assert_str_eq(req.auth, "x%2Fy");
    ck_assert_str_eq(req.rid, "r");
    ih_stream_request_free(&req);
}
END_TEST

START_TEST(parse_honours_len_and_limits)
{
    static const char topic[] = "$iothub/streams/POST/S/?$rid=1&$url=" ENC_URL "&$auth=aXYZ";
    struct ih_stream_request req;
    ck_assert_result(ih_topic_parse_stream_request(topic, strlen(topic) - 3, &req, NULL), IH_OK);
    ck_assert_str_eq(req.auth, "a");
    ih_stream_request_free(&req);
    /* A NUL byte inside is refused, in a request and in an answer (found by fuzzing: a value
     * cut short at it would be read two ways). */
    static const char with_nul[] = "$iothub/streams/POST/S/?$rid=1&$url=\0" ENC_URL "&$auth=a";
    ck_assert_result(ih_topic_parse_stream_request(with_nul, sizeof with_nul - 1, &req, NULL),
                     IH_ERR_SYNTAX);
    static const char answer_nul[] = "$iothub/streams/res/200/?$rid=1\0x";
    struct ih_stream_response res;
    ck_assert_result(ih_topic_parse_stream_response(answer_nul, sizeof answer_nul - 1, &res, NULL),
                     IH_ERR_SYNTAX);
    /* Longer than IH_TOPIC_MAX_LEN. */
    char *big = malloc(IH_TOPIC_MAX_LEN + 100);
    ck_assert_ptr_nonnull(big);
    int n =
        snprintf(big, IH_TOPIC_MAX_LEN + 100, "$iothub/streams/POST/S/?$url=%s&$auth=", ENC_URL);
    memset(big + n, 'a', IH_TOPIC_MAX_LEN + 1 - (size_t)n);
    big[IH_TOPIC_MAX_LEN + 1] = '\0';
    ck_assert_result(ih_topic_parse_stream_request(big, IH_TOPIC_MAX_LEN + 1, &req, NULL),
                     IH_ERR_TOO_LONG);
    ck_assert_result(ih_topic_parse_stream_request(big, IH_TOPIC_MAX_LEN, &req, NULL), IH_OK);
    ih_stream_request_free(&req);
    free(big);
    /* Too many properties. */
    char many[600] = "$iothub/streams/POST/S/?$url=" ENC_URL "&$auth=a";
    for (int i = 0; i < 16; i++) {
        size_t len = strlen(many);
        snprintf(many + len, sizeof many - len, "&k%d=v", i);
    }
    ck_assert_result(ih_topic_parse_stream_request(many, strlen(many), &req, NULL),
                     IH_ERR_TOO_LONG);
}
END_TEST

/* ---- Response. ---- */

START_TEST(format_response)
{
    char *topic = NULL;
    ck_assert_result(ih_topic_format_stream_response(200, "5", &topic), IH_OK);
    ck_assert_str_eq(topic, "$iothub/streams/res/200/?$rid=5");
    free(topic);
    ck_assert_result(ih_topic_format_stream_response(400, "abc-1", &topic), IH_OK);
    ck_assert_str_eq(topic, "$iothub/streams/res/400/?$rid=abc-1");
    free(topic);
    topic = NULL;
    ck_assert_result(ih_topic_format_stream_response(99, "5", &topic), IH_ERR_SYNTAX);
    ck_assert_result(ih_topic_format_stream_response(600, "5", &topic), IH_ERR_SYNTAX);
    ck_assert_result(ih_topic_format_stream_response(200, "", &topic), IH_ERR_SYNTAX);
    ck_assert_result(ih_topic_format_stream_response(200, "a&b", &topic), IH_ERR_SYNTAX);
    ck_assert_result(ih_topic_format_stream_response(200, "a/b", &topic), IH_ERR_SYNTAX);
    ck_assert_ptr_null(topic);
}
END_TEST

START_TEST(format_response_refuses_mqtt_wildcards)
{
    /* As for the request: a '+' or '#' in $rid makes the topic unpublishable. */
    char *topic = NULL;
    ih_result r = ih_topic_format_stream_response(200, "a+b", &topic);
    free(topic);
    ck_assert_result(r, IH_ERR_SYNTAX);
    topic = NULL;
    r = ih_topic_format_stream_response(200, "a#b", &topic);
    free(topic);
    ck_assert_result(r, IH_ERR_SYNTAX);
}
END_TEST

static void parse_response_ok(const char *topic, int status, const char *rid)
{
    struct ih_stream_response res;
    struct ih_diag diag = {{0}};
    ih_result r = ih_topic_parse_stream_response(topic, strlen(topic), &res, &diag);
    ck_assert_msg(r == IH_OK, "parse of %s: %s (%s)", topic, ih_result_name(r), diag.msg);
    ck_assert_int_eq(res.status, status);
    ck_assert_str_eq(res.rid, rid);
    ih_stream_response_free(&res);
    ck_assert_ptr_null(res.rid);
}

static void parse_response_fails(const char *topic, ih_result expected)
{
    struct ih_stream_response res;
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_topic_parse_stream_response(topic, strlen(topic), &res, &diag), expected);
    ck_assert_ptr_null(res.rid);
    ck_assert_msg(diag.msg[0] != '\0', "no diag for %s", topic);
}

START_TEST(parse_response)
{
    parse_response_ok("$iothub/streams/res/200/?$rid=5", 200, "5");
    parse_response_ok("$iothub/streams/res/400/?$rid=5&$ct=x", 400, "5");
    parse_response_ok("$iothub/streams/res/204/?$ct=application%2Fjson&$ce=utf-8&$rid=abc", 204,
                      "abc");
    parse_response_ok("$IOTHUB/STREAMS/RES/200/?$rid=7", 200, "7");
    /* Lenient about malformed extra pairs. */
    parse_response_ok("$iothub/streams/res/200/?garbage&$rid=5", 200, "5");
    parse_response_ok("$iothub/streams/res/200/?$rid=5&&x==y&", 200, "5");
    parse_response_ok("$iothub/streams/res/200/?a=b=c&$rid=5", 200, "5");
    parse_response_ok("$iothub/streams/res/0/?$rid=5", 0, "5");
    parse_response_ok("$iothub/streams/res/999/?$rid=5", 999, "5");
    /* Round trip of the formatter. */
    char *topic = NULL;
    ck_assert_result(ih_topic_format_stream_response(400, "r-9", &topic), IH_OK);
    parse_response_ok(topic, 400, "r-9");
    free(topic);
}
END_TEST

START_TEST(parse_response_errors)
{
    parse_response_fails("$iothub/streams/res/200/?$ct=x", IH_ERR_MISSING);
    parse_response_fails("$iothub/streams/res/200/?", IH_ERR_MISSING);
    parse_response_fails("$iothub/streams/res/200/", IH_ERR_MISSING);
    parse_response_fails("$iothub/streams/res/200", IH_ERR_MISSING);
    parse_response_fails("$iothub/streams/res/200/?$rid=", IH_ERR_MISSING);
    parse_response_fails("$iothub/streams/res/200/?$RID=5", IH_ERR_MISSING);
    parse_response_fails("$iothub/streams/res/abc/?$rid=5", IH_ERR_SYNTAX);
    parse_response_fails("$iothub/streams/res/2x0/?$rid=5", IH_ERR_SYNTAX);
    parse_response_fails("$iothub/streams/res//?$rid=5", IH_ERR_SYNTAX);
    parse_response_fails("$iothub/streams/res/2000/?$rid=5", IH_ERR_SYNTAX);
    parse_response_fails("$iothub/streams/res/-20/?$rid=5", IH_ERR_SYNTAX);
    parse_response_fails("$iothub/streams/POST/200/?$rid=5", IH_ERR_SYNTAX);
    parse_response_fails("$iothub/streams/res", IH_ERR_SYNTAX);
}
END_TEST

START_TEST(response_accepted)
{
    ck_assert_int_eq(ih_stream_response_accepted(200), 1);
    ck_assert_int_eq(ih_stream_response_accepted(204), 1);
    ck_assert_int_eq(ih_stream_response_accepted(299), 1);
    ck_assert_int_eq(ih_stream_response_accepted(199), 0);
    ck_assert_int_eq(ih_stream_response_accepted(300), 0);
    ck_assert_int_eq(ih_stream_response_accepted(400), 0);
    ck_assert_int_eq(ih_stream_response_accepted(500), 0);
    ck_assert_int_eq(ih_stream_response_accepted(0), 0);
}
END_TEST

/* ---- Name and token checks on their own. ---- */

START_TEST(name_and_token_checks)
{
    ck_assert_result(ih_stream_name_check(UNIT_S("TestStream"), NULL), IH_OK);
    ck_assert_result(ih_stream_name_check(UNIT_S("a b&c=d%e"), NULL), IH_OK);
    ck_assert_result(ih_stream_name_check("ab/", 2, NULL), IH_OK);
    ck_assert_result(ih_stream_name_check("a\0b", 3, NULL), IH_ERR_SYNTAX);
    ck_assert_result(ih_stream_token_check("1", NULL), IH_OK);
    ck_assert_result(ih_stream_token_check("0f8e-Ab_c.d~e!*()", NULL), IH_OK);
}
END_TEST

static Suite *streams_topic_suite(void)
{
    Suite *s = suite_create("streams_topic");
    TCase *fmt = tcase_create("format_request");
    tcase_add_test(fmt, format_request_exact);
    tcase_add_test(fmt, format_request_parses_back);
    tcase_add_test(fmt, format_request_satisfies_csharp_rules);
    tcase_add_test(fmt, format_request_hard_urls_and_names);
    tcase_add_test(fmt, format_request_refuses_bad_names);
    tcase_add_test(fmt, format_request_refuses_bad_tokens);
    tcase_add_test(fmt, format_request_refuses_mqtt_wildcards_in_tokens);
    tcase_add_test(fmt, format_request_output_parses_with_its_own_parser);
    tcase_add_test(fmt, name_and_token_checks);
    suite_add_tcase(s, fmt);
    TCase *parse = tcase_create("parse_request");
    tcase_add_test(parse, parse_c_sdk_example);
    tcase_add_test(parse, parse_prefix_case_insensitive);
    tcase_add_test(parse, parse_double_slashes_dropped);
    tcase_add_test(parse, parse_level_count);
    tcase_add_test(parse, parse_pairs);
    tcase_add_test(parse, parse_empty_parts_dropped);
    tcase_add_test(parse, parse_keys_case_sensitive);
    tcase_add_test(parse, parse_url_with_c_sdk_decoder);
    tcase_add_test(parse, parse_rid_optional_others_ignored);
    tcase_add_test(parse, parse_honours_len_and_limits);
    suite_add_tcase(s, parse);
    TCase *res = tcase_create("response");
    tcase_add_test(res, format_response);
    tcase_add_test(res, format_response_refuses_mqtt_wildcards);
    tcase_add_test(res, parse_response);
    tcase_add_test(res, parse_response_errors);
    tcase_add_test(res, response_accepted);
    suite_add_tcase(s, res);
    return s;
}

int main(void)
{
    return unit_run(streams_topic_suite());
}
