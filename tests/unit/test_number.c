/* Unit tests of client/protocol/number.[ch] and format.[ch]: decimal whole numbers read one way,
 * with their bound checked before anything overflows, and formatting that reports a cut. */
#include "protocol/format.h"
#include "protocol/number.h"

#include "unit.h"

#include <stdint.h>

START_TEST(digits_within_the_bound)
{
    uint64_t v = 99;
    ck_assert_int_eq(ih_parse_uint("0", 10, &v), IH_OK);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(ih_parse_uint("65535", 65535, &v), IH_OK);
    ck_assert_uint_eq(v, 65535);
    ck_assert_int_eq(ih_parse_uint("007", 10, &v), IH_OK);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(ih_parse_uint("18446744073709551615", UINT64_MAX, &v), IH_OK);
    ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(past_the_bound_is_out_of_range_and_leaves_out_alone)
{
    uint64_t v = 42;
    ck_assert_int_eq(ih_parse_uint("65536", 65535, &v), IH_ERR_RANGE);
    ck_assert_int_eq(ih_parse_uint("7", 5, &v), IH_ERR_RANGE); /* one digit above a small max */
    ck_assert_int_eq(ih_parse_uint("18446744073709551616", UINT64_MAX, &v), IH_ERR_RANGE);
    ck_assert_int_eq(ih_parse_uint("99999999999999999999999999999999", 1000, &v), IH_ERR_RANGE);
    ck_assert_uint_eq(v, 42);
}
END_TEST

START_TEST(anything_but_digits_is_a_syntax_error)
{
    uint64_t v = 42;
    const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1x", "0x10", "1.5", "١"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(ih_parse_uint(bad[i], UINT64_MAX, &v) == IH_ERR_SYNTAX, "%s", bad[i]);
    /* A syntax error wins over a range error anywhere in the text. */
    ck_assert_int_eq(ih_parse_uint("99999999999999999999x", 10, &v), IH_ERR_SYNTAX);
    ck_assert_uint_eq(v, 42);
}
END_TEST

START_TEST(a_field_of_a_longer_string)
{
    uint64_t v = 0;
    ck_assert_int_eq(ih_parse_uint_n("200/?$rid=1", 3, 999, &v), IH_OK);
    ck_assert_uint_eq(v, 200);
    ck_assert_int_eq(ih_parse_uint_n("12", 0, 999, &v), IH_ERR_SYNTAX);
    /* A NUL inside the field is not a digit (nothing past it is read). */
    ck_assert_int_eq(ih_parse_uint_n("1\0"
                                     "2",
                                     3, 999, &v),
                     IH_ERR_SYNTAX);
}
END_TEST

START_TEST(a_fraction_is_dropped_when_asked)
{
    uint64_t v = 0;
    ck_assert_int_eq(ih_parse_uint_dropping_fraction("30", 100, &v), IH_OK);
    ck_assert_uint_eq(v, 30);
    ck_assert_int_eq(ih_parse_uint_dropping_fraction("30.75", 100, &v), IH_OK);
    ck_assert_uint_eq(v, 30);
    ck_assert_int_eq(ih_parse_uint_dropping_fraction("30.", 100, &v), IH_OK);
    ck_assert_uint_eq(v, 30);
    ck_assert_int_eq(ih_parse_uint_dropping_fraction(".5", 100, &v), IH_ERR_SYNTAX);
    ck_assert_int_eq(ih_parse_uint_dropping_fraction("1.2.3", 100, &v), IH_ERR_SYNTAX);
    ck_assert_int_eq(ih_parse_uint_dropping_fraction("1e3", 100, &v), IH_ERR_SYNTAX);
    ck_assert_int_eq(ih_parse_uint_dropping_fraction("101.0", 100, &v), IH_ERR_RANGE);
}
END_TEST

START_TEST(formatting_reports_a_cut)
{
    char out[8];
    ck_assert_int_eq(ih_format(out, sizeof out, "%s:%d", "ab", 1234), IH_OK);
    ck_assert_str_eq(out, "ab:1234");
    ck_assert_int_eq(ih_format(out, sizeof out, "%s:%d", "abc", 1234), IH_ERR_TOO_LONG);
    ck_assert_str_eq(out, "abc:123"); /* cut, but terminated */
    ck_assert_int_eq(ih_format(out, sizeof out, "%s", ""), IH_OK);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(a_reason_is_written_and_the_result_returned)
{
    char why[8];
    ck_assert_int_eq(ih_reason(why, sizeof why, 7, "no %s", "key"), 7);
    ck_assert_str_eq(why, "no key");
    ck_assert_int_eq(ih_reason(why, sizeof why, 3, "%s", "much too long"), 3);
    ck_assert_str_eq(why, "much to");
}
END_TEST

static Suite *number_suite(void)
{
    Suite *s = suite_create("number");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, digits_within_the_bound);
    tcase_add_test(tc, past_the_bound_is_out_of_range_and_leaves_out_alone);
    tcase_add_test(tc, anything_but_digits_is_a_syntax_error);
    tcase_add_test(tc, a_field_of_a_longer_string);
    tcase_add_test(tc, a_fraction_is_dropped_when_asked);
    tcase_add_test(tc, formatting_reports_a_cut);
    tcase_add_test(tc, a_reason_is_written_and_the_result_returned);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(number_suite());
}
