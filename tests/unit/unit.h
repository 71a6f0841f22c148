/* Helpers shared by the unit tests of the protocol library. */
#ifndef IH_TESTS_UNIT_H
#define IH_TESTS_UNIT_H

#include <check.h>

#include <stdlib.h>
#include <string.h>

/* Runs every test of suite (CK_FORK etc. come from the environment) and turns the outcome into
 * the process exit status. */
static inline int unit_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* For the (text, len) pairs the library takes: UNIT_S("abc") is "abc", 3. */
#define UNIT_S(s) (s), strlen(s)

/* Asserts a result code and names both sides on failure. */
#define ck_assert_result(actual, expected)                                                         \
    do {                                                                                           \
        ih_result ck_r_actual_ = (actual), ck_r_expected_ = (expected);                            \
        ck_assert_msg(ck_r_actual_ == ck_r_expected_, "%s: got %s (%d), expected %s (%d)",         \
                      #actual, ih_result_name(ck_r_actual_), (int)ck_r_actual_,                    \
                      ih_result_name(ck_r_expected_), (int)ck_r_expected_);                        \
    } while (0)

#endif
