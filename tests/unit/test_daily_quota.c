/* Unit tests of server/registry/daily_quota.[ch]: the day's count of 4 KB messages, shared by two
 * connections as by the emulator and its broker's plugin (docs/protocol.md rule D19). */
#include "daily_quota.h"

#include "unit.h"

#define DAY 86400000LL

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/iothub-test-quota-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/" DAILY_QUOTA_FILE, dir);
}

static void teardown(void)
{
    unit_remove_dir(dir);
}

static struct daily_quota *open_quota(int create)
{
    char err[300] = "";
    struct daily_quota *q = daily_quota_open(path, create, err, sizeof err);
    ck_assert_msg(q != NULL, "%s", err);
    return q;
}

static enum daily_take take(struct daily_quota *q, long long n, long long limit, int force,
                            int64_t now, long long *used)
{
    char err[300] = "";
    enum daily_take t = daily_quota_take(q, n, limit, force, now, used, err, sizeof err);
    ck_assert_msg(t != DAILY_FAILED, "%s", err);
    return t;
}

START_TEST(messages_are_4_kb_blocks)
{
    ck_assert_int_eq(daily_quota_messages(0), 1);
    ck_assert_int_eq(daily_quota_messages(1), 1);
    ck_assert_int_eq(daily_quota_messages(4096), 1);
    ck_assert_int_eq(daily_quota_messages(4097), 2);
    ck_assert_int_eq(daily_quota_messages(262144), 64);
}
END_TEST

START_TEST(counts_to_the_limit_and_refuses_past_it)
{
    struct daily_quota *q = open_quota(1);
    long long used = -1;
    int64_t noon = 20000 * DAY + DAY / 2;
    ck_assert_int_eq(take(q, 3, 5, 0, noon, &used), DAILY_TAKEN);
    ck_assert_int_eq(used, 3);
    ck_assert_int_eq(take(q, 3, 5, 0, noon, &used), DAILY_EXCEEDED);
    ck_assert_int_eq(used, 3); /* nothing counted */
    ck_assert_int_eq(take(q, 2, 5, 0, noon, &used), DAILY_TAKEN);
    ck_assert_int_eq(used, 5);
    /* What was already done is counted anyway, past the limit. */
    ck_assert_int_eq(take(q, 2, 5, 1, noon, &used), DAILY_TAKEN);
    ck_assert_int_eq(used, 7);
    ck_assert_int_eq(take(q, 1, 5, 0, noon, &used), DAILY_EXCEEDED);
    ck_assert_int_eq(used, 7);
    daily_quota_close(q);
}
END_TEST

START_TEST(a_new_utc_day_starts_from_zero)
{
    struct daily_quota *q = open_quota(1);
    long long used = 0;
    ck_assert_int_eq(take(q, 5, 5, 0, 20001 * DAY - 1, &used), DAILY_TAKEN);
    ck_assert_int_eq(take(q, 1, 5, 0, 20001 * DAY - 1, &used), DAILY_EXCEEDED);
    ck_assert_int_eq(take(q, 1, 5, 0, 20001 * DAY, &used), DAILY_TAKEN);
    ck_assert_int_eq(used, 1);
    daily_quota_close(q);
}
END_TEST

START_TEST(two_connections_share_the_count_and_it_outlives_them)
{
    struct daily_quota *hub = open_quota(1), *plugin = open_quota(0);
    long long used = 0;
    ck_assert_int_eq(take(hub, 2, 4, 0, 5 * DAY, &used), DAILY_TAKEN);
    ck_assert_int_eq(take(plugin, 2, 4, 0, 5 * DAY, &used), DAILY_TAKEN);
    ck_assert_int_eq(used, 4);
    ck_assert_int_eq(take(hub, 1, 4, 0, 5 * DAY, &used), DAILY_EXCEEDED);
    daily_quota_close(hub);
    daily_quota_close(plugin);
    struct daily_quota *again = open_quota(1);
    ck_assert_int_eq(take(again, 1, 4, 0, 5 * DAY, &used), DAILY_EXCEEDED);
    ck_assert_int_eq(used, 4);
    daily_quota_close(again);
}
END_TEST

START_TEST(the_plugin_needs_the_file_made)
{
    char err[300] = "";
    ck_assert_ptr_null(daily_quota_open(path, 0, err, sizeof err));
    ck_assert_msg(strstr(err, "cannot open the quota file") != NULL, "%s", err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daily_quota");
    TCase *tc = tcase_create("daily_quota");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, messages_are_4_kb_blocks);
    tcase_add_test(tc, counts_to_the_limit_and_refuses_past_it);
    tcase_add_test(tc, a_new_utc_day_starts_from_zero);
    tcase_add_test(tc, two_connections_share_the_count_and_it_outlives_them);
    tcase_add_test(tc, the_plugin_needs_the_file_made);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
