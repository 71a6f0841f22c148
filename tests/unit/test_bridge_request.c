/* Unit tests of server/bridge_request.[ch]: the bridge path and the bearer token of a WebSocket
 * upgrade at the streaming endpoint, and the HTTP answer to a refused one (docs/protocol.md
 * §3.2-3.4, rules 11-12). */
#include "bridge_request.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID20 "0123456789abcdef0123"

/* bridge_path_parse(path) refuses it and leaves nothing usable. */
static void check_path_refused(const char *path)
{
    char id[STREAM_ID_LEN + 1];
    memset(id, 'z', sizeof id);
    ck_assert_msg(bridge_path_parse(path, id) == -1, "accepted path '%s'",
                  path != NULL ? path : "(null)");
}

static void check_path_ok(const char *path, const char *expected_id)
{
    char id[STREAM_ID_LEN + 1];
    memset(id, 'z', sizeof id);
    ck_assert_msg(bridge_path_parse(path, id) == 0, "refused path '%s'", path);
    ck_assert_str_eq(id, expected_id);
}

/* bridge_subprotocol_choose's verdict alone. */
static int choose(const char *header)
{
    const char *chosen;
    return bridge_subprotocol_choose(header, &chosen);
}

START_TEST(path_accepts_bridge_ids)
{
    check_path_ok("/bridges/" ID20, ID20);
    check_path_ok("/bridges/" ID20 "/", ID20);
    check_path_ok("/bridges/ffffffffffffffffffff", "ffffffffffffffffffff");
    check_path_ok("/bridges/00000000000000000000/", "00000000000000000000");
}
END_TEST

START_TEST(path_refuses_other_forms)
{
    check_path_refused(NULL);
    check_path_refused("");
    check_path_refused("/");
    check_path_refused("/bridges");
    check_path_refused("/bridges/");
    check_path_refused("/bridges//");
    check_path_refused("/bridges//" ID20);
    /* Upper-case hex is not the emulator's form. */
    check_path_refused("/bridges/0123456789ABCDEF0123");
    check_path_refused("/bridges/0123456789abcdeF0123");
    /* 19 and 21 characters. */
    check_path_refused("/bridges/0123456789abcdef012");
    check_path_refused("/bridges/0123456789abcdef01234");
    check_path_refused("/bridges/0123456789abcdef012/");
    /* Not hex. */
    check_path_refused("/bridges/0123456789abcdef012g");
    check_path_refused("/bridges/0123456789abcdef012 ");
    /* Extra segments or slashes. */
    check_path_refused("/bridges/" ID20 "//");
    check_path_refused("/bridges/" ID20 "/x");
    check_path_refused("/bridges/" ID20 "/" ID20);
    check_path_refused("/bridges/hub/device/" ID20);
    /* Other prefixes. */
    check_path_refused("/bridge/" ID20);
    check_path_refused("/Bridges/" ID20);
    check_path_refused("bridges/" ID20);
    check_path_refused("//bridges/" ID20);
    check_path_refused("/x/bridges/" ID20);
    check_path_refused("/twins/" ID20);
    /* A query is not part of the path. */
    check_path_refused("/bridges/" ID20 "?a=b");
    check_path_refused("/bridges/" ID20 "/?a=b");
    check_path_refused("/bridges/" ID20 "#f");
}
END_TEST

static void check_bearer_ok(const char *header, const char *expected)
{
    char token[64];
    memset(token, 'z', sizeof token);
    ck_assert_msg(bridge_bearer_parse(header, token, sizeof token) == 0, "refused '%s'", header);
    ck_assert_str_eq(token, expected);
}

static void check_bearer_refused(const char *header, size_t cap)
{
    char token[64];
    ck_assert_uint_le(cap, sizeof token);
    ck_assert_msg(bridge_bearer_parse(header, token, cap) == -1, "accepted '%s' (cap %zu)",
                  header != NULL ? header : "(null)", cap);
}

START_TEST(bearer_accepts_any_scheme_case)
{
    check_bearer_ok("Bearer x", "x");
    check_bearer_ok("bearer x", "x");
    check_bearer_ok("BEARER   x", "x");
    check_bearer_ok("bEaReR tok-en_1", "tok-en_1");
    /* Trailing blanks are dropped. */
    check_bearer_ok("Bearer x ", "x");
    check_bearer_ok("Bearer x \t ", "x");
    /* A token of the core's form. */
    check_bearer_ok("Bearer ucHqFGN0o9Vh-ojlhELmXyTUol05iuAhigMckeI-vlb",
                    "ucHqFGN0o9Vh-ojlhELmXyTUol05iuAhigMckeI-vlb");
}
END_TEST

START_TEST(bearer_refuses_other_forms)
{
    check_bearer_refused(NULL, 64);
    check_bearer_refused("", 64);
    check_bearer_refused("Basic x", 64);
    check_bearer_refused("SharedAccessSignature sr=a&sig=b", 64);
    check_bearer_refused("Bearer", 64);
    check_bearer_refused("Bearer ", 64);
    check_bearer_refused("Bearer    ", 64);
    check_bearer_refused("Bearer a b", 64);
    check_bearer_refused("Bearer a\tb", 64);
    check_bearer_refused("Bearer a b ", 64);
    check_bearer_refused("Bearer a\r\n", 64);
    check_bearer_refused("Bearerx", 64);
    check_bearer_refused(" Bearer x", 64);
}
END_TEST

START_TEST(bearer_token_length_cap)
{
    char token[8];
    /* cap - 1 characters fit; cap do not. */
    ck_assert_int_eq(bridge_bearer_parse("Bearer 1234567", token, sizeof token), 0);
    ck_assert_str_eq(token, "1234567");
    check_bearer_refused("Bearer 12345678", sizeof token);
    check_bearer_refused("Bearer 123456789abcdef", sizeof token);
    check_bearer_refused("Bearer x", 1);

    /* A 43-character token needs a 44-byte buffer. */
    char header[64];
    snprintf(header, sizeof header, "Bearer %s", "0123456789012345678901234567890123456789012");
    char big[STREAM_TOKEN_LEN + 1];
    ck_assert_int_eq(bridge_bearer_parse(header, big, sizeof big), 0);
    ck_assert_uint_eq(strlen(big), STREAM_TOKEN_LEN);
    check_bearer_refused(header, STREAM_TOKEN_LEN);
}
END_TEST

START_TEST(refusal_statuses)
{
    static const struct {
        enum stream_attach_result r;
        int status;
        int code;
    } cases[] = {
        {ATTACH_UNKNOWN_BRIDGE, 404, 404000},
        {ATTACH_ENDED, 404, 404000},
        {ATTACH_BAD_TOKEN, 401, 401002},
        {ATTACH_TOKEN_USED, 401, 401002},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bridge_refusal f = bridge_refusal_for(cases[i].r);
        ck_assert_msg(f.status == cases[i].status, "result %d: status %d, expected %d",
                      (int)cases[i].r, f.status, cases[i].status);
        ck_assert_int_eq((int)f.code, cases[i].code);
        ck_assert_ptr_nonnull(f.message);
        ck_assert_uint_gt(strlen(f.message), 0);
    }
    ck_assert_int_eq(IH_E_NOT_FOUND, 404000);
    ck_assert_int_eq(IH_E_UNAUTHORIZED, 401002);
    /* A used token says so, unlike a wrong one. */
    ck_assert_str_ne(bridge_refusal_for(ATTACH_TOKEN_USED).message,
                     bridge_refusal_for(ATTACH_BAD_TOKEN).message);
}
END_TEST

START_TEST(subprotocols_accepted)
{
    /* Absent or empty: the answer names none. */
    const char *chosen = "x";
    ck_assert_int_eq(bridge_subprotocol_choose("  ", &chosen), 1);
    ck_assert_ptr_null(chosen);
    ck_assert_int_eq(choose(NULL), 1);
    ck_assert_int_eq(choose(""), 1);
    ck_assert_int_eq(choose("  "), 1);
    for (size_t i = 0; i < BRIDGE_SUBPROTOCOL_COUNT; i++)
        ck_assert_int_eq(choose(bridge_subprotocols[i]), 1);
    /* One known entry in a list is enough, wherever it is. */
    ck_assert_int_eq(choose("chat, MQTT"), 1);
    ck_assert_int_eq(choose("AMQP,chat"), 1);
    ck_assert_int_eq(choose(" x ,\tbridge\t, y"), 1);
    ck_assert_int_eq(choose(",,http,"), 1);
    /* The first one served is echoed, as the client spelt it. */
    ck_assert_int_eq(bridge_subprotocol_choose("chat, amqp, MQTT", &chosen), 1);
    ck_assert_str_eq(chosen, "amqp");
}
END_TEST

START_TEST(subprotocols_refused)
{
    ck_assert_int_eq(choose("chat"), 0);
    ck_assert_int_eq(choose("chat, superchat"), 0);
    ck_assert_int_eq(choose("Mqtt"), 0); /* case is exact */
    ck_assert_int_eq(choose("MQTTX"), 0);
    ck_assert_int_eq(choose("MQ TT"), 0);
    ck_assert_int_eq(choose(",,"), 0);
    ck_assert_int_eq(choose("bridg"), 0);
}
END_TEST

static Suite *bridge_request_suite(void)
{
    Suite *s = suite_create("bridge_request");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, path_accepts_bridge_ids);
    tcase_add_test(tc, path_refuses_other_forms);
    tcase_add_test(tc, bearer_accepts_any_scheme_case);
    tcase_add_test(tc, bearer_refuses_other_forms);
    tcase_add_test(tc, bearer_token_length_cap);
    tcase_add_test(tc, refusal_statuses);
    tcase_add_test(tc, subprotocols_accepted);
    tcase_add_test(tc, subprotocols_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(bridge_request_suite());
}
