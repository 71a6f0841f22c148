/* Unit tests of server/ws_frame.[ch]: the streaming endpoint's WebSocket frames (RFC 6455 §5).
 * Every test feeds its bytes whole, and again one byte at a time, and the reader must give the
 * same result both ways. */
#include "ws_frame.h"

#include "unit.h"

#include <stdint.h>

#define BIG (70 * 1024)

/* What the reader handed over. */
struct seen {
    unsigned char data[4 * BIG];
    size_t len;
    int pieces, frames_first, frames_final, binary;
    unsigned char ping[WS_CONTROL_MAX];
    size_t ping_len;
    int pings;
    int close_code;
    char close_reason[WS_CONTROL_MAX + 1];
    int stop_after; /* the data callback stops at this piece (0: never) */
};

static struct seen seen;

static int on_data(void *ctx, const struct ws_piece *p)
{
    struct seen *s = ctx;
    ck_assert_uint_le(s->len + p->len, sizeof s->data);
    if (p->len > 0)
        memcpy(s->data + s->len, p->data, p->len);
    s->len += p->len;
    s->pieces++;
    s->frames_first += p->first && p->remaining == 0;
    s->frames_final += p->final && p->remaining == 0;
    s->binary = p->binary;
    return s->stop_after != 0 && s->pieces >= s->stop_after ? -1 : 0;
}

static void on_ping(void *ctx, const unsigned char *payload, size_t len)
{
    struct seen *s = ctx;
    memcpy(s->ping, payload, len);
    s->ping_len = len;
    s->pings++;
}

static void on_close(void *ctx, int code, const unsigned char *reason, size_t len)
{
    struct seen *s = ctx;
    s->close_code = code;
    memcpy(s->close_reason, reason != NULL ? (const char *)reason : "", len);
    s->close_reason[len] = '\0';
}

static const struct ws_reader_ops ops = {on_data, on_ping, on_close};

/* A client frame: header, a fixed key, the masked payload. Returns its length. */
static size_t client_frame(unsigned char *out, int fin, int opcode, const void *payload, size_t len,
                           int masked)
{
    static const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
    size_t n = ws_frame_header(out, opcode, fin, len);
    if (masked) {
        out[1] |= 0x80;
        memcpy(out + n, key, 4);
        n += 4;
    }
    const unsigned char *p = payload;
    for (size_t i = 0; i < len; i++)
        out[n + i] = masked ? p[i] ^ key[i % 4] : p[i];
    return n + len;
}

static unsigned char wire[4 * BIG + 1024], copy[sizeof wire];

/* Feeds wire[0..len) whole or a byte at a time; returns the last result. */
static enum ws_read_result feed(size_t len, int bytewise, int *code, const char **why)
{
    struct ws_reader r;
    ws_reader_init(&r);
    memset(&seen, 0, sizeof seen);
    memcpy(copy, wire, len); /* unmasked in place: each way starts from the same bytes */
    *code = 0;
    *why = NULL;
    if (!bytewise)
        return ws_reader_feed(&r, copy, len, &ops, &seen, code, why);
    enum ws_read_result result = WS_READ_MORE;
    for (size_t i = 0; i < len && result == WS_READ_MORE; i++)
        result = ws_reader_feed(&r, copy + i, 1, &ops, &seen, code, why);
    return result;
}

/* Both ways: the expected result, and the same bytes handed over (unless refused: text is
 * checked a piece at a time, so fed a byte at a time, the good bytes before a bad one of the
 * same message have already gone). The last run, whole, leaves its record in `seen`. */
static void expect(size_t len, enum ws_read_result expected, int expected_code)
{
    int code;
    const char *why;
    size_t bytewise_len = 0;
    static unsigned char bytewise_data[sizeof seen.data];
    for (int bytewise = 1; bytewise >= 0; bytewise--) {
        enum ws_read_result r = feed(len, bytewise, &code, &why);
        ck_assert_msg(r == expected, "result %d, expected %d (%s) %s", r, expected,
                      why != NULL ? why : "", bytewise ? "bytewise" : "whole");
        if (expected == WS_READ_REFUSED) {
            ck_assert_int_eq(code, expected_code);
            ck_assert_ptr_nonnull(why);
        }
        if (bytewise) {
            bytewise_len = seen.len;
            memcpy(bytewise_data, seen.data, seen.len);
        } else if (expected != WS_READ_REFUSED) {
            ck_assert_uint_eq(seen.len, bytewise_len);
            ck_assert_int_eq(memcmp(seen.data, bytewise_data, bytewise_len), 0);
        }
    }
}

START_TEST(data_frames_of_every_length_class)
{
    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, BIG};
    static unsigned char payload[BIG];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)(i * 7);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = client_frame(wire, 1, WS_OP_BINARY, payload, sizes[k], 1);
        expect(n, WS_READ_MORE, 0);
        ck_assert_uint_eq(seen.len, sizes[k]);
        ck_assert_int_eq(memcmp(seen.data, payload, sizes[k]), 0);
        ck_assert_int_eq(seen.frames_first, 1);
        ck_assert_int_eq(seen.frames_final, 1);
        ck_assert_int_eq(seen.binary, 1);
    }
}
END_TEST

START_TEST(a_fragmented_text_message_with_a_ping_inside)
{
    const char *text = "caf\xc3\xa9 au lait";
    size_t n = client_frame(wire, 0, WS_OP_TEXT, text, 4, 1); /* the é cut in two */
    n += client_frame(wire + n, 1, WS_OP_PING, "hi", 2, 1);
    n += client_frame(wire + n, 0, WS_OP_CONTINUATION, text + 4, 4, 1);
    n += client_frame(wire + n, 1, WS_OP_PONG, "", 0, 1);
    n += client_frame(wire + n, 1, WS_OP_CONTINUATION, text + 8, strlen(text) - 8, 1);
    expect(n, WS_READ_MORE, 0);
    ck_assert_uint_eq(seen.len, strlen(text));
    ck_assert_int_eq(memcmp(seen.data, text, seen.len), 0);
    ck_assert_int_eq(seen.binary, 0);
    ck_assert_int_eq(seen.frames_first, 1); /* only the first frame starts the message */
    ck_assert_int_eq(seen.frames_final, 1);
    ck_assert_int_eq(seen.pings, 1);
    ck_assert_uint_eq(seen.ping_len, 2);
    ck_assert_int_eq(memcmp(seen.ping, "hi", 2), 0);
}
END_TEST

START_TEST(close_frames)
{
    unsigned char payload[2 + 5] = {0x03, 0xe8, 'b', 'y', 'e', '.', '!'};
    size_t n = client_frame(wire, 1, WS_OP_CLOSE, payload, sizeof payload, 1);
    expect(n, WS_READ_STOPPED, 0);
    ck_assert_int_eq(seen.close_code, 1000);
    ck_assert_str_eq(seen.close_reason, "bye.!");
    n = client_frame(wire, 1, WS_OP_CLOSE, "", 0, 1);
    expect(n, WS_READ_STOPPED, 0);
    ck_assert_int_eq(seen.close_code, WS_CLOSE_NO_STATUS);
    /* After the Close nothing more is read. */
    n += client_frame(wire + n, 1, WS_OP_BINARY, "late", 4, 1);
    expect(n, WS_READ_STOPPED, 0);
    ck_assert_uint_eq(seen.len, 0);
}
END_TEST

/* One refused frame after a good one: the good one is handed over, the bad one not. */
static void expect_refused(const unsigned char *bad, size_t bad_len, int code)
{
    size_t n = client_frame(wire, 1, WS_OP_BINARY, "ok", 2, 1);
    memcpy(wire + n, bad, bad_len);
    expect(n + bad_len, WS_READ_REFUSED, code);
    ck_assert_uint_eq(seen.len, 2);
}

START_TEST(what_a_server_must_refuse)
{
    unsigned char f[64];
    size_t n;
    n = client_frame(f, 1, WS_OP_BINARY, "x", 1, 0); /* not masked: §5.1 */
    expect_refused(f, n, WS_CLOSE_PROTOCOL_ERROR);
    n = client_frame(f, 1, WS_OP_BINARY, "x", 1, 1);
    f[0] |= 0x40; /* RSV1 with no extension */
    expect_refused(f, n, WS_CLOSE_PROTOCOL_ERROR);
    n = client_frame(f, 1, 0x3, "x", 1, 1); /* reserved opcode */
    expect_refused(f, n, WS_CLOSE_PROTOCOL_ERROR);
    n = client_frame(f, 0, WS_OP_PING, "x", 1, 1); /* fragmented control */
    expect_refused(f, n, WS_CLOSE_PROTOCOL_ERROR);
    n = client_frame(f, 1, WS_OP_CONTINUATION, "x", 1, 1); /* nothing to continue */
    expect_refused(f, n, WS_CLOSE_PROTOCOL_ERROR);
    unsigned char close1[1] = {0x03};
    n = client_frame(f, 1, WS_OP_CLOSE, close1, 1, 1);
    expect_refused(f, n, WS_CLOSE_PROTOCOL_ERROR);
    unsigned char close_1005[2] = {0x03, 0xed}; /* 1005 may not be sent */
    n = client_frame(f, 1, WS_OP_CLOSE, close_1005, 2, 1);
    expect_refused(f, n, WS_CLOSE_PROTOCOL_ERROR);
    unsigned char close_bad_reason[3] = {0x03, 0xe8, 0xff};
    n = client_frame(f, 1, WS_OP_CLOSE, close_bad_reason, 3, 1);
    expect_refused(f, n, WS_CLOSE_BAD_DATA);
    n = client_frame(f, 1, WS_OP_TEXT, "ok \xff", 4, 1); /* not UTF-8 */
    expect_refused(f, n, WS_CLOSE_BAD_DATA);
    n = client_frame(f, 1, WS_OP_TEXT, "\xe2\x82", 2, 1); /* ends inside a character */
    expect_refused(f, n, WS_CLOSE_BAD_DATA);
    /* A control frame claiming 126 bytes, and a 64-bit length with its top bit set. */
    unsigned char long_ping[2] = {0x89, 0x80 | 126};
    expect_refused(long_ping, 2, WS_CLOSE_PROTOCOL_ERROR);
    unsigned char huge[10] = {0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1};
    expect_refused(huge, 10, WS_CLOSE_PROTOCOL_ERROR);
}
END_TEST

START_TEST(a_new_message_inside_a_fragmented_one)
{
    size_t n = client_frame(wire, 0, WS_OP_BINARY, "a", 1, 1);
    n += client_frame(wire + n, 1, WS_OP_TEXT, "b", 1, 1);
    expect(n, WS_READ_REFUSED, WS_CLOSE_PROTOCOL_ERROR);
    ck_assert_uint_eq(seen.len, 1);
}
END_TEST

START_TEST(the_data_callback_may_stop_reading)
{
    size_t n = client_frame(wire, 1, WS_OP_BINARY, "one", 3, 1);
    n += client_frame(wire + n, 1, WS_OP_BINARY, "two", 3, 1);
    struct ws_reader r;
    ws_reader_init(&r);
    memset(&seen, 0, sizeof seen);
    seen.stop_after = 1;
    int code;
    const char *why;
    ck_assert_int_eq(ws_reader_feed(&r, wire, n, &ops, &seen, &code, &why), WS_READ_STOPPED);
    ck_assert_uint_eq(seen.len, 3);
    ck_assert_int_eq(ws_reader_feed(&r, wire, n, &ops, &seen, &code, &why), WS_READ_STOPPED);
    ck_assert_uint_eq(seen.len, 3);
}
END_TEST

START_TEST(server_frame_headers)
{
    unsigned char h[WS_HEADER_MAX];
    ck_assert_uint_eq(ws_frame_header(h, WS_OP_TEXT, 1, 0), 2);
    ck_assert_int_eq(h[0], 0x81);
    ck_assert_int_eq(h[1], 0);
    ck_assert_uint_eq(ws_frame_header(h, WS_OP_BINARY, 0, 125), 2);
    ck_assert_int_eq(h[0], 0x02);
    ck_assert_int_eq(h[1], 125);
    ck_assert_uint_eq(ws_frame_header(h, WS_OP_CONTINUATION, 1, 126), 4);
    ck_assert_int_eq(h[0], 0x80);
    ck_assert_int_eq(h[1], 126);
    ck_assert_int_eq((h[2] << 8) | h[3], 126);
    ck_assert_uint_eq(ws_frame_header(h, WS_OP_BINARY, 1, 65536), 10);
    ck_assert_int_eq(h[1], 127);
    ck_assert_int_eq(h[7], 1);
    ck_assert_int_eq(h[8], 0);
    unsigned char c[WS_HEADER_MAX + WS_CONTROL_MAX];
    char reason[200];
    memset(reason, 'r', sizeof reason);
    size_t n = ws_close_frame(c, 1007, reason, sizeof reason);
    ck_assert_uint_eq(n, 2 + WS_CONTROL_MAX); /* the reason is cut to fit */
    ck_assert_int_eq(c[0], 0x88);
    ck_assert_int_eq(c[1], WS_CONTROL_MAX);
    ck_assert_int_eq((c[2] << 8) | c[3], 1007);
    ck_assert(ws_close_code_valid(1000));
    ck_assert(ws_close_code_valid(4999));
    ck_assert(!ws_close_code_valid(1006));
    ck_assert(!ws_close_code_valid(999));
    ck_assert(!ws_close_code_valid(2000));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ws_frame");
    TCase *tc = tcase_create("ws_frame");
    tcase_add_test(tc, data_frames_of_every_length_class);
    tcase_add_test(tc, a_fragmented_text_message_with_a_ping_inside);
    tcase_add_test(tc, close_frames);
    tcase_add_test(tc, what_a_server_must_refuse);
    tcase_add_test(tc, a_new_message_inside_a_fragmented_one);
    tcase_add_test(tc, the_data_callback_may_stop_reading);
    tcase_add_test(tc, server_frame_headers);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
