/* Unit tests of protocol/connstr.[ch]: IoT Hub connection strings (docs/protocol.md §4.4). */
#include "protocol/connstr.h"

#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define HOST "myhub.azure-devices.net"
#define KEY "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

static int connstr_is_empty(const struct ih_connstr *cs)
{
    return cs->host_name == NULL && cs->device_id == NULL && cs->module_id == NULL &&
           cs->shared_access_key_name == NULL && cs->shared_access_key == NULL &&
           cs->shared_access_signature == NULL && cs->gateway_host_name == NULL;
}

/* Parses text, which must succeed and classify as kind. */
static void parse_ok(const char *text, struct ih_connstr *cs, enum ih_connstr_kind kind)
{
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_connstr_parse(text, strlen(text), cs, &diag), IH_OK);
    enum ih_connstr_kind got = (enum ih_connstr_kind) - 1;
    ck_assert_result(ih_connstr_classify(cs, &got, &diag), IH_OK);
    ck_assert_int_eq(got, kind);
}

/* Parsing text must fail with expected, leave the struct empty and explain why. */
static void parse_fails(const char *text, size_t len, ih_result expected)
{
    struct ih_connstr cs;
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_connstr_parse(text, len, &cs, &diag), expected);
    ck_assert_msg(connstr_is_empty(&cs), "fields left set after a failure");
    ck_assert_msg(diag.msg[0] != '\0', "no diag for a failure");
}

/* Parsing text succeeds but classifying it fails with expected, with a diag. */
static void classify_fails(const char *text, ih_result expected)
{
    struct ih_connstr cs;
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_connstr_parse(text, strlen(text), &cs, &diag), IH_OK);
    enum ih_connstr_kind kind;
    ck_assert_result(ih_connstr_classify(&cs, &kind, &diag), expected);
    ck_assert_msg(diag.msg[0] != '\0', "no diag for a failure");
    ih_connstr_free(&cs);
}

START_TEST(parse_device)
{
    struct ih_connstr cs;
    parse_ok("HostName=" HOST ";DeviceId=dev1;SharedAccessKey=" KEY, &cs, IH_CONNSTR_DEVICE);
    ck_assert_str_eq(cs.host_name, HOST);
    ck_assert_str_eq(cs.device_id, "dev1");
    ck_assert_str_eq(cs.shared_access_key, KEY);
    ck_assert_ptr_null(cs.module_id);
    ck_assert_ptr_null(cs.shared_access_key_name);
    ck_assert_ptr_null(cs.shared_access_signature);
    ck_assert_ptr_null(cs.gateway_host_name);
    ih_connstr_free(&cs);
    ck_assert_msg(connstr_is_empty(&cs), "free leaves NULL fields");
    /* Freeing twice is harmless. */
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_module)
{
    struct ih_connstr cs;
    parse_ok("HostName=" HOST ";DeviceId=dev1;ModuleId=mod1;SharedAccessKey=" KEY, &cs,
             IH_CONNSTR_MODULE);
    ck_assert_str_eq(cs.device_id, "dev1");
    ck_assert_str_eq(cs.module_id, "mod1");
    ck_assert_str_eq(cs.shared_access_key, KEY);
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_service)
{
    struct ih_connstr cs;
    parse_ok("HostName=" HOST ";SharedAccessKeyName=service;SharedAccessKey=" KEY, &cs,
             IH_CONNSTR_SERVICE);
    ck_assert_str_eq(cs.host_name, HOST);
    ck_assert_str_eq(cs.shared_access_key_name, "service");
    ck_assert_str_eq(cs.shared_access_key, KEY);
    ck_assert_ptr_null(cs.device_id);
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_device_with_policy_is_a_device)
{
    /* The C# service builder accepts DeviceId= with a policy (docs/protocol.md §4.4). */
    struct ih_connstr cs;
    parse_ok("HostName=" HOST ";SharedAccessKeyName=device;DeviceId=dev1;SharedAccessKey=" KEY, &cs,
             IH_CONNSTR_DEVICE);
    ck_assert_str_eq(cs.shared_access_key_name, "device");
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_gateway_host_name)
{
    struct ih_connstr cs;
    parse_ok("HostName=" HOST ";DeviceId=dev1;SharedAccessKey=" KEY ";GatewayHostName=127.0.0.1",
             &cs, IH_CONNSTR_DEVICE);
    ck_assert_str_eq(cs.gateway_host_name, "127.0.0.1");
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_shared_access_signature_kept_whole)
{
    static const char sas[] = "SharedAccessSignature sr=" HOST "%2Fdevices%2Fdev1"
                              "&sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D&se=1700000000";
    struct ih_connstr cs;
    parse_ok("HostName=" HOST ";DeviceId=dev1;SharedAccessSignature="
             "SharedAccessSignature sr=" HOST
             "%2Fdevices%2Fdev1&sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D"
             "&se=1700000000",
             &cs, IH_CONNSTR_DEVICE);
    ck_assert_str_eq(cs.shared_access_signature, sas);
    ck_assert_ptr_null(cs.shared_access_key);
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_keys_case_insensitive)
{
    struct ih_connstr cs;
    parse_ok("hostname=" HOST ";DEVICEID=dev1;moduleid=m;sharedAccessKEY=" KEY
             ";GATEWAYHOSTNAME=gw.local",
             &cs, IH_CONNSTR_MODULE);
    ck_assert_str_eq(cs.host_name, HOST);
    ck_assert_str_eq(cs.device_id, "dev1");
    ck_assert_str_eq(cs.module_id, "m");
    ck_assert_str_eq(cs.shared_access_key, KEY);
    ck_assert_str_eq(cs.gateway_host_name, "gw.local");
    ih_connstr_free(&cs);
    /* Values keep their case. */
    parse_ok("HostName=MyHub.Azure-Devices.NET;DeviceId=Dev1;SharedAccessKey=" KEY, &cs,
             IH_CONNSTR_DEVICE);
    ck_assert_str_eq(cs.host_name, "MyHub.Azure-Devices.NET");
    ck_assert_str_eq(cs.device_id, "Dev1");
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_blanks_and_empty_pairs_tolerated)
{
    struct ih_connstr cs;
    parse_ok("  HostName = " HOST " ;\tDeviceId=dev1\r\n; ;;SharedAccessKey= " KEY " ;", &cs,
             IH_CONNSTR_DEVICE);
    ck_assert_str_eq(cs.host_name, HOST);
    ck_assert_str_eq(cs.device_id, "dev1");
    ck_assert_str_eq(cs.shared_access_key, KEY);
    ih_connstr_free(&cs);
    parse_ok(";HostName=" HOST ";DeviceId=dev1;SharedAccessKey=" KEY ";", &cs, IH_CONNSTR_DEVICE);
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_value_with_equals_kept_whole)
{
    struct ih_connstr cs;
    parse_ok("HostName=" HOST ";DeviceId=dev1;SharedAccessKey=abc==", &cs, IH_CONNSTR_DEVICE);
    ck_assert_str_eq(cs.shared_access_key, "abc==");
    ih_connstr_free(&cs);
    parse_ok("HostName=" HOST ";DeviceId=a=b=c;SharedAccessKey==x=", &cs, IH_CONNSTR_DEVICE);
    ck_assert_str_eq(cs.device_id, "a=b=c");
    ck_assert_str_eq(cs.shared_access_key, "=x=");
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_unknown_keys_ignored)
{
    struct ih_connstr cs;
    parse_ok("HostName=" HOST ";DeviceId=dev1;x509=true;SharedAccessKey=" KEY
             ";x509=true;Foo=;=bar",
             &cs, IH_CONNSTR_DEVICE);
    ck_assert_str_eq(cs.device_id, "dev1");
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_honours_len)
{
    static const char text[] = "HostName=" HOST ";DeviceId=dev1;SharedAccessKey=" KEY "XYZ";
    struct ih_connstr cs;
    ck_assert_result(ih_connstr_parse(text, strlen(text) - 3, &cs, NULL), IH_OK);
    ck_assert_str_eq(cs.shared_access_key, KEY);
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(parse_errors)
{
    parse_fails(UNIT_S("HostName=a;DeviceId=d;HostName=b"), IH_ERR_DUPLICATE);
    parse_fails(UNIT_S("HostName=a;hostname=b"), IH_ERR_DUPLICATE);
    parse_fails(UNIT_S("HostName=;DeviceId=d;SharedAccessKey=k"), IH_ERR_MISSING);
    parse_fails(UNIT_S("HostName=h;DeviceId=   ;SharedAccessKey=k"), IH_ERR_MISSING);
    parse_fails(UNIT_S("HostName=h;DeviceId=d;SharedAccessKey="), IH_ERR_MISSING);
    parse_fails(UNIT_S("HostName=h;DeviceId;SharedAccessKey=k"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S("HostName"), IH_ERR_SYNTAX);
    parse_fails("HostName=h\0;DeviceId=d", 22, IH_ERR_SYNTAX);
}
END_TEST

START_TEST(parse_without_diag)
{
    struct ih_connstr cs;
    ck_assert_result(ih_connstr_parse(UNIT_S("HostName=a;HostName=b"), &cs, NULL),
                     IH_ERR_DUPLICATE);
    ck_assert_msg(connstr_is_empty(&cs), "fields left set after a failure");
}
END_TEST

START_TEST(parse_length_limit)
{
    /* Exactly IH_CONNSTR_MAX_LEN is fine: the filler is an unknown key. */
    char *text = malloc(IH_CONNSTR_MAX_LEN + 2);
    ck_assert_ptr_nonnull(text);
    static const char head[] = "HostName=" HOST ";DeviceId=dev1;SharedAccessKey=" KEY ";Pad=";
    memcpy(text, head, sizeof head - 1);
    memset(text + sizeof head - 1, 'p', IH_CONNSTR_MAX_LEN + 1 - (sizeof head - 1));
    text[IH_CONNSTR_MAX_LEN + 1] = '\0';
    struct ih_connstr cs;
    ck_assert_result(ih_connstr_parse(text, IH_CONNSTR_MAX_LEN, &cs, NULL), IH_OK);
    ck_assert_str_eq(cs.device_id, "dev1");
    ih_connstr_free(&cs);
    parse_fails(text, IH_CONNSTR_MAX_LEN + 1, IH_ERR_TOO_LONG);
    free(text);
}
END_TEST

START_TEST(classify_errors)
{
    classify_fails("DeviceId=dev1;SharedAccessKey=" KEY, IH_ERR_MISSING);
    classify_fails("SharedAccessKeyName=service;SharedAccessKey=" KEY, IH_ERR_MISSING);
    classify_fails("", IH_ERR_MISSING);
    classify_fails(" ; ; ", IH_ERR_MISSING);
    /* Service without its key. */
    classify_fails("HostName=" HOST ";SharedAccessKeyName=service", IH_ERR_MISSING);
    /* Neither a device nor a service. */
    classify_fails("HostName=" HOST ";SharedAccessKey=" KEY, IH_ERR_MISSING);
    /* Device without credentials. */
    classify_fails("HostName=" HOST ";DeviceId=dev1", IH_ERR_MISSING);
    /* Device with both a key and a token. */
    classify_fails("HostName=" HOST ";DeviceId=dev1;SharedAccessKey=" KEY
                   ";SharedAccessSignature=SharedAccessSignature sr=x&sig=y&se=1",
                   IH_ERR_DUPLICATE);
    /* ModuleId without DeviceId. */
    classify_fails("HostName=" HOST ";ModuleId=mod1;SharedAccessKey=" KEY, IH_ERR_MISSING);
    classify_fails("HostName=" HOST ";ModuleId=mod1;SharedAccessKeyName=s;SharedAccessKey=" KEY,
                   IH_ERR_MISSING);
}
END_TEST

START_TEST(format_prints_the_portal_order)
{
    struct ih_connstr cs;
    ck_assert_result(
        ih_connstr_parse(UNIT_S("GatewayHostName=g;SharedAccessSignature=s=;SharedAccessKey=k=="
                                ";SharedAccessKeyName=p;ModuleId=m;DeviceId=d;HostName=h"),
                         &cs, NULL),
        IH_OK);
    char *out = NULL;
    ck_assert_result(ih_connstr_format(&cs, &out), IH_OK);
    ck_assert_str_eq(out, "HostName=h;DeviceId=d;ModuleId=m;SharedAccessKeyName=p;"
                          "SharedAccessKey=k==;SharedAccessSignature=s=;GatewayHostName=g");
    free(out);
    ih_connstr_free(&cs);
}
END_TEST

START_TEST(format_skips_absent_fields)
{
    struct ih_connstr cs = {0};
    char *out = NULL;
    ck_assert_result(ih_connstr_format(&cs, &out), IH_OK);
    ck_assert_str_eq(out, "");
    free(out);
    char service[] = "service", key[] = KEY, host[] = HOST;
    cs.shared_access_key_name = service;
    cs.shared_access_key = key;
    cs.host_name = host;
    ck_assert_result(ih_connstr_format(&cs, &out), IH_OK);
    ck_assert_str_eq(out, "HostName=" HOST ";SharedAccessKeyName=service;SharedAccessKey=" KEY);
    free(out);
}
END_TEST

START_TEST(format_round_trips_parse)
{
    static const char *const inputs[] = {
        "HostName=" HOST ";DeviceId=dev1;SharedAccessKey=" KEY,
        "HostName=" HOST ";DeviceId=dev1;ModuleId=mod1;SharedAccessKey=" KEY,
        "HostName=" HOST ";SharedAccessKeyName=service;SharedAccessKey=" KEY,
        ("HostName=127.0.0.1;DeviceId=dev 1;SharedAccessSignature=SharedAccessSignature sr=a&sig=b"
         "&se=1;GatewayHostName=gw.local"),
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        struct ih_connstr a, b;
        ck_assert_result(ih_connstr_parse(inputs[i], strlen(inputs[i]), &a, NULL), IH_OK);
        char *text = NULL;
        ck_assert_result(ih_connstr_format(&a, &text), IH_OK);
        ck_assert_str_eq(text, inputs[i]);
        ck_assert_result(ih_connstr_parse(text, strlen(text), &b, NULL), IH_OK);
        ck_assert_pstr_eq(a.host_name, b.host_name);
        ck_assert_pstr_eq(a.device_id, b.device_id);
        ck_assert_pstr_eq(a.module_id, b.module_id);
        ck_assert_pstr_eq(a.shared_access_key_name, b.shared_access_key_name);
        ck_assert_pstr_eq(a.shared_access_key, b.shared_access_key);
        ck_assert_pstr_eq(a.shared_access_signature, b.shared_access_signature);
        ck_assert_pstr_eq(a.gateway_host_name, b.gateway_host_name);
        free(text);
        ih_connstr_free(&a);
        ih_connstr_free(&b);
    }
}
END_TEST

START_TEST(format_refuses_semicolon)
{
    char host[] = HOST, device[] = "dev;1";
    struct ih_connstr cs = {0};
    cs.host_name = host;
    cs.device_id = device;
    char *out = NULL;
    ck_assert_result(ih_connstr_format(&cs, &out), IH_ERR_SYNTAX);
    ck_assert_ptr_null(out);
}
END_TEST

static Suite *connstr_suite(void)
{
    Suite *s = suite_create("connstr");
    TCase *parse = tcase_create("parse");
    tcase_add_test(parse, parse_device);
    tcase_add_test(parse, parse_module);
    tcase_add_test(parse, parse_service);
    tcase_add_test(parse, parse_device_with_policy_is_a_device);
    tcase_add_test(parse, parse_gateway_host_name);
    tcase_add_test(parse, parse_shared_access_signature_kept_whole);
    tcase_add_test(parse, parse_keys_case_insensitive);
    tcase_add_test(parse, parse_blanks_and_empty_pairs_tolerated);
    tcase_add_test(parse, parse_value_with_equals_kept_whole);
    tcase_add_test(parse, parse_unknown_keys_ignored);
    tcase_add_test(parse, parse_honours_len);
    tcase_add_test(parse, parse_errors);
    tcase_add_test(parse, parse_without_diag);
    tcase_add_test(parse, parse_length_limit);
    tcase_add_test(parse, classify_errors);
    suite_add_tcase(s, parse);
    TCase *format = tcase_create("format");
    tcase_add_test(format, format_prints_the_portal_order);
    tcase_add_test(format, format_skips_absent_fields);
    tcase_add_test(format, format_round_trips_parse);
    tcase_add_test(format, format_refuses_semicolon);
    suite_add_tcase(s, format);
    return s;
}

int main(void)
{
    return unit_run(connstr_suite());
}
