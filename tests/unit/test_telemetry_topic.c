/* Unit tests of protocol/telemetry_topic.[ch]: the device-to-cloud telemetry topics and their
 * property bags as each SDK writes them (docs/protocol.md §12.3 rule D10, §12.7). */
#include "protocol/telemetry_topic.h"

#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* One expected property: system 1 for a `$.` key; value NULL for a key without `=`. */
struct want {
    int system;
    const char *name;
    const char *value;
};

static void check_properties(const struct ih_telemetry_topic *t, const struct want *want, size_t n)
{
    ck_assert_uint_eq(t->count, n);
    for (size_t i = 0; i < n; i++) {
        const struct ih_property *p = &t->properties[i];
        ck_assert_msg(p->system == want[i].system, "property %zu (%s): system %d, expected %d", i,
                      p->name, p->system, want[i].system);
        ck_assert_str_eq(p->name, want[i].name);
        if (want[i].value == NULL)
            ck_assert_ptr_null(p->value);
        else
            ck_assert_str_eq(p->value, want[i].value);
    }
}

/* Parses topic (not NUL-terminated: a copy without the terminator, so ASan sees overreads) and
 * checks the ids and the bag. */
static void check_parse(const char *topic, const char *device_id, const char *module_id,
                        const struct want *want, size_t n)
{
    size_t len = strlen(topic);
    char *copy = malloc(len > 0 ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, topic, len);
    struct ih_telemetry_topic t;
    struct ih_diag diag = {{0}};
    ih_result r = ih_topic_parse_telemetry(copy, len, &t, &diag);
    ck_assert_msg(r == IH_OK, "%s: %s (%s)", topic, ih_result_name(r), diag.msg);
    ck_assert_int_eq(ih_topic_is_telemetry(copy, len), 1);
    ck_assert_str_eq(t.device_id, device_id);
    if (module_id == NULL)
        ck_assert_ptr_null(t.module_id);
    else
        ck_assert_str_eq(t.module_id, module_id);
    check_properties(&t, want, n);
    ih_telemetry_topic_free(&t);
    ck_assert_ptr_null(t.device_id);
    ck_assert_uint_eq(t.count, 0);
    free(copy);
}

#define CHECK_PARSE(topic, device, module, ...)                                                    \
    do {                                                                                           \
        static const struct want want_[] = {__VA_ARGS__};                                          \
        check_parse(topic, device, module, want_, sizeof want_ / sizeof want_[0]);                 \
    } while (0)

static void check_refused(const char *topic, ih_result expected)
{
    struct ih_telemetry_topic t;
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_topic_parse_telemetry(topic, strlen(topic), &t, &diag), expected);
    ck_assert_msg(diag.msg[0] != '\0', "%s: no diagnostic", topic);
    ck_assert_ptr_null(t.device_id);
    ck_assert_ptr_null(t.module_id);
    ck_assert_ptr_null(t.properties);
    ck_assert_uint_eq(t.count, 0);
}

/* §12.7: the C SDK 1.9.0 encodes nothing, user properties first, values with `/`, `=`, spaces. */
START_TEST(c_sdk_raw_bag)
{
    CHECK_PARSE("devices/d/messages/events/seq=1&temperatureAlert=false&label=a b/c&expr=x=1&"
                "%24.cid=c-corr-1&%24.mid=c-msg-1&%24.ct=application/json&%24.ce=utf-8",
                "d", NULL, {0, "seq", "1"}, {0, "temperatureAlert", "false"}, {0, "label", "a b/c"},
                {0, "expr", "x=1"}, {1, "cid", "c-corr-1"}, {1, "mid", "c-msg-1"},
                {1, "ct", "application/json"}, {1, "ce", "utf-8"});
}
END_TEST

/* Node: querystring.stringify(system) first, then encodeURIComponent'd user properties. */
START_TEST(node_encoded_bag)
{
    CHECK_PARSE("devices/d/messages/events/%24.mid=abc&%24.ct=application%2Fjson&k=v%20w", "d",
                NULL, {1, "mid", "abc"}, {1, "ct", "application/json"}, {0, "k", "v w"});
    /* Lower-case escapes read the same. */
    CHECK_PARSE("devices/d/messages/events/%24.ct=application%2fjson", "d", NULL,
                {1, "ct", "application/json"});
}
END_TEST

/* C#: a non-empty bag is followed by one `/`; an empty bag is the bare `…/events/`. */
START_TEST(csharp_trailing_slash)
{
    CHECK_PARSE("devices/d/messages/events/%24.mid=1&k=v/", "d", NULL, {1, "mid", "1"},
                {0, "k", "v"});
    /* Only one `/` goes. */
    CHECK_PARSE("devices/d/messages/events/k=v//", "d", NULL, {0, "k", "v/"});
    static const char *const empty[] = {
        "devices/d/messages/events/",
        "devices/d/messages/events",
        "devices/d/messages/events//",
        "devices/d/messages/events/&&",
    };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        check_parse(empty[i], "d", NULL, NULL, 0);
        struct ih_telemetry_topic t;
        ck_assert_int_eq(ih_topic_parse_telemetry(UNIT_S(empty[i]), &t, NULL), IH_OK);
        ck_assert_ptr_null(t.properties);
        ih_telemetry_topic_free(&t);
    }
}
END_TEST

/* Python: quote(…, safe="") on the bag and on the device id. */
START_TEST(python_encoded_ids)
{
    CHECK_PARSE("devices/a%2Bb/messages/events/%24.mid=m%201&%24.on=out&b=2", "a+b", NULL,
                {1, "mid", "m 1"}, {1, "on", "out"}, {0, "b", "2"});
    check_parse("devices/a%2Bb/messages/events/", "a+b", NULL, NULL, 0);
    CHECK_PARSE("devices/d%2F1/modules/m%20x/messages/events/k=v", "d/1", "m x", {0, "k", "v"});
}
END_TEST

START_TEST(module_topics)
{
    CHECK_PARSE("devices/d/modules/m/messages/events/%24.on=out1&x=1", "d", "m", {1, "on", "out1"},
                {0, "x", "1"});
    check_parse("devices/d/modules/m/messages/events", "d", "m", NULL, 0);
    /* Node's output events end with `/`. */
    CHECK_PARSE("devices/d/modules/m/messages/events/%24.on=o/", "d", "m", {1, "on", "o"});
    /* Ids that look like the fixed levels are only ids. */
    check_parse("devices/modules/messages/events/", "modules", NULL, NULL, 0);
    check_parse("devices/d/modules/messages/messages/events/", "d", "messages", NULL, 0);
}
END_TEST

/* Rule D10's lenient reading of items and escapes. */
START_TEST(lenient_items)
{
    CHECK_PARSE("devices/d/messages/events/flag&&a=1&", "d", NULL, {0, "flag", NULL},
                {0, "a", "1"});
    CHECK_PARSE("devices/d/messages/events/$.unknown=z&%24.ctime=2024-01-01T00:00:00Z", "d", NULL,
                {1, "unknown", "z"}, {1, "ctime", "2024-01-01T00:00:00Z"});
    /* `+` is not a space; a stray `%` stays; %00 is not decoded. */
    CHECK_PARSE("devices/d/messages/events/a=1+2&b=%4&c=%zz&d=%00&e=100%&f=%%41", "d", NULL,
                {0, "a", "1+2"}, {0, "b", "%4"}, {0, "c", "%zz"}, {0, "d", "%00"}, {0, "e", "100%"},
                {0, "f", "%A"});
    /* Empty names and values, `$.` alone, an escaped `=` in a key, duplicates in order. */
    CHECK_PARSE("devices/d/messages/events/=v&k=&$.&x%3Dy=1&k=2", "d", NULL, {0, "", "v"},
                {0, "k", ""}, {1, "", NULL}, {0, "x=y", "1"}, {0, "k", "2"});
    /* `$` must be followed by `.`; an encoded `.` counts. */
    CHECK_PARSE("devices/d/messages/events/$mid=1&%24%2Emid=2&%2524.mid=3", "d", NULL,
                {0, "$mid", "1"}, {1, "mid", "2"}, {0, "%24.mid", "3"});
    /* Bytes are passed through, UTF-8 or not. */
    CHECK_PARSE("devices/d/messages/events/t=%C3%A9&u=%ff", "d", NULL, {0, "t", "\xc3\xa9"},
                {0, "u", "\xff"});
}
END_TEST

START_TEST(refused_shapes)
{
    static const char *const bad[] = {
        "devices//messages/events/",
        "devices/d/messages/event/",
        "devices/d/messages/eventsX",
        "devices/d/modules//messages/events/",
        "devices/d/modules/m/messages/",
        "devices/d/modules/m",
        "devices/d/modules",
        "other/x",
        "devices/d",
        "devices/d/",
        "devices/",
        "",
        "Devices/d/messages/events/",
        "devices/d/Messages/Events/",
        "/devices/d/messages/events/",
        "devices/d/messages/devicebound/",
        "$iothub/twin/GET/?$rid=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        check_refused(bad[i], IH_ERR_SYNTAX);
        ck_assert_msg(!ih_topic_is_telemetry(UNIT_S(bad[i])), "%s is telemetry", bad[i]);
    }
    /* A NUL byte, even in the bag. */
    static const char nul[] = "devices/d/messages/events/a=\0b";
    struct ih_telemetry_topic t;
    ck_assert_result(ih_topic_parse_telemetry(nul, sizeof nul - 1, &t, NULL), IH_ERR_SYNTAX);
    ck_assert_int_eq(ih_topic_is_telemetry(nul, sizeof nul - 1), 0);
}
END_TEST

/* Appends n items `k=v` (or empty items when empty) to the telemetry prefix. */
static char *bag_of(size_t n, int with_empty)
{
    static const char prefix[] = "devices/d/messages/events/";
    char *topic = malloc(sizeof prefix + n * 6);
    ck_assert_ptr_nonnull(topic);
    strcpy(topic, prefix);
    for (size_t i = 0; i < n; i++)
        strcat(topic, with_empty ? "k=v&&" : "k=v&");
    return topic;
}

START_TEST(bounds)
{
    struct ih_telemetry_topic t;
    char *topic = bag_of(IH_TELEMETRY_MAX_PROPERTIES, 1);
    ck_assert_result(ih_topic_parse_telemetry(UNIT_S(topic), &t, NULL), IH_OK);
    ck_assert_uint_eq(t.count, IH_TELEMETRY_MAX_PROPERTIES);
    ck_assert_str_eq(t.properties[IH_TELEMETRY_MAX_PROPERTIES - 1].value, "v");
    ih_telemetry_topic_free(&t);
    free(topic);

    topic = bag_of(IH_TELEMETRY_MAX_PROPERTIES + 1, 0);
    check_refused(topic, IH_ERR_TOO_LONG);
    ck_assert_int_eq(ih_topic_is_telemetry(UNIT_S(topic)), 1); /* the shape is right */
    free(topic);

    /* MQTT's topic bound: 65535 bytes read, one more refused. */
    size_t len = 65535;
    topic = malloc(len + 2);
    ck_assert_ptr_nonnull(topic);
    memset(topic, 'x', len + 1);
    memcpy(topic, "devices/d/messages/events/k=", 28);
    topic[len + 1] = '\0';
    ck_assert_result(ih_topic_parse_telemetry(topic, len, &t, NULL), IH_OK);
    ck_assert_uint_eq(t.count, 1);
    ck_assert_uint_eq(strlen(t.properties[0].value), len - 28);
    ih_telemetry_topic_free(&t);
    check_refused(topic, IH_ERR_TOO_LONG);
    ck_assert_int_eq(ih_topic_is_telemetry(topic, len + 1), 0);
    free(topic);
}
END_TEST

START_TEST(is_telemetry)
{
    static const char *const yes[] = {
        "devices/d/messages/events/",
        "devices/d/messages/events",
        "devices/d/messages/events/%24.mid=1&k=v/",
        "devices/d/modules/m/messages/events/%24.on=out1&x=1",
        "devices/a%2Bb/messages/events/",
        "devices/d/messages/events/label=a b/c&expr=x=1",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        ck_assert_msg(ih_topic_is_telemetry(UNIT_S(yes[i])), "%s is not telemetry", yes[i]);
    /* Only the first len bytes count. */
    ck_assert_int_eq(ih_topic_is_telemetry("devices/d/messages/events/", 9), 0);
    ck_assert_int_eq(ih_topic_is_telemetry("devices/d/messages/eventsX", 25), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("telemetry_topic");
    TCase *tc = tcase_create("topics");
    tcase_add_test(tc, c_sdk_raw_bag);
    tcase_add_test(tc, node_encoded_bag);
    tcase_add_test(tc, csharp_trailing_slash);
    tcase_add_test(tc, python_encoded_ids);
    tcase_add_test(tc, module_topics);
    tcase_add_test(tc, lenient_items);
    tcase_add_test(tc, refused_shapes);
    tcase_add_test(tc, bounds);
    tcase_add_test(tc, is_telemetry);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
