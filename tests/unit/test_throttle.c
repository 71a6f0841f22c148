/* Unit tests of server/base/throttle.[ch]: a fixed window of cost units (docs/protocol.md rule
 * D19). */
#include "throttle.h"

#include "unit.h"

START_TEST(units_pass_up_to_the_limit_in_a_window)
{
    struct throttle t;
    throttle_init(&t, 4, 60000);
    ck_assert_int_eq(throttle_take(&t, 3, 1000), 1);
    ck_assert_int_eq(throttle_take(&t, 2, 1500), 0); /* 5 would pass 4: nothing taken */
    ck_assert_int_eq(throttle_take(&t, 1, 2000), 1);
    ck_assert_int_eq(throttle_take(&t, 1, 60999), 0);
    /* The window started with the first take (1000 ms); the next one starts fresh. */
    ck_assert_int_eq(throttle_take(&t, 4, 61000), 1);
    ck_assert_int_eq(throttle_take(&t, 1, 61001), 0);
    throttle_destroy(&t);
}
END_TEST

START_TEST(zero_is_no_limit)
{
    struct throttle t;
    throttle_init(&t, 0, 60000);
    for (int i = 0; i < 100000; i++)
        ck_assert_int_eq(throttle_take(&t, 1000, i), 1);
    throttle_destroy(&t);
}
END_TEST

START_TEST(a_cost_over_the_limit_never_passes)
{
    struct throttle t;
    throttle_init(&t, 2, 60000);
    ck_assert_int_eq(throttle_take(&t, 3, 0), 0);
    ck_assert_int_eq(throttle_take(&t, 3, 120000), 0);
    ck_assert_int_eq(throttle_take(&t, 2, 120001), 1);
    throttle_destroy(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("throttle");
    TCase *tc = tcase_create("throttle");
    tcase_add_test(tc, units_pass_up_to_the_limit_in_a_window);
    tcase_add_test(tc, zero_is_no_limit);
    tcase_add_test(tc, a_cost_over_the_limit_never_passes);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
