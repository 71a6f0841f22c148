/* Unit tests of server/mqtt_acl.[ch]: what a device may do on the broker, and which filters
 * listen for every stream request. */
#include "mqtt_acl.h"

#include "hub_bus.h"

#include "unit.h"

#include <stddef.h>

static const int accesses[] = {MQTT_ACCESS_READ, MQTT_ACCESS_WRITE, MQTT_ACCESS_SUBSCRIBE,
                               MQTT_ACCESS_UNSUBSCRIBE};
#define ACCESS_COUNT (sizeof accesses / sizeof accesses[0])

static void check_allowed(const char *topic, int expected)
{
    for (size_t i = 0; i < ACCESS_COUNT; i++) {
        int got = mqtt_acl_device_allows(accesses[i], topic);
        ck_assert_msg(got == expected, "mqtt_acl_device_allows(%d, '%s'): got %d, expected %d",
                      accesses[i], topic != NULL ? topic : "NULL", got, expected);
    }
}

#define S HUB_LISTEN_STREAMS
#define M HUB_LISTEN_METHODS
#define T HUB_LISTEN_TWIN
#define D HUB_LISTEN_DESIRED

static void check_covers(const char *filter, unsigned expected)
{
    unsigned got = mqtt_filter_listens(filter, "dev1");
    ck_assert_msg(got == expected, "mqtt_filter_listens('%s'): got %u, expected %u", filter, got,
                  expected);
}

static void check_access(int access, const char *topic, int expected)
{
    int got = mqtt_acl_device_allows(access, topic);
    ck_assert_msg(got == expected, "mqtt_acl_device_allows(%d, '%s'): got %d, expected %d", access,
                  topic, got, expected);
}

START_TEST(device_stays_under_iothub_streams)
{
    static const char *const filters[] = {"$iothub/streams/POST/#", "$iothub/streams/res/#",
                                          "$iothub/streams/#", "$iothub/streams/+/#"};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        check_access(MQTT_ACCESS_SUBSCRIBE, filters[i], 1);
        check_access(MQTT_ACCESS_UNSUBSCRIBE, filters[i], 1);
    }
    /* Devices publish only their answers (docs/protocol.md rule 9). */
    check_access(MQTT_ACCESS_WRITE, "$iothub/streams/res/200/?$rid=1", 1);
    check_access(MQTT_ACCESS_WRITE, "$iothub/streams/res/400/?$rid=1", 1);
    /* A device posing as the hub, e.g. in a will message, is refused. */
    check_access(MQTT_ACCESS_WRITE, "$iothub/streams/POST/x/?$rid=1&$url=u&$auth=a", 0);
    /* Nothing reaches a device by a regular delivery: stream requests come by direct delivery,
     * which skips the read check. */
    check_access(MQTT_ACCESS_READ, "$iothub/streams/POST/x/?$rid=1&$url=u&$auth=a", 0);
    check_access(MQTT_ACCESS_READ, "$iothub/streams/res/200/?$rid=1", 0);
}
END_TEST

/* Rules D3, D4 and D15: calls come on $iothub/methods/POST/, answers go to $iothub/methods/res/. */
START_TEST(device_uses_iothub_methods)
{
    static const char *const filters[] = {"$iothub/methods/POST/#", "$iothub/methods/POST/+/+",
                                          "$iothub/methods/POST/reboot/#"};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        check_access(MQTT_ACCESS_SUBSCRIBE, filters[i], 1);
        check_access(MQTT_ACCESS_UNSUBSCRIBE, filters[i], 1);
        check_access(MQTT_ACCESS_WRITE, filters[i], 0);
    }
    check_access(MQTT_ACCESS_WRITE, "$iothub/methods/res/200/?$rid=1", 1);
    check_access(MQTT_ACCESS_WRITE, "$iothub/methods/POST/x/?$rid=1", 0);
    check_access(MQTT_ACCESS_SUBSCRIBE, "$iothub/methods/res/#", 0);
    check_access(MQTT_ACCESS_READ, "$iothub/methods/POST/x/?$rid=1", 0);
}
END_TEST

/* Rules D5-D8: twin requests go to $iothub/twin/GET/ and .../reported/, answers and desired
 * changes come on $iothub/twin/res/ and .../desired/. */
START_TEST(device_uses_iothub_twin)
{
    static const char *const filters[] = {"$iothub/twin/res/#",
                                          "$iothub/twin/PATCH/properties/desired/#"};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        check_access(MQTT_ACCESS_SUBSCRIBE, filters[i], 1);
        check_access(MQTT_ACCESS_WRITE, filters[i], 0);
    }
    check_access(MQTT_ACCESS_WRITE, "$iothub/twin/GET/?$rid=1", 1);
    check_access(MQTT_ACCESS_WRITE, "$iothub/twin/PATCH/properties/reported/?$rid=1", 1);
    check_access(MQTT_ACCESS_WRITE, "$iothub/twin/PATCH/properties/desired/?$version=1", 0);
    check_access(MQTT_ACCESS_WRITE, "$iothub/twin/res/200/?$rid=1", 0);
    check_access(MQTT_ACCESS_SUBSCRIBE, "$iothub/twin/GET/#", 0);
}
END_TEST

START_TEST(device_refused_elsewhere)
{
    check_allowed("$iothub/twin/#", 0);
    check_allowed("$iothub/twin/PATCH/properties/#", 0);
    check_allowed("$iothub/twin/PATCH/properties/desired", 0);
    check_allowed("$iothub/methods/#", 0);
    check_allowed("$iothub/methods/+/#", 0);
    check_allowed("$iothub/methodsX/POST/#", 0);
    check_allowed("devices/dev1/messages/events/", 0);
    check_allowed("$hub/#", 0);
    check_allowed("$hub/to/dev2/$iothub/streams/POST/x", 0);
    check_allowed("$hub/from/dev2/$iothub/streams/res/200/?$rid=1", 0);
    check_allowed("$hub/evt/connected/dev2", 0);
    check_allowed("#", 0);
    check_allowed("+/streams/#", 0);
    check_allowed("+/#", 0);
    check_allowed("$iothub/+/POST/#", 0);
    check_allowed("$iothub/#", 0);
    check_allowed("$iothub/streams", 0);
    check_allowed("$iothub/streamsX", 0);
    check_allowed("$iothub/streamsX/POST/#", 0);
    check_allowed("$IOTHUB/streams/POST/#", 0);
    check_allowed("$iothub/Streams/POST/#", 0);
    check_allowed("/$iothub/streams/POST/#", 0);
    check_allowed("foo/bar", 0);
    check_allowed("", 0);
    check_allowed(NULL, 0);
}
END_TEST

START_TEST(unknown_access_refused)
{
    static const int others[] = {0, 3, 5, 12, 15, 16, -1, 0x100};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        ck_assert_msg(!mqtt_acl_device_allows(others[i], "$iothub/streams/POST/#"),
                      "access %d allowed", others[i]);
    }
    ck_assert_int_eq(MQTT_ACCESS_READ, 1);
    ck_assert_int_eq(MQTT_ACCESS_WRITE, 2);
    ck_assert_int_eq(MQTT_ACCESS_SUBSCRIBE, 4);
    ck_assert_int_eq(MQTT_ACCESS_UNSUBSCRIBE, 8);
}
END_TEST

/* Rule D13: a device may (un)subscribe under its own devicebound topics, id raw or encoded; a
 * module (rule D17) and other devices may not. */
START_TEST(device_subscribes_to_its_own_c2d)
{
    static const struct {
        int access;
        const char *topic, *cid;
        int allowed;
    } cases[] = {
        {MQTT_ACCESS_SUBSCRIBE, "devices/dev1/messages/devicebound/#", "dev1", 1},
        {MQTT_ACCESS_UNSUBSCRIBE, "devices/dev1/messages/devicebound/#", "dev1", 1},
        {MQTT_ACCESS_SUBSCRIBE, "devices/my%24dev/messages/devicebound/#", "my$dev", 1},
        {MQTT_ACCESS_SUBSCRIBE, "devices/dev2/messages/devicebound/#", "dev1", 0},
        {MQTT_ACCESS_SUBSCRIBE, "devices/dev1/messages/devicebound/#", "dev1/m1", 0},
        {MQTT_ACCESS_SUBSCRIBE, "devices/dev1/messages/devicebound", "dev1", 0},
        {MQTT_ACCESS_SUBSCRIBE, "devices/+/messages/devicebound/#", "dev1", 0},
        {MQTT_ACCESS_WRITE, "devices/dev1/messages/devicebound/x", "dev1", 0},
        {MQTT_ACCESS_READ, "devices/dev1/messages/devicebound/x", "dev1", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = mqtt_acl_client_allows(cases[i].access, cases[i].topic, cases[i].cid);
        ck_assert_msg(got == cases[i].allowed, "%d '%s' as '%s': got %d", cases[i].access,
                      cases[i].topic, cases[i].cid, got);
    }
}
END_TEST

/* Only a filter that takes every bag listens for C2D. */
START_TEST(covers_c2d_messages)
{
    check_covers("devices/dev1/messages/devicebound/#", HUB_LISTEN_C2D);
    check_covers("devices/dev1/messages/devicebound/+", HUB_LISTEN_C2D);
    check_covers("devices/dev1/messages/devicebound/%24.to=x", 0);
    check_covers("devices/dev2/messages/devicebound/#", 0);
    ck_assert_uint_eq(mqtt_filter_listens("devices/dev1/messages/devicebound/#", "dev1/m1"), 0);
    ck_assert_uint_eq(mqtt_filter_listens("devices/dev1/messages/devicebound/#", NULL), 0);
}
END_TEST

START_TEST(covers_stream_requests)
{
    check_covers("$iothub/streams/POST/#", S);
    check_covers("$iothub/streams/#", S);
    check_covers("$iothub/streams/+/#", S);
    check_covers("$iothub/streams/POST/+/+", S);
    check_covers("$iothub/+/POST/#", S | M);
    check_covers("$iothub/#", S | M | T | D);
    check_covers("$iothub/streams/res/#", 0);
    check_covers("$iothub/streams/POST/x/#", 0);
    check_covers("$iothub/streams/POST/+", 0);
    check_covers("$iothub/streams/POST/+/+/+", 0);
    check_covers("$iothub/streams/POST", 0);
    check_covers("#", 0);
    check_covers("+/streams/POST/#", 0);
    check_covers("$iothub/twin/#", T | D);
}
END_TEST

START_TEST(covers_twin_answers_and_desired_changes)
{
    check_covers("$iothub/twin/res/#", T);
    check_covers("$iothub/twin/res/+/+", T);
    check_covers("$iothub/twin/res/200/#", 0);
    check_covers("$iothub/twin/PATCH/properties/desired/#", D);
    check_covers("$iothub/twin/PATCH/properties/desired/+", D);
    check_covers("$iothub/twin/PATCH/properties/#", D);
    check_covers("$iothub/twin/#", T | D);
    check_covers("$iothub/twin/PATCH/properties/reported/#", 0);
}
END_TEST

START_TEST(covers_method_calls)
{
    check_covers("$iothub/methods/POST/#", M);
    check_covers("$iothub/methods/#", M);
    check_covers("$iothub/methods/POST/+/+", M);
    check_covers("$iothub/methods/POST/reboot/#", 0);
    check_covers("$iothub/methods/res/#", 0);
    check_covers("$iothub/methods/POST/+", 0);
}
END_TEST

START_TEST(covers_does_not_depend_on_the_probe_stream_name)
{
    /* A filter naming one stream does not listen for every stream request, whatever that name:
     * the same answer as for "$iothub/streams/POST/x/#". */
    check_covers("$iothub/streams/POST/x/#", 0);
    check_covers("$iothub/streams/POST/stream/#", 0);
    check_covers("$iothub/streams/POST/stream/+", 0);
}
END_TEST

static Suite *mqtt_acl_suite(void)
{
    Suite *s = suite_create("mqtt_acl");
    TCase *acl = tcase_create("acl");
    tcase_add_test(acl, device_stays_under_iothub_streams);
    tcase_add_test(acl, device_uses_iothub_methods);
    tcase_add_test(acl, device_uses_iothub_twin);
    tcase_add_test(acl, device_refused_elsewhere);
    tcase_add_test(acl, unknown_access_refused);
    tcase_add_test(acl, device_subscribes_to_its_own_c2d);
    suite_add_tcase(s, acl);
    TCase *match = tcase_create("filter");
    tcase_add_test(match, covers_stream_requests);
    tcase_add_test(match, covers_method_calls);
    tcase_add_test(match, covers_c2d_messages);
    tcase_add_test(match, covers_twin_answers_and_desired_changes);
    tcase_add_test(match, covers_does_not_depend_on_the_probe_stream_name);
    suite_add_tcase(s, match);
    return s;
}

int main(void)
{
    return unit_run(mqtt_acl_suite());
}
