/* Unit tests of server/conn_table.[ch]: which connection is shed when an endpoint is full. */
#include "conn_table.h"

#include "unit.h"

START_TEST(under_the_limits_nothing_is_shed)
{
    struct conn_table t;
    struct conn_entry e[3];
    conn_table_init(&t, 3, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_null(conn_table_add(&t, &e[i]));
    ck_assert_uint_eq(t.count, 3);
    ck_assert_uint_eq(t.idle_count, 3);
    ck_assert_uint_eq(t.shed, 0);
}
END_TEST

START_TEST(past_the_count_the_quietest_idle_one_goes)
{
    struct conn_table t;
    struct conn_entry e[4];
    conn_table_init(&t, 3, 3);
    for (int i = 0; i < 3; i++)
        conn_table_add(&t, &e[i]);
    /* 0 spoke last: 1 is now the one quiet the longest. */
    conn_table_busy(&t, &e[0]);
    conn_table_idle(&t, &e[0]);
    struct conn_entry *victim = conn_table_add(&t, &e[3]);
    ck_assert_ptr_eq(victim, &e[1]);
    ck_assert_int_eq(victim->idle, 0);
    ck_assert_uint_eq(t.count, 4); /* counted until it is closed */
    conn_table_remove(&t, victim);
    ck_assert_uint_eq(t.count, 3);
    ck_assert_uint_eq(t.idle_count, 3);
    ck_assert_uint_eq(t.shed, 1);
}
END_TEST

START_TEST(a_connection_with_a_request_under_way_is_never_shed)
{
    struct conn_table t;
    struct conn_entry e[4];
    conn_table_init(&t, 3, 3);
    for (int i = 0; i < 3; i++) {
        conn_table_add(&t, &e[i]);
        conn_table_busy(&t, &e[i]);
    }
    ck_assert_uint_eq(t.idle_count, 0);
    /* Every slot is at work: the newcomer is the one to go. */
    ck_assert_ptr_eq(conn_table_add(&t, &e[3]), &e[3]);
    conn_table_remove(&t, &e[3]);
    conn_table_idle(&t, &e[2]);
    ck_assert_ptr_eq(conn_table_add(&t, &e[3]), &e[2]);
}
END_TEST

START_TEST(past_the_idle_limit_the_oldest_idle_one_goes)
{
    struct conn_table t;
    struct conn_entry e[5];
    conn_table_init(&t, 100, 2);
    conn_table_add(&t, &e[0]);
    conn_table_busy(&t, &e[0]); /* an established connection: not idle */
    ck_assert_ptr_null(conn_table_add(&t, &e[1]));
    ck_assert_ptr_null(conn_table_add(&t, &e[2]));
    ck_assert_ptr_eq(conn_table_add(&t, &e[3]), &e[1]);
    ck_assert_ptr_eq(conn_table_add(&t, &e[4]), &e[2]);
    ck_assert_uint_eq(t.idle_count, 2);
    ck_assert_uint_eq(t.count, 5);
}
END_TEST

START_TEST(removal_from_anywhere_keeps_the_order)
{
    struct conn_table t;
    struct conn_entry e[5];
    conn_table_init(&t, 4, 4);
    for (int i = 0; i < 4; i++)
        conn_table_add(&t, &e[i]);
    conn_table_remove(&t, &e[1]); /* middle */
    conn_table_remove(&t, &e[0]); /* oldest */
    conn_table_remove(&t, &e[3]); /* newest */
    ck_assert_ptr_eq(t.oldest, &e[2]);
    ck_assert_ptr_eq(t.newest, &e[2]);
    conn_table_busy(&t, &e[2]);
    conn_table_remove(&t, &e[2]); /* busy */
    ck_assert_ptr_null(t.oldest);
    ck_assert_ptr_null(t.newest);
    ck_assert_uint_eq(t.count, 0);
    ck_assert_uint_eq(t.idle_count, 0);
}
END_TEST

START_TEST(a_flood_sheds_one_for_one)
{
    enum { LIMIT = 64, FLOOD = 10000 };
    static struct conn_entry e[FLOOD];
    struct conn_table t;
    conn_table_init(&t, LIMIT, LIMIT);
    for (int i = 0; i < FLOOD; i++) {
        struct conn_entry *victim = conn_table_add(&t, &e[i]);
        if (i < LIMIT) {
            ck_assert_ptr_null(victim);
        } else {
            ck_assert_ptr_eq(victim, &e[i - LIMIT]);
            conn_table_remove(&t, victim);
        }
    }
    ck_assert_uint_eq(t.count, LIMIT);
    ck_assert_uint_eq(t.shed, FLOOD - LIMIT);
}
END_TEST

START_TEST(the_share_follows_the_descriptors)
{
    ck_assert_uint_eq(conn_table_share(1048576, 3), CONN_TABLE_MAX);
    ck_assert_uint_eq(conn_table_share(20000, 3), (20000 - CONN_TABLE_FD_RESERVE) / 3);
    ck_assert_uint_eq(conn_table_share(1024, 3), (1024 - CONN_TABLE_FD_RESERVE) / 3);
    ck_assert_uint_eq(conn_table_share(100, 3), 16);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conn_table");
    TCase *tc = tcase_create("conn_table");
    tcase_add_test(tc, under_the_limits_nothing_is_shed);
    tcase_add_test(tc, past_the_count_the_quietest_idle_one_goes);
    tcase_add_test(tc, a_connection_with_a_request_under_way_is_never_shed);
    tcase_add_test(tc, past_the_idle_limit_the_oldest_idle_one_goes);
    tcase_add_test(tc, removal_from_anywhere_keeps_the_order);
    tcase_add_test(tc, a_flood_sheds_one_for_one);
    tcase_add_test(tc, the_share_follows_the_descriptors);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
