/* Unit tests of protocol/result.[ch]: result names and ih_fail. */
#include "protocol/result.h"

#include "unit.h"

#include <string.h>

START_TEST(names_are_distinct_and_stable)
{
    static const ih_result all[] = {
        IH_OK,           IH_ERR_NOMEM,   IH_ERR_SYNTAX,   IH_ERR_MISSING,   IH_ERR_DUPLICATE,
        IH_ERR_TOO_LONG, IH_ERR_EXPIRED, IH_ERR_AUDIENCE, IH_ERR_SIGNATURE, IH_ERR_KEY};
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        const char *name = ih_result_name(all[i]);
        ck_assert_ptr_nonnull(name);
        ck_assert_str_ne(name, "unknown");
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(name, ih_result_name(all[j]));
    }
    ck_assert_str_eq(ih_result_name(IH_OK), "ok");
    ck_assert_str_eq(ih_result_name(IH_ERR_SYNTAX), "syntax");
    ck_assert_str_eq(ih_result_name(IH_ERR_EXPIRED), "expired");
    ck_assert_str_eq(ih_result_name((ih_result)999), "unknown");
}
END_TEST

START_TEST(fail_formats_the_diag_and_returns_the_result)
{
    struct ih_diag diag = {{0}};
    ck_assert_int_eq(ih_fail(&diag, IH_ERR_MISSING, "missing %s=", "HostName"), IH_ERR_MISSING);
    ck_assert_str_eq(diag.msg, "missing HostName=");
    /* NULL diag is allowed everywhere. */
    ck_assert_int_eq(ih_fail(NULL, IH_ERR_SYNTAX, "x %d", 1), IH_ERR_SYNTAX);
}
END_TEST

START_TEST(fail_truncates_a_long_diag)
{
    struct ih_diag diag;
    char long_text[400];
    memset(long_text, 'a', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    memset(diag.msg, 'z', sizeof diag.msg);
    ck_assert_int_eq(ih_fail(&diag, IH_ERR_TOO_LONG, "%s", long_text), IH_ERR_TOO_LONG);
    ck_assert_uint_eq(strlen(diag.msg), sizeof diag.msg - 1);
}
END_TEST

static Suite *result_suite(void)
{
    Suite *s = suite_create("result");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, names_are_distinct_and_stable);
    tcase_add_test(tc, fail_formats_the_diag_and_returns_the_result);
    tcase_add_test(tc, fail_truncates_a_long_diag);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(result_suite());
}
