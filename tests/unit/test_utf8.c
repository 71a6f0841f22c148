/* Unit tests of protocol/utf8.[ch]: printable, well-formed UTF-8 (RFC 3629). */
#include "protocol/utf8.h"

#include "unit.h"

#include <string.h>

#define ACCEPTS(lit)                                                                               \
    ck_assert_msg(ih_utf8_is_printable(lit, sizeof(lit) - 1) == 1, "refused %s", #lit)
#define REFUSES(lit)                                                                               \
    ck_assert_msg(ih_utf8_is_printable(lit, sizeof(lit) - 1) == 0, "accepted %s", #lit)

START_TEST(accepts_ascii)
{
    ACCEPTS("");
    ACCEPTS("hello");
    ACCEPTS(" ");
    ACCEPTS("~");
    ACCEPTS("TestStream !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
    /* Every printable ASCII byte, one at a time. */
    for (int c = 0x20; c < 0x7f; c++) {
        char b = (char)c;
        ck_assert_int_eq(ih_utf8_is_printable(&b, 1), 1);
    }
}
END_TEST

START_TEST(accepts_multibyte)
{
    ACCEPTS("\xc2\x80");               /* U+0080, the smallest 2-byte code point */
    ACCEPTS("\xc3\xa9");               /* é */
    ACCEPTS("Str\xc3\xb6mung");        /* Strömung */
    ACCEPTS("\xdf\xbf");               /* U+07FF */
    ACCEPTS("\xe0\xa0\x80");           /* U+0800 */
    ACCEPTS("\xe2\x82\xac");           /* € */
    ACCEPTS("\xed\x9f\xbf");           /* U+D7FF, just below the surrogates */
    ACCEPTS("\xee\x80\x80");           /* U+E000, just above them */
    ACCEPTS("\xef\xbf\xbf");           /* U+FFFF */
    ACCEPTS("\xf0\x90\x80\x80");       /* U+10000 */
    ACCEPTS("\xf0\x9d\x84\x9e");       /* G clef */
    ACCEPTS("\xf4\x8f\xbf\xbf");       /* U+10FFFF, the last code point */
    ACCEPTS("a\xc3\xa9z\xe2\x82\xac"); /* mixed */
}
END_TEST

START_TEST(refuses_overlongs)
{
    REFUSES("\xc0\x80"); /* NUL in 2 bytes */
    REFUSES("\xc0\xaf"); /* '/' in 2 bytes */
    REFUSES("\xc1\xbf");
    REFUSES("\xe0\x80\x80");
    REFUSES("\xe0\x80\xaf");
    REFUSES("\xe0\x9f\xbf"); /* U+07FF in 3 bytes */
    REFUSES("\xf0\x80\x80\x80");
    REFUSES("\xf0\x8f\xbf\xbf"); /* U+FFFF in 4 bytes */
}
END_TEST

START_TEST(refuses_surrogates)
{
    REFUSES("\xed\xa0\x80");             /* U+D800 */
    REFUSES("\xed\xaf\xbf");             /* U+DBFF */
    REFUSES("\xed\xb0\x80");             /* U+DC00 */
    REFUSES("\xed\xbf\xbf");             /* U+DFFF */
    REFUSES("\xed\xa0\xbd\xed\xb8\x80"); /* CESU-8 pair */
}
END_TEST

START_TEST(refuses_beyond_u10ffff)
{
    REFUSES("\xf4\x90\x80\x80"); /* U+110000 */
    REFUSES("\xf4\xbf\xbf\xbf");
    REFUSES("\xf5\x80\x80\x80");
    REFUSES("\xf7\xbf\xbf\xbf");
    REFUSES("\xf8\x88\x80\x80\x80"); /* old 5-byte form */
    REFUSES("\xfc\x84\x80\x80\x80\x80");
    REFUSES("\xfe");
    REFUSES("\xff");
}
END_TEST

START_TEST(refuses_truncated_and_broken_sequences)
{
    REFUSES("\xc3");
    REFUSES("a\xc3");
    REFUSES("\xe2\x82");
    REFUSES("\xf0\x9d\x84");
    REFUSES("\xf0\x9d");
    REFUSES("\x80"); /* lone continuation byte */
    REFUSES("\xbf");
    REFUSES("a\x80z");
    REFUSES("\xc3\x41"); /* continuation expected, 'A' found */
    REFUSES("\xe2\x28\xa1");
    REFUSES("\xe2\x82\x28");
    REFUSES("\xf0\x9d\x84\x41");
    REFUSES("\xc3\xc3\xa9");
    /* len cuts a valid sequence short. */
    ck_assert_int_eq(ih_utf8_is_printable("\xe2\x82\xac", 2), 0);
    ck_assert_int_eq(ih_utf8_is_printable("\xe2\x82\xac", 3), 1);
}
END_TEST

START_TEST(refuses_controls_and_del)
{
    for (int c = 0; c < 0x20; c++) {
        char b[3] = {'a', (char)c, 'b'};
        ck_assert_msg(ih_utf8_is_printable(b, sizeof b) == 0, "accepted control 0x%02x", c);
    }
    REFUSES("\x7f");
    REFUSES("abc\x7f");
    REFUSES("\t");
    REFUSES("line\n");
    REFUSES("\r");
    /* A NUL inside len. */
    ck_assert_int_eq(ih_utf8_is_printable("ab\0cd", 5), 0);
}
END_TEST

/* The whole of text through the stream check, cut into pieces of `piece` bytes. */
static int stream_ok(const char *text, size_t len, size_t piece)
{
    struct ih_utf8_stream s;
    ih_utf8_stream_init(&s);
    for (size_t at = 0; at < len; at += piece) {
        size_t n = len - at < piece ? len - at : piece;
        if (ih_utf8_stream_feed(&s, text + at, n) != 0)
            return 0;
    }
    return ih_utf8_stream_end(&s) == 0;
}

START_TEST(stream_agrees_with_the_whole_check_at_every_cut)
{
    static const char *const good[] = {"",
                                       "plain",
                                       "caf\xc3\xa9",
                                       "\xe2\x82\xac 5",
                                       "\xf0\x9f\x98\x80!",
                                       "\xed\x9f\xbf",
                                       "\xf4\x8f\xbf\xbf",
                                       "tab\tand\nnewline"};
    static const char *const bad[] = {"\xff",         "\xc0\xaf",         "\xe0\x80\xaf",
                                      "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
                                      "\x80",         "caf\xc3",          "\xe2\x82",
                                      "ok\xc3(",      "\xf0\x9f\x98"};
    for (size_t piece = 1; piece <= 4; piece++) {
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
            ck_assert_msg(stream_ok(good[i], strlen(good[i]), piece), "good %zu in %zu", i, piece);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            ck_assert_msg(!stream_ok(bad[i], strlen(bad[i]), piece), "bad %zu in %zu", i, piece);
    }
}
END_TEST

START_TEST(stream_stops_at_the_first_error)
{
    struct ih_utf8_stream s;
    ih_utf8_stream_init(&s);
    ck_assert_int_eq(ih_utf8_stream_feed(&s, "\xe2", 1), 0);
    ck_assert_int_eq(ih_utf8_stream_end(&s), -1); /* cut inside a sequence */
    ck_assert_int_eq(ih_utf8_stream_feed(&s, "\x82\xac", 2), 0);
    ck_assert_int_eq(ih_utf8_stream_end(&s), 0);
    ck_assert_int_eq(ih_utf8_stream_feed(&s, "a\xfe", 2), -1);
}
END_TEST

static Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *ok = tcase_create("accepts");
    tcase_add_test(ok, accepts_ascii);
    tcase_add_test(ok, stream_agrees_with_the_whole_check_at_every_cut);
    tcase_add_test(ok, stream_stops_at_the_first_error);
    tcase_add_test(ok, accepts_multibyte);
    suite_add_tcase(s, ok);
    TCase *bad = tcase_create("refuses");
    tcase_add_test(bad, refuses_overlongs);
    tcase_add_test(bad, refuses_surrogates);
    tcase_add_test(bad, refuses_beyond_u10ffff);
    tcase_add_test(bad, refuses_truncated_and_broken_sequences);
    tcase_add_test(bad, refuses_controls_and_del);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    return unit_run(utf8_suite());
}
