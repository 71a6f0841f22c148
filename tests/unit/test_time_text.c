/* Unit tests of server/time_text.[ch]: the log's `since` times, read in the ISO 8601 forms people
 * and clients write and normalized to the one form the log stores. */
#include "time_text.h"

#include "unit.h"

#include <string.h>

static void check_time(const char *in, const char *expected)
{
    char out[TIME_TEXT_NORMAL_SIZE];
    memset(out, 'x', sizeof out);
    ck_assert_msg(time_text_normalize(in, out) == 0, "refused '%s'", in);
    ck_assert_msg(strcmp(out, expected) == 0, "'%s' became '%s', expected '%s'", in, out, expected);
}

static void check_refused(const char *in)
{
    char out[TIME_TEXT_NORMAL_SIZE];
    ck_assert_msg(time_text_normalize(in, out) == -1, "accepted '%s'", in);
}

START_TEST(the_stored_form_is_kept)
{
    check_time("2026-11-26T04:51:19.1234567Z", "2026-11-26T04:51:19.1234567Z");
    check_time("0001-01-01T00:00:00.0000000Z", "0001-01-01T00:00:00.0000000Z");
}
END_TEST

START_TEST(shorter_forms_are_filled_in)
{
    check_time("2026-11-26", "2026-11-26T00:00:00.0000000Z");
    check_time("2026-11-26T04:51", "2026-11-26T04:51:00.0000000Z");
    check_time("2026-11-26T04:51:19", "2026-11-26T04:51:19.0000000Z");
    check_time("2026-11-26T04:51:19Z", "2026-11-26T04:51:19.0000000Z");
    check_time("2026-11-26 04:51:19", "2026-11-26T04:51:19.0000000Z");
    check_time("2026-11-26t04:51:19z", "2026-11-26T04:51:19.0000000Z");
    /* Fractions are padded or cut to 7 digits. */
    check_time("2026-11-26T04:51:19.5Z", "2026-11-26T04:51:19.5000000Z");
    check_time("2026-11-26T04:51:19,25", "2026-11-26T04:51:19.2500000Z");
    check_time("2026-11-26T04:51:19.123456789Z", "2026-11-26T04:51:19.1234567Z");
}
END_TEST

START_TEST(offsets_become_utc)
{
    check_time("2026-11-26T08:00:00+08:00", "2026-11-26T00:00:00.0000000Z");
    check_time("2026-11-26T08:00:00.5+0800", "2026-11-26T00:00:00.5000000Z");
    check_time("2026-11-25T23:30:00-01:00", "2026-11-26T00:30:00.0000000Z");
    check_time("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00.0000000Z");
    check_time("2026-11-26T00:00:00+00:00", "2026-11-26T00:00:00.0000000Z");
}
END_TEST

START_TEST(dates_are_checked)
{
    check_time("2024-02-29", "2024-02-29T00:00:00.0000000Z");
    check_time("2000-02-29", "2000-02-29T00:00:00.0000000Z");
    check_refused("2026-02-29");
    check_refused("1900-02-29");
    check_refused("2026-13-01");
    check_refused("2026-00-10");
    check_refused("2026-04-31");
    check_refused("2026-11-00");
    check_refused("0000-01-01");
    check_refused("2026-11-26T24:00:00Z");
    check_refused("2026-11-26T23:60:00Z");
    check_refused("2026-11-26T23:59:61Z");
    check_refused("2026-11-26T00:00:00+24:00");
}
END_TEST

START_TEST(other_text_is_refused)
{
    check_refused(NULL);
    check_refused("");
    check_refused("yesterday");
    check_refused("2026-11-26T");
    check_refused("2026-11-26T04");
    check_refused("2026-11-26T04:5");
    check_refused("2026-11-26T04:51:1");
    check_refused("2026-11-26T04:51:19.");
    check_refused("2026-11-26T04:51:19.1234567890Z");
    check_refused("2026-11-26T04:51:19ZZ");
    check_refused("2026-11-26T04:51:19+8");
    check_refused("2026-11-26T04:51:19 UTC");
    check_refused("26-11-26");
    check_refused("2026/11/26");
    check_refused("2026-11-26x");
    check_refused(" 2026-11-26");
    check_refused("1764132679");
}
END_TEST

/* Milliseconds both ways: an offset applies, the fraction is cut to milliseconds. */
START_TEST(milliseconds_both_ways)
{
    int64_t ms = 0;
    char text[TIME_TEXT_SIZE];
    ck_assert_int_eq(time_text_to_ms("2026-12-02T10:00:00.1239Z", &ms), 0);
    ck_assert_int_eq(ms, 1796205600123LL);
    ck_assert_int_eq(time_text_to_ms("2026-12-02T11:00:00+01:00", &ms), 0);
    ck_assert_int_eq(ms, 1796205600000LL);
    ck_assert_int_eq(time_text_to_ms("tomorrow", &ms), -1);
    time_text_of_ms(1796205600123LL, text);
    ck_assert_str_eq(text, "2026-12-02T10:00:00.1230000Z");
    time_text_of_ms(-1, text);
    ck_assert_str_eq(text, TIME_NEVER);
}
END_TEST

static Suite *time_text_suite(void)
{
    Suite *s = suite_create("time_text");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, the_stored_form_is_kept);
    tcase_add_test(tc, shorter_forms_are_filled_in);
    tcase_add_test(tc, offsets_become_utc);
    tcase_add_test(tc, dates_are_checked);
    tcase_add_test(tc, other_text_is_refused);
    tcase_add_test(tc, milliseconds_both_ways);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(time_text_suite());
}
