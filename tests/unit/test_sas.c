/* Unit tests of protocol/sas.[ch]: shared access signature tokens (docs/protocol.md §4.1, rule 15).
 *
 * Every signature below was computed independently of the library, with the openssl command line:
 *
 *   sig() { printf '%s\n%s' "$1" "$2" | openssl dgst -sha256 -mac HMAC \
 *             -macopt hexkey:$(echo -n "$3" | base64 -d | xxd -p -c 256) -binary | base64; }
 *   sig "$sr" "$se" "$key"
 *
 * where $sr is the sr text exactly as it appears in the token. The signatures are then
 * percent-encoded by hand (+ -> %2B, / -> %2F, = -> %3D; lower case where noted). */
#include "protocol/sas.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOST "myhub.azure-devices.net"
/* printf '0123456789abcdef0123456789abcdef' | base64 */
#define K1 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
/* printf 'secondary-key-secondary-key-32b!' | base64 */
#define K2 "c2Vjb25kYXJ5LWtleS1zZWNvbmRhcnkta2V5LTMyYiE="
/* 16 bytes 'k': a valid key that signed nothing below. */
#define K3 "a2tra2tra2tra2tra2traw=="
#define SE "1700000000"
#define PREFIX "SharedAccessSignature "

/* C# (WebUtility.UrlEncode, upper-case hex), device, fields sr,sig,se.
 * sig "myhub.azure-devices.net%2Fdevices%2Fdev1" 1700000000 $K1
 *   -> wosmA3uJK9T0mdB5CIYn+sAVA2ODflnucuvNO5S6mbM= */
#define T_CS_DEVICE                                                                                \
    PREFIX "sr=" HOST "%2Fdevices%2Fdev1&sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D"     \
           "&se=" SE
/* C#, policy token for the hub, fields sr,sig,se,skn.
 * sig "myhub.azure-devices.net" 1700000000 $K1 -> sJAIZTF5oG40VHrie96heZ865+nR4QavBvHnzxZm8rk= */
#define T_CS_SERVICE                                                                               \
    PREFIX "sr=" HOST "&sig=sJAIZTF5oG40VHrie96heZ865%2BnR4QavBvHnzxZm8rk%3D&se=" SE "&skn="       \
           "service"
/* C#, module, upper-case hex.
 * sig "myhub.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2Fmod1" 1700000000 $K1
 *   -> ZId0CjYzILqd7GGIpC99uIpjPK4fJTkYbrDAh8qYiy8= */
#define T_CS_MODULE                                                                                \
    PREFIX "sr=" HOST "%2Fdevices%2Fdev1%2Fmodules%2Fmod1"                                         \
           "&sig=ZId0CjYzILqd7GGIpC99uIpjPK4fJTkYbrDAh8qYiy8%3D&se=" SE
/* Node service SDK (SharedAccessSignature.create), fields sr,sig,skn,se; same signature as
 * T_CS_SERVICE since skn is not signed. */
#define T_NODE_SERVICE                                                                             \
    PREFIX "sr=" HOST "&sig=sJAIZTF5oG40VHrie96heZ865%2BnR4QavBvHnzxZm8rk%3D&skn=service&se=" SE
/* Node, device token through a DeviceConnect policy: sr,sig,skn,se; signature of T_CS_DEVICE. */
#define T_NODE_DEVICE_POLICY                                                                       \
    PREFIX "sr=" HOST "%2Fdevices%2Fdev1&sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D"     \
           "&skn=device&se=" SE
/* The C SDK: sr not encoded at all; the signature's escape in lower case.
 * sig "myhub.azure-devices.net/devices/dev1" 1700000000 $K1
 *   -> LZdHbvbv4sRTXOAFJwPla4LIXjTUSo8Jtz2q6OF02wg= */
#define T_C_DEVICE                                                                                 \
    PREFIX "sr=" HOST "/devices/dev1&sig=LZdHbvbv4sRTXOAFJwPla4LIXjTUSo8Jtz2q6OF02wg%3d&se=" SE
/* The docs: lower-case hex everywhere, module.
 * sig "myhub.azure-devices.net%2fdevices%2fdev1%2fmodules%2fmod1" 1700000000 $K1
 *   -> riAyBo455Bfg6gE5z2pIhePZH0kc/nDfCLITByMETUY= */
#define T_DOCS_MODULE                                                                              \
    PREFIX "sr=" HOST "%2fdevices%2fdev1%2fmodules%2fmod1"                                         \
           "&sig=riAyBo455Bfg6gE5z2pIhePZH0kc%2fnDfCLITByMETUY%3d&se=" SE
/* The C# device token signed with the secondary key.
 * sig "myhub.azure-devices.net%2Fdevices%2Fdev1" 1700000000 $K2
 *   -> jEjTT9UKfBRlC+QEFO7++STeW+cufqWgsd6R1xGKo7g= */
#define T_CS_DEVICE_K2                                                                             \
    PREFIX "sr=" HOST "%2Fdevices%2Fdev1"                                                          \
           "&sig=jEjTT9UKfBRlC%2BQEFO7%2B%2BSTeW%2BcufqWgsd6R1xGKo7g%3D&se=" SE
/* se with a fraction; the signature covers the text "1700000000.5".
 * sig "myhub.azure-devices.net%2Fdevices%2Fdev1" 1700000000.5 $K1
 *   -> 8Q+D5E1Hdm5/bn/Rqu3F4ReAswIolnjO+zvbWog2t7s= */
#define T_FRACTION                                                                                 \
    PREFIX "sr=" HOST "%2Fdevices%2Fdev1"                                                          \
           "&sig=8Q%2BD5E1Hdm5%2Fbn%2FRqu3F4ReAswIolnjO%2BzvbWog2t7s%3D&se=1700000000.5"
/* sr with a trailing (encoded) slash.
 * sig "myhub.azure-devices.net%2Fdevices%2Fdev1%2F" 1700000000 $K1
 *   -> j93DmfGs2wPTiZr1TH1Jm4dd2EkgzVbFrUzgaN2pO5M= */
#define T_TRAILING_SLASH                                                                           \
    PREFIX "sr=" HOST "%2Fdevices%2Fdev1%2F&sig=j93DmfGs2wPTiZr1TH1Jm4dd2EkgzVbFrUzgaN2pO5M%3D"    \
           "&se=" SE

static const char *const hosts[] = {HOST};

struct vector {
    const char *what;
    const char *token;
    const char *sr_raw;
    const char *skn; /* NULL for none */
    const char *path;
};

static const struct vector k1_vectors[] = {
    {"C# device", T_CS_DEVICE, HOST "%2Fdevices%2Fdev1", NULL, "/devices/dev1"},
    {"C# service", T_CS_SERVICE, HOST, "service", ""},
    {"C# module", T_CS_MODULE, HOST "%2Fdevices%2Fdev1%2Fmodules%2Fmod1", NULL,
     "/devices/dev1/modules/mod1"},
    {"Node service", T_NODE_SERVICE, HOST, "service", ""},
    {"Node device policy", T_NODE_DEVICE_POLICY, HOST "%2Fdevices%2Fdev1", "device",
     "/devices/dev1"},
    {"C SDK device", T_C_DEVICE, HOST "/devices/dev1", NULL, "/devices/dev1"},
    {"docs module", T_DOCS_MODULE, HOST "%2fdevices%2fdev1%2fmodules%2fmod1", NULL,
     "/devices/dev1/modules/mod1"},
    {"trailing slash", T_TRAILING_SLASH, HOST "%2Fdevices%2Fdev1%2F", NULL, "/devices/dev1"},
};
#define K1_VECTOR_COUNT (sizeof k1_vectors / sizeof k1_vectors[0])

static void parse_ok(const char *text, struct ih_sas *t)
{
    struct ih_diag diag = {{0}};
    ih_result r = ih_sas_parse(text, strlen(text), t, &diag);
    ck_assert_msg(r == IH_OK, "parse of %s: %s (%s)", text, ih_result_name(r), diag.msg);
}

/* Parsing must fail with expected, explain why and leave the struct empty. */
static void parse_fails(const char *text, size_t len, ih_result expected)
{
    struct ih_sas t;
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_sas_parse(text, len, &t, &diag), expected);
    ck_assert_msg(diag.msg[0] != '\0', "no diag for %s", text);
    ck_assert_ptr_null(t.sr_raw);
    ck_assert_ptr_null(t.se_raw);
    ck_assert_ptr_null(t.skn);
}

static ih_result verify(const char *text, const char *const *keys, size_t nkeys, int *matched)
{
    struct ih_sas t;
    parse_ok(text, &t);
    ih_result r = ih_sas_verify_signature(&t, keys, nkeys, matched);
    ih_sas_free(&t);
    return r;
}

/* Audience of a token whose signature does not matter. */
static ih_result audience(const char *sr, const char *const *host_list, size_t nhosts,
                          const char *path)
{
    char text[512];
    snprintf(text, sizeof text, PREFIX "sr=%s&sig=AAAA&se=1", sr);
    struct ih_sas t;
    parse_ok(text, &t);
    ih_result r = ih_sas_check_audience(&t, host_list, nhosts, path);
    ih_sas_free(&t);
    return r;
}

static ih_result audience1(const char *sr, const char *path)
{
    return audience(sr, hosts, 1, path);
}

START_TEST(sdk_vectors_parse_verify_and_match)
{
    const struct vector *v = &k1_vectors[_i];
    struct ih_sas t;
    parse_ok(v->token, &t);
    ck_assert_str_eq(t.sr_raw, v->sr_raw);
    ck_assert_pstr_eq(t.skn, v->skn);
    ck_assert_str_eq(t.se_raw, SE);
    ck_assert_int_eq(t.expiry, 1700000000LL);
    ck_assert_uint_eq(t.sig_len, 32);

    const char *const primary[] = {K1};
    int matched = -1;
    ck_assert_result(ih_sas_verify_signature(&t, primary, 1, &matched), IH_OK);
    ck_assert_int_eq(matched, 0);
    const char *const swapped[] = {K2, K1};
    matched = -1;
    ck_assert_result(ih_sas_verify_signature(&t, swapped, 2, &matched), IH_OK);
    ck_assert_int_eq(matched, 1);
    const char *const wrong[] = {K2, K3};
    ck_assert_result(ih_sas_verify_signature(&t, wrong, 2, &matched), IH_ERR_SIGNATURE);

    ck_assert_result(ih_sas_check_audience(&t, hosts, 1, v->path), IH_OK);
    ck_assert_result(ih_sas_check_expiry(&t, 1700000000LL), IH_OK);
    ih_sas_free(&t);
    ck_assert_ptr_null(t.sr_raw);
}
END_TEST

START_TEST(wrong_key)
{
    const char *const keys[] = {K3};
    int matched = -1;
    ck_assert_result(verify(T_CS_DEVICE, keys, 1, &matched), IH_ERR_SIGNATURE);
    ck_assert_result(verify(T_C_DEVICE, keys, 1, &matched), IH_ERR_SIGNATURE);
    ck_assert_result(verify(T_CS_SERVICE, keys, 1, &matched), IH_ERR_SIGNATURE);
    ck_assert_int_eq(matched, -1);
    /* No key at all. */
    ck_assert_result(verify(T_CS_DEVICE, keys, 0, &matched), IH_ERR_SIGNATURE);
}
END_TEST

START_TEST(secondary_key)
{
    int matched = -1;
    const char *const both[] = {K1, K2};
    ck_assert_result(verify(T_CS_DEVICE_K2, both, 2, &matched), IH_OK);
    ck_assert_int_eq(matched, 1);
    const char *const only_secondary[] = {K2};
    ck_assert_result(verify(T_CS_DEVICE_K2, only_secondary, 1, &matched), IH_OK);
    ck_assert_int_eq(matched, 0);
    /* NULL entries are skipped but keep their index. */
    const char *const null_primary[] = {NULL, K2};
    matched = -1;
    ck_assert_result(verify(T_CS_DEVICE_K2, null_primary, 2, &matched), IH_OK);
    ck_assert_int_eq(matched, 1);
    const char *const only_primary[] = {K1, NULL};
    ck_assert_result(verify(T_CS_DEVICE_K2, only_primary, 2, &matched), IH_ERR_SIGNATURE);
}
END_TEST

START_TEST(key_not_base64)
{
    int matched = -1;
    const char *const bad[] = {"not base64!"};
    ck_assert_result(verify(T_CS_DEVICE, bad, 1, &matched), IH_ERR_KEY);
    const char *const empty[] = {""};
    ck_assert_result(verify(T_CS_DEVICE, empty, 1, &matched), IH_ERR_KEY);
    const char *const url_safe[] = {"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY-"};
    ck_assert_result(verify(T_CS_DEVICE, url_safe, 1, &matched), IH_ERR_KEY);
    ck_assert_int_eq(matched, -1);
}
END_TEST

START_TEST(tampered_tokens)
{
    const char *const keys[] = {K1, K2};
    int matched = -1;
    /* One character of the signature changed. */
    ck_assert_result(verify(PREFIX "sr=" HOST "%2Fdevices%2Fdev1"
                                   "&sig=xosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D&se=" SE,
                            keys, 2, &matched),
                     IH_ERR_SIGNATURE);
    /* Expiry pushed by one second. */
    ck_assert_result(verify(PREFIX "sr=" HOST "%2Fdevices%2Fdev1"
                                   "&sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D"
                                   "&se=1700000001",
                            keys, 2, &matched),
                     IH_ERR_SIGNATURE);
    /* Another device. */
    ck_assert_result(verify(PREFIX "sr=" HOST "%2Fdevices%2Fdev2"
                                   "&sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D&se=" SE,
                            keys, 2, &matched),
                     IH_ERR_SIGNATURE);
    /* The same audience re-encoded (lower-case hex, or decoded): the signature covers the sr text
     * as sent, so the verifier must not re-encode it. */
    ck_assert_result(verify(PREFIX "sr=" HOST "%2fdevices%2fdev1"
                                   "&sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D&se=" SE,
                            keys, 2, &matched),
                     IH_ERR_SIGNATURE);
    ck_assert_result(verify(PREFIX "sr=" HOST "%2Fdevices%2Fdev1"
                                   "&sig=LZdHbvbv4sRTXOAFJwPla4LIXjTUSo8Jtz2q6OF02wg%3D&se=" SE,
                            keys, 2, &matched),
                     IH_ERR_SIGNATURE);
    /* A shorter signature (valid base64). */
    ck_assert_result(
        verify(PREFIX "sr=" HOST "%2Fdevices%2Fdev1&sig=wosmA3uJ&se=" SE, keys, 2, &matched),
        IH_ERR_SIGNATURE);
    ck_assert_int_eq(matched, -1);
}
END_TEST

START_TEST(field_names_case_insensitive_unknown_ignored)
{
    const char *const keys[] = {K1};
    int matched = -1;
    ck_assert_result(verify(PREFIX "SR=" HOST
                                   "&Sig=sJAIZTF5oG40VHrie96heZ865%2BnR4QavBvHnzxZm8rk%3D"
                                   "&SE=" SE "&SKN=service",
                            keys, 1, &matched),
                     IH_OK);
    ck_assert_result(verify(PREFIX "foo=bar&sr=" HOST "&x=&sig=sJAIZTF5oG40VHrie96heZ865%2BnR4Qav"
                                   "BvHnzxZm8rk%3D&skn=service&se=" SE "&srx=1",
                            keys, 1, &matched),
                     IH_OK);
    /* The order of the fields does not matter. */
    ck_assert_result(verify(PREFIX "se=" SE "&skn=service&sig=sJAIZTF5oG40VHrie96heZ865%2BnR4QavBv"
                                   "HnzxZm8rk%3D&sr=" HOST,
                            keys, 1, &matched),
                     IH_OK);
}
END_TEST

START_TEST(skn_is_decoded)
{
    struct ih_sas t;
    parse_ok(PREFIX "sr=" HOST "&sig=AAAA&se=1&skn=my%20policy", &t);
    ck_assert_str_eq(t.skn, "my policy");
    ih_sas_free(&t);
    parse_ok(T_CS_DEVICE, &t);
    ck_assert_ptr_null(t.skn);
    ih_sas_free(&t);
}
END_TEST

START_TEST(fractional_expiry)
{
    struct ih_sas t;
    parse_ok(T_FRACTION, &t);
    ck_assert_str_eq(t.se_raw, "1700000000.5");
    ck_assert_int_eq(t.expiry, 1700000000LL);
    const char *const keys[] = {K1};
    int matched = -1;
    ck_assert_result(ih_sas_verify_signature(&t, keys, 1, &matched), IH_OK);
    ck_assert_result(ih_sas_check_audience(&t, hosts, 1, "/devices/dev1"), IH_OK);
    ih_sas_free(&t);
    parse_ok(PREFIX "sr=" HOST "&sig=AAAA&se=123.5", &t);
    ck_assert_int_eq(t.expiry, 123);
    ih_sas_free(&t);
}
END_TEST

START_TEST(expiry_allows_five_minutes_of_skew)
{
    struct ih_sas t;
    parse_ok(T_CS_DEVICE, &t);
    ck_assert_result(ih_sas_check_expiry(&t, 1600000000LL), IH_OK);
    ck_assert_result(ih_sas_check_expiry(&t, 1700000000LL + 299), IH_OK);
    ck_assert_result(ih_sas_check_expiry(&t, 1700000000LL + 300), IH_OK);
    ck_assert_result(ih_sas_check_expiry(&t, 1700000000LL + 301), IH_ERR_EXPIRED);
    ck_assert_result(ih_sas_check_expiry(&t, 1800000000LL), IH_ERR_EXPIRED);
    ih_sas_free(&t);
}
END_TEST

START_TEST(expiry_relative_to_now)
{
    long long now = (long long)time(NULL);
    char *text = NULL;
    struct ih_sas t;
    ck_assert_result(ih_sas_create(HOST "/devices/dev1", K1, NULL, now - 299, &text), IH_OK);
    parse_ok(text, &t);
    ck_assert_result(ih_sas_check_expiry(&t, now), IH_OK);
    ih_sas_free(&t);
    free(text);
    ck_assert_result(ih_sas_create(HOST "/devices/dev1", K1, NULL, now - 301, &text), IH_OK);
    parse_ok(text, &t);
    ck_assert_result(ih_sas_check_expiry(&t, now), IH_ERR_EXPIRED);
    /* An expired token still has a good signature: the checks are independent. */
    const char *const keys[] = {K1};
    int matched = -1;
    ck_assert_result(ih_sas_verify_signature(&t, keys, 1, &matched), IH_OK);
    ih_sas_free(&t);
    free(text);
}
END_TEST

START_TEST(audience_exact_paths)
{
    ck_assert_result(audience1(HOST, ""), IH_OK);
    ck_assert_result(audience1(HOST "%2Fdevices%2Fdev1", "/devices/dev1"), IH_OK);
    ck_assert_result(audience1(HOST "/devices/dev1", "/devices/dev1"), IH_OK);
    ck_assert_result(
        audience1(HOST "%2fdevices%2fdev1%2fmodules%2fmod1", "/devices/dev1/modules/mod1"), IH_OK);
}
END_TEST

START_TEST(audience_wrong_resource)
{
    /* Another device. */
    ck_assert_result(audience1(HOST "%2Fdevices%2Fdev1", "/devices/dev2"), IH_ERR_AUDIENCE);
    ck_assert_result(audience1(HOST "/devices/dev2", "/devices/dev1"), IH_ERR_AUDIENCE);
    /* A device token used for the hub. */
    ck_assert_result(audience1(HOST "%2Fdevices%2Fdev1", ""), IH_ERR_AUDIENCE);
    /* A module token used for its device, or another module. */
    ck_assert_result(audience1(HOST "%2Fdevices%2Fdev1%2Fmodules%2Fmod1", "/devices/dev1"),
                     IH_ERR_AUDIENCE);
    ck_assert_result(
        audience1(HOST "%2Fdevices%2Fdev1%2Fmodules%2Fmod1", "/devices/dev1/modules/mod2"),
        IH_ERR_AUDIENCE);
    /* A prefix that does not end at a '/'. */
    ck_assert_result(audience1(HOST "%2Fdevices%2Fdev", "/devices/dev1"), IH_ERR_AUDIENCE);
    ck_assert_result(audience1(HOST "/devices/dev", "/devices/dev1"), IH_ERR_AUDIENCE);
    ck_assert_result(audience1("myhub.azure-devices", ""), IH_ERR_AUDIENCE);
    ck_assert_result(audience1("myhub", "/devices/dev1"), IH_ERR_AUDIENCE);
    /* Another hub. */
    ck_assert_result(audience1("otherhub.azure-devices.net", ""), IH_ERR_AUDIENCE);
    ck_assert_result(audience1(HOST ".evil.example", ""), IH_ERR_AUDIENCE);
    ck_assert_result(audience1("evil.example%2F" HOST, ""), IH_ERR_AUDIENCE);
    /* Nothing left once the slashes are trimmed. */
    ck_assert_result(audience1("%2F", ""), IH_ERR_AUDIENCE);
    ck_assert_result(audience1("/", "/devices/dev1"), IH_ERR_AUDIENCE);
}
END_TEST

START_TEST(audience_hub_token_covers_devices)
{
    /* sr=host is a prefix of host/devices/dev1 that ends at a '/': accepted (C# prefix rule). */
    ck_assert_result(audience1(HOST, "/devices/dev1"), IH_OK);
    ck_assert_result(audience1(HOST, "/devices/dev1/modules/mod1"), IH_OK);
    ck_assert_result(audience1(HOST "%2Fdevices%2Fdev1", "/devices/dev1/modules/mod1"), IH_OK);
    ck_assert_result(audience1(HOST "%2Fdevices", "/devices/dev1"), IH_OK);
}
END_TEST

START_TEST(audience_case_insensitive)
{
    ck_assert_result(audience1("MYHUB.Azure-Devices.NET%2fDEVICES%2FDev1", "/devices/dev1"), IH_OK);
    ck_assert_result(audience1(HOST "/devices/dev1", "/DEVICES/DEV1"), IH_OK);
    const char *const upper_host[] = {"MyHub.Azure-Devices.Net"};
    ck_assert_result(audience(HOST, upper_host, 1, ""), IH_OK);
}
END_TEST

START_TEST(audience_trailing_slash)
{
    ck_assert_result(audience1(HOST "%2Fdevices%2Fdev1%2F", "/devices/dev1"), IH_OK);
    ck_assert_result(audience1(HOST "/devices/dev1/", "/devices/dev1"), IH_OK);
    ck_assert_result(audience1(HOST "/", ""), IH_OK);
    ck_assert_result(audience1(HOST "%2F", ""), IH_OK);
    /* The trailing slash does not turn a prefix into a match. */
    ck_assert_result(audience1(HOST "%2Fdevices%2Fdev%2F", "/devices/dev1"), IH_ERR_AUDIENCE);
}
END_TEST

START_TEST(audience_encodings_of_ids)
{
    /* C# encodes a space as '+'. */
    ck_assert_result(audience1(HOST "%2Fdevices%2Fmy+dev", "/devices/my dev"), IH_OK);
    ck_assert_result(audience1(HOST "%2Fdevices%2Fmy%20dev", "/devices/my dev"), IH_OK);
    /* A real '+' in an id, encoded or (the C SDK) not. */
    ck_assert_result(audience1(HOST "%2Fdevices%2Fa%2Bb", "/devices/a+b"), IH_OK);
    ck_assert_result(audience1(HOST "/devices/a+b", "/devices/a+b"), IH_OK);
    /* A raw '%' (allowed in device ids) from the C SDK, which does not encode. */
    ck_assert_result(audience1(HOST "/devices/100%", "/devices/100%"), IH_OK);
    ck_assert_result(audience1(HOST "%2Fdevices%2F100%25", "/devices/100%"), IH_OK);
}
END_TEST

START_TEST(audience_host_lists)
{
    const char *const two[] = {"127.0.0.1", HOST};
    ck_assert_result(audience(HOST "%2Fdevices%2Fdev1", two, 2, "/devices/dev1"), IH_OK);
    ck_assert_result(audience("127.0.0.1%2Fdevices%2Fdev1", two, 2, "/devices/dev1"), IH_OK);
    const char *const other[] = {"otherhub.azure-devices.net"};
    ck_assert_result(audience(HOST "%2Fdevices%2Fdev1", other, 1, "/devices/dev1"),
                     IH_ERR_AUDIENCE);
    ck_assert_result(audience(HOST, hosts, 0, ""), IH_ERR_AUDIENCE);
}
END_TEST

START_TEST(parse_missing_fields)
{
    parse_fails(UNIT_S(PREFIX "sig=AAAA&se=1"), IH_ERR_MISSING);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&se=1"), IH_ERR_MISSING);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=AAAA"), IH_ERR_MISSING);
    parse_fails(UNIT_S(PREFIX "skn=service"), IH_ERR_MISSING);
    parse_fails(UNIT_S(PREFIX), IH_ERR_MISSING);
    /* Present but empty. */
    parse_fails(UNIT_S(PREFIX "sr=&sig=AAAA&se=1"), IH_ERR_MISSING);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=&se=1"), IH_ERR_MISSING);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=AAAA&se="), IH_ERR_MISSING);
}
END_TEST

START_TEST(parse_duplicate_fields)
{
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sr=" HOST "&sig=AAAA&se=1"), IH_ERR_DUPLICATE);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=AAAA&sig=AAAA&se=1"), IH_ERR_DUPLICATE);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=AAAA&se=1&SE=1"), IH_ERR_DUPLICATE);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=AAAA&se=1&skn=a&skn=b"), IH_ERR_DUPLICATE);
}
END_TEST

START_TEST(parse_prefix_required)
{
    parse_fails(UNIT_S("sr=" HOST "&sig=AAAA&se=1"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S("Bearer sr=" HOST "&sig=AAAA&se=1"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S("SharedAccessSignaturesr=" HOST "&sig=AAAA&se=1"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S("SharedAccessSignature"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S(""), IH_ERR_SYNTAX);
    parse_fails(UNIT_S(" SharedAccessSignature sr=" HOST "&sig=AAAA&se=1"), IH_ERR_SYNTAX);
}
END_TEST

START_TEST(parse_garbage)
{
    parse_fails(UNIT_S(PREFIX "garbage"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S(PREFIX "&&&"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=AAAA&se=1&junk"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S("\x01\x02\xff\xfe garbage = & ="), IH_ERR_SYNTAX);
    parse_fails(PREFIX "sr=a\0&sig=AAAA&se=1", sizeof(PREFIX "sr=a\0&sig=AAAA&se=1") - 1,
                IH_ERR_SYNTAX);
}
END_TEST

START_TEST(parse_bad_expiry)
{
    static const char *const bad[] = {
        "abc", "-1", "+1", " 1", "1 ", "1e9", "1.2.3", "12a", "0x10", ".5", "1234567890123456789"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[200];
        snprintf(text, sizeof text, PREFIX "sr=" HOST "&sig=AAAA&se=%s", bad[i]);
        parse_fails(text, strlen(text), IH_ERR_SYNTAX);
    }
}
END_TEST

START_TEST(parse_bad_signature)
{
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=!!!!&se=1"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=AAA&se=1"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=%zzAA&se=1"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=AA-_&se=1"), IH_ERR_SYNTAX);
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=AAAA%00&se=1"), IH_ERR_SYNTAX);
    /* 66 bytes: longer than any HMAC the hub uses. */
    parse_fails(UNIT_S(PREFIX
                       "sr=" HOST "&sig="
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                       "AAAAAAAAAAAAAAAA&se=1"),
                IH_ERR_SYNTAX);
    /* A bad skn encoding. */
    parse_fails(UNIT_S(PREFIX "sr=" HOST "&sig=AAAA&se=1&skn=%zz"), IH_ERR_SYNTAX);
}
END_TEST

START_TEST(parse_length_limit)
{
    size_t cap = IH_SAS_MAX_LEN + 2;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    static const char head[] = PREFIX "sr=" HOST "&sig=AAAA&se=1&pad=";
    memcpy(text, head, sizeof head - 1);
    memset(text + sizeof head - 1, 'p', cap - sizeof head);
    text[cap - 1] = '\0';
    struct ih_sas t;
    ck_assert_result(ih_sas_parse(text, IH_SAS_MAX_LEN, &t, NULL), IH_OK);
    ih_sas_free(&t);
    parse_fails(text, IH_SAS_MAX_LEN + 1, IH_ERR_TOO_LONG);
    free(text);
}
END_TEST

START_TEST(create_device_matches_openssl)
{
    char *text = NULL;
    ck_assert_result(ih_sas_create(HOST "/devices/dev1", K1, NULL, 1700000000LL, &text), IH_OK);
    ck_assert_str_eq(text, T_CS_DEVICE);
    struct ih_sas t;
    parse_ok(text, &t);
    const char *const keys[] = {K2, K1};
    int matched = -1;
    ck_assert_result(ih_sas_verify_signature(&t, keys, 2, &matched), IH_OK);
    ck_assert_int_eq(matched, 1);
    ck_assert_result(ih_sas_check_audience(&t, hosts, 1, "/devices/dev1"), IH_OK);
    ih_sas_free(&t);
    free(text);
}
END_TEST

START_TEST(create_module_matches_openssl)
{
    char *text = NULL;
    ck_assert_result(
        ih_sas_create(HOST "/devices/dev1/modules/mod1", K1, NULL, 1700000000LL, &text), IH_OK);
    ck_assert_str_eq(text, T_CS_MODULE);
    free(text);
}
END_TEST

START_TEST(create_service_matches_openssl)
{
    char *text = NULL;
    ck_assert_result(ih_sas_create(HOST, K1, "service", 1700000000LL, &text), IH_OK);
    ck_assert_str_eq(text, T_CS_SERVICE);
    struct ih_sas t;
    parse_ok(text, &t);
    ck_assert_str_eq(t.skn, "service");
    const char *const keys[] = {K1};
    int matched = -1;
    ck_assert_result(ih_sas_verify_signature(&t, keys, 1, &matched), IH_OK);
    ck_assert_result(ih_sas_check_audience(&t, hosts, 1, ""), IH_OK);
    ih_sas_free(&t);
    free(text);
}
END_TEST

START_TEST(create_encodes_ids_and_policy)
{
    /* sig "myhub.azure-devices.net%2Fdevices%2Fmy%20dev" 1700000000 $K1
     *   -> I66UZ1KwbvNP37E8Y1ahrWn2fdjNuWl7MtDxYl0IQjM= */
    char *text = NULL;
    ck_assert_result(ih_sas_create(HOST "/devices/my dev", K1, "my policy", 1700000000LL, &text),
                     IH_OK);
    ck_assert_str_eq(text, PREFIX "sr=" HOST "%2Fdevices%2Fmy%20dev"
                                  "&sig=I66UZ1KwbvNP37E8Y1ahrWn2fdjNuWl7MtDxYl0IQjM%3D"
                                  "&se=1700000000&skn=my%20policy");
    struct ih_sas t;
    parse_ok(text, &t);
    ck_assert_str_eq(t.skn, "my policy");
    ck_assert_result(ih_sas_check_audience(&t, hosts, 1, "/devices/my dev"), IH_OK);
    ih_sas_free(&t);
    free(text);
}
END_TEST

START_TEST(create_round_trips_with_other_keys)
{
    /* sig "myhub.azure-devices.net%2Fdevices%2Fdev1" 1700000000 a2tra2tra2tra2tra2traw==
     *   -> Y2nPbQaLhXGJZH5G/4LPuDU71sMarzQ+L3CGq2J9RwU= */
    char *text = NULL;
    ck_assert_result(ih_sas_create(HOST "/devices/dev1", K3, NULL, 1700000000LL, &text), IH_OK);
    ck_assert_str_eq(text, PREFIX "sr=" HOST "%2Fdevices%2Fdev1"
                                  "&sig=Y2nPbQaLhXGJZH5G%2F4LPuDU71sMarzQ%2BL3CGq2J9RwU%3D&se=" SE);
    const char *const keys[] = {K1, K2, K3};
    int matched = -1;
    ck_assert_result(verify(text, keys, 3, &matched), IH_OK);
    ck_assert_int_eq(matched, 2);
    free(text);
}
END_TEST

START_TEST(create_with_bad_key)
{
    char *text = NULL;
    ck_assert_result(ih_sas_create(HOST, "not base64!", "service", 1700000000LL, &text),
                     IH_ERR_KEY);
    ck_assert_ptr_null(text);
    ck_assert_result(ih_sas_create(HOST, "", NULL, 1700000000LL, &text), IH_ERR_KEY);
    ck_assert_ptr_null(text);
}
END_TEST

static void key_check(const char *key, ih_result expected)
{
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_key_check(key, &diag), expected);
    if (expected != IH_OK)
        ck_assert_msg(diag.msg[0] != '\0', "no diag for key %s", key);
}

START_TEST(key_check_sizes)
{
    /* head -c N /dev/zero | tr '\0' k | base64 -w0 */
    key_check("a2tra2tra2tra2tra2tr", IH_ERR_KEY); /* 15 bytes */
    key_check("a2tra2tra2tra2tra2traw==", IH_OK);  /* 16 bytes */
    key_check(K1, IH_OK);                          /* 32 bytes */
    key_check("a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2"
              "traw==",
              IH_OK); /* 64 bytes */
    key_check("a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2"
              "tra2s=",
              IH_ERR_KEY); /* 65 bytes */
    ck_assert_result(ih_key_check("AAAA", NULL), IH_ERR_KEY);
}
END_TEST

START_TEST(key_check_not_base64)
{
    key_check("", IH_ERR_KEY);
    key_check("not a key at all", IH_ERR_KEY);
    key_check("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", IH_ERR_KEY); /* padding dropped */
    key_check(" MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", IH_ERR_KEY);
    key_check("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZW-_", IH_ERR_KEY);
}
END_TEST

static Suite *sas_suite(void)
{
    Suite *s = suite_create("sas");
    TCase *vectors = tcase_create("vectors");
    tcase_add_loop_test(vectors, sdk_vectors_parse_verify_and_match, 0, (int)K1_VECTOR_COUNT);
    tcase_add_test(vectors, wrong_key);
    tcase_add_test(vectors, secondary_key);
    tcase_add_test(vectors, key_not_base64);
    tcase_add_test(vectors, tampered_tokens);
    tcase_add_test(vectors, field_names_case_insensitive_unknown_ignored);
    tcase_add_test(vectors, skn_is_decoded);
    tcase_add_test(vectors, fractional_expiry);
    suite_add_tcase(s, vectors);
    TCase *expiry = tcase_create("expiry");
    tcase_add_test(expiry, expiry_allows_five_minutes_of_skew);
    tcase_add_test(expiry, expiry_relative_to_now);
    suite_add_tcase(s, expiry);
    TCase *aud = tcase_create("audience");
    tcase_add_test(aud, audience_exact_paths);
    tcase_add_test(aud, audience_wrong_resource);
    tcase_add_test(aud, audience_hub_token_covers_devices);
    tcase_add_test(aud, audience_case_insensitive);
    tcase_add_test(aud, audience_trailing_slash);
    tcase_add_test(aud, audience_encodings_of_ids);
    tcase_add_test(aud, audience_host_lists);
    suite_add_tcase(s, aud);
    TCase *parse = tcase_create("parse");
    tcase_add_test(parse, parse_missing_fields);
    tcase_add_test(parse, parse_duplicate_fields);
    tcase_add_test(parse, parse_prefix_required);
    tcase_add_test(parse, parse_garbage);
    tcase_add_test(parse, parse_bad_expiry);
    tcase_add_test(parse, parse_bad_signature);
    tcase_add_test(parse, parse_length_limit);
    suite_add_tcase(s, parse);
    TCase *create = tcase_create("create");
    tcase_add_test(create, create_device_matches_openssl);
    tcase_add_test(create, create_module_matches_openssl);
    tcase_add_test(create, create_service_matches_openssl);
    tcase_add_test(create, create_encodes_ids_and_policy);
    tcase_add_test(create, create_round_trips_with_other_keys);
    tcase_add_test(create, create_with_bad_key);
    tcase_add_test(create, key_check_sizes);
    tcase_add_test(create, key_check_not_base64);
    suite_add_tcase(s, create);
    return s;
}

int main(void)
{
    return unit_run(sas_suite());
}
