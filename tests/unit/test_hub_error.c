/* Unit tests of protocol/hub_error.[ch]: the hub's nested error bodies (docs/protocol.md §6). */
#include "protocol/hub_error.h"

#include "unit.h"

#include <jansson.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEX32 "0123456789abcdef0123456789ABCDEF"

/* 2023-11-14T22:13:20Z plus 123456789 ns. */
static const struct timespec fixed_time = {1700000000, 123456789};

START_TEST(http_status_from_code)
{
    ck_assert_int_eq(ih_error_http_status(IH_E_DEVICE_NOT_FOUND), 404);
    ck_assert_int_eq(ih_error_http_status(IH_E_DEVICE_NOT_ONLINE), 404);
    ck_assert_int_eq(ih_error_http_status(IH_E_GATEWAY_TIMEOUT), 504);
    ck_assert_int_eq(ih_error_http_status(IH_E_UNAUTHORIZED), 401);
    ck_assert_int_eq(ih_error_http_status(IH_E_THROTTLED), 429);
    ck_assert_int_eq(ih_error_http_status(IH_E_ARGUMENT_INVALID), 400);
    ck_assert_int_eq(ih_error_http_status(IH_E_DEVICE_ALREADY_EXISTS), 409);
    ck_assert_int_eq(ih_error_http_status(IH_E_SERVER_ERROR), 500);
    ck_assert_int_eq(ih_error_http_status(IH_E_SERVICE_UNAVAILABLE), 503);
    ck_assert_int_eq(ih_error_http_status((enum ih_error_code)404001), 404);
    ck_assert_int_eq(ih_error_http_status((enum ih_error_code)504101), 504);
}
END_TEST

START_TEST(names)
{
    /* docs/protocol.md §6, from C# ErrorCode.cs. */
    static const struct {
        enum ih_error_code code;
        const char *name;
    } table[] = {
        {IH_E_ARGUMENT_INVALID, "ArgumentInvalid"},
        {IH_E_ARGUMENT_NULL, "ArgumentNull"},
        {IH_E_FORMAT, "IotHubFormatError"},
        {IH_E_UNAUTHORIZED, "IotHubUnauthorizedAccess"},
        {IH_E_QUOTA_EXCEEDED, "IotHubQuotaExceeded"},
        {IH_E_DEVICE_NOT_FOUND, "DeviceNotFound"},
        {IH_E_MODULE_NOT_FOUND, "ModuleNotFound"},
        {IH_E_DEVICE_NOT_ONLINE, "DeviceNotOnline"},
        {IH_E_DEVICE_ALREADY_EXISTS, "DeviceAlreadyExists"},
        {IH_E_PRECONDITION_FAILED, "PreconditionFailed"},
        {IH_E_THROTTLED, "ThrottlingException"},
        {IH_E_SERVER_ERROR, "ServerError"},
        {IH_E_SERVICE_UNAVAILABLE, "ServiceUnavailable"},
        {IH_E_GATEWAY_TIMEOUT, "GatewayTimeout"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        ck_assert_str_eq(ih_error_name(table[i].code), table[i].name);
    /* A code the table does not know. */
    ck_assert_str_eq(ih_error_name((enum ih_error_code)418000), "ServerError");
}
END_TEST

START_TEST(default_messages)
{
    ck_assert_str_eq(ih_error_default_message(IH_E_GATEWAY_TIMEOUT),
                     "Timed out waiting for the response from device.");
    ck_assert_str_eq(ih_error_default_message(IH_E_UNAUTHORIZED), "Unauthorized");
    ck_assert_ptr_nonnull(ih_error_default_message((enum ih_error_code)418000));
    ck_assert_str_ne(ih_error_default_message(IH_E_DEVICE_NOT_FOUND), "");
}
END_TEST

START_TEST(timestamp_seven_digits)
{
    char buf[64];
    ck_assert_result(ih_format_timestamp_utc(&fixed_time, buf, sizeof buf), IH_OK);
    ck_assert_str_eq(buf, "2023-11-14T22:13:20.1234567Z");
    struct timespec t = {0, 0};
    ck_assert_result(ih_format_timestamp_utc(&t, buf, sizeof buf), IH_OK);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.0000000Z");
    t = (struct timespec){1704423845, 999999999};
    ck_assert_result(ih_format_timestamp_utc(&t, buf, sizeof buf), IH_OK);
    ck_assert_str_eq(buf, "2024-01-05T03:04:05.9999999Z");
    t = (struct timespec){1704423845, 100};
    ck_assert_result(ih_format_timestamp_utc(&t, buf, sizeof buf), IH_OK);
    ck_assert_str_eq(buf, "2024-01-05T03:04:05.0000001Z");
    /* Exactly fits (28 characters and the NUL), one short. */
    ck_assert_result(ih_format_timestamp_utc(&t, buf, 29), IH_OK);
    ck_assert_result(ih_format_timestamp_utc(&t, buf, 28), IH_ERR_TOO_LONG);
}
END_TEST

START_TEST(tracking_id_format)
{
    char buf[128];
    ck_assert_result(ih_error_tracking_id(HEX32, &fixed_time, buf, sizeof buf), IH_OK);
    ck_assert_str_eq(buf, HEX32 "-G:0-TimeStamp:11/14/2023 22:13:20");
    struct timespec t = {1704423845, 0};
    ck_assert_result(ih_error_tracking_id(HEX32, &t, buf, sizeof buf), IH_OK);
    ck_assert_str_eq(buf, HEX32 "-G:0-TimeStamp:01/05/2024 03:04:05");
    /* Only 32 characters of the hex are used. */
    ck_assert_result(ih_error_tracking_id(HEX32 "ffff", &t, buf, sizeof buf), IH_OK);
    ck_assert_str_eq(buf, HEX32 "-G:0-TimeStamp:01/05/2024 03:04:05");
    size_t need = strlen(buf) + 1;
    ck_assert_result(ih_error_tracking_id(HEX32, &t, buf, need), IH_OK);
    ck_assert_result(ih_error_tracking_id(HEX32, &t, buf, need - 1), IH_ERR_TOO_LONG);
}
END_TEST

/* Parses body into the inner object, checking the outer shape; the caller decrefs. */
static json_t *parse_body(const char *body)
{
    json_error_t err;
    json_t *outer = json_loads(body, 0, &err);
    ck_assert_msg(outer != NULL, "body is not JSON: %s", err.text);
    ck_assert(json_is_object(outer));
    ck_assert_uint_eq(json_object_size(outer), 2);
    /* Key order: Message, ExceptionMessage. */
    void *it = json_object_iter(outer);
    ck_assert_str_eq(json_object_iter_key(it), "Message");
    it = json_object_iter_next(outer, it);
    ck_assert_str_eq(json_object_iter_key(it), "ExceptionMessage");
    json_t *message = json_object_get(outer, "Message");
    json_t *exception = json_object_get(outer, "ExceptionMessage");
    ck_assert(json_is_string(message));
    ck_assert(json_is_string(exception));
    ck_assert_str_eq(json_string_value(exception), "");
    json_t *inner = json_loads(json_string_value(message), 0, &err);
    json_decref(outer);
    ck_assert_msg(inner != NULL, "Message is not JSON: %s", err.text);
    ck_assert(json_is_object(inner));
    return inner;
}

/* The inner object's keys, in order, must be exactly expected (NULL-terminated). */
static void check_key_order(json_t *inner, const char *const *expected)
{
    void *it = json_object_iter(inner);
    size_t i = 0;
    for (; expected[i] != NULL; i++) {
        ck_assert_msg(it != NULL, "missing key %s", expected[i]);
        ck_assert_str_eq(json_object_iter_key(it), expected[i]);
        it = json_object_iter_next(inner, it);
    }
    ck_assert_msg(it == NULL, "extra key %s", it != NULL ? json_object_iter_key(it) : "");
}

static int is_timestamp_utc(const char *s)
{
    /* YYYY-MM-DDTHH:MM:SS.fffffffZ */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddddZ";
    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i] != '\0'; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return 0;
    }
    return 1;
}

START_TEST(body_nested_form)
{
    char tracking[128];
    ck_assert_result(ih_error_tracking_id(HEX32, &fixed_time, tracking, sizeof tracking), IH_OK);
    char *body = NULL;
    ck_assert_result(ih_error_body(IH_E_DEVICE_NOT_FOUND, "The device dev1 was not found.",
                                   tracking, &fixed_time, NULL, &body),
                     IH_OK);
    /* The raw shape, as clients see it. */
    ck_assert_msg(strncmp(body, "{\"Message\":\"{\\\"errorCode\\\":404001,", 34) == 0, "body %s",
                  body);
    json_t *inner = parse_body(body);
    static const char *const keys[] = {"errorCode", "trackingId", "message", "timestampUtc", NULL};
    check_key_order(inner, keys);
    json_t *code = json_object_get(inner, "errorCode");
    ck_assert(json_is_integer(code));
    ck_assert_int_eq(json_integer_value(code), 404001);
    ck_assert_str_eq(json_string_value(json_object_get(inner, "trackingId")), tracking);
    ck_assert_str_eq(json_string_value(json_object_get(inner, "message")),
                     "The device dev1 was not found.");
    const char *ts = json_string_value(json_object_get(inner, "timestampUtc"));
    ck_assert_ptr_nonnull(ts);
    ck_assert_msg(is_timestamp_utc(ts), "timestampUtc %s", ts);
    ck_assert_str_eq(ts, "2023-11-14T22:13:20.1234567Z");
    json_decref(inner);
    free(body);
}
END_TEST

START_TEST(body_default_message)
{
    char *body = NULL;
    ck_assert_result(ih_error_body(IH_E_GATEWAY_TIMEOUT, NULL, HEX32, &fixed_time, NULL, &body),
                     IH_OK);
    json_t *inner = parse_body(body);
    ck_assert_int_eq(json_integer_value(json_object_get(inner, "errorCode")), 504101);
    ck_assert_str_eq(json_string_value(json_object_get(inner, "message")),
                     "Timed out waiting for the response from device.");
    json_decref(inner);
    free(body);
}
END_TEST

START_TEST(body_with_info)
{
    json_t *info = json_pack("{s:s}", "timeout", "00:01:00");
    ck_assert_ptr_nonnull(info);
    char *body = NULL;
    ck_assert_result(ih_error_body(IH_E_GATEWAY_TIMEOUT, NULL, HEX32, &fixed_time, info, &body),
                     IH_OK);
    /* Borrowed: still ours alone. */
    ck_assert_int_eq(info->refcount, 1);
    json_decref(info);
    json_t *inner = parse_body(body);
    static const char *const keys[] = {"errorCode", "trackingId",   "message",
                                       "info",      "timestampUtc", NULL};
    check_key_order(inner, keys);
    json_t *got = json_object_get(inner, "info");
    ck_assert(json_is_object(got));
    ck_assert_uint_eq(json_object_size(got), 1);
    ck_assert_str_eq(json_string_value(json_object_get(got, "timeout")), "00:01:00");
    json_decref(inner);
    free(body);
}
END_TEST

START_TEST(body_escapes_message)
{
    static const char message[] = "quote \" backslash \\ newline \n tab \t caf\xc3\xa9 <>&";
    char *body = NULL;
    ck_assert_result(ih_error_body(IH_E_ARGUMENT_INVALID, message, HEX32, &fixed_time, NULL, &body),
                     IH_OK);
    json_t *inner = parse_body(body);
    ck_assert_str_eq(json_string_value(json_object_get(inner, "message")), message);
    json_decref(inner);
    free(body);
}
END_TEST

START_TEST(body_non_utf8_message_falls_back)
{
    char *body = NULL;
    ck_assert_result(ih_error_body(IH_E_DEVICE_NOT_FOUND, "device \xff\xfe not found", HEX32,
                                   &fixed_time, NULL, &body),
                     IH_OK);
    json_t *inner = parse_body(body);
    ck_assert_str_eq(json_string_value(json_object_get(inner, "message")),
                     ih_error_default_message(IH_E_DEVICE_NOT_FOUND));
    json_decref(inner);
    free(body);
    ck_assert_result(ih_error_body(IH_E_UNAUTHORIZED, "\xc0\x80", HEX32, &fixed_time, NULL, &body),
                     IH_OK);
    inner = parse_body(body);
    ck_assert_str_eq(json_string_value(json_object_get(inner, "message")), "Unauthorized");
    json_decref(inner);
    free(body);
}
END_TEST

START_TEST(body_for_every_code)
{
    static const enum ih_error_code codes[] = {
        IH_E_ARGUMENT_INVALID,
        IH_E_ARGUMENT_NULL,
        IH_E_FORMAT,
        IH_E_UNAUTHORIZED,
        IH_E_QUOTA_EXCEEDED,
        IH_E_NOT_FOUND,
        IH_E_DEVICE_NOT_FOUND,
        IH_E_MODULE_NOT_FOUND,
        IH_E_DEVICE_NOT_ONLINE,
        IH_E_DEVICE_ALREADY_EXISTS,
        IH_E_PRECONDITION_FAILED,
        IH_E_MESSAGE_TOO_LARGE,
        IH_E_THROTTLED,
        IH_E_SERVER_ERROR,
        IH_E_SERVICE_UNAVAILABLE,
        IH_E_GATEWAY_TIMEOUT,
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char *body = NULL;
        ck_assert_result(ih_error_body(codes[i], NULL, HEX32, &fixed_time, NULL, &body), IH_OK);
        json_t *inner = parse_body(body);
        ck_assert_int_eq(json_integer_value(json_object_get(inner, "errorCode")), codes[i]);
        ck_assert_int_eq(ih_error_http_status(codes[i]), (int)codes[i] / 1000);
        ck_assert_str_eq(json_string_value(json_object_get(inner, "message")),
                         ih_error_default_message(codes[i]));
        json_decref(inner);
        free(body);
    }
}
END_TEST

/* A real capture (docs/protocol.md §1.4) and the emulator's own bodies read back. */
START_TEST(parse_nested_form)
{
    static const char captured[] =
        "{\"Message\":\"{\\\"errorCode\\\":504101,\\\"trackingId\\\":\\\"cce1-TimeStamp:"
        "02/11/2020 01:36:39\\\",\\\"message\\\":\\\"Timed out waiting for the response from "
        "device.\\\",\\\"info\\\":{\\\"timeout\\\":\\\"00:01:00\\\"},\\\"timestampUtc\\\":"
        "\\\"2020-02-11T01:36:39.4565857Z\\\"}\",\"ExceptionMessage\":\"\"}";
    struct ih_error_detail d;
    ck_assert_result(ih_error_parse(captured, strlen(captured), &d), IH_OK);
    ck_assert_int_eq(d.code, 504101);
    ck_assert_str_eq(d.message, "Timed out waiting for the response from device.");

    char *body = NULL;
    ck_assert_result(
        ih_error_body(IH_E_DEVICE_NOT_FOUND, "no \"dev\" here", HEX32, &fixed_time, NULL, &body),
        IH_OK);
    ck_assert_result(ih_error_parse(body, strlen(body), &d), IH_OK);
    ck_assert_int_eq(d.code, 404001);
    ck_assert_str_eq(d.message, "no \"dev\" here");
    free(body);
}
END_TEST

START_TEST(parse_other_forms)
{
    struct ih_error_detail d;
    static const char flat[] = "{\"errorCode\":401002,\"message\":\"Unauthorized\"}";
    ck_assert_result(ih_error_parse(flat, strlen(flat), &d), IH_OK);
    ck_assert_int_eq(d.code, 401002);
    ck_assert_str_eq(d.message, "Unauthorized");
    static const char plain[] = "{\"Message\":\"The device is gone\"}";
    ck_assert_result(ih_error_parse(plain, strlen(plain), &d), IH_OK);
    ck_assert_int_eq(d.code, 0);
    ck_assert_str_eq(d.message, "The device is gone");
    /* Not NUL-terminated: only len bytes are read. */
    ck_assert_result(ih_error_parse(flat, strlen(flat) - 1, &d), IH_ERR_SYNTAX);
}
END_TEST

/* The registry's form: a capture (az iot hub device-identity show, 2023) and the emulator's own
 * bodies read back, the way the Node SDK reads them (split at ';'). */
START_TEST(body_flat_form)
{
    char tracking[128], *body = NULL;
    ck_assert_result(ih_error_tracking_id(HEX32, &fixed_time, tracking, sizeof tracking), IH_OK);
    ck_assert_result(
        ih_error_body_flat(IH_E_DEVICE_NOT_FOUND, "device 'x' is not registered", tracking, &body),
        IH_OK);
    json_t *outer = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(outer);
    ck_assert_str_eq(json_string_value(json_object_get(outer, "Message")),
                     "ErrorCode:DeviceNotFound;device 'x' is not registered");
    char expected[160];
    snprintf(expected, sizeof expected, "Tracking ID:%s", tracking);
    ck_assert_str_eq(json_string_value(json_object_get(outer, "ExceptionMessage")), expected);
    ck_assert_int_eq(json_object_size(outer), 2);
    json_decref(outer);
    struct ih_error_detail d;
    ck_assert_result(ih_error_parse(body, strlen(body), &d), IH_OK);
    ck_assert_int_eq(d.code, 404001);
    ck_assert_str_eq(d.message, "device 'x' is not registered");
    free(body);
}
END_TEST

START_TEST(body_flat_keeps_one_semicolon)
{
    char *body = NULL;
    ck_assert_result(ih_error_body_flat(IH_E_ARGUMENT_INVALID, "a; b; c", HEX32, &body), IH_OK);
    json_t *outer = json_loads(body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(outer, "Message")),
                     "ErrorCode:ArgumentInvalid;a, b, c");
    json_decref(outer);
    free(body);
    ck_assert_result(ih_error_body_flat(IH_E_PRECONDITION_FAILED, "", HEX32, &body), IH_OK);
    outer = json_loads(body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(outer, "Message")),
                     "ErrorCode:PreconditionFailed;The etag does not match.");
    json_decref(outer);
    free(body);
    /* Peer input that is not UTF-8 falls back to the code's own message. */
    ck_assert_result(ih_error_body_flat(IH_E_ARGUMENT_INVALID, "id \xff", HEX32, &body), IH_OK);
    outer = json_loads(body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(outer, "Message")),
                     "ErrorCode:ArgumentInvalid;The request is invalid.");
    json_decref(outer);
    free(body);
}
END_TEST

START_TEST(parse_flat_capture)
{
    static const char captured[] =
        "{\"Message\":\"ErrorCode:DeviceNotFound;dev1\",\"ExceptionMessage\":\"Tracking "
        "ID:0123456789abcdef0123456789abcdef-G:0-TimeStamp:10/24/2023 16:57:00\"}";
    struct ih_error_detail d;
    ck_assert_result(ih_error_parse(captured, strlen(captured), &d), IH_OK);
    ck_assert_int_eq(d.code, 404001);
    ck_assert_str_eq(d.message, "dev1");
    ck_assert_int_eq(ih_error_code_of(UNIT_S("PreconditionFailed")), 412001);
    ck_assert_int_eq(ih_error_code_of(UNIT_S("NoSuchName")), 0);
}
END_TEST

/* A Message shorter than "ErrorCode:" is kept as text; found by fuzz_small_parsers reading
 * past its end. */
START_TEST(parse_short_message)
{
    static const char body[] = "{\"Message\":\"{\\\"errorCo\",\"ExceptionMessage\":\"\"}";
    struct ih_error_detail d;
    ck_assert_result(ih_error_parse(body, strlen(body), &d), IH_OK);
    ck_assert_int_eq(d.code, 0);
    ck_assert_str_eq(d.message, "{\"errorCo");
}
END_TEST

START_TEST(parse_refuses_the_rest)
{
    static const char *const bad[] = {"",          "null",
                                      "[]",        "42",
                                      "\"text\"",  "{}",
                                      "{\"a\":1}", "{\"errorCode\":\"x\"}",
                                      "<html>",    "{\"Message\":5}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ih_error_detail d;
        d.code = 99;
        ck_assert_msg(ih_error_parse(bad[i], strlen(bad[i]), &d) == IH_ERR_SYNTAX, "accepted %s",
                      bad[i]);
        ck_assert_int_eq(d.code, 0);
        ck_assert_str_eq(d.message, "");
    }
    struct ih_error_detail d;
    ck_assert_result(ih_error_parse(NULL, 0, &d), IH_ERR_SYNTAX);
}
END_TEST

static Suite *hub_error_suite(void)
{
    Suite *s = suite_create("hub_error");
    TCase *codes = tcase_create("codes");
    tcase_add_test(codes, http_status_from_code);
    tcase_add_test(codes, names);
    tcase_add_test(codes, default_messages);
    tcase_add_test(codes, timestamp_seven_digits);
    tcase_add_test(codes, tracking_id_format);
    suite_add_tcase(s, codes);
    TCase *body = tcase_create("body");
    tcase_add_test(body, body_nested_form);
    tcase_add_test(body, body_default_message);
    tcase_add_test(body, body_with_info);
    tcase_add_test(body, body_escapes_message);
    tcase_add_test(body, body_non_utf8_message_falls_back);
    tcase_add_test(body, body_for_every_code);
    tcase_add_test(body, parse_nested_form);
    tcase_add_test(body, parse_other_forms);
    tcase_add_test(body, parse_refuses_the_rest);
    tcase_add_test(body, body_flat_form);
    tcase_add_test(body, body_flat_keeps_one_semicolon);
    tcase_add_test(body, parse_flat_capture);
    tcase_add_test(body, parse_short_message);
    suite_add_tcase(s, body);
    return s;
}

int main(void)
{
    return unit_run(hub_error_suite());
}
