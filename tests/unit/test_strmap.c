/* Unit tests of server/strmap.[ch] (a string-keyed hash map) and server/plugin/client_map.[ch]
 * (the plugin's takeover-aware table of connected clients: mosquitto reports a device's new
 * connection before the old one's disconnect). */
#include "client_map.h"
#include "strmap.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- strmap ---- */

static int freed_values;

static void count_free(void *value)
{
    freed_values++;
    free(value);
}

static char *dup_text(const char *s)
{
    char *copy = strdup(s);
    ck_assert_ptr_nonnull(copy);
    return copy;
}

static void setup(void)
{
    freed_values = 0;
}

START_TEST(put_find_remove)
{
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 16), 0);
    ck_assert_uint_eq(m.count, 0);
    ck_assert_ptr_null(strmap_find(&m, "a"));
    ck_assert_ptr_null(strmap_remove(&m, "a"));

    struct strmap_entry *a = strmap_put(&m, "a");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->key, "a");
    ck_assert_ptr_null(a->value);
    a->value = dup_text("value a");
    ck_assert_uint_eq(m.count, 1);

    /* Putting an existing key returns its entry, value kept. */
    ck_assert_ptr_eq(strmap_put(&m, "a"), a);
    ck_assert_str_eq(strmap_put(&m, "a")->value, "value a");
    ck_assert_uint_eq(m.count, 1);

    struct strmap_entry *b = strmap_put(&m, "b");
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    b->value = dup_text("value b");
    ck_assert_uint_eq(m.count, 2);

    ck_assert_ptr_eq(strmap_find(&m, "a"), a);
    ck_assert_ptr_eq(strmap_find(&m, "b"), b);
    ck_assert_ptr_null(strmap_find(&m, "A"));
    ck_assert_ptr_null(strmap_find(&m, "ab"));
    ck_assert_ptr_null(strmap_find(&m, ""));

    char *value = strmap_remove(&m, "a");
    ck_assert_str_eq(value, "value a");
    free(value);
    ck_assert_uint_eq(m.count, 1);
    ck_assert_ptr_null(strmap_find(&m, "a"));
    ck_assert_ptr_null(strmap_remove(&m, "a"));
    ck_assert_uint_eq(m.count, 1);
    ck_assert_str_eq(strmap_find(&m, "b")->value, "value b");

    strmap_free(&m, count_free);
    ck_assert_int_eq(freed_values, 1);
    ck_assert_ptr_null(m.buckets);
    ck_assert_uint_eq(m.count, 0);
}
END_TEST

START_TEST(key_is_copied)
{
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 4), 0);
    char key[8];
    snprintf(key, sizeof key, "dev1");
    struct strmap_entry *e = strmap_put(&m, key);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_ne(e->key, key);
    snprintf(key, sizeof key, "other");
    ck_assert_ptr_eq(strmap_find(&m, "dev1"), e);
    ck_assert_ptr_null(strmap_find(&m, "other"));
    /* The empty key is a key like any other. */
    struct strmap_entry *empty = strmap_put(&m, "");
    ck_assert_ptr_nonnull(empty);
    ck_assert_ptr_eq(strmap_find(&m, ""), empty);
    ck_assert_uint_eq(m.count, 2);
    strmap_free(&m, NULL);
}
END_TEST

START_TEST(remove_head_middle_tail_of_a_chain)
{
    /* One bucket: every key in the same chain. */
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 1), 0);
    static const char *const keys[] = {"k0", "k1", "k2", "k3", "k4"};
    for (size_t i = 0; i < 5; i++) {
        struct strmap_entry *e = strmap_put(&m, keys[i]);
        ck_assert_ptr_nonnull(e);
        e->value = dup_text(keys[i]);
    }
    static const char *const order[] = {"k2", "k0", "k4", "k1", "k3"};
    for (size_t i = 0; i < 5; i++) {
        char *v = strmap_remove(&m, order[i]);
        ck_assert_ptr_nonnull(v);
        ck_assert_str_eq(v, order[i]);
        free(v);
        ck_assert_uint_eq(m.count, 4 - i);
        for (size_t j = 0; j < 5; j++) {
            int removed = 0;
            for (size_t k = 0; k <= i; k++)
                removed |= strcmp(order[k], keys[j]) == 0;
            struct strmap_entry *e = strmap_find(&m, keys[j]);
            ck_assert_msg((e == NULL) == removed, "after removing %s: %s %s", order[i], keys[j],
                          e == NULL ? "missing" : "present");
        }
    }
    strmap_free(&m, count_free);
    ck_assert_int_eq(freed_values, 0);
}
END_TEST

struct each_sum {
    size_t visits;
    long sum;
};

static void add_value(struct strmap_entry *e, void *arg)
{
    struct each_sum *s = arg;
    s->visits++;
    s->sum += *(int *)e->value;
    ck_assert_int_eq(atoi(e->key), *(int *)e->value);
}

START_TEST(each_visits_every_entry_once)
{
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 8), 0);
    struct each_sum s = {0, 0};
    strmap_each(&m, add_value, &s);
    ck_assert_uint_eq(s.visits, 0);
    long expected = 0;
    for (int i = 1; i <= 50; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        struct strmap_entry *e = strmap_put(&m, key);
        ck_assert_ptr_nonnull(e);
        int *v = malloc(sizeof *v);
        ck_assert_ptr_nonnull(v);
        *v = i;
        e->value = v;
        expected += i;
    }
    strmap_each(&m, add_value, &s);
    ck_assert_uint_eq(s.visits, 50);
    ck_assert_int_eq(s.sum, expected);
    strmap_free(&m, count_free);
    ck_assert_int_eq(freed_values, 50);
}
END_TEST

START_TEST(clear_keeps_the_map_usable)
{
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 4), 0);
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "key%d", i);
        strmap_put(&m, key)->value = dup_text(key);
    }
    ck_assert_uint_eq(m.count, 20);
    strmap_clear(&m, count_free);
    ck_assert_int_eq(freed_values, 20);
    ck_assert_uint_eq(m.count, 0);
    ck_assert_ptr_nonnull(m.buckets);
    ck_assert_uint_eq(m.bucket_count, 4);
    ck_assert_ptr_null(strmap_find(&m, "key0"));
    struct each_sum s = {0, 0};
    strmap_each(&m, add_value, &s);
    ck_assert_uint_eq(s.visits, 0);
    /* Still usable, and clear with no free function leaves values alone. */
    static int kept = 7;
    strmap_put(&m, "7")->value = &kept;
    ck_assert_ptr_eq(strmap_find(&m, "7")->value, &kept);
    ck_assert_uint_eq(m.count, 1);
    strmap_clear(&m, NULL);
    ck_assert_uint_eq(m.count, 0);
    ck_assert_int_eq(kept, 7);
    strmap_free(&m, NULL);
}
END_TEST

START_TEST(many_keys_few_buckets)
{
    enum { N = 10000 };
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 7), 0);
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d", i);
        struct strmap_entry *e = strmap_put(&m, key);
        ck_assert_ptr_nonnull(e);
        ck_assert_ptr_null(e->value);
        int *v = malloc(sizeof *v);
        ck_assert_ptr_nonnull(v);
        *v = i;
        e->value = v;
    }
    ck_assert_uint_eq(m.count, N);
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d", i);
        struct strmap_entry *e = strmap_find(&m, key);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(*(int *)e->value, i);
    }
    ck_assert_ptr_null(strmap_find(&m, "10000"));
    ck_assert_ptr_null(strmap_find(&m, "-1"));
    struct each_sum s = {0, 0};
    strmap_each(&m, add_value, &s);
    ck_assert_uint_eq(s.visits, N);
    ck_assert_int_eq(s.sum, (long)N * (N - 1) / 2);
    /* Remove the even keys. */
    for (int i = 0; i < N; i += 2) {
        char key[32];
        snprintf(key, sizeof key, "%d", i);
        int *v = strmap_remove(&m, key);
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(*v, i);
        free(v);
    }
    ck_assert_uint_eq(m.count, N / 2);
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d", i);
        ck_assert_int_eq(strmap_find(&m, key) != NULL, i % 2 == 1);
    }
    strmap_free(&m, count_free);
    ck_assert_int_eq(freed_values, N / 2);
}
END_TEST

/* ---- client_map ---- */

/* Stand-ins for the broker's struct mosquitto pointers. */
static int conn_a, conn_b, conn_c, conn_d;

struct visits {
    size_t count;
    char cids[8][32];
    const void *connections[8];
};

static void record(const char *cid, struct client_state *s, void *arg)
{
    struct visits *v = arg;
    ck_assert_uint_lt(v->count, 8);
    snprintf(v->cids[v->count], sizeof v->cids[0], "%s", cid);
    v->connections[v->count] = s->connection;
    v->count++;
}

static int visited(const struct visits *v, const char *cid)
{
    for (size_t i = 0; i < v->count; i++) {
        if (strcmp(v->cids[i], cid) == 0)
            return 1;
    }
    return 0;
}

START_TEST(connect_and_disconnect)
{
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 16), 0);
    ck_assert_ptr_null(client_map_find(&m, "dev1"));
    struct client_state *s = client_map_connect(&m, "dev1", &conn_a, 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_eq(s->connection, &conn_a);
    ck_assert_int_eq(client_listens(s, "dev1"), 0);
    ck_assert_int_eq(s->persistent, 0);
    ck_assert_ptr_eq(client_map_find(&m, "dev1"), s);
    /* Unknown client, or another connection: not a real disconnect. */
    ck_assert_int_eq(client_map_disconnect(&m, "nobody", &conn_a), 0);
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_b), 0);
    ck_assert_ptr_eq(client_map_find(&m, "dev1"), s);
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_a), 1);
    /* A clean session is forgotten. */
    ck_assert_ptr_null(client_map_find(&m, "dev1"));
    ck_assert_uint_eq(m.count, 0);
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_a), 0);
    strmap_free(&m, client_state_free);
}
END_TEST

START_TEST(takeover_old_disconnect_is_stale)
{
    for (int clean = 0; clean <= 1; clean++) {
        struct strmap m;
        ck_assert_int_eq(strmap_init(&m, 16), 0);
        struct client_state *first = client_map_connect(&m, "dev1", &conn_a, clean);
        ck_assert_ptr_nonnull(first);
        /* The same client id connects again: mosquitto reports it before the old disconnect. */
        struct client_state *second = client_map_connect(&m, "dev1", &conn_b, clean);
        ck_assert_ptr_nonnull(second);
        ck_assert_ptr_eq(second->connection, &conn_b);
        ck_assert_ptr_eq(client_map_find(&m, "dev1"), second);
        ck_assert_uint_eq(m.count, 1);

        ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_a), 0);
        struct client_state *s = client_map_find(&m, "dev1");
        ck_assert_ptr_nonnull(s);
        ck_assert_ptr_eq(s->connection, &conn_b);
        struct visits v = {0};
        client_map_each_connected(&m, record, &v);
        ck_assert_uint_eq(v.count, 1);
        ck_assert_str_eq(v.cids[0], "dev1");
        ck_assert_ptr_eq(v.connections[0], &conn_b);

        ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_b), 1);
        if (clean) {
            ck_assert_ptr_null(client_map_find(&m, "dev1"));
        } else {
            ck_assert_ptr_nonnull(client_map_find(&m, "dev1"));
            ck_assert_ptr_null(client_map_find(&m, "dev1")->connection);
        }
        /* A second disconnect of the same connection is not reported again. */
        ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_b), 0);
        strmap_free(&m, client_state_free);
    }
}
END_TEST

START_TEST(takeover_keeps_subscription_of_persistent_session)
{
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 16), 0);
    ck_assert_int_eq(
        client_note_filter(client_map_connect(&m, "dev1", &conn_a, 0), "$iothub/streams/POST/#", 1),
        0);
    struct client_state *s = client_map_connect(&m, "dev1", &conn_b, 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(client_listens(s, "dev1"), 1);
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_a), 0);
    ck_assert_int_eq(client_listens(client_map_find(&m, "dev1"), "dev1"), 1);
    /* A clean takeover drops it. */
    s = client_map_connect(&m, "dev1", &conn_c, 1);
    ck_assert_int_eq(client_listens(s, "dev1"), 0);
    ck_assert_int_eq(s->persistent, 0);
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_b), 0);
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_c), 1);
    ck_assert_ptr_null(client_map_find(&m, "dev1"));
    strmap_free(&m, client_state_free);
}
END_TEST

START_TEST(persistent_session_keeps_subscribed)
{
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 16), 0);
    struct client_state *s = client_map_connect(&m, "dev1", &conn_a, 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->persistent, 1);
    ck_assert_int_eq(client_listens(s, "dev1"), 0);
    ck_assert_int_eq(client_note_filter(s, "$iothub/streams/POST/#", 1), 0);
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_a), 1);
    s = client_map_find(&m, "dev1");
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_null(s->connection);
    ck_assert_int_eq(client_listens(s, "dev1"), 1);
    /* Not connected: not visited. */
    struct visits v = {0};
    client_map_each_connected(&m, record, &v);
    ck_assert_uint_eq(v.count, 0);

    /* Resumed: the session already listens. */
    s = client_map_connect(&m, "dev1", &conn_b, 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_eq(s->connection, &conn_b);
    ck_assert_int_eq(client_listens(s, "dev1"), 1);
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_b), 1);

    /* Reconnecting with a clean session forgets the subscription. */
    s = client_map_connect(&m, "dev1", &conn_c, 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(client_listens(s, "dev1"), 0);
    ck_assert_int_eq(s->persistent, 0);
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_c), 1);
    ck_assert_ptr_null(client_map_find(&m, "dev1"));
    strmap_free(&m, client_state_free);
}
END_TEST

START_TEST(clean_session_drops_subscribed)
{
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 16), 0);
    struct client_state *s = client_map_connect(&m, "dev1", &conn_a, 1);
    ck_assert_int_eq(client_note_filter(s, "$iothub/streams/POST/#", 1), 0);
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_a), 1);
    ck_assert_ptr_null(client_map_find(&m, "dev1"));
    s = client_map_connect(&m, "dev1", &conn_b, 1);
    ck_assert_int_eq(client_listens(s, "dev1"), 0);
    /* A persistent reconnect after a clean session starts unsubscribed too. */
    ck_assert_int_eq(client_map_disconnect(&m, "dev1", &conn_b), 1);
    s = client_map_connect(&m, "dev1", &conn_c, 0);
    ck_assert_int_eq(client_listens(s, "dev1"), 0);
    strmap_free(&m, client_state_free);
}
END_TEST

START_TEST(each_connected_visits_only_connected)
{
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 4), 0);
    ck_assert_ptr_nonnull(client_map_connect(&m, "dev1", &conn_a, 0));
    ck_assert_ptr_nonnull(client_map_connect(&m, "dev2", &conn_b, 0));
    ck_assert_ptr_nonnull(client_map_connect(&m, "dev3/mod1", &conn_c, 1));
    ck_assert_ptr_nonnull(client_map_connect(&m, "dev4", &conn_d, 1));
    /* dev2's persistent session outlives its connection; dev4's clean one is gone. */
    ck_assert_int_eq(client_map_disconnect(&m, "dev2", &conn_b), 1);
    ck_assert_int_eq(client_map_disconnect(&m, "dev4", &conn_d), 1);
    ck_assert_uint_eq(m.count, 3);

    struct visits v = {0};
    client_map_each_connected(&m, record, &v);
    ck_assert_uint_eq(v.count, 2);
    ck_assert(visited(&v, "dev1"));
    ck_assert(visited(&v, "dev3/mod1"));
    ck_assert(!visited(&v, "dev2"));
    ck_assert(!visited(&v, "dev4"));
    for (size_t i = 0; i < v.count; i++)
        ck_assert_ptr_nonnull(v.connections[i]);
    strmap_free(&m, client_state_free);
}
END_TEST

START_TEST(covering_filters_are_a_set)
{
    struct strmap m;
    ck_assert_int_eq(strmap_init(&m, 8), 0);
    int conn = 0;
    struct client_state *s = client_map_connect(&m, "dev1", &conn, 0);
    ck_assert_int_eq(client_listens(s, "dev1"), 0);
    /* The same filter twice is one subscription (MQTT replaces it). */
    ck_assert_int_eq(client_note_filter(s, "$iothub/streams/POST/#", 1), 0);
    ck_assert_int_eq(client_note_filter(s, "$iothub/streams/POST/#", 1), 0);
    ck_assert_int_eq(client_note_filter(s, "$iothub/streams/#", 1), 0);
    ck_assert_uint_eq(s->covering_count, 2);
    /* Dropping one of two covering filters still listens; dropping both does not. */
    ck_assert_int_eq(client_note_filter(s, "$iothub/streams/POST/#", 0), 0);
    ck_assert_int_eq(client_listens(s, "dev1"), 1);
    ck_assert_int_eq(client_note_filter(s, "$iothub/streams/POST/#", 0), 0);
    ck_assert_int_eq(client_listens(s, "dev1"), 1);
    ck_assert_int_eq(client_note_filter(s, "$iothub/streams/#", 0), 0);
    ck_assert_int_eq(client_listens(s, "dev1"), 0);
    strmap_free(&m, client_state_free);
}
END_TEST

static Suite *strmap_suite(void)
{
    Suite *s = suite_create("strmap");
    TCase *map = tcase_create("strmap");
    tcase_add_checked_fixture(map, setup, NULL);
    tcase_add_test(map, put_find_remove);
    tcase_add_test(map, key_is_copied);
    tcase_add_test(map, remove_head_middle_tail_of_a_chain);
    tcase_add_test(map, each_visits_every_entry_once);
    tcase_add_test(map, clear_keeps_the_map_usable);
    tcase_add_test(map, many_keys_few_buckets);
    suite_add_tcase(s, map);
    TCase *clients = tcase_create("client_map");
    tcase_add_test(clients, connect_and_disconnect);
    tcase_add_test(clients, takeover_old_disconnect_is_stale);
    tcase_add_test(clients, takeover_keeps_subscription_of_persistent_session);
    tcase_add_test(clients, persistent_session_keeps_subscribed);
    tcase_add_test(clients, clean_session_drops_subscribed);
    tcase_add_test(clients, covering_filters_are_a_set);
    tcase_add_test(clients, each_connected_visits_only_connected);
    suite_add_tcase(s, clients);
    return s;
}

int main(void)
{
    return unit_run(strmap_suite());
}
