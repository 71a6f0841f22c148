/* Unit tests of server/twins/twin_doc.[ch]: a twin's state and the rules that change it
 * (docs/protocol.md §12.2, rules D5-D9). */
#include "twin_doc.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 "2026-12-02T10:00:00.0000000Z"
#define T1 "2026-12-02T10:00:01.0000000Z"

static json_t *fresh(void)
{
    char reason[200];
    json_t *doc = twin_doc_load(NULL, T0, reason, sizeof reason);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

static char *dump(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return text;
}

static void assert_json(json_t *v, const char *expected)
{
    char *text = dump(v);
    ck_assert_str_eq(text, expected);
    free(text);
}

static enum twin_error reported(json_t *doc, const char *patch)
{
    char reason[200];
    return twin_doc_patch_reported(doc, patch, strlen(patch), T1, reason, sizeof reason);
}

static enum twin_error update(json_t *doc, const char *body, int replace, json_t **notify)
{
    char reason[200];
    return twin_doc_update(doc, body, strlen(body), replace, T1, notify, reason, sizeof reason);
}

START_TEST(a_new_twin)
{
    json_t *doc = fresh();
    ck_assert_int_eq(twin_doc_number(doc, "version"), 2);
    ck_assert_int_eq(twin_doc_number(doc, "etag"), 1);
    assert_json(twin_doc_device_view(doc),
                "{\"desired\":{\"$version\":1},\"reported\":{\"$version\":1}}");
    assert_json(twin_doc_properties_view(doc),
                "{\"desired\":{\"$metadata\":{\"$lastUpdated\":\"" T0
                "\",\"$lastUpdatedVersion\":1},"
                "\"$version\":1},\"reported\":{\"$metadata\":{\"$lastUpdated\":\"" T0
                "\"},\"$version\":1}}");
    char etag[16];
    twin_etag_text(1, etag);
    ck_assert_str_eq(etag, "AAAAAAAAAAE=");
    twin_etag_text(7, etag);
    ck_assert_str_eq(etag, "AAAAAAAAAAc=");
    json_decref(doc);
}
END_TEST

/* Rule D6: merge, null deletes, +1 per patch, metadata on every node touched. */
START_TEST(reported_patches_merge)
{
    json_t *doc = fresh();
    ck_assert_int_eq(reported(doc, "{\"a\":1,\"b\":{\"c\":2,\"d\":[1,2]}}"), TWIN_OK);
    ck_assert_int_eq(reported(doc, "{\"a\":null,\"b\":{\"d\":[3]},\"$version\":99}"), TWIN_OK);
    ck_assert_int_eq(twin_doc_number(doc, "reportedVersion"), 3);
    ck_assert_int_eq(twin_doc_number(doc, "version"), 4);
    ck_assert_int_eq(twin_doc_number(doc, "etag"), 3);
    assert_json(twin_doc_device_view(doc),
                "{\"desired\":{\"$version\":1},\"reported\":{\"b\":{\"c\":2,\"d\":[3]},"
                "\"$version\":3}}");
    json_t *props = twin_doc_properties_view(doc);
    json_t *meta = json_object_get(json_object_get(props, "reported"), "$metadata");
    ck_assert_ptr_null(json_object_get(meta, "a"));
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(meta, "b"), "c"), "$lastUpdated")),
                     T1);
    ck_assert_ptr_null(
        json_object_get(json_object_get(json_object_get(meta, "b"), "c"), "$lastUpdatedVersion"));
    json_decref(props);
    json_decref(doc);
}
END_TEST

/* Rule D7's 400s: not an object, bad keys, too deep, too long, too big; nothing changes. */
START_TEST(reported_patches_refused)
{
    static const char *const bad[] = {
        "[1]",
        "3",
        "not json",
        "{\"a.b\":1}",
        "{\"$x\":1}",
        "{\"a b\":1}",
        "{\"a\":\"\\u0001\",\"\\u0007\":1}",
        "{\"big\":4503599627370496}",
        "{\"small\":-4503599627370496}",
    };
    json_t *doc = fresh();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(reported(doc, bad[i]) == TWIN_INVALID, "%s accepted", bad[i]);
    ck_assert_int_eq(reported(doc, "{\"edge\":4503599627370495}"), TWIN_OK);
    /* Ten levels below the root are allowed (the docs' tags.one...ten.property), eleven are
     * not. */
    char deep[200] = "";
    for (int i = 0; i < 11; i++)
        strcat(deep, "{\"k\":");
    strcat(deep, "1");
    for (int i = 0; i < 11; i++)
        strcat(deep, "}");
    ck_assert_int_eq(reported(doc, deep), TWIN_OK);
    char deeper[220] = "{\"k\":";
    strcat(deeper, deep);
    strcat(deeper, "}");
    ck_assert_int_eq(reported(doc, deeper), TWIN_INVALID);
    /* A string of 4096 bytes passes, 4097 do not; 32 KB in all at most. */
    char *text = malloc(40000);
    snprintf(text, 40000, "{\"s\":\"%0*d\"}", TWIN_STRING_MAX, 0);
    ck_assert_int_eq(reported(doc, text), TWIN_OK);
    snprintf(text, 40000, "{\"s\":\"%0*d\"}", TWIN_STRING_MAX + 1, 0);
    ck_assert_int_eq(reported(doc, text), TWIN_INVALID);
    long long before = twin_doc_number(doc, "reportedVersion");
    size_t n = (size_t)snprintf(text, 40000, "{");
    for (int i = 0; i < 9; i++)
        n += (size_t)snprintf(text + n, 40000 - n, "%s\"k%d\":\"%0*d\"", i > 0 ? "," : "", i,
                              TWIN_STRING_MAX - 10, 0);
    snprintf(text + n, 40000 - n, "}");
    ck_assert_int_eq(reported(doc, text), TWIN_INVALID);
    ck_assert_int_eq(twin_doc_number(doc, "reportedVersion"), before);
    free(text);
    json_decref(doc);
}
END_TEST

/* Rules D8 and D9: PATCH merges tags and desired, the notice is the patch plus $version. */
START_TEST(service_patch)
{
    json_t *doc = fresh(), *notify = NULL;
    ck_assert_int_eq(
        update(doc,
               "{\"deviceId\":\"x\",\"etag\":\"y\",\"tags\":{\"t\":{\"u\":1}},"
               "\"properties\":{\"desired\":{\"x\":1,\"y\":null},\"reported\":{\"r\":1}}}",
               0, &notify),
        TWIN_OK);
    assert_json(notify, "{\"x\":1,\"y\":null,\"$version\":2}");
    assert_json(twin_doc_tags(doc), "{\"t\":{\"u\":1}}");
    ck_assert_int_eq(twin_doc_number(doc, "reportedVersion"), 1); /* reported is ignored */
    ck_assert_int_eq(twin_doc_number(doc, "etag"), 2);
    /* Tags only: no notice, still a change. */
    ck_assert_int_eq(update(doc, "{\"tags\":{\"t\":null}}", 0, &notify), TWIN_OK);
    ck_assert_ptr_null(notify);
    assert_json(twin_doc_tags(doc), "{}");
    ck_assert_int_eq(twin_doc_number(doc, "version"), 4);
    /* Neither: nothing changes. */
    ck_assert_int_eq(update(doc, "{\"properties\":{}}", 0, &notify), TWIN_OK);
    ck_assert_int_eq(twin_doc_number(doc, "version"), 4);
    json_t *props = twin_doc_properties_view(doc);
    json_t *x =
        json_object_get(json_object_get(json_object_get(props, "desired"), "$metadata"), "x");
    ck_assert_int_eq(json_integer_value(json_object_get(x, "$lastUpdatedVersion")), 2);
    json_decref(props);
    json_decref(doc);
}
END_TEST

/* PUT replaces both, and the notice nulls what went away. */
START_TEST(service_put)
{
    json_t *doc = fresh(), *notify = NULL;
    ck_assert_int_eq(update(doc,
                            "{\"tags\":{\"a\":1},\"properties\":{\"desired\":{\"x\":1,\"y\":2}}}",
                            0, &notify),
                     TWIN_OK);
    json_decref(notify);
    ck_assert_int_eq(update(doc, "{\"properties\":{\"desired\":{\"y\":3}}}", 1, &notify), TWIN_OK);
    assert_json(notify, "{\"y\":3,\"x\":null,\"$version\":3}");
    assert_json(twin_doc_tags(doc), "{}");
    assert_json(twin_doc_device_view(doc),
                "{\"desired\":{\"y\":3,\"$version\":3},\"reported\":{\"$version\":1}}");
    json_decref(doc);
}
END_TEST

START_TEST(service_update_refused)
{
    json_t *doc = fresh(), *notify = NULL;
    ck_assert_int_eq(update(doc, "not json", 0, &notify), TWIN_FORMAT);
    ck_assert_int_eq(update(doc, "[]", 0, &notify), TWIN_FORMAT);
    ck_assert_int_eq(update(doc, "{\"tags\":1}", 0, &notify), TWIN_INVALID);
    ck_assert_int_eq(update(doc, "{\"properties\":{\"desired\":[]}}", 0, &notify), TWIN_INVALID);
    ck_assert_int_eq(update(doc, "{\"tags\":{\"a.b\":1}}", 0, &notify), TWIN_INVALID);
    /* Tags: 8 KB at most. */
    char *text = malloc(20000);
    snprintf(text, 20000, "{\"tags\":{\"a\":\"%0*d\",\"b\":\"%0*d\",\"c\":\"%0*d\"}}", 4000, 0,
             4000, 0, 4000, 0);
    ck_assert_int_eq(update(doc, text, 0, &notify), TWIN_INVALID);
    ck_assert_ptr_null(notify);
    free(text);
    ck_assert_int_eq(twin_doc_number(doc, "etag"), 1);
    json_decref(doc);
}
END_TEST

START_TEST(stored_text_round_trip)
{
    json_t *doc = fresh();
    ck_assert_int_eq(reported(doc, "{\"a\":1}"), TWIN_OK);
    char *text = twin_doc_dump(doc), reason[200];
    json_t *again = twin_doc_load(text, T1, reason, sizeof reason);
    ck_assert_ptr_nonnull(again);
    ck_assert(json_equal(doc, again));
    ck_assert_ptr_null(twin_doc_load("{\"tags\":1}", T1, reason, sizeof reason));
    ck_assert_ptr_null(twin_doc_load("garbage", T1, reason, sizeof reason));
    free(text);
    json_decref(again);
    json_decref(doc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("twin_doc");
    TCase *tc = tcase_create("twin_doc");
    tcase_add_test(tc, a_new_twin);
    tcase_add_test(tc, reported_patches_merge);
    tcase_add_test(tc, reported_patches_refused);
    tcase_add_test(tc, service_patch);
    tcase_add_test(tc, service_put);
    tcase_add_test(tc, service_update_refused);
    tcase_add_test(tc, stored_text_round_trip);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
