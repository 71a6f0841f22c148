/* Unit tests of server/device_json.[ch]: the device JSON of the registry API
 * (docs/protocol.md §5). */
#include "device_json.h"

#include "unit.h"

#include <jansson.h>

#include <stdio.h>
#include <string.h>

/* printf '0123456789abcdef0123456789abcdef' | base64 */
#define K1 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
/* printf 'secondary-key-secondary-key-32b!' | base64 */
#define K2 "c2Vjb25kYXJ5LWtleS1zZWNvbmRhcnkta2V5LTMyYiE="
/* 16 bytes 'k': the shortest key the hub takes. */
#define K16 "a2tra2tra2tra2tra2traw=="
/* bytes 0..63 and 0..64: the longest key the hub takes, and one byte more. */
#define K64                                                                                        \
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
#define K65                                                                                        \
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A="
/* 8 bytes: too short. */
#define K8 "MDEyMzQ1Njc="

static enum device_json_error parse(const char *body, struct device_patch *p, struct ih_diag *d)
{
    if (d != NULL)
        memset(d->msg, 0, sizeof d->msg);
    return device_json_parse(body, strlen(body), "d1", p, d);
}

static const char *error_name(enum device_json_error e)
{
    switch (e) {
    case DEVICE_JSON_OK:
        return "OK";
    case DEVICE_JSON_MALFORMED:
        return "MALFORMED";
    case DEVICE_JSON_INVALID:
        return "INVALID";
    case DEVICE_JSON_NOMEM:
        return "NOMEM";
    }
    return "?";
}

#define ck_assert_parse(body, expected)                                                            \
    do {                                                                                           \
        struct device_patch p_;                                                                    \
        struct ih_diag d_;                                                                         \
        enum device_json_error e_ = parse((body), &p_, &d_);                                       \
        ck_assert_msg(e_ == (expected), "%s: got %s, expected %s (diag '%s')", (body),             \
                      error_name(e_), error_name(expected), d_.msg);                               \
    } while (0)

/* Parses body, which must be refused as DEVICE_JSON_INVALID with a diag that holds needle. */
static void invalid(const char *body, const char *needle)
{
    struct device_patch p;
    struct ih_diag d;
    enum device_json_error e = parse(body, &p, &d);
    ck_assert_msg(e == DEVICE_JSON_INVALID, "%s: got %s (diag '%s')", body, error_name(e), d.msg);
    ck_assert_msg(strstr(d.msg, needle) != NULL, "%s: diag '%s' lacks '%s'", body, d.msg, needle);
}

static void ok(const char *body, struct device_patch *p)
{
    struct ih_diag d;
    enum device_json_error e = parse(body, p, &d);
    ck_assert_msg(e == DEVICE_JSON_OK, "%s: got %s (diag '%s')", body, error_name(e), d.msg);
}

START_TEST(empty_object_sets_nothing)
{
    struct device_patch p;
    memset(&p, 0x5a, sizeof p);
    ok("{}", &p);
    ck_assert_int_eq(p.has_enabled, 0);
    ck_assert_int_eq(p.has_status_reason, 0);
    ck_assert_int_eq(p.has_iot_edge, 0);
    ck_assert_str_eq(p.primary_key, "");
    ck_assert_str_eq(p.secondary_key, "");
}
END_TEST

/* What the Node service SDK sends for a create (docs/protocol.md §5). */
START_TEST(node_create_body)
{
    struct device_patch p;
    ok("{\"deviceId\":\"d1\",\"authentication\":{\"type\":\"sas\",\"symmetricKey\":"
       "{\"primaryKey\":\"\",\"secondaryKey\":\"\"}}}",
       &p);
    ck_assert_int_eq(p.has_enabled, 0);
    ck_assert_int_eq(p.has_status_reason, 0);
    ck_assert_str_eq(p.primary_key, "");
    ck_assert_str_eq(p.secondary_key, "");
    ck_assert_int_eq(p.has_iot_edge, 0);
}
END_TEST

/* What the C# SDK serialises: every property, the read-only ones included; those are ignored. */
START_TEST(csharp_body_with_read_only_fields)
{
    struct device_patch p;
    ok("{\"deviceId\":\"d1\",\"generationId\":\"637546501104263193\",\"etag\":\"MzE4NzUxOTU1\","
       "\"connectionState\":\"Connected\",\"status\":\"Disabled\",\"statusReason\":\"broken\","
       "\"connectionStateUpdatedTime\":\"0001-01-01T00:00:00\",\"statusUpdatedTime\":"
       "\"0001-01-01T00:00:00\",\"lastActivityTime\":\"0001-01-01T00:00:00\","
       "\"cloudToDeviceMessageCount\":7,\"authentication\":{\"symmetricKey\":{\"primaryKey\":"
       "\"" K1 "\",\"secondaryKey\":\"" K2 "\"},\"x509Thumbprint\":{\"primaryThumbprint\":null,"
       "\"secondaryThumbprint\":null},\"type\":\"sas\"},\"capabilities\":{\"iotEdge\":true},"
       "\"deviceScope\":null,\"parentScopes\":[]}",
       &p);
    ck_assert_int_eq(p.has_enabled, 1);
    ck_assert_int_eq(p.enabled, 0);
    ck_assert_int_eq(p.has_status_reason, 1);
    ck_assert_int_eq(p.status_reason_is_null, 0);
    ck_assert_str_eq(p.status_reason, "broken");
    ck_assert_str_eq(p.primary_key, K1);
    ck_assert_str_eq(p.secondary_key, K2);
    ck_assert_int_eq(p.has_iot_edge, 1);
    ck_assert_int_eq(p.iot_edge, 1);
    /* The read-only fields do not change what is applied. */
    struct device d;
    memset(&d, 0, sizeof d);
    snprintf(d.id, sizeof d.id, "d1");
    d.etag = 5;
    device_patch_apply(&p, &d);
    ck_assert_int_eq(d.etag, 5);
    ck_assert_int_eq(d.connected, 0);
    ck_assert_int_eq(d.cloud_to_device_message_count, 0);
    ck_assert_str_eq(d.generation_id, "");
}
END_TEST

START_TEST(status_is_case_insensitive)
{
    static const struct {
        const char *body;
        int enabled;
    } cases[] = {
        {"{\"status\":\"enabled\"}", 1},  {"{\"status\":\"Enabled\"}", 1},
        {"{\"status\":\"ENABLED\"}", 1},  {"{\"status\":\"disabled\"}", 0},
        {"{\"status\":\"Disabled\"}", 0}, {"{\"status\":\"DISABLED\"}", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct device_patch p;
        ok(cases[i].body, &p);
        ck_assert_int_eq(p.has_enabled, 1);
        ck_assert_int_eq(p.enabled, cases[i].enabled);
    }
    struct device_patch p;
    ok("{\"status\":null}", &p);
    ck_assert_int_eq(p.has_enabled, 0);
    invalid("{\"status\":\"paused\"}", "status");
    invalid("{\"status\":1}", "status");
    invalid("{\"status\":true}", "status");
}
END_TEST

START_TEST(status_reason_null_string_and_length)
{
    struct device_patch p;
    ok("{\"statusReason\":null}", &p);
    ck_assert_int_eq(p.has_status_reason, 1);
    ck_assert_int_eq(p.status_reason_is_null, 1);
    ok("{\"statusReason\":\"maintenance window\"}", &p);
    ck_assert_int_eq(p.has_status_reason, 1);
    ck_assert_int_eq(p.status_reason_is_null, 0);
    ck_assert_str_eq(p.status_reason, "maintenance window");

    char body[300], reason[STATUS_REASON_MAX + 2];
    memset(reason, 'r', sizeof reason);
    reason[STATUS_REASON_MAX] = '\0';
    snprintf(body, sizeof body, "{\"statusReason\":\"%s\"}", reason);
    ok(body, &p);
    ck_assert_str_eq(p.status_reason, reason);
    reason[STATUS_REASON_MAX] = 'r';
    reason[STATUS_REASON_MAX + 1] = '\0';
    snprintf(body, sizeof body, "{\"statusReason\":\"%s\"}", reason);
    invalid(body, "statusReason");

    invalid("{\"statusReason\":5}", "statusReason");
    invalid("{\"statusReason\":{}}", "statusReason");
}
END_TEST

/* The limit is 128 characters (device.schema.json: maxLength 128; the message says
 * "characters"), so 100 two-byte characters are within it. */
START_TEST(status_reason_limit_counts_characters)
{
    char body[400];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"statusReason\":\"");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "\xc3\xa9");
    snprintf(body + n, sizeof body - n, "\"}");
    struct device_patch p;
    ok(body, &p);
    ck_assert_int_eq(p.has_status_reason, 1);
    ck_assert_uint_eq(strlen(p.status_reason), 200);
}
END_TEST

START_TEST(keys)
{
    struct device_patch p;
    ok("{\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"" K1 "\",\"secondaryKey\":\"" K2
       "\"}}}",
       &p);
    ck_assert_str_eq(p.primary_key, K1);
    ck_assert_str_eq(p.secondary_key, K2);
    ok("{\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"" K16 "\",\"secondaryKey\":\"" K64
       "\"}}}",
       &p);
    ck_assert_str_eq(p.primary_key, K16);
    ck_assert_str_eq(p.secondary_key, K64);
    /* Only one given, the other null. */
    ok("{\"authentication\":{\"symmetricKey\":{\"primaryKey\":null,\"secondaryKey\":\"" K2 "\"}}}",
       &p);
    ck_assert_str_eq(p.primary_key, "");
    ck_assert_str_eq(p.secondary_key, K2);
    ok("{\"authentication\":{\"symmetricKey\":null}}", &p);
    ok("{\"authentication\":null}", &p);
    ok("{\"authentication\":{\"symmetricKey\":{}}}", &p);
    ck_assert_str_eq(p.primary_key, "");

    invalid("{\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"not base64!\"}}}",
            "primaryKey");
    invalid("{\"authentication\":{\"symmetricKey\":{\"secondaryKey\":\"" K8 "\"}}}",
            "secondaryKey");
    invalid("{\"authentication\":{\"symmetricKey\":{\"secondaryKey\":\"" K65 "\"}}}",
            "secondaryKey");
    invalid("{\"authentication\":{\"symmetricKey\":{\"primaryKey\":42}}}", "primaryKey");
    invalid("{\"authentication\":{\"symmetricKey\":\"" K1 "\"}}", "symmetricKey");
    invalid("{\"authentication\":\"sas\"}", "authentication");
}
END_TEST

START_TEST(authentication_type)
{
    struct device_patch p;
    ok("{\"authentication\":{\"type\":\"sas\"}}", &p);
    ok("{\"authentication\":{\"type\":\"SAS\"}}", &p);
    ok("{\"authentication\":{\"type\":null}}", &p);
    invalid("{\"authentication\":{\"type\":\"selfSigned\"}}", "X.509");
    invalid("{\"authentication\":{\"type\":\"certificateAuthority\"}}", "certificateAuthority");
    invalid("{\"authentication\":{\"type\":\"none\"}}", "sas");
    invalid("{\"authentication\":{\"type\":3}}", "authentication.type");
}
END_TEST

START_TEST(x509_thumbprints_refused)
{
    struct device_patch p;
    ok("{\"authentication\":{\"type\":\"sas\",\"x509Thumbprint\":{\"primaryThumbprint\":null,"
       "\"secondaryThumbprint\":null}}}",
       &p);
    ok("{\"authentication\":{\"x509Thumbprint\":null}}", &p);
    invalid("{\"authentication\":{\"type\":\"sas\",\"x509Thumbprint\":{\"primaryThumbprint\":"
            "\"0123456789ABCDEF0123456789ABCDEF01234567\",\"secondaryThumbprint\":null}}}",
            "x509Thumbprint");
    invalid("{\"authentication\":{\"x509Thumbprint\":{\"secondaryThumbprint\":\"AB\"}}}",
            "x509Thumbprint");
}
END_TEST

START_TEST(capabilities)
{
    struct device_patch p;
    ok("{\"capabilities\":{\"iotEdge\":true}}", &p);
    ck_assert_int_eq(p.has_iot_edge, 1);
    ck_assert_int_eq(p.iot_edge, 1);
    ok("{\"capabilities\":{\"iotEdge\":false}}", &p);
    ck_assert_int_eq(p.has_iot_edge, 1);
    ck_assert_int_eq(p.iot_edge, 0);
    ok("{\"capabilities\":{}}", &p);
    ck_assert_int_eq(p.has_iot_edge, 0);
    ok("{\"capabilities\":null}", &p);
    ck_assert_int_eq(p.has_iot_edge, 0);
    invalid("{\"capabilities\":{\"iotEdge\":\"true\"}}", "capabilities");
    invalid("{\"capabilities\":{\"iotEdge\":1}}", "iotEdge");
    invalid("{\"capabilities\":true}", "capabilities");
}
END_TEST

START_TEST(device_id_must_match_the_path)
{
    struct device_patch p;
    ok("{\"deviceId\":\"d1\"}", &p);
    ok("{\"deviceId\":null}", &p);
    invalid("{\"deviceId\":\"d2\"}", "d1");
    /* Ids are case-sensitive. */
    invalid("{\"deviceId\":\"D1\"}", "deviceId");
    invalid("{\"deviceId\":1}", "deviceId");
    struct ih_diag d;
    ck_assert_int_eq(device_json_parse(UNIT_S("{\"deviceId\":\"a/b\"}"), "a/b", &p, &d),
                     DEVICE_JSON_OK);
}
END_TEST

START_TEST(malformed)
{
    ck_assert_parse("", DEVICE_JSON_MALFORMED);
    ck_assert_parse("{", DEVICE_JSON_MALFORMED);
    ck_assert_parse("{\"deviceId\":}", DEVICE_JSON_MALFORMED);
    ck_assert_parse("[]", DEVICE_JSON_MALFORMED);
    ck_assert_parse("[{\"deviceId\":\"d1\"}]", DEVICE_JSON_MALFORMED);
    ck_assert_parse("\"d1\"", DEVICE_JSON_MALFORMED);
    ck_assert_parse("null", DEVICE_JSON_MALFORMED);
    ck_assert_parse("42", DEVICE_JSON_MALFORMED);
    ck_assert_parse("{} {}", DEVICE_JSON_MALFORMED);
    struct device_patch p;
    struct ih_diag d = {{0}};
    ck_assert_int_eq(parse("{", &p, &d), DEVICE_JSON_MALFORMED);
    ck_assert_ptr_nonnull(strstr(d.msg, "JSON"));
    ck_assert_int_eq(parse("[]", &p, &d), DEVICE_JSON_MALFORMED);
    ck_assert_ptr_nonnull(strstr(d.msg, "object"));
    /* Only len bytes are read. */
    ck_assert_int_eq(device_json_parse("{}garbage", 2, "d1", &p, NULL), DEVICE_JSON_OK);
    /* A NULL diag is allowed. */
    ck_assert_int_eq(device_json_parse(UNIT_S("{"), "d1", &p, NULL), DEVICE_JSON_MALFORMED);
    ck_assert_int_eq(device_json_parse(UNIT_S("{\"status\":1}"), "d1", &p, NULL),
                     DEVICE_JSON_INVALID);
}
END_TEST

START_TEST(large_bodies_parse)
{
    /* The parser has no size limit of its own: the main endpoint bounds bodies (REST_MAX_BODY). */
    size_t len = 256 * 1024;
    char *body = malloc(len);
    ck_assert_ptr_nonnull(body);
    memset(body, ' ', len);
    body[0] = '{';
    body[len - 1] = '}';
    struct device_patch p;
    ck_assert_int_eq(device_json_parse(body, len, "d1", &p, NULL), DEVICE_JSON_OK);
    free(body);
}
END_TEST

static void stored_device(struct device *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "d1");
    snprintf(d->generation_id, sizeof d->generation_id, "637546501104263193");
    d->etag = 318751955;
    d->enabled = 0;
    d->has_status_reason = 1;
    snprintf(d->status_reason, sizeof d->status_reason, "old reason");
    snprintf(d->status_updated_time, sizeof d->status_updated_time, "2024-01-02T03:04:05.1234567Z");
    snprintf(d->primary_key, sizeof d->primary_key, "%s", K1);
    snprintf(d->secondary_key, sizeof d->secondary_key, "%s", K2);
    d->iot_edge = 1;
    snprintf(d->connection_state_updated_time, sizeof d->connection_state_updated_time, "%s",
             TIME_NEVER);
    snprintf(d->last_activity_time, sizeof d->last_activity_time, "%s", TIME_NEVER);
}

static void apply(const char *body, struct device *d)
{
    struct device_patch p;
    ok(body, &p);
    device_patch_apply(&p, d);
}

START_TEST(patch_keeps_what_it_does_not_set)
{
    struct device before, d;
    stored_device(&before);
    d = before;
    apply("{}", &d);
    ck_assert_mem_eq(&d, &before, sizeof d);
    /* Empty keys and absent fields keep their values (what Node sends). */
    apply("{\"deviceId\":\"d1\",\"authentication\":{\"type\":\"sas\",\"symmetricKey\":"
          "{\"primaryKey\":\"\",\"secondaryKey\":\"\"}}}",
          &d);
    ck_assert_mem_eq(&d, &before, sizeof d);

    apply("{\"status\":\"enabled\"}", &d);
    ck_assert_int_eq(d.enabled, 1);
    ck_assert_int_eq(d.has_status_reason, 1);
    ck_assert_str_eq(d.status_reason, "old reason");
    ck_assert_str_eq(d.primary_key, K1);
    ck_assert_int_eq(d.iot_edge, 1);

    apply("{\"authentication\":{\"symmetricKey\":{\"secondaryKey\":\"" K16 "\"}}}", &d);
    ck_assert_str_eq(d.primary_key, K1);
    ck_assert_str_eq(d.secondary_key, K16);

    apply("{\"capabilities\":{\"iotEdge\":false}}", &d);
    ck_assert_int_eq(d.iot_edge, 0);
    ck_assert_int_eq(d.enabled, 1);

    apply("{\"statusReason\":\"new reason\"}", &d);
    ck_assert_int_eq(d.has_status_reason, 1);
    ck_assert_str_eq(d.status_reason, "new reason");

    /* null clears the reason. */
    apply("{\"statusReason\":null}", &d);
    ck_assert_int_eq(d.has_status_reason, 0);

    /* Nothing outside the patch moved. */
    ck_assert_str_eq(d.id, before.id);
    ck_assert_str_eq(d.generation_id, before.generation_id);
    ck_assert_int_eq(d.etag, before.etag);
    ck_assert_str_eq(d.status_updated_time, before.status_updated_time);
}
END_TEST

/* The hub's field order (docs/protocol.md §5; the C# and Node SDKs do not care, people reading
 * do). */
START_TEST(object_fields_and_order)
{
    static const char *const order[] = {"deviceId",
                                        "generationId",
                                        "etag",
                                        "connectionState",
                                        "status",
                                        "statusReason",
                                        "connectionStateUpdatedTime",
                                        "statusUpdatedTime",
                                        "lastActivityTime",
                                        "cloudToDeviceMessageCount",
                                        "authentication",
                                        "capabilities",
                                        "deviceScope",
                                        "parentScopes"};
    struct device d;
    stored_device(&d);
    d.cloud_to_device_message_count = 3;
    json_t *o = device_json_object(&d);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(json_object_size(o), sizeof order / sizeof order[0]);
    size_t i = 0;
    for (void *it = json_object_iter(o); it != NULL; it = json_object_iter_next(o, it), i++)
        ck_assert_str_eq(json_object_iter_key(it), order[i]);
    ck_assert_uint_eq(i, sizeof order / sizeof order[0]);
    /* And in the text sent. */
    char *text = json_dumps(o, JSON_COMPACT);
    ck_assert_ptr_nonnull(text);
    const char *prev = text;
    for (i = 0; i < sizeof order / sizeof order[0]; i++) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\":", order[i]);
        const char *at = strstr(text, quoted);
        ck_assert_msg(at != NULL && at >= prev, "%s out of order in %s", order[i], text);
        prev = at;
    }
    free(text);

    ck_assert_str_eq(json_string_value(json_object_get(o, "deviceId")), "d1");
    ck_assert_str_eq(json_string_value(json_object_get(o, "generationId")), "637546501104263193");
    ck_assert_str_eq(json_string_value(json_object_get(o, "etag")), "MzE4NzUxOTU1");
    ck_assert_str_eq(json_string_value(json_object_get(o, "connectionState")), "Disconnected");
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "disabled");
    ck_assert_str_eq(json_string_value(json_object_get(o, "statusReason")), "old reason");
    ck_assert_str_eq(json_string_value(json_object_get(o, "connectionStateUpdatedTime")),
                     TIME_NEVER);
    ck_assert_str_eq(json_string_value(json_object_get(o, "statusUpdatedTime")),
                     "2024-01-02T03:04:05.1234567Z");
    ck_assert_str_eq(json_string_value(json_object_get(o, "lastActivityTime")), TIME_NEVER);
    json_t *count = json_object_get(o, "cloudToDeviceMessageCount");
    ck_assert(json_is_integer(count));
    ck_assert_int_eq(json_integer_value(count), 3);

    json_t *auth = json_object_get(o, "authentication");
    ck_assert(json_is_object(auth));
    ck_assert_uint_eq(json_object_size(auth), 3);
    json_t *sym = json_object_get(auth, "symmetricKey");
    ck_assert_str_eq(json_string_value(json_object_get(sym, "primaryKey")), K1);
    ck_assert_str_eq(json_string_value(json_object_get(sym, "secondaryKey")), K2);
    ck_assert_str_eq(json_string_value(json_object_get(auth, "type")), "sas");
    json_t *x509 = json_object_get(auth, "x509Thumbprint");
    ck_assert(json_is_null(json_object_get(x509, "primaryThumbprint")));
    ck_assert(json_is_null(json_object_get(x509, "secondaryThumbprint")));

    json_t *caps = json_object_get(o, "capabilities");
    ck_assert_uint_eq(json_object_size(caps), 1);
    ck_assert(json_is_true(json_object_get(caps, "iotEdge")));
    ck_assert(json_is_null(json_object_get(o, "deviceScope")));
    json_t *scopes = json_object_get(o, "parentScopes");
    ck_assert(json_is_array(scopes));
    ck_assert_uint_eq(json_array_size(scopes), 0);
    json_decref(o);
}
END_TEST

START_TEST(object_null_reason_and_states)
{
    struct device d;
    stored_device(&d);
    d.has_status_reason = 0; /* the text left in the buffer must not leak out */
    d.enabled = 1;
    d.connected = 1;
    d.iot_edge = 0;
    json_t *o = device_json_object(&d);
    ck_assert_ptr_nonnull(o);
    json_t *reason = json_object_get(o, "statusReason");
    ck_assert_ptr_nonnull(reason);
    ck_assert(json_is_null(reason));
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "enabled");
    ck_assert_str_eq(json_string_value(json_object_get(o, "connectionState")), "Connected");
    ck_assert(json_is_false(json_object_get(json_object_get(o, "capabilities"), "iotEdge")));
    json_decref(o);

    /* An empty reason that is set is "", not null. */
    d.has_status_reason = 1;
    d.status_reason[0] = '\0';
    o = device_json_object(&d);
    ck_assert_str_eq(json_string_value(json_object_get(o, "statusReason")), "");
    json_decref(o);
}
END_TEST

/* Parse, apply and format: what a PUT body asks for comes back in the device JSON. */
START_TEST(round_trip)
{
    struct device d;
    stored_device(&d);
    apply("{\"deviceId\":\"d1\",\"status\":\"enabled\",\"statusReason\":\"back\","
          "\"authentication\":{\"symmetricKey\":{\"primaryKey\":\"" K2 "\",\"secondaryKey\":\"" K1
          "\"}},\"capabilities\":{\"iotEdge\":false}}",
          &d);
    json_t *o = device_json_object(&d);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "enabled");
    ck_assert_str_eq(json_string_value(json_object_get(o, "statusReason")), "back");
    json_t *sym = json_object_get(json_object_get(o, "authentication"), "symmetricKey");
    ck_assert_str_eq(json_string_value(json_object_get(sym, "primaryKey")), K2);
    ck_assert_str_eq(json_string_value(json_object_get(sym, "secondaryKey")), K1);
    /* What the emulator returns is a body it accepts back (the C# get-modify-update cycle). */
    char *text = json_dumps(o, JSON_COMPACT);
    struct device_patch p;
    ok(text, &p);
    ck_assert_int_eq(p.has_enabled, 1);
    ck_assert_str_eq(p.primary_key, K2);
    free(text);
    json_decref(o);
}
END_TEST

static Suite *device_json_suite(void)
{
    Suite *s = suite_create("device_json");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, empty_object_sets_nothing);
    tcase_add_test(tc, node_create_body);
    tcase_add_test(tc, csharp_body_with_read_only_fields);
    tcase_add_test(tc, status_is_case_insensitive);
    tcase_add_test(tc, status_reason_null_string_and_length);
    tcase_add_test(tc, status_reason_limit_counts_characters);
    tcase_add_test(tc, keys);
    tcase_add_test(tc, authentication_type);
    tcase_add_test(tc, x509_thumbprints_refused);
    tcase_add_test(tc, capabilities);
    tcase_add_test(tc, device_id_must_match_the_path);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, large_bodies_parse);
    suite_add_tcase(s, tc);
    tc = tcase_create("format");
    tcase_add_test(tc, patch_keeps_what_it_does_not_set);
    tcase_add_test(tc, object_fields_and_order);
    tcase_add_test(tc, object_null_reason_and_states);
    tcase_add_test(tc, round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(device_json_suite());
}
