/* Unit tests of server/hub_bus.[ch]: the private topics between the hub and its mosquitto plugin
 * (the hub is a privileged MQTT client of the broker that loads the plugin). */
#include "hub_bus.h"

#include "protocol/identity.h"

#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define INNER_POST "$iothub/streams/POST/x/?$rid=1&$url=wss%3A%2F%2Fh%3A1%2Fb&$auth=tok"
#define INNER_RES "$iothub/streams/res/200/?$rid=1"

/* Every kind, with whether it carries an inner topic and a cid. */
static const struct {
    enum hub_bus_kind kind;
    const char *prefix;
    int has_inner;
} kinds[] = {
    {HUB_BUS_TO, "$hub/to/", 1},
    {HUB_BUS_KICK, "$hub/kick/", 0},
    {HUB_BUS_FROM, "$hub/from/", 1},
    {HUB_BUS_CONNECTED, "$hub/evt/connected/", 0},
    {HUB_BUS_LISTENS, "$hub/evt/listens/", 0},
    {HUB_BUS_DISCONNECTED, "$hub/evt/disconnected/", 0},
    {HUB_BUS_REFUSED, "$hub/evt/refused/", 0},
};
#define KIND_COUNT (sizeof kinds / sizeof kinds[0])

/* Formats (kind, cid, inner), compares with expected when it is not NULL, parses the result back
 * and checks every field. */
static void check_round_trip(enum hub_bus_kind kind, const char *cid, const char *inner,
                             const char *expected)
{
    char *topic = NULL;
    ck_assert_result(hub_bus_format(kind, cid, inner, &topic), IH_OK);
    ck_assert_ptr_nonnull(topic);
    if (expected != NULL)
        ck_assert_str_eq(topic, expected);
    struct hub_bus_topic t;
    ck_assert_result(hub_bus_parse(topic, &t), IH_OK);
    ck_assert_int_eq(t.kind, kind);
    if (cid == NULL) {
        ck_assert_ptr_null(t.cid);
    } else {
        ck_assert_ptr_nonnull(t.cid);
        ck_assert_str_eq(t.cid, cid);
    }
    if (inner == NULL) {
        ck_assert_ptr_null(t.inner);
    } else {
        ck_assert_ptr_nonnull(t.inner);
        ck_assert_str_eq(t.inner, inner);
        /* inner points into the parsed topic, at its tail. */
        ck_assert_ptr_eq(t.inner, topic + strlen(topic) - strlen(inner));
    }
    hub_bus_topic_free(&t);
    ck_assert_ptr_null(t.cid);
    free(topic);
}

static void check_parse_fails(const char *topic)
{
    struct hub_bus_topic t;
    ih_result r = hub_bus_parse(topic, &t);
    ck_assert_msg(r == IH_ERR_SYNTAX, "hub_bus_parse('%s'): got %s, expected syntax", topic,
                  ih_result_name(r));
    ck_assert_msg(t.cid == NULL, "hub_bus_parse('%s') failed but left a cid", topic);
    hub_bus_topic_free(&t);
}

static void check_format_fails(enum hub_bus_kind kind, const char *cid, const char *inner)
{
    char *topic = (char *)"untouched";
    ih_result r = hub_bus_format(kind, cid, inner, &topic);
    ck_assert_msg(r == IH_ERR_SYNTAX, "hub_bus_format(%d, %s, %s): got %s, expected syntax",
                  (int)kind, cid != NULL ? cid : "NULL", inner != NULL ? inner : "NULL",
                  ih_result_name(r));
    ck_assert_str_eq(topic, "untouched");
}

START_TEST(round_trip_every_kind)
{
    check_round_trip(HUB_BUS_TO, "dev1", INNER_POST, "$hub/to/dev1/" INNER_POST);
    check_round_trip(HUB_BUS_FROM, "dev1", INNER_RES, "$hub/from/dev1/" INNER_RES);
    check_round_trip(HUB_BUS_KICK, "dev1", NULL, "$hub/kick/dev1");
    check_round_trip(HUB_BUS_CONNECTED, "dev1", NULL, "$hub/evt/connected/dev1");
    check_round_trip(HUB_BUS_LISTENS, "dev1", NULL, "$hub/evt/listens/dev1");
    check_round_trip(HUB_BUS_DISCONNECTED, "dev1", NULL, "$hub/evt/disconnected/dev1");
    check_round_trip(HUB_BUS_REFUSED, "dev1", NULL, "$hub/evt/refused/dev1");
    check_round_trip(HUB_BUS_SYNC, NULL, NULL, "$hub/sync");
}
END_TEST

START_TEST(cid_is_percent_encoded)
{
    check_round_trip(HUB_BUS_TO, "a+b/m#1", "$iothub/streams/POST/x",
                     "$hub/to/a%2Bb%2Fm%231/$iothub/streams/POST/x");
    check_round_trip(HUB_BUS_FROM, "dev/mod", INNER_RES, "$hub/from/dev%2Fmod/" INNER_RES);
    check_round_trip(HUB_BUS_CONNECTED, "dev/mod", NULL, "$hub/evt/connected/dev%2Fmod");
    check_round_trip(HUB_BUS_KICK, "a%b", NULL, "$hub/kick/a%25b");
    check_round_trip(HUB_BUS_REFUSED, "$x(1)", NULL, "$hub/evt/refused/%24x%281%29");
}
END_TEST

START_TEST(special_cids_survive_every_kind)
{
    static const char *const cids[] = {
        "dev1",
        "a+b/m#1",
        "dev/mod",
        "/",
        "+",
        "#",
        "%",
        "$",
        "(",
        ")",
        "%2F",
        "a%zzb",
        "dev$(1)%/mod+#",
        "-:.+%_#*?!(),=@;$'",
        "~iothub-emulator",
        "x/y/z",
    };
    for (size_t k = 0; k < KIND_COUNT; k++) {
        for (size_t c = 0; c < sizeof cids / sizeof cids[0]; c++) {
            char *topic = NULL;
            const char *inner = kinds[k].has_inner ? "$iothub/streams/a/b/?$rid=1" : NULL;
            ck_assert_result(hub_bus_format(kinds[k].kind, cids[c], inner, &topic), IH_OK);
            ck_assert_msg(strncmp(topic, kinds[k].prefix, strlen(kinds[k].prefix)) == 0,
                          "'%s' does not start with '%s'", topic, kinds[k].prefix);
            /* The encoded cid is one level and holds no wildcard. */
            const char *id = topic + strlen(kinds[k].prefix);
            size_t id_len = strcspn(id, "/");
            for (size_t i = 0; i < id_len; i++)
                ck_assert_msg(strchr("+#$()", id[i]) == NULL, "raw '%c' in '%s'", id[i], topic);
            free(topic);
            check_round_trip(kinds[k].kind, cids[c], inner, NULL);
        }
    }
}
END_TEST

START_TEST(inner_topic_keeps_its_slashes)
{
    const char *topic = "$hub/to/dev1/$iothub/streams/POST/s/?$rid=1&$url=a/b//c";
    struct hub_bus_topic t;
    ck_assert_result(hub_bus_parse(topic, &t), IH_OK);
    ck_assert_int_eq(t.kind, HUB_BUS_TO);
    ck_assert_str_eq(t.cid, "dev1");
    ck_assert_ptr_eq(t.inner, topic + strlen("$hub/to/dev1/"));
    ck_assert_str_eq(t.inner, "$iothub/streams/POST/s/?$rid=1&$url=a/b//c");
    hub_bus_topic_free(&t);

    const char *from = "$hub/from/dev%2Fmod/$iothub/streams/res/200/?$rid=7";
    ck_assert_result(hub_bus_parse(from, &t), IH_OK);
    ck_assert_int_eq(t.kind, HUB_BUS_FROM);
    ck_assert_str_eq(t.cid, "dev/mod");
    ck_assert_ptr_eq(t.inner, from + strlen("$hub/from/dev%2Fmod/"));
    ck_assert_str_eq(t.inner, "$iothub/streams/res/200/?$rid=7");
    hub_bus_topic_free(&t);

    /* The inner topic may itself start with '/' or end with one. */
    check_round_trip(HUB_BUS_TO, "d", "/a/", "$hub/to/d//a/");
}
END_TEST

START_TEST(cid_decoding_either_hex_case)
{
    struct hub_bus_topic t;
    ck_assert_result(hub_bus_parse("$hub/evt/connected/dev%2fmod", &t), IH_OK);
    ck_assert_str_eq(t.cid, "dev/mod");
    ck_assert_ptr_null(t.inner);
    hub_bus_topic_free(&t);
    /* A raw (unencoded) character that is not '/' is taken as is. */
    ck_assert_result(hub_bus_parse("$hub/kick/a+b", &t), IH_OK);
    ck_assert_int_eq(t.kind, HUB_BUS_KICK);
    ck_assert_str_eq(t.cid, "a+b");
    hub_bus_topic_free(&t);
}
END_TEST

START_TEST(sync_has_no_cid)
{
    struct hub_bus_topic t;
    ck_assert_result(hub_bus_parse("$hub/sync", &t), IH_OK);
    ck_assert_int_eq(t.kind, HUB_BUS_SYNC);
    ck_assert_ptr_null(t.cid);
    ck_assert_ptr_null(t.inner);
    hub_bus_topic_free(&t);
}
END_TEST

START_TEST(parse_errors)
{
    check_parse_fails("");
    check_parse_fails("$hub");
    check_parse_fails("$hub/");
    check_parse_fails("$hub/unknown/dev1");
    check_parse_fails("$iothub/streams/POST/x");
    check_parse_fails("hub/to/dev1/t");
    check_parse_fails("$HUB/to/dev1/t");
    check_parse_fails("$hub/evt/connected");
    check_parse_fails("$hub/evt/other/dev1");
    /* TO and FROM need an inner topic. */
    check_parse_fails("$hub/to/x");
    check_parse_fails("$hub/to/x/");
    check_parse_fails("$hub/from/x");
    check_parse_fails("$hub/from/x/");
    /* An empty cid. */
    check_parse_fails("$hub/to//t");
    check_parse_fails("$hub/from//t");
    check_parse_fails("$hub/to/");
    check_parse_fails("$hub/kick/");
    check_parse_fails("$hub/evt/connected/");
    check_parse_fails("$hub/evt/refused/");
    /* Event topics are exactly prefix + one level. */
    check_parse_fails("$hub/evt/connected/dev1/mod1");
    check_parse_fails("$hub/evt/disconnected/dev1/");
    check_parse_fails("$hub/evt/subscribed/a/b");
    check_parse_fails("$hub/evt/unsubscribed/a/b");
    check_parse_fails("$hub/evt/refused/a/b");
    check_parse_fails("$hub/kick/dev1/x");
    /* Bad %-escapes, and a decoded NUL. */
    check_parse_fails("$hub/to/a%zzb/t");
    check_parse_fails("$hub/to/a%2/t");
    check_parse_fails("$hub/from/%/t");
    check_parse_fails("$hub/kick/a%4");
    check_parse_fails("$hub/evt/connected/%00");
    /* SYNC takes nothing after it. */
    check_parse_fails("$hub/syncx");
    check_parse_fails("$hub/sync/");
    check_parse_fails("$hub/sync/dev1");
}
END_TEST

START_TEST(format_refusals)
{
    /* Event kinds and KICK take no inner topic. */
    check_format_fails(HUB_BUS_KICK, "dev1", "t");
    check_format_fails(HUB_BUS_CONNECTED, "dev1", "t");
    check_format_fails(HUB_BUS_LISTENS, "dev1", "t");
    check_format_fails(HUB_BUS_DISCONNECTED, "dev1", "t");
    check_format_fails(HUB_BUS_REFUSED, "dev1", "t");
    /* TO and FROM need one. */
    check_format_fails(HUB_BUS_TO, "dev1", NULL);
    check_format_fails(HUB_BUS_FROM, "dev1", NULL);
    /* SYNC takes no cid (nor an inner topic); every other kind needs a cid. */
    check_format_fails(HUB_BUS_SYNC, "dev1", NULL);
    check_format_fails(HUB_BUS_SYNC, NULL, "t");
    check_format_fails(HUB_BUS_TO, NULL, "t");
    check_format_fails(HUB_BUS_KICK, NULL, NULL);
    check_format_fails(HUB_BUS_CONNECTED, NULL, NULL);
    /* Not a kind. */
    check_format_fails((enum hub_bus_kind)42, "dev1", NULL);
}
END_TEST

START_TEST(hub_client_id_is_not_a_device_id)
{
    /* No device may take the hub's connection over (hub_bus.h). */
    ck_assert_result(ih_id_check(UNIT_S(HUB_BUS_CLIENT_ID), "device id", NULL), IH_ERR_SYNTAX);
    ck_assert_str_eq(HUB_BUS_STREAM_FILTER, "$iothub/streams/POST/#");
}
END_TEST

START_TEST(listens_round_trip)
{
    char text[HUB_LISTENS_TEXT_SIZE];
    hub_bus_listens_text(HUB_LISTEN_STREAMS | HUB_LISTEN_METHODS, text);
    ck_assert_str_eq(text, "3");
    ck_assert_uint_eq(hub_bus_listens_parse(text), HUB_LISTEN_STREAMS | HUB_LISTEN_METHODS);
    hub_bus_listens_text(0, text);
    ck_assert_uint_eq(hub_bus_listens_parse(text), 0);
    /* Anything else is the empty set. */
    ck_assert_uint_eq(hub_bus_listens_parse(""), 0);
    ck_assert_uint_eq(hub_bus_listens_parse("subscribed"), 0);
    ck_assert_uint_eq(hub_bus_listens_parse("-1"), 0);
    ck_assert_uint_eq(hub_bus_listens_parse(NULL), 0);
}
END_TEST

static Suite *hub_bus_suite(void)
{
    Suite *s = suite_create("hub_bus");
    TCase *fmt = tcase_create("format");
    tcase_add_test(fmt, round_trip_every_kind);
    tcase_add_test(fmt, cid_is_percent_encoded);
    tcase_add_test(fmt, special_cids_survive_every_kind);
    tcase_add_test(fmt, format_refusals);
    tcase_add_test(fmt, hub_client_id_is_not_a_device_id);
    suite_add_tcase(s, fmt);
    TCase *parse = tcase_create("parse");
    tcase_add_test(parse, inner_topic_keeps_its_slashes);
    tcase_add_test(parse, cid_decoding_either_hex_case);
    tcase_add_test(parse, sync_has_no_cid);
    tcase_add_test(parse, parse_errors);
    tcase_add_test(parse, listens_round_trip);
    suite_add_tcase(s, parse);
    return s;
}

int main(void)
{
    return unit_run(hub_bus_suite());
}
