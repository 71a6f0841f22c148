/* Unit tests of protocol/identity.[ch]: device and module ids as the hub accepts them
 * (docs/protocol.md §1.1, the C# SDK's IdNameRegex): 1 to 128 characters from A-Z a-z 0-9 and
 * - : . + % _ # * ? ! ( ) , = @ ; $ ' */
#include "protocol/identity.h"

#include "unit.h"

#include <stdio.h>
#include <string.h>

#define PUNCTUATION "-:.+%_#*?!(),=@;$'"

static ih_result check(const char *id)
{
    return ih_id_check(id, strlen(id), "device id", NULL);
}

START_TEST(letters_and_digits)
{
    ck_assert_result(check("dev1"), IH_OK);
    ck_assert_result(check("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), IH_OK);
    ck_assert_result(check("abcdefghijklmnopqrstuvwxyz"), IH_OK);
    ck_assert_result(check("0123456789"), IH_OK);
    ck_assert_result(check("a"), IH_OK);
}
END_TEST

START_TEST(every_allowed_punctuation_character)
{
    for (const char *p = PUNCTUATION; *p != '\0'; p++) {
        char id[4] = {'a', *p, 'b', '\0'};
        ck_assert_msg(check(id) == IH_OK, "'%s' refused", id);
        if (*p != '.') {
            char alone[2] = {*p, '\0'};
            ck_assert_msg(check(alone) == IH_OK, "'%s' alone refused", alone);
        }
    }
    ck_assert_result(check(PUNCTUATION), IH_OK);
}
END_TEST

/* Every byte value: exactly letters, digits and PUNCTUATION are allowed. */
START_TEST(every_byte_value)
{
    for (int c = 1; c < 256; c++) {
        char id[4] = {'a', (char)c, 'b', '\0'};
        int allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      strchr(PUNCTUATION, c) != NULL;
        ih_result r = ih_id_check(id, 3, "device id", NULL);
        ck_assert_msg(allowed ? r == IH_OK : r == IH_ERR_SYNTAX, "byte 0x%02x: got %s", c,
                      ih_result_name(r));
    }
    /* A NUL inside the length. */
    ck_assert_result(ih_id_check("a\0b", 3, "device id", NULL), IH_ERR_SYNTAX);
}
END_TEST

START_TEST(length_bounds)
{
    char id[IH_ID_MAX_LEN + 2];
    memset(id, 'x', sizeof id);
    id[IH_ID_MAX_LEN] = '\0';
    ck_assert_int_eq(IH_ID_MAX_LEN, 128);
    ck_assert_result(check(id), IH_OK);
    id[IH_ID_MAX_LEN] = 'x';
    id[IH_ID_MAX_LEN + 1] = '\0';
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_id_check(id, strlen(id), "module id", &diag), IH_ERR_TOO_LONG);
    ck_assert_ptr_nonnull(strstr(diag.msg, "module id"));
    ck_assert_ptr_nonnull(strstr(diag.msg, "128"));
    /* Only len counts, not the NUL. */
    ck_assert_result(ih_id_check(id, IH_ID_MAX_LEN, "device id", NULL), IH_OK);
}
END_TEST

START_TEST(empty_refused)
{
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_id_check("", 0, "device id", &diag), IH_ERR_MISSING);
    ck_assert_ptr_nonnull(strstr(diag.msg, "device id"));
    ck_assert_result(ih_id_check("abc", 0, "device id", NULL), IH_ERR_MISSING);
}
END_TEST

START_TEST(dot_segments)
{
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_id_check(".", 1, "device id", &diag), IH_ERR_SYNTAX);
    ck_assert_ptr_nonnull(strstr(diag.msg, "device id"));
    ck_assert_result(check(".."), IH_ERR_SYNTAX);
    ck_assert_result(check("..."), IH_OK);
    ck_assert_result(check("a.b"), IH_OK);
    ck_assert_result(check(".a"), IH_OK);
    ck_assert_result(check("a."), IH_OK);
    ck_assert_result(check("a.."), IH_OK);
    /* len decides, not the text after it. */
    ck_assert_result(ih_id_check("..x", 2, "device id", NULL), IH_ERR_SYNTAX);
    ck_assert_result(ih_id_check(".x", 1, "device id", NULL), IH_ERR_SYNTAX);
}
END_TEST

START_TEST(forbidden_characters)
{
    static const char *const bad[] = {"a b", " ",    "a/b",  "/",           "a<b",  "a>b",  "a\"b",
                                      "a&b", "a\\b", "a~b",  "a[b",         "a{b",  "a|b",  "a^b",
                                      "a`b", "a\tb", "a\nb", "caf\xc3\xa9", "\xff", "a\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ih_diag diag = {{0}};
        ih_result r = ih_id_check(bad[i], strlen(bad[i]), "device id", &diag);
        ck_assert_msg(r == IH_ERR_SYNTAX, "'%s' got %s", bad[i], ih_result_name(r));
        ck_assert_msg(strstr(diag.msg, "device id") != NULL, "diag '%s'", diag.msg);
    }
}
END_TEST

START_TEST(diag_names_what_and_position)
{
    struct ih_diag diag = {{0}};
    ck_assert_result(ih_id_check("ab/c", 4, "module id", &diag), IH_ERR_SYNTAX);
    ck_assert_msg(strstr(diag.msg, "module id") != NULL, "diag '%s'", diag.msg);
    ck_assert_msg(strstr(diag.msg, "character 3") != NULL, "diag '%s'", diag.msg);
    /* A NULL diag is allowed everywhere. */
    ck_assert_result(ih_id_check("ab/c", 4, "module id", NULL), IH_ERR_SYNTAX);
}
END_TEST

static Suite *identity_suite(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, letters_and_digits);
    tcase_add_test(tc, every_allowed_punctuation_character);
    tcase_add_test(tc, every_byte_value);
    tcase_add_test(tc, length_bounds);
    tcase_add_test(tc, empty_refused);
    tcase_add_test(tc, dot_segments);
    tcase_add_test(tc, forbidden_characters);
    tcase_add_test(tc, diag_names_what_and_position);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(identity_suite());
}
