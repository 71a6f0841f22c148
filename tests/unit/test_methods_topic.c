/* Unit tests of protocol/methods_topic.[ch]: the $iothub/methods MQTT topics
 * (docs/protocol.md §12.1, rules D3 and D4). */
#include "protocol/methods_topic.h"

#include "unit.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

START_TEST(name_rules)
{
    ck_assert_int_eq(ih_method_name_check("reboot", 6, NULL), IH_OK);
    ck_assert_int_eq(ih_method_name_check("a b$(x)", 7, NULL), IH_OK); /* forwarded raw */
    ck_assert_int_eq(ih_method_name_check("\xc3\xa9t\xc3\xa9", 5, NULL), IH_OK);
    ck_assert_int_eq(ih_method_name_check("", 0, NULL), IH_ERR_MISSING);
    ck_assert_int_eq(ih_method_name_check("a/b", 3, NULL), IH_ERR_SYNTAX);
    ck_assert_int_eq(ih_method_name_check("a+", 2, NULL), IH_ERR_SYNTAX);
    ck_assert_int_eq(ih_method_name_check("#", 1, NULL), IH_ERR_SYNTAX);
    ck_assert_int_eq(ih_method_name_check("a\0b", 3, NULL), IH_ERR_SYNTAX);
    ck_assert_int_eq(ih_method_name_check("\xff", 1, NULL), IH_ERR_SYNTAX);
    char long_name[IH_METHOD_NAME_MAX + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    ck_assert_int_eq(ih_method_name_check(long_name, IH_METHOD_NAME_MAX, NULL), IH_OK);
    ck_assert_int_eq(ih_method_name_check(long_name, IH_METHOD_NAME_MAX + 1, NULL),
                     IH_ERR_TOO_LONG);
}
END_TEST

/* Rule D3: five levels, `$rid` the only key, read back the way the C SDK and the device do. */
START_TEST(request_round_trip)
{
    char *topic = NULL;
    ck_assert_int_eq(ih_topic_format_method_request("reboot", "17", &topic, NULL), IH_OK);
    ck_assert_str_eq(topic, "$iothub/methods/POST/reboot/?$rid=17");
    struct ih_method_request req;
    ck_assert_int_eq(ih_topic_parse_method_request(topic, strlen(topic), &req, NULL), IH_OK);
    ck_assert_str_eq(req.name, "reboot");
    ck_assert_str_eq(req.rid, "17");
    ih_method_request_free(&req);
    free(topic);
    ck_assert_int_eq(ih_topic_format_method_request("a/b", "1", &topic, NULL), IH_ERR_SYNTAX);
    ck_assert_int_eq(ih_topic_format_method_request("m", "1&x=2", &topic, NULL), IH_ERR_SYNTAX);
    ck_assert_int_eq(ih_topic_format_method_request("m", "", &topic, NULL), IH_ERR_SYNTAX);
}
END_TEST

START_TEST(request_parse_rejects)
{
    static const char *const bad[] = {
        "$iothub/methods/POST/reboot",        "$iothub/methods/POST/reboot/",
        "$iothub/methods/POST//?$rid=1",      "$iothub/methods/POST/reboot/?$rid=",
        "$iothub/methods/POST/reboot/$rid=1", "$iothub/streams/POST/x/?$rid=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ih_method_request req;
        ck_assert_int_ne(ih_topic_parse_method_request(bad[i], strlen(bad[i]), &req, NULL), IH_OK);
        ck_assert_ptr_null(req.name);
    }
}
END_TEST

START_TEST(response_round_trip)
{
    char *topic = NULL;
    ck_assert_int_eq(ih_topic_format_method_response(200, "5", &topic), IH_OK);
    ck_assert_str_eq(topic, "$iothub/methods/res/200/?$rid=5");
    struct ih_method_response res;
    ck_assert_int_eq(ih_topic_parse_method_response(topic, strlen(topic), &res, NULL), IH_OK);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.rid, "5");
    ih_method_response_free(&res);
    free(topic);
}
END_TEST

/* Rule D4: any int32 status, a lenient reading of the rest. */
START_TEST(response_parse_lenient)
{
    struct {
        const char *topic;
        int status;
        const char *rid;
    } ok[] = {
        {"$iothub/methods/res/-1/?$rid=9", -1, "9"},
        {"$iothub/methods/res/2147483647/?$rid=9", INT_MAX, "9"},
        {"$iothub/methods/res/-2147483648/?$rid=9", INT_MIN, "9"},
        {"$IOTHUB/methods/RES/501/?x=1&$rid=abc", 501, "abc"},
        {"$iothub/methods/res/+0/?$rid=1&$ct=json", 0, "1"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct ih_method_response res;
        ck_assert_int_eq(
            ih_topic_parse_method_response(ok[i].topic, strlen(ok[i].topic), &res, NULL), IH_OK);
        ck_assert_int_eq(res.status, ok[i].status);
        ck_assert_str_eq(res.rid, ok[i].rid);
        ih_method_response_free(&res);
    }
    static const char *const bad[] = {
        "$iothub/methods/res/200",
        "$iothub/methods/res/200/?x=1",
        "$iothub/methods/res/2147483648/?$rid=1",
        "$iothub/methods/res/abc/?$rid=1",
        "$iothub/methods/res//?$rid=1",
        "$iothub/methods/res/-/?$rid=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ih_method_response res;
        ck_assert_int_ne(ih_topic_parse_method_response(bad[i], strlen(bad[i]), &res, NULL), IH_OK);
        ck_assert_ptr_null(res.rid);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("methods_topic");
    TCase *tc = tcase_create("topics");
    tcase_add_test(tc, name_rules);
    tcase_add_test(tc, request_round_trip);
    tcase_add_test(tc, request_parse_rejects);
    tcase_add_test(tc, response_round_trip);
    tcase_add_test(tc, response_parse_lenient);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
