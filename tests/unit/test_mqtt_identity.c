/* Unit tests of server/mqtt_identity.[ch]: the client id and user name of a device's MQTT CONNECT
 * (docs/protocol.md §2.1, §2.5, rule 6). */
#include "mqtt_identity.h"

#include "unit.h"

#include <string.h>

#define HOST "hub.azure-devices.net"
/* The C device SDK's user name (docs/protocol.md §2.1). */
#define C_SDK_QUERY "?api-version=2017-11-08-preview&DeviceClientType=iothubclient%2F1.3.1"
/* The C# SDK's. */
#define CS_QUERY "?api-version=2018-06-30&DeviceClientType=x"

static void check_parse(const char *cid, const char *device, const char *module)
{
    struct mqtt_identity id;
    struct ih_diag diag = {{0}};
    ih_result r = mqtt_identity_parse(cid, &id, &diag);
    ck_assert_msg(r == IH_OK, "mqtt_identity_parse('%s'): %s (%s)", cid, ih_result_name(r),
                  diag.msg);
    ck_assert_str_eq(id.device_id, device);
    ck_assert_str_eq(id.module_id, module);
}

static void check_parse_fails(const char *cid, ih_result expected)
{
    struct mqtt_identity id;
    struct ih_diag diag = {{0}};
    ih_result r = mqtt_identity_parse(cid, &id, &diag);
    ck_assert_msg(r == expected, "mqtt_identity_parse('%s'): got %s, expected %s",
                  cid != NULL ? cid : "NULL", ih_result_name(r), ih_result_name(expected));
    ck_assert_msg(diag.msg[0] != '\0', "mqtt_identity_parse('%s') failed without a reason",
                  cid != NULL ? cid : "NULL");
}

static void check_user_ok(const char *username, const char *cid)
{
    struct ih_diag diag = {{0}};
    ih_result r = mqtt_username_check(username, cid, &diag);
    ck_assert_msg(r == IH_OK, "mqtt_username_check('%s', '%s'): %s (%s)",
                  username != NULL ? username : "NULL", cid, ih_result_name(r), diag.msg);
}

static void check_user_refused(const char *username, const char *cid)
{
    struct ih_diag diag = {{0}};
    ih_result r = mqtt_username_check(username, cid, &diag);
    ck_assert_msg(r == IH_ERR_AUDIENCE, "mqtt_username_check('%s', '%s'): got %s, expected %s",
                  username, cid, ih_result_name(r), ih_result_name(IH_ERR_AUDIENCE));
    ck_assert_msg(strstr(diag.msg, cid) != NULL, "diag '%s' does not name the client id '%s'",
                  diag.msg, cid);
}

START_TEST(device_client_id)
{
    check_parse("dev1", "dev1", "");
    check_parse("a+b#c$d", "a+b#c$d", "");
    check_parse("-:.+%_#*?!(),=@;$'", "-:.+%_#*?!(),=@;$'", "");
}
END_TEST

START_TEST(module_client_id)
{
    check_parse("dev1/mod1", "dev1", "mod1");
    check_parse("a+b/m#1", "a+b", "m#1");
}
END_TEST

START_TEST(longest_ids)
{
    char id[IH_ID_MAX_LEN + 1];
    memset(id, 'd', IH_ID_MAX_LEN);
    id[IH_ID_MAX_LEN] = '\0';
    check_parse(id, id, "");
    char cid[2 * IH_ID_MAX_LEN + 2];
    memcpy(cid, id, IH_ID_MAX_LEN);
    cid[IH_ID_MAX_LEN] = '/';
    memset(cid + IH_ID_MAX_LEN + 1, 'm', IH_ID_MAX_LEN);
    cid[2 * IH_ID_MAX_LEN + 1] = '\0';
    struct mqtt_identity parsed;
    ck_assert_result(mqtt_identity_parse(cid, &parsed, NULL), IH_OK);
    ck_assert_str_eq(parsed.device_id, id);
    ck_assert_uint_eq(strlen(parsed.module_id), IH_ID_MAX_LEN);
    ck_assert_int_eq(parsed.module_id[0], 'm');
}
END_TEST

START_TEST(bad_client_ids)
{
    check_parse_fails(NULL, IH_ERR_MISSING);
    check_parse_fails("", IH_ERR_MISSING);
    check_parse_fails("a b", IH_ERR_SYNTAX);
    check_parse_fails("dev/", IH_ERR_MISSING);
    check_parse_fails("/mod", IH_ERR_MISSING);
    check_parse_fails("/", IH_ERR_MISSING);
    check_parse_fails("a/b/c", IH_ERR_SYNTAX);
    check_parse_fails("a/b/", IH_ERR_SYNTAX);
    check_parse_fails("dev1/a b", IH_ERR_SYNTAX);
    check_parse_fails("d\xc3\xa9v", IH_ERR_SYNTAX);
    check_parse_fails(".", IH_ERR_SYNTAX);
    check_parse_fails("dev1/..", IH_ERR_SYNTAX);
    check_parse_fails("~iothub-emulator", IH_ERR_SYNTAX);

    char id[IH_ID_MAX_LEN + 2];
    memset(id, 'd', IH_ID_MAX_LEN + 1);
    id[IH_ID_MAX_LEN + 1] = '\0';
    check_parse_fails(id, IH_ERR_TOO_LONG);
    char cid[IH_ID_MAX_LEN + 7];
    memcpy(cid, "dev1/", 5);
    memset(cid + 5, 'm', IH_ID_MAX_LEN + 1);
    cid[IH_ID_MAX_LEN + 6] = '\0';
    check_parse_fails(cid, IH_ERR_TOO_LONG);
}
END_TEST

START_TEST(resource_paths)
{
    struct mqtt_identity id;
    char path[300];
    ck_assert_result(mqtt_identity_parse("dev1", &id, NULL), IH_OK);
    mqtt_identity_resource(&id, path, sizeof path);
    ck_assert_str_eq(path, "/devices/dev1");
    ck_assert_result(mqtt_identity_parse("dev1/mod1", &id, NULL), IH_OK);
    mqtt_identity_resource(&id, path, sizeof path);
    ck_assert_str_eq(path, "/devices/dev1/modules/mod1");
    /* Raw ids: the audience check compares with the decoded sr. */
    ck_assert_result(mqtt_identity_parse("a+b/m#1", &id, NULL), IH_OK);
    mqtt_identity_resource(&id, path, sizeof path);
    ck_assert_str_eq(path, "/devices/a+b/modules/m#1");
    /* Truncated, never overflowed. */
    char small[10];
    memset(small, 'x', sizeof small);
    mqtt_identity_resource(&id, small, sizeof small);
    ck_assert_str_eq(small, "/devices/");
}
END_TEST

START_TEST(username_absent_or_empty)
{
    check_user_ok(NULL, "dev1");
    check_user_ok("", "dev1");
    check_user_ok(NULL, "dev1/mod1");
}
END_TEST

START_TEST(username_sdk_forms)
{
    check_user_ok(HOST "/dev1/" C_SDK_QUERY, "dev1");
    check_user_ok(HOST "/dev1/mod1/" C_SDK_QUERY, "dev1/mod1");
    check_user_ok("h/dev1/mod1/" CS_QUERY, "dev1/mod1");
    check_user_ok(HOST "/dev1/" CS_QUERY, "dev1");
    check_user_ok(HOST "/dev1/?api-version=2019-07-01-preview", "dev1");
    /* Any api-version, or none. */
    check_user_ok(HOST "/dev1/?", "dev1");
    check_user_ok(HOST "/dev1/?x=/y/?z", "dev1");
    check_user_ok("127.0.0.1/a+b#c/?api-version=1", "a+b#c");
}
END_TEST

START_TEST(username_lenient_forms)
{
    /* Trailing slashes before the query. */
    check_user_ok("h/dev1//?api-version=1", "dev1");
    check_user_ok("h/dev1/mod1//" CS_QUERY, "dev1/mod1");
    /* No "/?" at all. */
    check_user_ok("h/dev1", "dev1");
    check_user_ok("h/dev1/", "dev1");
    check_user_ok("h/dev1/mod1", "dev1/mod1");
}
END_TEST

START_TEST(username_names_another_identity)
{
    struct ih_diag diag = {{0}};
    ck_assert_result(mqtt_username_check(HOST "/dev2/" C_SDK_QUERY, "dev1", &diag),
                     IH_ERR_AUDIENCE);
    ck_assert_msg(strstr(diag.msg, "'dev2'") != NULL, "diag '%s' does not name dev2", diag.msg);
    ck_assert_msg(strstr(diag.msg, "'dev1'") != NULL, "diag '%s' does not name dev1", diag.msg);

    check_user_refused(HOST "/dev2/" CS_QUERY, "dev1");
    check_user_refused(HOST "/DEV1/" CS_QUERY, "dev1");
    check_user_refused(HOST "/dev1/mod1/" CS_QUERY, "dev1");
    check_user_refused(HOST "/dev1/" CS_QUERY, "dev1/mod1");
    check_user_refused(HOST "/dev1/mod2/" CS_QUERY, "dev1/mod1");
    check_user_refused(HOST "/dev10/" CS_QUERY, "dev1");
    check_user_refused(HOST "/dev/" CS_QUERY, "dev1");
    check_user_refused(HOST "/" CS_QUERY, "dev1");
    check_user_refused("h/x/dev1/" CS_QUERY, "dev1");
    check_user_refused("dev2", "dev1");
}
END_TEST

START_TEST(username_long_name_in_diag)
{
    char username[400];
    memset(username, 'x', sizeof username - 1);
    username[0] = 'h';
    username[1] = '/';
    username[sizeof username - 1] = '\0';
    struct ih_diag diag = {{0}};
    ck_assert_result(mqtt_username_check(username, "dev1", &diag), IH_ERR_AUDIENCE);
    ck_assert_uint_lt(strlen(diag.msg), sizeof diag.msg);
}
END_TEST

/* '?' is allowed in ids (docs/protocol.md §1.1), and the SDKs put the raw id in the user name: the
 * first "/?" is not always where the query starts. */
START_TEST(username_id_with_a_question_mark)
{
    check_parse("?dev", "?dev", "");
    check_parse("dev1/?mod", "dev1", "?mod");
    check_user_ok(HOST "/dev?1/" CS_QUERY, "dev?1");
    check_user_ok(HOST "/dev1/mod?/" CS_QUERY, "dev1/mod?");
}
END_TEST

START_TEST(username_device_id_starting_with_a_question_mark)
{
    check_user_ok(HOST "/?dev/" CS_QUERY, "?dev");
}
END_TEST

START_TEST(username_module_id_starting_with_a_question_mark)
{
    check_user_ok(HOST "/dev1/?mod/" CS_QUERY, "dev1/?mod");
}
END_TEST

static Suite *mqtt_identity_suite(void)
{
    Suite *s = suite_create("mqtt_identity");
    TCase *cid = tcase_create("client_id");
    tcase_add_test(cid, device_client_id);
    tcase_add_test(cid, module_client_id);
    tcase_add_test(cid, longest_ids);
    tcase_add_test(cid, bad_client_ids);
    tcase_add_test(cid, resource_paths);
    suite_add_tcase(s, cid);
    TCase *user = tcase_create("username");
    tcase_add_test(user, username_absent_or_empty);
    tcase_add_test(user, username_sdk_forms);
    tcase_add_test(user, username_lenient_forms);
    tcase_add_test(user, username_names_another_identity);
    tcase_add_test(user, username_long_name_in_diag);
    tcase_add_test(user, username_id_with_a_question_mark);
    tcase_add_test(user, username_device_id_starting_with_a_question_mark);
    tcase_add_test(user, username_module_id_starting_with_a_question_mark);
    suite_add_tcase(s, user);
    return s;
}

int main(void)
{
    return unit_run(mqtt_identity_suite());
}
