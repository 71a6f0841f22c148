/* Unit tests of protocol/twin_topic.[ch]: the $iothub/twin MQTT topics (docs/protocol.md §12.2,
 * rules D5-D8), each side read back by the other: the device's requests by the hub, the hub's
 * answers and desired notifications by the device. */
#include "protocol/twin_topic.h"

#include "unit.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Rules D5 and D6: what the device sends, as the hub reads it. */
START_TEST(request_round_trip)
{
    char *topic = NULL;
    struct ih_twin_request req;
    ck_assert_result(ih_topic_format_twin_request(IH_TWIN_GET, "1", &topic, NULL), IH_OK);
    ck_assert_str_eq(topic, "$iothub/twin/GET/?$rid=1");
    ck_assert_result(ih_topic_parse_twin_request(UNIT_S(topic), &req, NULL), IH_OK);
    ck_assert_int_eq(req.op, IH_TWIN_GET);
    ck_assert_str_eq(req.rid, "1");
    free(topic);
    ck_assert_result(
        ih_topic_format_twin_request(IH_TWIN_PATCH_REPORTED, "ack-7_x.y~z", &topic, NULL), IH_OK);
    ck_assert_str_eq(topic, "$iothub/twin/PATCH/properties/reported/?$rid=ack-7_x.y~z");
    ck_assert_result(ih_topic_parse_twin_request(UNIT_S(topic), &req, NULL), IH_OK);
    ck_assert_int_eq(req.op, IH_TWIN_PATCH_REPORTED);
    ck_assert_str_eq(req.rid, "ack-7_x.y~z");
    free(topic);
}
END_TEST

/* A $rid that would not come back as it went is refused before it is sent. */
START_TEST(request_rid_rules)
{
    static const char *const bad[] = {"",  "a b", "1&$version=2", "a/b",      "a=b", "50%",
                                      "+", "#",   "\x7f",         "\xc3\xa9", "a\tb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *topic = NULL;
        struct ih_diag why = {{0}};
        ck_assert_result(ih_topic_format_twin_request(IH_TWIN_GET, bad[i], &topic, &why),
                         IH_ERR_SYNTAX);
        ck_assert_ptr_null(topic);
        ck_assert_str_ne(why.msg, "");
    }
    char rid[IH_TWIN_RID_MAX + 2];
    memset(rid, '7', sizeof rid - 1);
    rid[sizeof rid - 1] = '\0';
    char *topic = NULL;
    ck_assert_result(ih_topic_format_twin_request(IH_TWIN_GET, rid, &topic, NULL),
                     IH_ERR_SYNTAX); /* one byte too long */
    rid[IH_TWIN_RID_MAX] = '\0';
    ck_assert_result(ih_topic_format_twin_request(IH_TWIN_GET, rid, &topic, NULL), IH_OK);
    struct ih_twin_request req;
    ck_assert_result(ih_topic_parse_twin_request(UNIT_S(topic), &req, NULL), IH_OK);
    ck_assert_str_eq(req.rid, rid);
    free(topic);
}
END_TEST

/* Rules D5-D7: what the hub answers, as the device reads it. */
START_TEST(response_round_trip)
{
    struct {
        int status;
        const char *rid;
        long long version;
        const char *topic;
    } cases[] = {
        {200, "1", -1, "$iothub/twin/res/200/?$rid=1"},
        {204, "2", 6, "$iothub/twin/res/204/?$rid=2&$version=6"},
        {400, "e3f1-99", -1, "$iothub/twin/res/400/?$rid=e3f1-99"},
        {204, "x", LLONG_MAX, "$iothub/twin/res/204/?$rid=x&$version=9223372036854775807"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *topic = NULL;
        ck_assert_result(
            ih_topic_format_twin_response(cases[i].status, cases[i].rid, cases[i].version, &topic),
            IH_OK);
        ck_assert_str_eq(topic, cases[i].topic);
        struct ih_twin_response res;
        ck_assert_result(ih_topic_parse_twin_response(UNIT_S(topic), &res, NULL), IH_OK);
        ck_assert_int_eq(res.status, cases[i].status);
        ck_assert_str_eq(res.rid, cases[i].rid);
        ck_assert_int_eq(res.version, cases[i].version);
        free(topic);
    }
}
END_TEST

/* Lenient as the SDKs: either case of prefix, pairs in any order, strangers ignored. */
START_TEST(response_parse_lenient)
{
    struct {
        const char *topic;
        int status;
        const char *rid;
        long long version;
    } ok[] = {
        {"$IOTHUB/TWIN/RES/204/?$version=3&$rid=9", 204, "9", 3},
        {"$iothub/twin/res/204/?x=1&$rid=a&&junk&$version=0", 204, "a", 0},
        {"$iothub/twin/res/429/$rid=5", 429, "5", -1},
        {"$iothub/twin/res/200/?$rid=1&$rid=2", 200, "1", -1},
        {"$iothub/twin/res/0/?$rid=1", 0, "1", -1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct ih_twin_response res;
        ck_assert_result(ih_topic_parse_twin_response(UNIT_S(ok[i].topic), &res, NULL), IH_OK);
        ck_assert_int_eq(res.status, ok[i].status);
        ck_assert_str_eq(res.rid, ok[i].rid);
        ck_assert_int_eq(res.version, ok[i].version);
    }
}
END_TEST

START_TEST(response_parse_rejects)
{
    struct {
        const char *topic;
        ih_result r;
    } bad[] = {
        {"$iothub/twin/res/200", IH_ERR_MISSING},
        {"$iothub/twin/res/200/", IH_ERR_MISSING},
        {"$iothub/twin/res/200/?$version=2", IH_ERR_MISSING},
        {"$iothub/twin/res/200/?$rid=", IH_ERR_MISSING},
        {"$iothub/twin/res/200/?$rid=1&$version=", IH_ERR_SYNTAX},
        {"$iothub/twin/res/200/?$rid=1&$version=-1", IH_ERR_SYNTAX},
        {"$iothub/twin/res/200/?$rid=1&$version=9223372036854775808", IH_ERR_SYNTAX},
        {"$iothub/twin/res/abc/?$rid=1", IH_ERR_SYNTAX},
        {"$iothub/twin/res/1000/?$rid=1", IH_ERR_SYNTAX},
        {"$iothub/twin/res/-1/?$rid=1", IH_ERR_SYNTAX},
        {"$iothub/twin/res//?$rid=1", IH_ERR_SYNTAX},
        {"$iothub/twin/GET/?$rid=1", IH_ERR_SYNTAX},
        {"$iothub/methods/res/200/?$rid=1", IH_ERR_SYNTAX},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ih_twin_response res;
        struct ih_diag why = {{0}};
        ck_assert_result(ih_topic_parse_twin_response(UNIT_S(bad[i].topic), &res, &why), bad[i].r);
        ck_assert_str_ne(why.msg, "");
    }
    /* A NUL inside the topic, and a $rid one byte too long. */
    struct ih_twin_response res;
    ck_assert_result(
        ih_topic_parse_twin_response("$iothub/twin/res/200/?$rid=1\0x", 30, &res, NULL),
        IH_ERR_SYNTAX);
    char topic[64 + IH_TWIN_RID_MAX];
    int n =
        snprintf(topic, sizeof topic, "$iothub/twin/res/200/?$rid=%0*d", IH_TWIN_RID_MAX + 1, 0);
    ck_assert_result(ih_topic_parse_twin_response(topic, (size_t)n, &res, NULL), IH_ERR_TOO_LONG);
    n = snprintf(topic, sizeof topic, "$iothub/twin/res/200/?$rid=%0*d", IH_TWIN_RID_MAX, 0);
    ck_assert_result(ih_topic_parse_twin_response(topic, (size_t)n, &res, NULL), IH_OK);
    ck_assert_uint_eq(strlen(res.rid), IH_TWIN_RID_MAX);
}
END_TEST

/* Rule D8. */
START_TEST(desired_round_trip)
{
    static const long long versions[] = {0, 1, 2, 1234567890123LL, LLONG_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        char *topic = NULL;
        long long v = 0;
        ck_assert_result(ih_topic_format_twin_desired(versions[i], &topic), IH_OK);
        ck_assert_result(ih_topic_parse_twin_desired(UNIT_S(topic), &v, NULL), IH_OK);
        ck_assert_int_eq(v, versions[i]);
        free(topic);
    }
    char *topic = NULL;
    ck_assert_result(ih_topic_format_twin_desired(7, &topic), IH_OK);
    ck_assert_str_eq(topic, "$iothub/twin/PATCH/properties/desired/?$version=7");
    free(topic);
}
END_TEST

START_TEST(desired_parse)
{
    long long v = 0;
    ck_assert_result(ih_topic_parse_twin_desired(
                         UNIT_S("$iothub/twin/patch/PROPERTIES/desired/?x=y&$version=4"), &v, NULL),
                     IH_OK);
    ck_assert_int_eq(v, 4);
    ck_assert_result(ih_topic_parse_twin_desired(
                         UNIT_S("$iothub/twin/PATCH/properties/desired/$version=5"), &v, NULL),
                     IH_OK);
    ck_assert_int_eq(v, 5);
    struct {
        const char *topic;
        ih_result r;
    } bad[] = {
        {"$iothub/twin/PATCH/properties/desired/", IH_ERR_MISSING},
        {"$iothub/twin/PATCH/properties/desired/?$rid=1", IH_ERR_MISSING},
        {"$iothub/twin/PATCH/properties/desired/?$version=", IH_ERR_SYNTAX},
        {"$iothub/twin/PATCH/properties/desired/?$version=1x", IH_ERR_SYNTAX},
        {"$iothub/twin/PATCH/properties/reported/?$version=1", IH_ERR_SYNTAX},
        {"$iothub/twin/PATCH/properties/desired", IH_ERR_SYNTAX},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ih_diag why = {{0}};
        v = 0;
        ck_assert_result(ih_topic_parse_twin_desired(UNIT_S(bad[i].topic), &v, &why), bad[i].r);
        ck_assert_int_eq(v, -1);
        ck_assert_str_ne(why.msg, "");
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("twin_topic");
    TCase *tc = tcase_create("topics");
    tcase_add_test(tc, request_round_trip);
    tcase_add_test(tc, request_rid_rules);
    tcase_add_test(tc, response_round_trip);
    tcase_add_test(tc, response_parse_lenient);
    tcase_add_test(tc, response_parse_rejects);
    tcase_add_test(tc, desired_round_trip);
    tcase_add_test(tc, desired_parse);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
