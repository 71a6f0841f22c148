/* Unit tests of server/rate_window.[ch]: bursts per window, and the count of what was held. */
#include "rate_window.h"

#include "unit.h"

START_TEST(a_burst_passes_then_the_rest_is_counted)
{
    struct rate_window w = {0};
    struct rate_held ended;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(rate_window_take(&w, 1000 + i, 3, 10000, &ended), 1);
        ck_assert_uint_eq(ended.count, 0);
    }
    for (int i = 0; i < 12801; i++)
        ck_assert_int_eq(rate_window_take(&w, 2000, 3, 10000, &ended), 0);
    ck_assert_uint_eq(ended.count, 0);
    /* The next one after the window passes, and hands over the count once. */
    ck_assert_int_eq(rate_window_take(&w, 11000, 3, 10000, &ended), 1);
    ck_assert_uint_eq(ended.count, 12801);
    ck_assert_int_eq(ended.start_ms, 1000);
    ck_assert_int_eq(rate_window_take(&w, 11001, 3, 10000, &ended), 1);
    ck_assert_uint_eq(ended.count, 0);
}
END_TEST

START_TEST(a_quiet_window_hands_over_nothing)
{
    struct rate_window w = {0};
    struct rate_held ended;
    ck_assert_int_eq(rate_window_take(&w, 0, 1, 10000, &ended), 1);
    ck_assert_int_eq(rate_window_take(&w, 50000, 1, 10000, &ended), 1);
    ck_assert_uint_eq(ended.count, 0);
}
END_TEST

START_TEST(drain_reports_the_current_window)
{
    struct rate_window w = {0};
    struct rate_held ended;
    rate_window_take(&w, 5, 1, 10000, &ended);
    rate_window_take(&w, 6, 1, 10000, &ended);
    rate_window_take(&w, 7, 1, 10000, &ended);
    struct rate_held held = rate_window_drain(&w);
    ck_assert_uint_eq(held.count, 2);
    ck_assert_int_eq(held.start_ms, 5);
    ck_assert_uint_eq(rate_window_drain(&w).count, 0);
    ck_assert_int_eq(rate_window_take(&w, 8, 1, 10000, &ended), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rate_window");
    TCase *tc = tcase_create("rate_window");
    tcase_add_test(tc, a_burst_passes_then_the_rest_is_counted);
    tcase_add_test(tc, a_quiet_window_hands_over_nothing);
    tcase_add_test(tc, drain_reports_the_current_window);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
