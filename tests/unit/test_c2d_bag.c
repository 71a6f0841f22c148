/* Unit tests of protocol/c2d_bag.[ch]: the device's lenient reading of the topic a
 * cloud-to-device message arrives on (docs/protocol.md §12.4, rule D13). */
#include "protocol/c2d_bag.h"

#include "unit.h"

#include <stdlib.h>
#include <string.h>

struct want {
    const char *name;
    const char *value;
};

/* Parses topic (not NUL-terminated: a copy without the terminator, so ASan sees overreads) and
 * checks the device id and the pairs. */
static void check_parse(const char *topic, const char *device_id, const struct want *want, size_t n)
{
    size_t len = strlen(topic);
    char *copy = malloc(len > 0 ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, topic, len);
    struct ih_c2d_bag bag;
    struct ih_diag diag = {{0}};
    ih_result r = ih_c2d_bag_parse(copy, len, &bag, &diag);
    ck_assert_msg(r == IH_OK, "%s: %s (%s)", topic, ih_result_name(r), diag.msg);
    ck_assert_str_eq(bag.device_id, device_id);
    ck_assert_uint_eq(bag.count, n);
    if (n == 0)
        ck_assert_ptr_null(bag.pairs);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(bag.pairs[i].name, want[i].name);
        ck_assert_str_eq(bag.pairs[i].value, want[i].value);
    }
    ih_c2d_bag_free(&bag);
    ck_assert_ptr_null(bag.device_id);
    ck_assert_uint_eq(bag.count, 0);
    free(copy);
}

#define CHECK_PARSE(topic, device, ...)                                                            \
    do {                                                                                           \
        static const struct want want_[] = {__VA_ARGS__};                                          \
        check_parse(topic, device, want_, sizeof want_ / sizeof want_[0]);                         \
    } while (0)

static void check_refused(const char *topic, size_t len, ih_result expected)
{
    struct ih_c2d_bag bag;
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_c2d_bag_parse(topic, len, &bag, &diag), expected);
    ck_assert_msg(diag.msg[0] != '\0', "%s: no diagnostic", topic);
    ck_assert_ptr_null(bag.device_id);
    ck_assert_ptr_null(bag.pairs);
    ck_assert_uint_eq(bag.count, 0);
}

/* Rule D13: what the hub sends, system properties first, every key and value encoded. */
START_TEST(hub_bag)
{
    CHECK_PARSE("devices/dev1/messages/devicebound/%24.mid=m-1&%24.to=%2Fdevices%2Fdev1%2Fmessages"
                "%2FdeviceBound&%24.cid=c%201&%24.uid=me&%24.ct=application%2Fjson&%24.ce=utf-8&"
                "iothub-ack=full&color=red&a%26b=x%3Dy",
                "dev1", {"$.mid", "m-1"}, {"$.to", "/devices/dev1/messages/deviceBound"},
                {"$.cid", "c 1"}, {"$.uid", "me"}, {"$.ct", "application/json"}, {"$.ce", "utf-8"},
                {"iothub-ack", "full"}, {"color", "red"}, {"a&b", "x=y"});
    /* Only $.to: the smallest bag the hub sends. */
    CHECK_PARSE("devices/d/messages/devicebound/%24.to=%2Fdevices%2Fd%2Fmessages%2FdeviceBound",
                "d", {"$.to", "/devices/d/messages/deviceBound"});
}
END_TEST

/* The device id is the level as it is: the hub sends it raw. */
START_TEST(raw_device_id)
{
    CHECK_PARSE("devices/a%2Bb:c.d/messages/devicebound/k=v", "a%2Bb:c.d", {"k", "v"});
    CHECK_PARSE("devices/messages/messages/devicebound/k=v", "messages", {"k", "v"});
}
END_TEST

START_TEST(empty_bags)
{
    static const char *const empty[] = {
        "devices/d/messages/devicebound",           "devices/d/messages/devicebound/",
        "devices/d/messages/devicebound//",         "devices/d/messages/devicebound/&&",
        "devices/d/messages/devicebound/flag&=v&&",
    };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++)
        check_parse(empty[i], "d", NULL, 0);
}
END_TEST

/* Keys without `=` and empty keys are skipped; the rest reads as the SDKs read it. */
START_TEST(lenient_items)
{
    CHECK_PARSE("devices/d/messages/devicebound/flag&&a=1&=orphan&b=&", "d", {"a", "1"}, {"b", ""});
    /* `+` is not a space; a stray `%` stays; %00 is not decoded; lower-case hex reads. */
    CHECK_PARSE("devices/d/messages/devicebound/a=1+2&b=%4&c=%zz&d=%00&e=100%&f=%%41&g=%2fx", "d",
                {"a", "1+2"}, {"b", "%4"}, {"c", "%zz"}, {"d", "%00"}, {"e", "100%"}, {"f", "%A"},
                {"g", "/x"});
    /* Only the first `=` splits; raw values may hold `/`, spaces, `$`. */
    CHECK_PARSE("devices/d/messages/devicebound/$.mid=1&expr=x=1&label=a b/c", "d", {"$.mid", "1"},
                {"expr", "x=1"}, {"label", "a b/c"});
    /* One trailing `/` goes, as in telemetry. */
    CHECK_PARSE("devices/d/messages/devicebound/k=v/", "d", {"k", "v"});
    CHECK_PARSE("devices/d/messages/devicebound/k=v//", "d", {"k", "v/"});
    /* Duplicates are kept in order; the lookup takes the first. Bytes pass, UTF-8 or not. */
    CHECK_PARSE("devices/d/messages/devicebound/k=1&k=2&t=%C3%A9&u=%ff", "d", {"k", "1"},
                {"k", "2"}, {"t", "\xc3\xa9"}, {"u", "\xff"});
}
END_TEST

START_TEST(lookup)
{
    struct ih_c2d_bag bag;
    ck_assert_result(
        ih_c2d_bag_parse(UNIT_S("devices/d/messages/devicebound/%24.mid=m&k=1&k=2"), &bag, NULL),
        IH_OK);
    ck_assert_str_eq(ih_c2d_bag_get(&bag, "$.mid"), "m");
    ck_assert_str_eq(ih_c2d_bag_get(&bag, "k"), "1");
    ck_assert_ptr_null(ih_c2d_bag_get(&bag, "%24.mid"));
    ck_assert_ptr_null(ih_c2d_bag_get(&bag, "K"));
    ih_c2d_bag_free(&bag);
    ih_c2d_bag_free(&bag); /* freed twice: still empty */
}
END_TEST

START_TEST(refused_shapes)
{
    static const char *const bad[] = {
        "devices//messages/devicebound/",
        "devices/d/messages/devicebounds/",
        "devices/d/messages/deviceBound/",
        "devices/d/messages/events/",
        "devices/d/modules/m/messages/devicebound/",
        "devices/d",
        "devices/d/",
        "devices/",
        "",
        "Devices/d/messages/devicebound/",
        "/devices/d/messages/devicebound/",
        "$iothub/methods/POST/m/?$rid=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_refused(bad[i], strlen(bad[i]), IH_ERR_SYNTAX);
    static const char nul[] = "devices/d/messages/devicebound/a=\0b";
    check_refused(nul, sizeof nul - 1, IH_ERR_SYNTAX);
}
END_TEST

START_TEST(bounds)
{
    static const char prefix[] = "devices/d/messages/devicebound/";
    /* IH_C2D_BAG_MAX_PAIRS pairs read, among items that are skipped; one more is refused. */
    char *topic = malloc(sizeof prefix + (IH_C2D_BAG_MAX_PAIRS + 1) * 10);
    ck_assert_ptr_nonnull(topic);
    strcpy(topic, prefix);
    for (int i = 0; i < IH_C2D_BAG_MAX_PAIRS; i++)
        strcat(topic, "k=v&skip&");
    struct ih_c2d_bag bag;
    ck_assert_result(ih_c2d_bag_parse(UNIT_S(topic), &bag, NULL), IH_OK);
    ck_assert_uint_eq(bag.count, IH_C2D_BAG_MAX_PAIRS);
    ih_c2d_bag_free(&bag);
    strcat(topic, "k=v");
    check_refused(topic, strlen(topic), IH_ERR_TOO_LONG);
    free(topic);

    /* MQTT's topic bound: 65535 bytes read, one more refused. */
    size_t len = 65535;
    topic = malloc(len + 2);
    ck_assert_ptr_nonnull(topic);
    memset(topic, 'x', len + 1);
    topic[len + 1] = '\0';
    memcpy(topic, prefix, sizeof prefix - 1);
    memcpy(topic + sizeof prefix - 1, "k=", 2);
    ck_assert_result(ih_c2d_bag_parse(topic, len, &bag, NULL), IH_OK);
    ck_assert_uint_eq(bag.count, 1);
    ck_assert_uint_eq(strlen(bag.pairs[0].value), len - (sizeof prefix - 1) - 2);
    ih_c2d_bag_free(&bag);
    check_refused(topic, len + 1, IH_ERR_TOO_LONG);
    free(topic);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("c2d_bag");
    TCase *tc = tcase_create("topics");
    tcase_add_test(tc, hub_bag);
    tcase_add_test(tc, raw_device_id);
    tcase_add_test(tc, empty_bags);
    tcase_add_test(tc, lenient_items);
    tcase_add_test(tc, lookup);
    tcase_add_test(tc, refused_shapes);
    tcase_add_test(tc, bounds);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
