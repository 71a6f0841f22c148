/* Unit tests of protocol/percent.[ch]: percent-encoding as IoT Hub's clients use it. */
#include "protocol/percent.h"

#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* Encodes in and compares with expected. */
static void check_encode(const char *in, size_t len, const char *expected)
{
    char *out = NULL;
    ck_assert_result(ih_pct_encode(in, len, &out), IH_OK);
    ck_assert_str_eq(out, expected);
    free(out);
}

/* Decodes in with flags and compares with expected (a NUL-terminated string). */
static void check_decode(const char *in, unsigned flags, const char *expected)
{
    char *out = NULL;
    size_t out_len = 12345;
    ck_assert_result(ih_pct_decode(in, strlen(in), flags, &out, &out_len), IH_OK);
    ck_assert_str_eq(out, expected);
    ck_assert_uint_eq(out_len, strlen(expected));
    free(out);
}

static void check_decode_fails(const char *in, size_t len, unsigned flags)
{
    char *out = NULL;
    ck_assert_result(ih_pct_decode(in, len, flags, &out, NULL), IH_ERR_SYNTAX);
    ck_assert_ptr_null(out);
}

START_TEST(encode_keeps_only_alnum_dash_dot_underscore)
{
    check_encode(UNIT_S("ABCXYZabcxyz0189-._"), "ABCXYZabcxyz0189-._");
    /* `~` is unreserved in RFC 3986 but the C SDK's decoder refuses it raw: encoded on purpose. */
    check_encode(UNIT_S("~"), "%7E");
    check_encode(UNIT_S("/:?&=%+ #!*'()"), "%2F%3A%3F%26%3D%25%2B%20%23%21%2A%27%28%29");
    check_encode(UNIT_S("wss://host:443/bridges/abc"), "wss%3A%2F%2Fhost%3A443%2Fbridges%2Fabc");
    check_encode(UNIT_S(""), "");
}
END_TEST

START_TEST(encode_uses_upper_case_hex)
{
    check_encode(UNIT_S("\xc3\xa9"), "%C3%A9");
    check_encode(UNIT_S("\xab\xcd\xef\xff"), "%AB%CD%EF%FF");
    check_encode("\0\n", 2, "%00%0A");
}
END_TEST

START_TEST(encode_honours_len)
{
    /* Only the first len bytes are read: the input need not be NUL-terminated. */
    check_encode("a/b/c", 3, "a%2Fb");
}
END_TEST

START_TEST(decode_either_hex_case)
{
    check_decode("%2f%2F", IH_PCT_STRICT, "//");
    check_decode("%c3%A9%C3%a9", IH_PCT_STRICT, "\xc3\xa9\xc3\xa9");
    check_decode("myhub.azure-devices.net%2Fdevices%2Fdev1", IH_PCT_STRICT,
                 "myhub.azure-devices.net/devices/dev1");
    check_decode("", IH_PCT_STRICT, "");
    check_decode("plain-text_1.0", IH_PCT_STRICT, "plain-text_1.0");
    /* Raw characters that an encoder would have escaped are passed through. */
    check_decode("a/b:c~d", IH_PCT_STRICT, "a/b:c~d");
}
END_TEST

START_TEST(decode_plus_kept_or_space)
{
    check_decode("my+dev", IH_PCT_STRICT, "my+dev");
    check_decode("my+dev", IH_PCT_PLUS_IS_SPACE, "my dev");
    /* An encoded plus is a plus in both modes. */
    check_decode("a%2Bb", IH_PCT_STRICT, "a+b");
    check_decode("a%2Bb+c", IH_PCT_PLUS_IS_SPACE, "a+b c");
    check_decode("%20", IH_PCT_PLUS_IS_SPACE, " ");
}
END_TEST

START_TEST(decode_errors)
{
    check_decode_fails(UNIT_S("%"), IH_PCT_STRICT);
    check_decode_fails(UNIT_S("%4"), IH_PCT_STRICT);
    check_decode_fails(UNIT_S("abc%4"), IH_PCT_PLUS_IS_SPACE);
    check_decode_fails(UNIT_S("%zz"), IH_PCT_STRICT);
    check_decode_fails(UNIT_S("%g0"), IH_PCT_STRICT);
    check_decode_fails(UNIT_S("%0g"), IH_PCT_STRICT);
    check_decode_fails(UNIT_S("% 41"), IH_PCT_STRICT);
    /* A decoded NUL would truncate the C string. */
    check_decode_fails(UNIT_S("%00"), IH_PCT_STRICT);
    check_decode_fails(UNIT_S("a%00b"), IH_PCT_PLUS_IS_SPACE);
    /* So would a raw one inside len. */
    check_decode_fails("a\0b", 3, IH_PCT_STRICT);
    /* len cuts an escape short: "%41" read as "%4". */
    check_decode_fails("%41", 2, IH_PCT_STRICT);
}
END_TEST

START_TEST(decode_reports_length)
{
    char *out = NULL;
    size_t out_len = 0;
    ck_assert_result(ih_pct_decode(UNIT_S("%C3%A9x"), IH_PCT_STRICT, &out, &out_len), IH_OK);
    ck_assert_uint_eq(out_len, 3);
    ck_assert_mem_eq(out, "\xc3\xa9x", 4);
    free(out);
}
END_TEST

static int is_allowed_encoded_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '%';
}

START_TEST(round_trip_all_nonzero_bytes)
{
    char in[255];
    for (int i = 0; i < 255; i++)
        in[i] = (char)(i + 1);
    char *enc = NULL;
    ck_assert_result(ih_pct_encode(in, sizeof in, &enc), IH_OK);
    /* 65 unreserved bytes stay, the other 190 become %XX. */
    ck_assert_uint_eq(strlen(enc), 65 + 190 * 3);
    for (size_t i = 0; enc[i] != '\0'; i++) {
        ck_assert_msg(is_allowed_encoded_char(enc[i]), "raw 0x%02x in the encoding",
                      (unsigned char)enc[i]);
        if (enc[i] == '%') {
            for (int k = 1; k <= 2; k++) {
                char h = enc[i + (size_t)k];
                ck_assert_msg((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'),
                              "escape at %zu is not upper-case hex", i);
            }
        }
    }
    for (unsigned flags = 0; flags <= IH_PCT_PLUS_IS_SPACE; flags++) {
        char *dec = NULL;
        size_t dec_len = 0;
        ck_assert_result(ih_pct_decode(enc, strlen(enc), flags, &dec, &dec_len), IH_OK);
        ck_assert_uint_eq(dec_len, sizeof in);
        ck_assert_mem_eq(dec, in, sizeof in);
        ck_assert_int_eq(dec[dec_len], '\0');
        free(dec);
    }
    free(enc);
}
END_TEST

static Suite *percent_suite(void)
{
    Suite *s = suite_create("percent");
    TCase *enc = tcase_create("encode");
    tcase_add_test(enc, encode_keeps_only_alnum_dash_dot_underscore);
    tcase_add_test(enc, encode_uses_upper_case_hex);
    tcase_add_test(enc, encode_honours_len);
    suite_add_tcase(s, enc);
    TCase *dec = tcase_create("decode");
    tcase_add_test(dec, decode_either_hex_case);
    tcase_add_test(dec, decode_plus_kept_or_space);
    tcase_add_test(dec, decode_errors);
    tcase_add_test(dec, decode_reports_length);
    tcase_add_test(dec, round_trip_all_nonzero_bytes);
    suite_add_tcase(s, dec);
    return s;
}

int main(void)
{
    return unit_run(percent_suite());
}
