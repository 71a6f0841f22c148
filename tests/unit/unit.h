/* Helpers shared by the unit tests. */
#ifndef IH_TESTS_UNIT_H
#define IH_TESTS_UNIT_H

#include <check.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Removes a test's mkdtemp directory and the files in it (a registry, its -wal and -shm). */
static inline void unit_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
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
