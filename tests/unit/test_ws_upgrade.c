/* Unit tests of server/ws_upgrade.[ch]: the request that opens a WebSocket at the streaming
 * endpoint, and its 101 (RFC 6455 §4). */
#include "ws_upgrade.h"

#include "unit.h"

static const char python_request[] =
    "GET /bridges/0123456789abcdef0123?x=1 HTTP/1.1\r\n"
    "Host: 127.0.0.1:9443\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "authorization: Bearer abc\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "sec-websocket-protocol: amqp\r\n"
    "\r\n";

START_TEST(a_request_fed_a_byte_at_a_time)
{
    struct ws_head h = {.len = 0};
    size_t used = 0, len = strlen(python_request);
    char input[sizeof python_request + 4];
    memcpy(input, python_request, len);
    memcpy(input + len, "\x82\x80", 2); /* a frame right behind the head */
    for (size_t i = 0; i < len - 1; i++)
        ck_assert_int_eq(ws_head_feed(&h, input + i, 1, &used), WS_HEAD_MORE);
    ck_assert_int_eq(ws_head_feed(&h, input + len - 1, 3, &used), WS_HEAD_DONE);
    ck_assert_uint_eq(used, 1); /* the frame's bytes are not the head's */
    struct ws_request r;
    const char *why = NULL;
    ck_assert_int_eq(ws_request_parse(h.text, h.len, &r, &why), WS_REQUEST_OK);
    ck_assert(r.get);
    ck_assert(r.upgrade);
    ck_assert_str_eq(r.path, "/bridges/0123456789abcdef0123");
    ck_assert_str_eq(r.authorization, "Bearer abc");
    ck_assert_str_eq(r.protocols, "chat, amqp");
    ck_assert_str_eq(r.key, "dGhlIHNhbXBsZSBub25jZQ==");
    ck_assert_str_eq(r.version, "13");
}
END_TEST

START_TEST(the_rfc_accept_key)
{
    char accept[WS_ACCEPT_LEN + 1];
    ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", accept), 0);
    ck_assert_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    ck_assert_int_eq(ws_accept_key("short", accept), -1);
    ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ!!", accept), -1);
    ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==x", accept), -1);
    char out[256];
    size_t n = ws_switching_protocols(accept, "MQTT", out, sizeof out);
    ck_assert_uint_eq(n, strlen(out));
    ck_assert_str_eq(out,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
                     "\r\nSec-WebSocket-Protocol: MQTT\r\n\r\n");
    n = ws_switching_protocols(accept, NULL, out, sizeof out);
    ck_assert_ptr_null(strstr(out, "Sec-WebSocket-Protocol"));
    ck_assert_uint_eq(ws_switching_protocols(accept, NULL, out, 20), 0);
}
END_TEST

START_TEST(plain_http_and_odd_but_valid_heads)
{
    struct ws_request r;
    const char *why = NULL;
    const char *plain = "GET /health HTTP/1.1\nHost: x\n\n"; /* bare LF lines */
    ck_assert_int_eq(ws_request_parse(plain, strlen(plain), &r, &why), WS_REQUEST_OK);
    ck_assert(r.get);
    ck_assert(!r.upgrade);
    ck_assert_str_eq(r.path, "/health");
    const char *lists = "GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n"
                        "Upgrade: WebSocket\r\n\r\n";
    ck_assert_int_eq(ws_request_parse(lists, strlen(lists), &r, &why), WS_REQUEST_OK);
    ck_assert(r.upgrade);
    const char *post = "POST /bridges/x HTTP/1.0\r\n\r\n";
    ck_assert_int_eq(ws_request_parse(post, strlen(post), &r, &why), WS_REQUEST_OK);
    ck_assert(!r.get);
}
END_TEST

START_TEST(bad_and_too_long_heads)
{
    struct ws_request r;
    const char *why = NULL;
    static const char *const bad[] = {
        "GET /x\r\n\r\n",
        "GET  HTTP/1.1\r\n\r\n",
        "GET / HTTP/2.0x\r\n\r\n",
        "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET / HTTP/1.1\r\n folded: value\r\n\r\n",
        "GET / HTTP/1.1\r\nName : value\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        ck_assert_msg(ws_request_parse(bad[i], strlen(bad[i]), &r, &why) == WS_REQUEST_BAD,
                      "accepted %s", bad[i]);
        ck_assert_ptr_nonnull(why);
    }
    char with_nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    ck_assert_int_eq(ws_request_parse(with_nul, sizeof with_nul - 1, &r, &why), WS_REQUEST_BAD);
    char line[WS_PATH_MAX + 64];
    snprintf(line, sizeof line, "GET /%0*d HTTP/1.1\r\n\r\n", WS_PATH_MAX, 7);
    ck_assert_int_eq(ws_request_parse(line, strlen(line), &r, &why), WS_REQUEST_TOO_LONG);
    static char head[WS_HEAD_MAX + 100];
    memset(head, 'a', sizeof head);
    struct ws_head h = {.len = 0};
    size_t used;
    ck_assert_int_eq(ws_head_feed(&h, head, sizeof head, &used), WS_HEAD_TOO_LONG);
    ck_assert_uint_eq(h.len, WS_HEAD_MAX);
}
END_TEST

START_TEST(header_lists)
{
    const char *cursor = " a ,, b\t,c , ", *item;
    size_t len;
    const char *expected[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        item = ws_list_next(&cursor, &len);
        ck_assert_ptr_nonnull(item);
        ck_assert_uint_eq(len, strlen(expected[i]));
        ck_assert_int_eq(memcmp(item, expected[i], len), 0);
    }
    ck_assert_ptr_null(ws_list_next(&cursor, &len));
    cursor = ",, ,";
    ck_assert_ptr_null(ws_list_next(&cursor, &len));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ws_upgrade");
    TCase *tc = tcase_create("ws_upgrade");
    tcase_add_test(tc, a_request_fed_a_byte_at_a_time);
    tcase_add_test(tc, the_rfc_accept_key);
    tcase_add_test(tc, plain_http_and_odd_but_valid_heads);
    tcase_add_test(tc, bad_and_too_long_heads);
    tcase_add_test(tc, header_lists);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
