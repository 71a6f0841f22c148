/* Unit tests of server/registry.[ch]: devices and shared access policies in SQLite
 * (docs/protocol.md §4.3 and §5). Each test opens a registry file in its own mkdtemp directory and
 * removes the directory at the end. */
#include "registry.h"

#include "log.h"

#include "unit.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* printf '0123456789abcdef0123456789abcdef' | base64 */
#define K1 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
/* printf 'secondary-key-secondary-key-32b!' | base64 */
#define K2 "c2Vjb25kYXJ5LWtleS1zZWNvbmRhcnkta2V5LTMyYiE="

static char dir[64];
static char db_path[128];
static struct registry *reg;

static void open_registry(void)
{
    char err[256] = "";
    enum registry_result r = registry_open(db_path, &reg, err, sizeof err);
    ck_assert_msg(r == REGISTRY_OK, "registry_open: %d (%s)", (int)r, err);
    ck_assert_ptr_nonnull(reg);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_registry.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db_path, sizeof db_path, "%s/registry.db", dir);
    reg = NULL;
    open_registry();
}

/* Removes the database and its -wal and -shm files, then the directory. */
static void teardown(void)
{
    registry_close(reg);
    reg = NULL;
    unit_remove_dir(dir);
}

static void new_device(struct device *d, const char *id)
{
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", id);
    d->enabled = 1;
    snprintf(d->primary_key, sizeof d->primary_key, "%s", K1);
    snprintf(d->secondary_key, sizeof d->secondary_key, "%s", K2);
}

/* Creates id and returns its etag. */
static long long create(const char *id)
{
    struct device d;
    new_device(&d, id);
    enum registry_result r = registry_device_create(reg, &d);
    ck_assert_msg(r == REGISTRY_OK, "create %s: %d", id, (int)r);
    return d.etag;
}

static long long etag_of(const char *id)
{
    struct device d;
    ck_assert_int_eq(registry_device_get(reg, id, &d), REGISTRY_OK);
    return d.etag;
}

static int is_digits(const char *s)
{
    return s[0] != '\0' && strspn(s, "0123456789") == strlen(s);
}

START_TEST(default_policies)
{
    static const struct {
        const char *name;
        unsigned permissions;
    } expected[] = {
        {"iothubowner", 15}, {"service", 4},           {"device", 8},
        {"registryRead", 1}, {"registryReadWrite", 3},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        struct policy p;
        ck_assert_int_eq(registry_policy_get(reg, expected[i].name, &p), REGISTRY_OK);
        ck_assert_str_eq(p.name, expected[i].name);
        ck_assert_uint_eq(p.permissions, expected[i].permissions);
        char key[KEY_TEXT_SIZE];
        registry_default_policy_key(expected[i].name, key);
        ck_assert_str_eq(p.primary_key, key);
        ck_assert_uint_eq(strlen(p.primary_key), 44);
        ck_assert_uint_eq(strlen(p.secondary_key), 44);
        ck_assert_str_ne(p.secondary_key, p.primary_key);
    }
    ck_assert_uint_eq(
        PERM_REGISTRY_READ | PERM_REGISTRY_WRITE | PERM_SERVICE_CONNECT | PERM_DEVICE_CONNECT, 15);
    struct policy p;
    ck_assert_int_eq(registry_policy_get(reg, "nope", &p), REGISTRY_NOT_FOUND);
    /* Policy names are exact. */
    ck_assert_int_eq(registry_policy_get(reg, "Service", &p), REGISTRY_NOT_FOUND);
}
END_TEST

START_TEST(default_policy_keys_are_well_known)
{
    char a[KEY_TEXT_SIZE], b[KEY_TEXT_SIZE], c[KEY_TEXT_SIZE];
    registry_default_policy_key("service", a);
    registry_default_policy_key("service", b);
    registry_default_policy_key("iothubowner", c);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    /* base64 of SHA-256("iothub-emulator dev key: service"), the same on every machine. */
    char expected[KEY_TEXT_SIZE];
    keys_well_known("iothub-emulator dev key: service", expected);
    ck_assert_str_eq(a, expected);
}
END_TEST

START_TEST(policy_set_keys)
{
    struct policy p;
    ck_assert_int_eq(registry_policy_set_keys(reg, "service", K1, K2), REGISTRY_OK);
    ck_assert_int_eq(registry_policy_get(reg, "service", &p), REGISTRY_OK);
    ck_assert_str_eq(p.primary_key, K1);
    ck_assert_str_eq(p.secondary_key, K2);
    ck_assert_uint_eq(p.permissions, 4);
    /* Other policies are untouched. */
    char key[KEY_TEXT_SIZE];
    registry_default_policy_key("iothubowner", key);
    ck_assert_int_eq(registry_policy_get(reg, "iothubowner", &p), REGISTRY_OK);
    ck_assert_str_eq(p.primary_key, key);
    registry_default_policy_secondary_key("iothubowner", key);
    ck_assert_str_eq(p.secondary_key, key);
    ck_assert_int_eq(registry_policy_set_keys(reg, "nope", K1, K2), REGISTRY_NOT_FOUND);
    ck_assert_int_eq(registry_policy_get(reg, "nope", &p), REGISTRY_NOT_FOUND);
}
END_TEST

START_TEST(create_and_get)
{
    struct device d;
    new_device(&d, "dev1");
    d.iot_edge = 1;
    d.has_status_reason = 1;
    snprintf(d.status_reason, sizeof d.status_reason, "new");
    ck_assert_int_eq(registry_device_create(reg, &d), REGISTRY_OK);
    ck_assert_int_gt(d.etag, 0);
    ck_assert_msg(is_digits(d.generation_id), "generationId '%s'", d.generation_id);
    ck_assert_uint_ge(strlen(d.generation_id), 18);
    ck_assert_str_ne(d.status_updated_time, "");

    struct device g;
    ck_assert_int_eq(registry_device_get(reg, "dev1", &g), REGISTRY_OK);
    ck_assert_str_eq(g.id, "dev1");
    ck_assert_str_eq(g.generation_id, d.generation_id);
    ck_assert_int_eq(g.etag, d.etag);
    ck_assert_int_eq(g.enabled, 1);
    ck_assert_int_eq(g.has_status_reason, 1);
    ck_assert_str_eq(g.status_reason, "new");
    ck_assert_str_eq(g.status_updated_time, d.status_updated_time);
    ck_assert_str_eq(g.primary_key, K1);
    ck_assert_str_eq(g.secondary_key, K2);
    ck_assert_int_eq(g.iot_edge, 1);
    ck_assert_int_eq(g.connected, 0);
    ck_assert_str_eq(g.connection_state_updated_time, TIME_NEVER);
    ck_assert_str_eq(g.last_activity_time, TIME_NEVER);
    ck_assert_int_eq(g.cloud_to_device_message_count, 0);

    /* Disabled, no reason. */
    new_device(&d, "dev2");
    d.enabled = 0;
    ck_assert_int_eq(registry_device_create(reg, &d), REGISTRY_OK);
    ck_assert_int_eq(registry_device_get(reg, "dev2", &g), REGISTRY_OK);
    ck_assert_int_eq(g.enabled, 0);
    ck_assert_int_eq(g.has_status_reason, 0);
    ck_assert_int_eq(g.iot_edge, 0);

    ck_assert_int_eq(registry_device_get(reg, "dev3", &g), REGISTRY_NOT_FOUND);
}
END_TEST

START_TEST(create_existing)
{
    long long etag = create("dev1");
    struct device d;
    new_device(&d, "dev1");
    d.enabled = 0;
    ck_assert_int_eq(registry_device_create(reg, &d), REGISTRY_EXISTS);
    struct device g;
    ck_assert_int_eq(registry_device_get(reg, "dev1", &g), REGISTRY_OK);
    ck_assert_int_eq(g.enabled, 1);
    ck_assert_int_eq(g.etag, etag);
    /* The failed create used no etag: the next write still gets a fresh, larger one. */
    ck_assert_int_gt(create("dev2"), etag);
}
END_TEST

START_TEST(update)
{
    create("dev1");
    struct device d;
    ck_assert_int_eq(registry_device_get(reg, "dev1", &d), REGISTRY_OK);
    char generation[24];
    snprintf(generation, sizeof generation, "%s", d.generation_id);
    long long etag = d.etag;
    d.enabled = 0;
    d.has_status_reason = 1;
    snprintf(d.status_reason, sizeof d.status_reason, "maintenance");
    snprintf(d.primary_key, sizeof d.primary_key, "%s", K2);
    d.iot_edge = 1;
    ck_assert_int_eq(registry_device_update(reg, &d, NULL), REGISTRY_OK);
    ck_assert_int_gt(d.etag, etag);
    struct device g;
    ck_assert_int_eq(registry_device_get(reg, "dev1", &g), REGISTRY_OK);
    ck_assert_int_eq(g.etag, d.etag);
    ck_assert_int_eq(g.enabled, 0);
    ck_assert_int_eq(g.has_status_reason, 1);
    ck_assert_str_eq(g.status_reason, "maintenance");
    ck_assert_str_eq(g.primary_key, K2);
    ck_assert_int_eq(g.iot_edge, 1);
    /* The generation id belongs to the identity, not the write. */
    ck_assert_str_eq(g.generation_id, generation);
    /* Clearing the reason stores NULL again. */
    g.has_status_reason = 0;
    ck_assert_int_eq(registry_device_update(reg, &g, "*"), REGISTRY_OK);
    ck_assert_int_eq(g.has_status_reason, 0);
    ck_assert_int_eq(registry_device_get(reg, "dev1", &d), REGISTRY_OK);
    ck_assert_int_eq(d.has_status_reason, 0);
}
END_TEST

START_TEST(missing_device)
{
    struct device d;
    new_device(&d, "ghost");
    ck_assert_int_eq(registry_device_update(reg, &d, NULL), REGISTRY_NOT_FOUND);
    ck_assert_int_eq(registry_device_update(reg, &d, "*"), REGISTRY_NOT_FOUND);
    ck_assert_int_eq(registry_device_delete(reg, "ghost", NULL), REGISTRY_NOT_FOUND);
    ck_assert_int_eq(registry_device_delete(reg, "ghost", "\"*\""), REGISTRY_NOT_FOUND);
    ck_assert_int_eq(registry_device_get(reg, "ghost", &d), REGISTRY_NOT_FOUND);
}
END_TEST

START_TEST(delete_device)
{
    create("dev1");
    create("dev2");
    ck_assert_int_eq(registry_device_delete(reg, "dev1", NULL), REGISTRY_OK);
    struct device d;
    ck_assert_int_eq(registry_device_get(reg, "dev1", &d), REGISTRY_NOT_FOUND);
    ck_assert_int_eq(registry_device_get(reg, "dev2", &d), REGISTRY_OK);
    ck_assert_int_eq(registry_device_delete(reg, "dev1", NULL), REGISTRY_NOT_FOUND);
}
END_TEST

START_TEST(etags_strictly_increase_and_never_repeat)
{
    long long seen[8];
    size_t n = 0;
    seen[n++] = create("a");
    seen[n++] = create("b");
    struct device d;
    ck_assert_int_eq(registry_device_get(reg, "a", &d), REGISTRY_OK);
    ck_assert_int_eq(registry_device_update(reg, &d, NULL), REGISTRY_OK);
    seen[n++] = d.etag;
    ck_assert_int_eq(registry_device_update(reg, &d, NULL), REGISTRY_OK);
    seen[n++] = d.etag;
    ck_assert_int_eq(registry_device_delete(reg, "a", NULL), REGISTRY_OK);
    seen[n++] = create("a");
    ck_assert_int_eq(registry_device_delete(reg, "b", NULL), REGISTRY_OK);
    seen[n++] = create("b");
    for (size_t i = 1; i < n; i++)
        ck_assert_msg(seen[i] > seen[i - 1], "etag %zu (%lld) <= etag %zu (%lld)", i, seen[i],
                      i - 1, seen[i - 1]);
    /* The recreated devices do not get back their old etag texts either. */
    char t0[32], t4[32];
    registry_etag_text(seen[0], t0);
    registry_etag_text(seen[4], t4);
    ck_assert_str_ne(t0, t4);
}
END_TEST

START_TEST(if_match_forms)
{
    create("dev1");
    struct device d;
    char text[32], quoted[40], weak[48];
    static const char *const wildcard[] = {NULL, "*", "\"*\"", " * ", "W/\"*\""};
    for (size_t i = 0; i < sizeof wildcard / sizeof wildcard[0]; i++) {
        ck_assert_int_eq(registry_device_get(reg, "dev1", &d), REGISTRY_OK);
        ck_assert_msg(registry_device_update(reg, &d, wildcard[i]) == REGISTRY_OK,
                      "If-Match '%s' refused", wildcard[i] != NULL ? wildcard[i] : "(none)");
    }
    /* The current etag: bare (Node), quoted (C#) and weak. */
    for (int form = 0; form < 3; form++) {
        ck_assert_int_eq(registry_device_get(reg, "dev1", &d), REGISTRY_OK);
        registry_etag_text(d.etag, text);
        snprintf(quoted, sizeof quoted, "\"%s\"", text);
        snprintf(weak, sizeof weak, "W/\"%s\"", text);
        const char *if_match = form == 0 ? text : form == 1 ? quoted : weak;
        ck_assert_msg(registry_device_update(reg, &d, if_match) == REGISTRY_OK,
                      "If-Match '%s' refused", if_match);
    }
    /* A stale etag (the one just replaced), for update and delete. */
    ck_assert_int_eq(registry_device_update(reg, &d, quoted), REGISTRY_PRECONDITION);
    ck_assert_int_eq(registry_device_update(reg, &d, text), REGISTRY_PRECONDITION);
    ck_assert_int_eq(registry_device_delete(reg, "dev1", quoted), REGISTRY_PRECONDITION);
    ck_assert_int_eq(registry_device_update(reg, &d, "\"\""), REGISTRY_PRECONDITION);
    ck_assert_int_eq(registry_device_update(reg, &d, "**"), REGISTRY_PRECONDITION);
    /* A refused write changed nothing. */
    struct device g;
    ck_assert_int_eq(registry_device_get(reg, "dev1", &g), REGISTRY_OK);
    ck_assert_int_eq(g.etag, d.etag);
    /* Delete with the current etag. */
    registry_etag_text(g.etag, text);
    snprintf(quoted, sizeof quoted, "\"%s\"", text);
    ck_assert_int_eq(registry_device_delete(reg, "dev1", quoted), REGISTRY_OK);
    ck_assert_int_eq(registry_device_get(reg, "dev1", &g), REGISTRY_NOT_FOUND);
}
END_TEST

START_TEST(list_in_id_order)
{
    create("charlie");
    create("alpha");
    create("Bravo");
    create("bravo");
    struct device *list = NULL;
    size_t count = 99;
    ck_assert_int_eq(registry_device_list(reg, 1000, &list, &count), REGISTRY_OK);
    ck_assert_uint_eq(count, 4);
    /* Byte order: upper case first. */
    ck_assert_str_eq(list[0].id, "Bravo");
    ck_assert_str_eq(list[1].id, "alpha");
    ck_assert_str_eq(list[2].id, "bravo");
    ck_assert_str_eq(list[3].id, "charlie");
    ck_assert_str_eq(list[1].primary_key, K1);
    ck_assert_int_gt(list[1].etag, 0);
    free(list);

    ck_assert_int_eq(registry_device_list(reg, 2, &list, &count), REGISTRY_OK);
    ck_assert_uint_eq(count, 2);
    ck_assert_str_eq(list[0].id, "Bravo");
    ck_assert_str_eq(list[1].id, "alpha");
    free(list);

    list = NULL;
    ck_assert_int_eq(registry_device_list(reg, 0, &list, &count), REGISTRY_OK);
    ck_assert_uint_eq(count, 0);
    free(list);
}
END_TEST

START_TEST(list_empty)
{
    struct device *list = NULL;
    size_t count = 99;
    ck_assert_int_eq(registry_device_list(reg, 10, &list, &count), REGISTRY_OK);
    ck_assert_uint_eq(count, 0);
    free(list);
}
END_TEST

START_TEST(reopen_keeps_state)
{
    long long etag = create("dev1");
    ck_assert_int_eq(registry_policy_set_keys(reg, "service", K1, K2), REGISTRY_OK);
    registry_close(reg);
    reg = NULL;
    /* A second open of an existing file must not run 001_initial.sql again (its CREATE TABLEs
     * would fail). Policies are configuration: they get their well-known keys back, and
     * --policy-key sets them again for each run. */
    open_registry();
    struct device d;
    ck_assert_int_eq(registry_device_get(reg, "dev1", &d), REGISTRY_OK);
    ck_assert_int_eq(d.etag, etag);
    struct policy p;
    char key[KEY_TEXT_SIZE];
    registry_default_policy_key("service", key);
    ck_assert_int_eq(registry_policy_get(reg, "service", &p), REGISTRY_OK);
    ck_assert_str_eq(p.primary_key, key);
    /* The etag counter survives too. */
    ck_assert_int_gt(create("dev2"), etag);
    registry_close(reg);
    reg = NULL;
    open_registry();
    ck_assert_int_eq(registry_device_get(reg, "dev2", &d), REGISTRY_OK);
}
END_TEST

START_TEST(open_failure)
{
    struct registry *other = NULL;
    char err[256] = "";
    char path[160];
    snprintf(path, sizeof path, "%s/no/such/dir/registry.db", dir);
    ck_assert_int_eq(registry_open(path, &other, err, sizeof err), REGISTRY_ERR);
    ck_assert_ptr_null(other);
    ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

START_TEST(ping)
{
    ck_assert_int_eq(registry_ping(reg), REGISTRY_OK);
}
END_TEST

START_TEST(etag_text)
{
    char text[32];
    /* The etag in docs/protocol.md §5. */
    registry_etag_text(318751955, text);
    ck_assert_str_eq(text, "MzE4NzUxOTU1");
    registry_etag_text(1, text);
    ck_assert_str_eq(text, "MQ==");
    registry_etag_text(12, text);
    ck_assert_str_eq(text, "MTI=");
    /* The largest value fits the buffer. */
    registry_etag_text(9223372036854775807LL, text);
    ck_assert_str_eq(text, "OTIyMzM3MjAzNjg1NDc3NTgwNw==");
}
END_TEST

START_TEST(create_returns_the_stored_etag)
{
    long long etag = create("dev1");
    ck_assert_int_eq(etag_of("dev1"), etag);
}
END_TEST

START_TEST(ids_are_case_sensitive)
{
    long long e1 = create("Dev");
    long long e2 = create("dev");
    ck_assert_int_ne(e1, e2);
    struct device d;
    ck_assert_int_eq(registry_device_get(reg, "DEV", &d), REGISTRY_NOT_FOUND);
    ck_assert_int_eq(registry_device_get(reg, "Dev", &d), REGISTRY_OK);
    ck_assert_str_eq(d.id, "Dev");
    ck_assert_int_eq(registry_device_delete(reg, "dev", NULL), REGISTRY_OK);
    ck_assert_int_eq(registry_device_get(reg, "Dev", &d), REGISTRY_OK);
    ck_assert_int_eq(registry_device_get(reg, "dev", &d), REGISTRY_NOT_FOUND);
}
END_TEST

START_TEST(unusual_ids)
{
    /* Every character the hub allows in an id, at the longest length. */
    char id[IH_ID_MAX_LEN + 1];
    const char *chars = "-:.+%_#*?!(),=@;$'aZ9";
    for (size_t i = 0; i < IH_ID_MAX_LEN; i++)
        id[i] = chars[i % strlen(chars)];
    id[IH_ID_MAX_LEN] = '\0';
    create(id);
    struct device d;
    ck_assert_int_eq(registry_device_get(reg, id, &d), REGISTRY_OK);
    ck_assert_str_eq(d.id, id);
    /* SQL LIKE wildcards are not wildcards here. */
    ck_assert_int_eq(registry_device_get(reg, "%", &d), REGISTRY_NOT_FOUND);
}
END_TEST

START_TEST(status_updated_time_follows_status)
{
    create("dev1");
    struct device d, g;
    ck_assert_int_eq(registry_device_get(reg, "dev1", &d), REGISTRY_OK);
    char created[TIME_TEXT_SIZE];
    snprintf(created, sizeof created, "%s", d.status_updated_time);
    /* ISO 8601 UTC with 7 fractional digits, like the hub (device.schema.json). */
    ck_assert_uint_eq(strlen(created), 28);
    ck_assert_int_eq(created[10], 'T');
    ck_assert_int_eq(created[27], 'Z');
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    /* A write that keeps the status keeps the time. */
    d.iot_edge = 1;
    ck_assert_int_eq(registry_device_update(reg, &d, NULL), REGISTRY_OK);
    ck_assert_int_eq(registry_device_get(reg, "dev1", &g), REGISTRY_OK);
    ck_assert_str_eq(g.status_updated_time, created);
    /* A status change moves it. */
    g.enabled = 0;
    ck_assert_int_eq(registry_device_update(reg, &g, NULL), REGISTRY_OK);
    ck_assert_int_eq(registry_device_get(reg, "dev1", &d), REGISTRY_OK);
    ck_assert_str_ne(d.status_updated_time, created);
    ck_assert_int_gt(strcmp(d.status_updated_time, created), 0);
}
END_TEST

START_TEST(recreated_device_is_a_new_generation)
{
    create("dev1");
    struct device d;
    ck_assert_int_eq(registry_device_get(reg, "dev1", &d), REGISTRY_OK);
    char first[24];
    snprintf(first, sizeof first, "%s", d.generation_id);
    ck_assert_int_eq(registry_device_delete(reg, "dev1", "*"), REGISTRY_OK);
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
    create("dev1");
    ck_assert_int_eq(registry_device_get(reg, "dev1", &d), REGISTRY_OK);
    ck_assert_str_ne(d.generation_id, first);
}
END_TEST

static void collect_operation(void *ctx, const struct log_record *r)
{
    char *ops = ctx;
    strcat(ops, r->operation);
    strcat(ops, " ");
}

static void append_log(const char *operation)
{
    struct log_record r = {.category = "DeviceStreams",
                           .operation = operation,
                           .device_id = "dev",
                           .status_code = -1,
                           .elapsed_ms = -1,
                           .bytes_device_to_service = -1,
                           .bytes_service_to_device = -1};
    ck_assert_int_eq(registry_log_append(reg, &r), REGISTRY_OK);
}

/* The log keeps its newest rows: never more than a tenth over its limit, and the newest always. */
START_TEST(log_is_pruned_to_its_limit)
{
    registry_set_log_limit(reg, 10);
    char name[16], ops[1024];
    for (int i = 0; i < 25; i++) {
        snprintf(name, sizeof name, "op%d", i);
        append_log(name);
        registry_state_flush(reg); /* one batch each: a prune can follow any of them */
    }
    struct log_filter f = {.limit = 1000};
    ops[0] = '\0';
    ck_assert_int_eq(registry_log_each(reg, &f, collect_operation, ops), REGISTRY_OK);
    ck_assert_str_eq(ops, "op15 op16 op17 op18 op19 op20 op21 op22 op23 op24 ");

    /* However the writes are batched, the rows past the limit are gone once they are in. */
    registry_set_log_limit(reg, 4);
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "b%d", i);
        append_log(name);
    }
    ops[0] = '\0';
    ck_assert_int_eq(registry_log_each(reg, &f, collect_operation, ops), REGISTRY_OK);
    ck_assert_str_eq(ops, "b2 b3 b4 b5 ");
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, default_policies);
    tcase_add_test(tc, default_policy_keys_are_well_known);
    tcase_add_test(tc, policy_set_keys);
    tcase_add_test(tc, create_and_get);
    tcase_add_test(tc, create_existing);
    tcase_add_test(tc, update);
    tcase_add_test(tc, missing_device);
    tcase_add_test(tc, delete_device);
    tcase_add_test(tc, etags_strictly_increase_and_never_repeat);
    tcase_add_test(tc, if_match_forms);
    tcase_add_test(tc, list_in_id_order);
    tcase_add_test(tc, list_empty);
    tcase_add_test(tc, reopen_keeps_state);
    tcase_add_test(tc, open_failure);
    tcase_add_test(tc, ping);
    tcase_add_test(tc, etag_text);
    tcase_add_test(tc, create_returns_the_stored_etag);
    tcase_add_test(tc, ids_are_case_sensitive);
    tcase_add_test(tc, unusual_ids);
    tcase_add_test(tc, status_updated_time_follows_status);
    tcase_add_test(tc, recreated_device_is_a_new_generation);
    tcase_add_test(tc, log_is_pruned_to_its_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Each open logs the schema it applied; keep the output to failures. */
    log_set_level(LOG_WARN);
    return unit_run(registry_suite());
}
