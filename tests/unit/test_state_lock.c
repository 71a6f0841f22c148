/* Unit tests of server/state_lock.[ch]: one emulator per state directory. flock locks belong
 * to an open file, so a second take in this same process stands for a second emulator. */
#include "state_lock.h"

#include "unit.h"

#include <sys/stat.h>

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/ih-state-lock-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    unit_remove_dir(dir);
}

START_TEST(a_second_taker_is_told_the_holders_pid)
{
    struct state_lock first, second;
    pid_t holder = -1;
    ck_assert_int_eq(state_lock_take(dir, &first, &holder), STATE_LOCK_OK);
    ck_assert_int_ge(first.fd, 0);
    ck_assert_int_eq(state_lock_take(dir, &second, &holder), STATE_LOCK_HELD);
    ck_assert_int_eq(holder, getpid());
    ck_assert_int_eq(second.fd, -1);
    state_lock_release(&first);
    ck_assert_int_eq(first.fd, -1);
    /* Once let go, the next one gets it. */
    ck_assert_int_eq(state_lock_take(dir, &second, &holder), STATE_LOCK_OK);
    state_lock_release(&second);
}
END_TEST

START_TEST(the_lock_file_is_private)
{
    struct state_lock lock;
    pid_t holder;
    ck_assert_int_eq(state_lock_take(dir, &lock, &holder), STATE_LOCK_OK);
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, STATE_LOCK_FILE);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    state_lock_release(&lock);
}
END_TEST

START_TEST(a_stale_pid_is_replaced)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, STATE_LOCK_FILE);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("999999999\n", f); /* a holder that died: its lock went with it */
    fclose(f);
    struct state_lock lock, other;
    pid_t holder;
    ck_assert_int_eq(state_lock_take(dir, &lock, &holder), STATE_LOCK_OK);
    ck_assert_int_eq(state_lock_take(dir, &other, &holder), STATE_LOCK_HELD);
    ck_assert_int_eq(holder, getpid());
    state_lock_release(&lock);
}
END_TEST

START_TEST(a_missing_directory_is_an_error)
{
    struct state_lock lock;
    pid_t holder;
    ck_assert_int_eq(state_lock_take("/nonexistent/ih-state", &lock, &holder), STATE_LOCK_IO);
    ck_assert_int_eq(lock.fd, -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("state_lock");
    TCase *tc = tcase_create("state_lock");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, a_second_taker_is_told_the_holders_pid);
    tcase_add_test(tc, the_lock_file_is_private);
    tcase_add_test(tc, a_stale_pid_is_replaced);
    tcase_add_test(tc, a_missing_directory_is_an_error);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
