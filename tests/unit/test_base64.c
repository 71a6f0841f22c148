/* Unit tests of protocol/base64.[ch]: strict standard base64 (RFC 4648 §4). */
#include "protocol/base64.h"

#include "unit.h"

#include <stdlib.h>
#include <string.h>

struct vector {
    const char *plain;
    const char *encoded;
};

/* RFC 4648 §10. */
static const struct vector rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};
#define RFC4648_COUNT (sizeof rfc4648 / sizeof rfc4648[0])

static void check_decode_fails(const char *in, size_t len)
{
    unsigned char *out = NULL;
    size_t out_len = 777;
    ck_assert_result(ih_base64_decode(in, len, &out, &out_len), IH_ERR_SYNTAX);
    ck_assert_ptr_null(out);
}

START_TEST(encode_rfc4648_vectors)
{
    for (size_t i = 0; i < RFC4648_COUNT; i++) {
        char *out = NULL;
        ck_assert_result(ih_base64_encode((const unsigned char *)rfc4648[i].plain,
                                          strlen(rfc4648[i].plain), &out),
                         IH_OK);
        ck_assert_str_eq(out, rfc4648[i].encoded);
        free(out);
    }
}
END_TEST

START_TEST(decode_rfc4648_vectors)
{
    /* Index 0 is "": see decode_rejects_empty. */
    for (size_t i = 1; i < RFC4648_COUNT; i++) {
        unsigned char *out = NULL;
        size_t out_len = 0;
        ck_assert_result(ih_base64_decode(UNIT_S(rfc4648[i].encoded), &out, &out_len), IH_OK);
        ck_assert_uint_eq(out_len, strlen(rfc4648[i].plain));
        ck_assert_mem_eq(out, rfc4648[i].plain, out_len);
        free(out);
    }
}
END_TEST

START_TEST(decode_rejects_empty)
{
    /* The length must be a non-zero multiple of 4, so "" (a valid RFC 4648 encoding of nothing)
     * is refused: nothing the hub base64-encodes is empty. */
    check_decode_fails("", 0);
}
END_TEST

START_TEST(decode_binary)
{
    unsigned char *out = NULL;
    size_t out_len = 0;
    ck_assert_result(ih_base64_decode(UNIT_S("AAECA/7/"), &out, &out_len), IH_OK);
    ck_assert_uint_eq(out_len, 6);
    ck_assert_mem_eq(out, "\x00\x01\x02\x03\xfe\xff", 6);
    free(out);
    ck_assert_result(ih_base64_decode(UNIT_S("+/+/"), &out, &out_len), IH_OK);
    ck_assert_uint_eq(out_len, 3);
    ck_assert_mem_eq(out, "\xfb\xff\xbf", 3);
    free(out);
}
END_TEST

START_TEST(decode_honours_len)
{
    unsigned char *out = NULL;
    size_t out_len = 0;
    ck_assert_result(ih_base64_decode("Zm9vYmFy", 4, &out, &out_len), IH_OK);
    ck_assert_uint_eq(out_len, 3);
    ck_assert_mem_eq(out, "foo", 3);
    free(out);
}
END_TEST

START_TEST(decode_rejects_whitespace)
{
    check_decode_fails(UNIT_S("Zm9v\nYmFy"));
    check_decode_fails(UNIT_S("Zm9vYmF\n"));
    check_decode_fails(UNIT_S(" Zm9vYmF"));
    check_decode_fails(UNIT_S("Zm9vYmF "));
    check_decode_fails(UNIT_S("Zm 9"));
    check_decode_fails(UNIT_S("Zm9\t"));
    check_decode_fails(UNIT_S("Zm8=\r\n\r\n"));
}
END_TEST

START_TEST(decode_rejects_bad_length)
{
    check_decode_fails(UNIT_S("Z"));
    check_decode_fails(UNIT_S("Zg"));
    check_decode_fails(UNIT_S("Zg="));
    check_decode_fails(UNIT_S("Zm9"));
    check_decode_fails(UNIT_S("Zm9vY"));
    check_decode_fails(UNIT_S("Zg==="));
    check_decode_fails(UNIT_S("Zm9vYg"));
}
END_TEST

START_TEST(decode_rejects_misplaced_padding)
{
    check_decode_fails(UNIT_S("Zg==Zg=="));
    check_decode_fails(UNIT_S("Z=g="));
    check_decode_fails(UNIT_S("=Zg="));
    check_decode_fails(UNIT_S("Zg=a"));
    check_decode_fails(UNIT_S("A==="));
    check_decode_fails(UNIT_S("===="));
    check_decode_fails(UNIT_S("Zm9v===="));
}
END_TEST

START_TEST(decode_rejects_other_alphabets)
{
    /* base64url. */
    check_decode_fails(UNIT_S("Zm8-"));
    check_decode_fails(UNIT_S("Zm8_"));
    check_decode_fails(UNIT_S("-_-_"));
    check_decode_fails(UNIT_S("Zm9v*mFy"));
    check_decode_fails(UNIT_S("Zm9v.mFy"));
    check_decode_fails(UNIT_S("Zm9v\xc3\xa9mF"));
    check_decode_fails("Zm\0v", 4);
    /* Percent-encoded padding is not base64 either. */
    check_decode_fails(UNIT_S("Zg%3D%3D"));
}
END_TEST

START_TEST(round_trip_every_length)
{
    unsigned char in[100];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof in; len++) {
        char *enc = NULL;
        ck_assert_result(ih_base64_encode(in, len, &enc), IH_OK);
        ck_assert_uint_eq(strlen(enc), (len + 2) / 3 * 4);
        if (len == 0) {
            free(enc);
            continue;
        }
        unsigned char *dec = NULL;
        size_t dec_len = 0;
        ck_assert_result(ih_base64_decode(enc, strlen(enc), &dec, &dec_len), IH_OK);
        ck_assert_uint_eq(dec_len, len);
        ck_assert_mem_eq(dec, in, len);
        free(dec);
        free(enc);
    }
}
END_TEST

static Suite *base64_suite(void)
{
    Suite *s = suite_create("base64");
    TCase *tc = tcase_create("vectors");
    tcase_add_test(tc, encode_rfc4648_vectors);
    tcase_add_test(tc, decode_rfc4648_vectors);
    tcase_add_test(tc, decode_rejects_empty);
    tcase_add_test(tc, decode_binary);
    tcase_add_test(tc, decode_honours_len);
    tcase_add_test(tc, round_trip_every_length);
    suite_add_tcase(s, tc);
    TCase *strict = tcase_create("strict");
    tcase_add_test(strict, decode_rejects_whitespace);
    tcase_add_test(strict, decode_rejects_bad_length);
    tcase_add_test(strict, decode_rejects_misplaced_padding);
    tcase_add_test(strict, decode_rejects_other_alphabets);
    suite_add_tcase(s, strict);
    return s;
}

int main(void)
{
    return unit_run(base64_suite());
}
