/* Unit tests of server/device_auth.[ch]: authentication of a device's MQTT CONNECT
 * (docs/protocol.md rule 6, rule 15, §4.2). The registry is a small static table behind fake lookup
 * functions.
 *
 * Tokens come from ih_sas_create (sr encoded with upper-case hex, like C# and Node), or are built
 * here with OpenSSL's HMAC over an unencoded sr, like the C SDK. Two C SDK tokens are fixed
 * vectors computed with the openssl command line (see test_sas.c):
 *   sig "myhub.azure-devices.net/devices/dev1" 1700000000 $K1
 *     -> LZdHbvbv4sRTXOAFJwPla4LIXjTUSo8Jtz2q6OF02wg=
 *   sig "myhub.azure-devices.net/devices/dev1/modules/mod1" 1700000000 $K1
 *     -> nraB/4mWTDHXFU9uZw8owlIAHFnm0XW/7FU7GSwpKwA= */
#include "device_auth.h"

#include "permissions.h"

#include "protocol/base64.h"
#include "protocol/percent.h"
#include "protocol/sas.h"

#include "unit.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST "myhub.azure-devices.net"
#define HOST2 "127.0.0.1"
#define NOW 1700000000LL
#define LATER (NOW + 3600)
#define QUERY "/?api-version=2018-06-30&DeviceClientType=x"

/* printf '0123456789abcdef0123456789abcdef' | base64 */
#define K1 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
/* printf 'secondary-key-secondary-key-32b!' | base64 */
#define K2 "c2Vjb25kYXJ5LWtleS1zZWNvbmRhcnkta2V5LTMyYiE="
/* printf 'dev2-primary-key-dev2-primary-ke' | base64 */
#define K_DEV2 "ZGV2Mi1wcmltYXJ5LWtleS1kZXYyLXByaW1hcnkta2U="
/* 16 bytes 'k': a valid key nobody in the table has. */
#define K_NOBODY "a2tra2tra2tra2tra2traw=="
/* printf 'device-policy-primary-key-32byte' | base64, and the secondary. */
#define KP1 "ZGV2aWNlLXBvbGljeS1wcmltYXJ5LWtleS0zMmJ5dGU="
#define KP2 "ZGV2aWNlLXBvbGljeS1zZWNvbmRhcnkta2V5LTMyYnk="
/* printf 'service-policy-primary-key-32byt' | base64 */
#define KS "c2VydmljZS1wb2xpY3ktcHJpbWFyeS1rZXktMzJieXQ="

#define T_C_DEVICE                                                                                 \
    "SharedAccessSignature sr=" HOST "/devices/dev1"                                               \
    "&sig=LZdHbvbv4sRTXOAFJwPla4LIXjTUSo8Jtz2q6OF02wg%3d&se=1700000000"
#define T_C_MODULE                                                                                 \
    "SharedAccessSignature sr=" HOST "/devices/dev1/modules/mod1"                                  \
    "&sig=nraB%2F4mWTDHXFU9uZw8owlIAHFnm0XW%2F7FU7GSwpKwA%3D&se=1700000000"

/* ---- The fake registry. ---- */

static const struct {
    const char *id;
    int enabled;
    const char *primary, *secondary;
} devices[] = {
    {"dev1", 1, K1, K2}, {"dev2", 1, K_DEV2, K_DEV2}, {"off1", 0, K1, K2},
    {"a+b", 1, K1, K2},  {"?dev", 1, K1, K2},
};

static const struct {
    const char *name;
    unsigned permissions;
    const char *primary, *secondary;
} policies[] = {
    {"device", PERM_DEVICE_CONNECT, KP1, KP2},
    {"service", PERM_SERVICE_CONNECT, KS, KS},
    {"registryReadWrite", PERM_REGISTRY_READ | PERM_REGISTRY_WRITE, KP1, KP2},
    {"iothubowner",
     PERM_REGISTRY_READ | PERM_REGISTRY_WRITE | PERM_SERVICE_CONNECT | PERM_DEVICE_CONNECT, KS, KS},
};

static int device_lookups, policy_lookups;

static enum lookup_result fake_device(void *ctx, const char *device_id, struct device_keys *out)
{
    ck_assert_ptr_eq(ctx, &device_lookups);
    device_lookups++;
    if (strcmp(device_id, "broken") == 0)
        return LOOKUP_ERROR;
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        if (strcmp(devices[i].id, device_id) != 0)
            continue;
        out->enabled = devices[i].enabled;
        snprintf(out->primary_key, sizeof out->primary_key, "%s", devices[i].primary);
        snprintf(out->secondary_key, sizeof out->secondary_key, "%s", devices[i].secondary);
        return LOOKUP_FOUND;
    }
    return LOOKUP_NOT_FOUND;
}

static enum lookup_result fake_policy(void *ctx, const char *name, struct policy_keys *out)
{
    ck_assert_ptr_eq(ctx, &device_lookups);
    policy_lookups++;
    if (strcmp(name, "broken") == 0)
        return LOOKUP_ERROR;
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        if (strcmp(policies[i].name, name) != 0)
            continue;
        out->permissions = policies[i].permissions;
        snprintf(out->primary_key, sizeof out->primary_key, "%s", policies[i].primary);
        snprintf(out->secondary_key, sizeof out->secondary_key, "%s", policies[i].secondary);
        return LOOKUP_FOUND;
    }
    return LOOKUP_NOT_FOUND;
}

static const struct device_auth_lookups lookups = {fake_device, fake_policy, &device_lookups};
static const char *const hosts[] = {HOST, HOST2};

static void setup(void)
{
    device_lookups = 0;
    policy_lookups = 0;
}

/* ---- Tokens. Each lives in a static slot, so tests need not free them. ---- */

#define TOKEN_SLOTS 8
static char token_slots[TOKEN_SLOTS][1024];
static size_t next_slot;

static const char *keep(const char *text)
{
    char *slot = token_slots[next_slot++ % TOKEN_SLOTS];
    ck_assert_uint_lt(strlen(text), sizeof token_slots[0]);
    snprintf(slot, sizeof token_slots[0], "%s", text);
    return slot;
}

/* ih_sas_create: sr percent-encoded with upper-case hex. */
static const char *token(const char *resource, const char *key, const char *policy,
                         long long expiry)
{
    char *made = NULL;
    ck_assert_result(ih_sas_create(resource, key, policy, expiry, &made), IH_OK);
    const char *kept = keep(made);
    free(made);
    return kept;
}

/* The C SDK's token: sr not encoded at all, HMAC-SHA256 over "sr\nse" computed here. */
static const char *raw_token(const char *sr, const char *key, long long expiry)
{
    char se[24], to_sign[512];
    snprintf(se, sizeof se, "%lld", expiry);
    int n = snprintf(to_sign, sizeof to_sign, "%s\n%s", sr, se);
    ck_assert_int_lt(n, (int)sizeof to_sign);
    unsigned char *key_bytes = NULL;
    size_t key_len = 0;
    ck_assert_result(ih_base64_decode(key, strlen(key), &key_bytes, &key_len), IH_OK);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key_bytes, (int)key_len,
                               (const unsigned char *)to_sign, (size_t)n, mac, &mac_len));
    free(key_bytes);
    char *b64 = NULL, *sig = NULL;
    ck_assert_result(ih_base64_encode(mac, mac_len, &b64), IH_OK);
    ck_assert_result(ih_pct_encode(b64, strlen(b64), &sig), IH_OK);
    char text[1024];
    snprintf(text, sizeof text, "SharedAccessSignature sr=%s&sig=%s&se=%s", sr, sig, se);
    free(b64);
    free(sig);
    return keep(text);
}

/* ---- Checks. ---- */

static enum device_auth_result run(const char *cid, const char *username, const char *password,
                                   long long now, char *reason, size_t reason_len)
{
    struct device_auth_request req = {cid, username, password, hosts, 2, now};
    return device_auth_check(&req, &lookups, reason, reason_len);
}

static void check_ok_at(const char *cid, const char *username, const char *password, long long now)
{
    char reason[300] = "";
    enum device_auth_result r = run(cid, username, password, now, reason, sizeof reason);
    ck_assert_msg(r == DEVICE_AUTH_OK, "cid '%s' password '%s': got %d (%s), expected OK", cid,
                  password, (int)r, reason);
}

static void check_ok(const char *cid, const char *username, const char *password)
{
    check_ok_at(cid, username, password, NOW);
}

/* DENIED, with a reason that contains word. */
static void check_denied_at(const char *cid, const char *username, const char *password,
                            long long now, const char *word)
{
    char reason[300] = "";
    enum device_auth_result r = run(cid, username, password, now, reason, sizeof reason);
    ck_assert_msg(r == DEVICE_AUTH_DENIED,
                  "cid '%s' user '%s' password '%s': got %d (%s), expected DENIED",
                  cid != NULL ? cid : "NULL", username != NULL ? username : "NULL",
                  password != NULL ? password : "NULL", (int)r, reason);
    ck_assert_msg(strstr(reason, word) != NULL, "reason '%s' lacks '%s'", reason, word);
}

static void check_denied(const char *cid, const char *username, const char *password,
                         const char *word)
{
    check_denied_at(cid, username, password, NOW, word);
}

/* ---- Accepted. ---- */

START_TEST(device_token)
{
    const char *t = token(HOST "/devices/dev1", K1, NULL, LATER);
    check_ok("dev1", HOST "/dev1" QUERY, t);
    check_ok("dev1", NULL, t);
    check_ok("dev1", "", t);
    ck_assert_int_eq(policy_lookups, 0);
}
END_TEST

START_TEST(secondary_key_token)
{
    check_ok("dev1", HOST "/dev1" QUERY, token(HOST "/devices/dev1", K2, NULL, LATER));
}
END_TEST

START_TEST(c_sdk_raw_sr_token)
{
    check_ok_at("dev1", HOST "/dev1" QUERY, T_C_DEVICE, NOW - 10);
    check_ok("dev1", HOST "/dev1" QUERY, raw_token(HOST "/devices/dev1", K1, LATER));
    check_ok("dev1", HOST "/dev1" QUERY, raw_token(HOST "/devices/dev1", K2, LATER));
    /* The raw sr is signed as sent: the same token with sr encoded no longer verifies. */
    check_denied("dev1", NULL,
                 "SharedAccessSignature sr=" HOST "%2Fdevices%2Fdev1"
                 "&sig=LZdHbvbv4sRTXOAFJwPla4LIXjTUSo8Jtz2q6OF02wg%3d&se=1700000000",
                 "wrong key");
}
END_TEST

START_TEST(module_token_signed_with_device_key)
{
    check_ok("dev1/mod1", HOST "/dev1/mod1" QUERY,
             token(HOST "/devices/dev1/modules/mod1", K1, NULL, LATER));
    check_ok("dev1/mod1", NULL, token(HOST "/devices/dev1/modules/mod1", K2, NULL, LATER));
    check_ok_at("dev1/mod1", HOST "/dev1/mod1" QUERY, T_C_MODULE, NOW - 10);
    check_ok("dev1/mod1", NULL, raw_token(HOST "/devices/dev1/modules/mod1", K1, LATER));
}
END_TEST

START_TEST(policy_token)
{
    check_ok("dev1", HOST "/dev1" QUERY, token(HOST "/devices/dev1", KP1, "device", LATER));
    check_ok("dev1", NULL, token(HOST "/devices/dev1", KP2, "device", LATER));
    check_ok("dev1", NULL, token(HOST "/devices/dev1", KS, "iothubowner", LATER));
    check_ok("dev1/mod1", NULL, token(HOST "/devices/dev1/modules/mod1", KP1, "device", LATER));
    ck_assert_int_gt(policy_lookups, 0);
}
END_TEST

START_TEST(any_configured_host)
{
    check_ok("dev1", HOST2 "/dev1" QUERY, token(HOST2 "/devices/dev1", K1, NULL, LATER));
    /* The audience compares case-insensitively (docs/protocol.md rule 15). */
    check_ok("dev1", NULL, token("MyHub.Azure-Devices.NET/devices/dev1", K1, NULL, LATER));
}
END_TEST

START_TEST(special_device_ids)
{
    /* Encoded by ih_sas_create (a%2Bb), or raw like the C SDK. */
    check_ok("a+b", HOST "/a+b" QUERY, token(HOST "/devices/a+b", K1, NULL, LATER));
    check_ok("a+b", NULL, raw_token(HOST "/devices/a+b", K1, LATER));
}
END_TEST

START_TEST(device_id_starting_with_a_question_mark)
{
    /* '?' is a valid id character; the C# SDK sends the raw id in the user name. */
    check_ok("?dev", NULL, token(HOST "/devices/?dev", K1, NULL, LATER));
    check_ok("?dev", HOST "/?dev" QUERY, token(HOST "/devices/?dev", K1, NULL, LATER));
}
END_TEST

START_TEST(device_token_covers_its_modules)
{
    /* Prefix rule (docs/protocol.md rule 15): a device-level sr covers /devices/dev1/modules/... */
    check_ok("dev1/mod1", HOST "/dev1/mod1" QUERY, token(HOST "/devices/dev1", K1, NULL, LATER));
    check_ok("dev1/mod1", NULL, raw_token(HOST "/devices/dev1", K1, LATER));
    check_ok("dev1/mod1", NULL, token(HOST "/devices/dev1", KP1, "device", LATER));
}
END_TEST

START_TEST(expiry_skew)
{
    const char *t = token(HOST "/devices/dev1", K1, NULL, NOW);
    check_ok_at("dev1", NULL, t, NOW);
    check_ok_at("dev1", NULL, t, NOW + IH_SAS_CLOCK_SKEW_SECONDS);
    check_denied_at("dev1", NULL, t, NOW + IH_SAS_CLOCK_SKEW_SECONDS + 1, "expired");
    check_denied_at("dev1", NULL, t, NOW + 3600, "expired");
    check_denied("dev1", NULL, token(HOST "/devices/dev1", K1, NULL, NOW - 301), "expired");
    check_ok("dev1", NULL, token(HOST "/devices/dev1", K1, NULL, NOW - 300));
}
END_TEST

/* ---- Refused. ---- */

START_TEST(unknown_device)
{
    check_denied("nobody", NULL, token(HOST "/devices/nobody", K1, NULL, LATER), "unknown device");
    check_denied("nobody/mod1", NULL, token(HOST "/devices/nobody", K1, NULL, LATER),
                 "unknown device");
    /* Ids are case-sensitive. */
    check_denied("DEV1", NULL, token(HOST "/devices/DEV1", K1, NULL, LATER), "unknown device");
}
END_TEST

START_TEST(disabled_device)
{
    check_denied("off1", NULL, token(HOST "/devices/off1", K1, NULL, LATER), "disabled");
    check_denied("off1/mod1", NULL, token(HOST "/devices/off1", K1, NULL, LATER), "disabled");
    /* Through a policy too. */
    check_denied("off1", NULL, token(HOST "/devices/off1", KP1, "device", LATER), "disabled");
}
END_TEST

START_TEST(wrong_audience)
{
    /* A token for dev2, signed with dev1's own key, used by dev1. */
    check_denied("dev1", NULL, token(HOST "/devices/dev2", K1, NULL, LATER), "wrong audience");
    check_denied("dev1", NULL, token(HOST "/devices/dev10", K1, NULL, LATER), "wrong audience");
    check_denied("dev1", NULL, token("otherhub.azure-devices.net/devices/dev1", K1, NULL, LATER),
                 "wrong audience");
    check_denied("dev1", NULL, token(HOST "/devices/dev1/x", K1, NULL, LATER), "wrong audience");
    /* A policy token for another device. */
    check_denied("dev1", NULL, token(HOST "/devices/dev2", KP1, "device", LATER), "wrong audience");
}
END_TEST

START_TEST(module_token_does_not_cover_its_device)
{
    check_denied("dev1", HOST "/dev1" QUERY,
                 token(HOST "/devices/dev1/modules/mod1", K1, NULL, LATER), "wrong audience");
    check_denied_at("dev1", NULL, T_C_MODULE, NOW - 10, "wrong audience");
    /* Nor another module of the same device. */
    check_denied("dev1/mod2", NULL, token(HOST "/devices/dev1/modules/mod1", K1, NULL, LATER),
                 "wrong audience");
}
END_TEST

START_TEST(wrong_key)
{
    check_denied("dev1", NULL, token(HOST "/devices/dev1", K_NOBODY, NULL, LATER), "wrong key");
    /* dev2's key for a dev1 token. */
    check_denied("dev1", NULL, token(HOST "/devices/dev1", K_DEV2, NULL, LATER), "wrong key");
    check_denied("dev1", NULL, raw_token(HOST "/devices/dev1", K_NOBODY, LATER), "wrong key");
    /* A device key with skn: the policy's keys are the ones that count. */
    check_denied("dev1", NULL, token(HOST "/devices/dev1", K1, "device", LATER), "wrong key");
    /* A policy key without skn. */
    check_denied("dev1", NULL, token(HOST "/devices/dev1", KP1, NULL, LATER), "wrong key");
    /* A module token signed with another device's key. */
    check_denied("dev1/mod1", NULL, token(HOST "/devices/dev1/modules/mod1", K_DEV2, NULL, LATER),
                 "wrong key");
    /* Tampered se: the signature covered another expiry. */
    const char *t = token(HOST "/devices/dev1", K1, NULL, LATER);
    char tampered[1024];
    snprintf(tampered, sizeof tampered, "%s", t);
    char *se = strstr(tampered, "&se=");
    ck_assert_ptr_nonnull(se);
    se[4] = se[4] == '9' ? '8' : '9';
    check_denied("dev1", NULL, tampered, "wrong key");
}
END_TEST

START_TEST(policy_without_device_connect)
{
    check_denied("dev1", NULL, token(HOST "/devices/dev1", KS, "service", LATER), "DeviceConnect");
    check_denied("dev1", NULL, token(HOST "/devices/dev1", KP1, "registryReadWrite", LATER),
                 "DeviceConnect");
}
END_TEST

START_TEST(unknown_policy)
{
    check_denied("dev1", NULL, token(HOST "/devices/dev1", KP1, "nope", LATER), "nope");
    check_denied("dev1", NULL, token(HOST "/devices/dev1", KP1, "nope", LATER), "does not exist");
    /* Policy names are case-sensitive here, as the registry stores them. */
    check_denied("dev1", NULL, token(HOST "/devices/dev1", KP1, "Device", LATER), "policy");
}
END_TEST

START_TEST(no_password)
{
    check_denied("dev1", HOST "/dev1" QUERY, NULL, "no password");
    check_denied("dev1", HOST "/dev1" QUERY, "", "no password");
    ck_assert_int_eq(device_lookups, 0);
}
END_TEST

START_TEST(password_not_a_token)
{
    check_denied("dev1", NULL, "hunter2", "not a SAS token");
    check_denied("dev1", NULL, K1, "not a SAS token");
    check_denied("dev1", NULL, "SharedAccessSignature sr=" HOST "%2Fdevices%2Fdev1&se=1",
                 "not a SAS token");
    check_denied("dev1", NULL, "SharedAccessSignature sr=x&sig=%%%&se=1", "not a SAS token");
    check_denied("dev1", NULL, "SharedAccessSignature sr=x&sig=AAAA&se=soon", "not a SAS token");
    ck_assert_int_eq(device_lookups, 0);
}
END_TEST

START_TEST(bad_client_id)
{
    const char *t = token(HOST "/devices/dev1", K1, NULL, LATER);
    check_denied(NULL, NULL, t, "bad client id");
    check_denied("", NULL, t, "bad client id");
    check_denied("a b", NULL, t, "bad client id");
    check_denied("dev1/", NULL, t, "bad client id");
    check_denied("/mod1", NULL, t, "bad client id");
    check_denied("dev1/mod1/x", NULL, t, "bad client id");
    ck_assert_int_eq(device_lookups, 0);
}
END_TEST

START_TEST(username_names_another_device)
{
    const char *t = token(HOST "/devices/dev1", K1, NULL, LATER);
    check_denied("dev1", HOST "/dev2" QUERY, t, "bad user name");
    check_denied("dev1", HOST "/dev1/mod1" QUERY, t, "bad user name");
    check_denied("dev1/mod1", HOST "/dev1" QUERY, t, "bad user name");
    ck_assert_int_eq(device_lookups, 0);
}
END_TEST

START_TEST(lookup_failures_are_errors)
{
    char reason[300] = "";
    const char *t = token(HOST "/devices/broken", K1, NULL, LATER);
    ck_assert_int_eq(run("broken", NULL, t, NOW, reason, sizeof reason), DEVICE_AUTH_ERROR);
    ck_assert_int_eq(run("broken/mod1", NULL, t, NOW, reason, sizeof reason), DEVICE_AUTH_ERROR);
    /* A policy lookup that fails. */
    t = token(HOST "/devices/dev1", KP1, "broken", LATER);
    ck_assert_int_eq(run("dev1", NULL, t, NOW, reason, sizeof reason), DEVICE_AUTH_ERROR);
}
END_TEST

START_TEST(check_order)
{
    /* The device's state is checked before the token's audience, key and expiry. */
    check_denied("off1", NULL, token(HOST "/devices/dev2", K_NOBODY, NULL, NOW - 9999), "disabled");
    check_denied("nobody", NULL, token(HOST "/devices/dev2", K_NOBODY, NULL, NOW - 9999),
                 "unknown device");
    /* Audience before key, key before expiry. */
    check_denied("dev1", NULL, token(HOST "/devices/dev2", K_NOBODY, NULL, NOW - 9999),
                 "wrong audience");
    check_denied("dev1", NULL, token(HOST "/devices/dev1", K_NOBODY, NULL, NOW - 9999),
                 "wrong key");
    /* The client id before the user name, the user name before the password. */
    check_denied("a b", HOST "/dev2" QUERY, NULL, "bad client id");
    check_denied("dev1", HOST "/dev2" QUERY, NULL, "bad user name");
}
END_TEST

START_TEST(reason_is_bounded)
{
    char reason[16];
    memset(reason, 'x', sizeof reason);
    ck_assert_int_eq(
        run("dev1", NULL, token(HOST "/devices/dev2", K1, NULL, LATER), NOW, reason, sizeof reason),
        DEVICE_AUTH_DENIED);
    ck_assert_uint_eq(strlen(reason), sizeof reason - 1);
    ck_assert_int_eq(strncmp(reason, "wrong audience", 14), 0);
}
END_TEST

static Suite *device_auth_suite(void)
{
    Suite *s = suite_create("device_auth");
    TCase *ok = tcase_create("accepted");
    tcase_add_checked_fixture(ok, setup, NULL);
    tcase_add_test(ok, device_token);
    tcase_add_test(ok, secondary_key_token);
    tcase_add_test(ok, c_sdk_raw_sr_token);
    tcase_add_test(ok, module_token_signed_with_device_key);
    tcase_add_test(ok, policy_token);
    tcase_add_test(ok, any_configured_host);
    tcase_add_test(ok, special_device_ids);
    tcase_add_test(ok, device_id_starting_with_a_question_mark);
    tcase_add_test(ok, device_token_covers_its_modules);
    tcase_add_test(ok, expiry_skew);
    suite_add_tcase(s, ok);
    TCase *denied = tcase_create("denied");
    tcase_add_checked_fixture(denied, setup, NULL);
    tcase_add_test(denied, unknown_device);
    tcase_add_test(denied, disabled_device);
    tcase_add_test(denied, wrong_audience);
    tcase_add_test(denied, module_token_does_not_cover_its_device);
    tcase_add_test(denied, wrong_key);
    tcase_add_test(denied, policy_without_device_connect);
    tcase_add_test(denied, unknown_policy);
    tcase_add_test(denied, no_password);
    tcase_add_test(denied, password_not_a_token);
    tcase_add_test(denied, bad_client_id);
    tcase_add_test(denied, username_names_another_device);
    tcase_add_test(denied, lookup_failures_are_errors);
    tcase_add_test(denied, check_order);
    tcase_add_test(denied, reason_is_bounded);
    suite_add_tcase(s, denied);
    return s;
}

int main(void)
{
    return unit_run(device_auth_suite());
}
