#include "registry.h"
#include "registry_state.h"
#include "registry_store.h"

#include "embedded.h"
#include "log.h"

#include "protocol/number.h"

#include <openssl/evp.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct default_policy {
    const char *name;
    unsigned permissions;
};

/* The hub's default policies (docs/protocol.md §4.3). */
static const struct default_policy default_policies[] = {
    {"iothubowner",
     PERM_REGISTRY_READ | PERM_REGISTRY_WRITE | PERM_SERVICE_CONNECT | PERM_DEVICE_CONNECT},
    {"service", PERM_SERVICE_CONNECT},
    {"device", PERM_DEVICE_CONNECT},
    {"registryRead", PERM_REGISTRY_READ},
    {"registryReadWrite", PERM_REGISTRY_READ | PERM_REGISTRY_WRITE},
};

#define DEVICE_COLUMNS                                                                             \
    "device_id, generation_id, etag, status, status_reason, status_updated_time, primary_key, "    \
    "secondary_key, iot_edge, connection_state, connection_state_updated_time, "                   \
    "last_activity_time, cloud_to_device_message_count"

void registry_lock(struct registry *reg)
{
    if (pthread_mutex_lock(&reg->lock) != 0)
        fatal("registry lock failed");
}

void registry_unlock(struct registry *reg)
{
    pthread_mutex_unlock(&reg->lock);
}

/* .NET ticks (100 ns since 0001-01-01), the form the hub's generationId takes
 * (docs/protocol.md §5). */
static void generation_id(char out[24])
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ticks = 621355968000000000LL + (long long)now.tv_sec * 10000000LL + now.tv_nsec / 100;
    snprintf(out, 24, "%lld", ticks);
}

void registry_etag_text(long long etag, char out[32])
{
    char decimal[24];
    int n = snprintf(decimal, sizeof decimal, "%lld", etag);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)decimal, n);
}

void registry_default_policy_key(const char *name, char out[KEY_TEXT_SIZE])
{
    char label[128];
    snprintf(label, sizeof label, "iothub-emulator dev key: %s", name);
    keys_well_known(label, out);
}

enum registry_result registry_sql_failed(struct registry *reg, const char *what)
{
    log_error("registry", "%s failed: %s", what, sqlite3_errmsg(reg->db));
    return REGISTRY_ERR;
}

static enum registry_result exec_on(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return REGISTRY_OK;
    log_error("registry", "'%.60s' failed: %s", sql, msg != NULL ? msg : "?");
    sqlite3_free(msg);
    return REGISTRY_ERR;
}

static enum registry_result exec(struct registry *reg, const char *sql)
{
    return exec_on(reg->db, sql);
}

static void copy_column(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", text != NULL ? (const char *)text : "");
}

static int column_equals(sqlite3_stmt *st, int col, const char *text)
{
    const unsigned char *value = sqlite3_column_text(st, col);
    return value != NULL && strcmp((const char *)value, text) == 0;
}

static void read_device_row(sqlite3_stmt *st, struct device *d)
{
    memset(d, 0, sizeof *d);
    copy_column(st, 0, d->id, sizeof d->id);
    copy_column(st, 1, d->generation_id, sizeof d->generation_id);
    d->etag = sqlite3_column_int64(st, 2);
    d->enabled = column_equals(st, 3, "enabled");
    d->has_status_reason = sqlite3_column_type(st, 4) != SQLITE_NULL;
    copy_column(st, 4, d->status_reason, sizeof d->status_reason);
    copy_column(st, 5, d->status_updated_time, sizeof d->status_updated_time);
    copy_column(st, 6, d->primary_key, sizeof d->primary_key);
    copy_column(st, 7, d->secondary_key, sizeof d->secondary_key);
    d->iot_edge = sqlite3_column_int(st, 8);
    d->connected = column_equals(st, 9, "Connected");
    copy_column(st, 10, d->connection_state_updated_time, sizeof d->connection_state_updated_time);
    copy_column(st, 11, d->last_activity_time, sizeof d->last_activity_time);
    d->cloud_to_device_message_count = sqlite3_column_int64(st, 12);
}

/* "001_initial.sql" is version 1; a name without a number is version 0, never applied. */
static int schema_version_of(const char *file_name)
{
    uint64_t v = 0;
    if (ih_parse_uint_n(file_name, strspn(file_name, "0123456789"), 9999, &v) != IH_OK)
        return 0;
    return (int)v;
}

static enum registry_result apply_schema(struct registry *reg)
{
    sqlite3_stmt *st = NULL;
    int current = 0;
    if (sqlite3_prepare_v2(reg->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "reading the schema version");
    if (sqlite3_step(st) == SQLITE_ROW)
        current = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    int latest = 0;
    for (const struct embedded_file *f = schema_sql_files; f->name != NULL; f++)
        latest = schema_version_of(f->name);
    if (current > latest) {
        log_error("registry",
                  "the registry has schema version %d but this emulator knows only up to %d: it "
                  "was written by a newer version; use that version or another --state-dir",
                  current, latest);
        return REGISTRY_ERR;
    }
    for (const struct embedded_file *f = schema_sql_files; f->name != NULL; f++) {
        int version = schema_version_of(f->name);
        if (version <= current)
            continue;
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version);
        if (exec(reg, "BEGIN IMMEDIATE") != REGISTRY_OK)
            return REGISTRY_ERR;
        if (exec(reg, f->data) != REGISTRY_OK || exec(reg, pragma) != REGISTRY_OK) {
            exec(reg, "ROLLBACK");
            return REGISTRY_ERR;
        }
        if (exec(reg, "COMMIT") != REGISTRY_OK)
            return REGISTRY_ERR;
        log_info("registry", "applied schema version %d (%s)", version, f->name);
    }
    return REGISTRY_OK;
}

void registry_default_policy_secondary_key(const char *name, char out[KEY_TEXT_SIZE])
{
    char label[128];
    snprintf(label, sizeof label, "iothub-emulator dev secondary key: %s", name);
    keys_well_known(label, out);
}

/* Policies are configuration, not state: at every start each default policy gets its documented
 * permissions and well-known keys back, and --policy-key then replaces keys for this run only. */
static enum registry_result reset_default_policies(struct registry *reg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "INSERT INTO policies (name, primary_key, secondary_key, permissions) "
                           "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET "
                           "primary_key = ?2, secondary_key = ?3, permissions = ?4",
                           -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "preparing the default policies");
    enum registry_result r = REGISTRY_OK;
    for (size_t i = 0; i < sizeof default_policies / sizeof default_policies[0] && r == REGISTRY_OK;
         i++) {
        char primary[KEY_TEXT_SIZE], secondary[KEY_TEXT_SIZE];
        registry_default_policy_key(default_policies[i].name, primary);
        registry_default_policy_secondary_key(default_policies[i].name, secondary);
        sqlite3_bind_text(st, 1, default_policies[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, primary, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, secondary, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 4, (int)default_policies[i].permissions);
        if (sqlite3_step(st) != SQLITE_DONE)
            r = registry_sql_failed(reg, "resetting a default policy");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return r;
}

static enum registry_result configure(struct registry *reg, const char *path)
{
    sqlite3_busy_timeout(reg->db, 5000);
    enum registry_result r = exec(reg, "PRAGMA journal_mode = WAL");
    if (r == REGISTRY_OK)
        r = exec(reg, "PRAGMA synchronous = FULL");
    if (r == REGISTRY_OK)
        r = apply_schema(reg);
    if (r == REGISTRY_OK)
        r = reset_default_policies(reg);
    if (r == REGISTRY_OK &&
        sqlite3_open_v2(path, &reg->state_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK)
        r = REGISTRY_ERR;
    if (r == REGISTRY_OK) {
        sqlite3_busy_timeout(reg->state_db, 5000);
        r = exec_on(reg->state_db, "PRAGMA synchronous = NORMAL");
    }
    return r;
}

enum registry_result registry_open(const char *path, struct registry **out, char *err,
                                   size_t err_len)
{
    struct registry *reg = calloc(1, sizeof *reg);
    if (reg == NULL) {
        snprintf(err, err_len, "out of memory");
        return REGISTRY_ERR;
    }
    pthread_mutex_init(&reg->lock, NULL);
    pthread_mutex_init(&reg->state_lock, NULL);
    reg->log_limit = REGISTRY_LOG_ROWS_DEFAULT;
    int rc = sqlite3_open_v2(
        path, &reg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK || configure(reg, path) != REGISTRY_OK ||
        registry_state_start(reg) != REGISTRY_OK ||
        registry_reset_connections(reg) != REGISTRY_OK) {
        snprintf(err, err_len, "cannot open the registry %s: %s", path,
                 reg->db != NULL ? sqlite3_errmsg(reg->db) : sqlite3_errstr(rc));
        registry_close(reg);
        return REGISTRY_ERR;
    }
    *out = reg;
    return REGISTRY_OK;
}

void registry_close(struct registry *reg)
{
    if (reg == NULL)
        return;
    registry_state_stop(reg);
    sqlite3_close(reg->state_db);
    sqlite3_close(reg->db);
    pthread_mutex_destroy(&reg->lock);
    pthread_mutex_destroy(&reg->state_lock);
    free(reg);
}

enum registry_result registry_ping(struct registry *reg)
{
    registry_lock(reg);
    enum registry_result r = exec(reg, "SELECT 1");
    registry_unlock(reg);
    return r;
}

/* Runs a prepared one-row SELECT; REGISTRY_NOT_FOUND when it returns nothing. */
static enum registry_result step_row(struct registry *reg, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return REGISTRY_OK;
    if (rc == SQLITE_DONE)
        return REGISTRY_NOT_FOUND;
    return registry_sql_failed(reg, what);
}

enum registry_result registry_policy_get(struct registry *reg, const char *name, struct policy *out)
{
    sqlite3_stmt *st = NULL;
    enum registry_result r = REGISTRY_ERR;
    registry_lock(reg);
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT name, primary_key, secondary_key, permissions FROM policies "
                           "WHERE name = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        r = registry_sql_failed(reg, "reading a policy");
        goto done;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    r = step_row(reg, st, "reading a policy");
    if (r == REGISTRY_OK) {
        copy_column(st, 0, out->name, sizeof out->name);
        copy_column(st, 1, out->primary_key, sizeof out->primary_key);
        copy_column(st, 2, out->secondary_key, sizeof out->secondary_key);
        out->permissions = (unsigned)sqlite3_column_int(st, 3);
    }
done:
    sqlite3_finalize(st);
    registry_unlock(reg);
    return r;
}

enum registry_result registry_policy_set_keys(struct registry *reg, const char *name,
                                              const char *primary, const char *secondary)
{
    sqlite3_stmt *st = NULL;
    enum registry_result r = REGISTRY_ERR;
    registry_lock(reg);
    if (sqlite3_prepare_v2(
            reg->db, "UPDATE policies SET primary_key = ?2, secondary_key = ?3 WHERE name = ?1", -1,
            &st, NULL) != SQLITE_OK) {
        r = registry_sql_failed(reg, "setting policy keys");
        goto done;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, primary, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, secondary, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        r = registry_sql_failed(reg, "setting policy keys");
    else
        r = sqlite3_changes(reg->db) == 1 ? REGISTRY_OK : REGISTRY_NOT_FOUND;
done:
    sqlite3_finalize(st);
    registry_unlock(reg);
    return r;
}

/* Callers hold the lock. */
enum registry_result registry_get_locked(struct registry *reg, const char *id, struct device *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db, "SELECT " DEVICE_COLUMNS " FROM devices WHERE device_id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "reading a device");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    enum registry_result r = step_row(reg, st, "reading a device");
    if (r == REGISTRY_OK)
        read_device_row(st, out);
    sqlite3_finalize(st);
    return r;
}

enum registry_result registry_device_get(struct registry *reg, const char *id, struct device *out)
{
    registry_lock(reg);
    enum registry_result r = registry_get_locked(reg, id, out);
    registry_unlock(reg);
    return r;
}

/* The next hub-wide etag version. Callers hold the lock and an open transaction. */
static enum registry_result next_etag(struct registry *reg, long long *etag)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "UPDATE meta SET value = value + 1 WHERE key = 'etag_counter' "
                           "RETURNING value",
                           -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "advancing the etag counter");
    enum registry_result r = step_row(reg, st, "advancing the etag counter");
    if (r == REGISTRY_OK)
        *etag = sqlite3_column_int64(st, 0);
    while (r == REGISTRY_OK && sqlite3_step(st) == SQLITE_ROW)
        ;
    sqlite3_finalize(st);
    return r == REGISTRY_NOT_FOUND ? REGISTRY_ERR : r;
}

/* Binds ?1..?7, the fields both an insert and an update write. */
static void bind_device_fields(sqlite3_stmt *st, const struct device *d)
{
    sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, d->etag);
    sqlite3_bind_text(st, 3, d->enabled ? "enabled" : "disabled", -1, SQLITE_STATIC);
    if (d->has_status_reason)
        sqlite3_bind_text(st, 4, d->status_reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, d->primary_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, d->secondary_key, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, d->iot_edge);
}

static enum registry_result insert_device(struct registry *reg, const struct device *d)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "INSERT INTO devices (device_id, etag, status, status_reason, "
                           "primary_key, secondary_key, iot_edge, generation_id, "
                           "status_updated_time, auth_type) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                           "?8, ?9, 'sas')",
                           -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "preparing a device insert");
    bind_device_fields(st, d);
    sqlite3_bind_text(st, 8, d->generation_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, d->status_updated_time, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        return REGISTRY_EXISTS;
    return rc == SQLITE_DONE ? REGISTRY_OK : registry_sql_failed(reg, "inserting a device");
}

int registry_writes_failing(struct registry *reg)
{
    return atomic_load(&reg->writes_failing);
}

/* Runs body inside BEGIN IMMEDIATE ... COMMIT, rolling back when it fails. */
enum registry_result
registry_in_transaction(struct registry *reg,
                        enum registry_result (*body)(struct registry *, void *), void *arg)
{
    enum registry_result r = exec(reg, "BEGIN IMMEDIATE");
    if (r == REGISTRY_OK) {
        r = body(reg, arg);
        if (r == REGISTRY_OK && exec(reg, "COMMIT") != REGISTRY_OK)
            r = REGISTRY_ERR;
        /* A failed COMMIT may have rolled back already (SQLite does on an I/O error). */
        if (r != REGISTRY_OK && !sqlite3_get_autocommit(reg->db))
            exec(reg, "ROLLBACK");
    }
    /* Not found, exists, a stale etag: answers, not failures of the store. */
    registry_note_write(reg, r != REGISTRY_ERR);
    return r;
}

static enum registry_result create_body(struct registry *reg, void *arg)
{
    struct device *d = arg;
    enum registry_result r = next_etag(reg, &d->etag);
    return r == REGISTRY_OK ? insert_device(reg, d) : r;
}

void registry_set_watchers(struct registry *reg, const struct registry_watcher *watchers,
                           size_t count)
{
    if (count > REGISTRY_MAX_WATCHERS)
        fatal("%zu registry watchers, more than REGISTRY_MAX_WATCHERS", count);
    if (count > 0)
        memcpy(reg->watchers, watchers, count * sizeof *watchers);
    reg->watcher_count = count;
}

static void tell_gone(struct registry *reg, const char *device_id, int disabled)
{
    for (size_t i = 0; i < reg->watcher_count; i++)
        reg->watchers[i].device_gone(reg->watchers[i].ctx, device_id, disabled);
}

enum registry_result registry_device_create(struct registry *reg, struct device *dev)
{
    generation_id(dev->generation_id);
    time_text_now(dev->status_updated_time);
    registry_lock(reg);
    enum registry_result r = registry_in_transaction(reg, create_body, dev);
    if (r == REGISTRY_OK)
        r = registry_get_locked(reg, dev->id, dev);
    registry_unlock(reg);
    if (r == REGISTRY_OK && !dev->enabled)
        tell_gone(reg, dev->id, 1);
    return r;
}

/* Compares an If-Match value with an etag: `*` matches anything, and quotes and a weak `W/` prefix
 * are ignored, since Node sends `*` and C# sends `"*"` or `"<etag>"` (docs/protocol.md §5). */
static int etag_matches(const char *if_match, long long etag)
{
    if (if_match == NULL)
        return 1;
    while (*if_match == ' ')
        if_match++;
    if (strncmp(if_match, "W/", 2) == 0)
        if_match += 2;
    size_t len = strlen(if_match);
    while (len > 0 && if_match[len - 1] == ' ')
        len--;
    if (len >= 2 && if_match[0] == '"' && if_match[len - 1] == '"') {
        if_match++;
        len -= 2;
    }
    if (len == 1 && if_match[0] == '*')
        return 1;
    char text[32];
    registry_etag_text(etag, text);
    return strlen(text) == len && memcmp(text, if_match, len) == 0;
}

struct update_args {
    struct device *dev;
    const char *if_match;
};

static enum registry_result write_update(struct registry *reg, const struct device *d,
                                         int status_changed)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "UPDATE devices SET etag = ?2, status = ?3, status_reason = ?4, "
                           "primary_key = ?5, secondary_key = ?6, iot_edge = ?7, "
                           "status_updated_time = CASE WHEN ?8 THEN ?9 ELSE status_updated_time "
                           "END WHERE device_id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "preparing a device update");
    char now[TIME_TEXT_SIZE];
    time_text_now(now);
    bind_device_fields(st, d);
    sqlite3_bind_int(st, 8, status_changed);
    sqlite3_bind_text(st, 9, now, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? REGISTRY_OK : registry_sql_failed(reg, "updating a device");
}

static enum registry_result update_body(struct registry *reg, void *arg)
{
    struct update_args *a = arg;
    struct device current;
    enum registry_result r = registry_get_locked(reg, a->dev->id, &current);
    if (r != REGISTRY_OK)
        return r;
    if (!etag_matches(a->if_match, current.etag))
        return REGISTRY_PRECONDITION;
    r = next_etag(reg, &a->dev->etag);
    return r == REGISTRY_OK ? write_update(reg, a->dev, current.enabled != a->dev->enabled) : r;
}

enum registry_result registry_device_update(struct registry *reg, struct device *dev,
                                            const char *if_match)
{
    struct update_args args = {dev, if_match};
    registry_lock(reg);
    enum registry_result r = registry_in_transaction(reg, update_body, &args);
    if (r == REGISTRY_OK)
        r = registry_get_locked(reg, dev->id, dev);
    registry_unlock(reg);
    /* A disabled device may not stay connected, nor keep its streams. */
    if (r == REGISTRY_OK && !dev->enabled)
        tell_gone(reg, dev->id, 1);
    return r;
}

struct delete_args {
    const char *id;
    const char *if_match;
};

static enum registry_result delete_body(struct registry *reg, void *arg)
{
    struct delete_args *a = arg;
    struct device current;
    enum registry_result r = registry_get_locked(reg, a->id, &current);
    if (r != REGISTRY_OK)
        return r;
    if (!etag_matches(a->if_match, current.etag))
        return REGISTRY_PRECONDITION;
    /* Its twins and its cloud-to-device messages go with it (docs/protocol.md §12.2, §12.4). */
    static const char *const deletes[] = {"DELETE FROM devices WHERE device_id = ?1",
                                          "DELETE FROM twins WHERE device_id = ?1",
                                          "DELETE FROM c2d_messages WHERE device_id = ?1"};
    for (size_t i = 0; i < sizeof deletes / sizeof deletes[0]; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(reg->db, deletes[i], -1, &st, NULL) != SQLITE_OK)
            return registry_sql_failed(reg, "preparing a device delete");
        sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return registry_sql_failed(reg, "deleting a device");
    }
    return REGISTRY_OK;
}

enum registry_result registry_device_delete(struct registry *reg, const char *id,
                                            const char *if_match)
{
    struct delete_args args = {id, if_match};
    registry_lock(reg);
    enum registry_result r = registry_in_transaction(reg, delete_body, &args);
    registry_unlock(reg);
    if (r == REGISTRY_OK)
        tell_gone(reg, id, 0);
    return r;
}

enum registry_result registry_device_list(struct registry *reg, size_t max, struct device **out,
                                          size_t *count)
{
    sqlite3_stmt *st = NULL;
    struct device *devices = NULL;
    size_t n = 0;
    enum registry_result r = REGISTRY_OK;
    registry_lock(reg);
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT " DEVICE_COLUMNS " FROM devices ORDER BY device_id LIMIT ?1", -1,
                           &st, NULL) != SQLITE_OK) {
        r = registry_sql_failed(reg, "listing devices");
        goto done;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
    devices = calloc(max > 0 ? max : 1, sizeof *devices);
    if (devices == NULL) {
        r = REGISTRY_ERR;
        goto done;
    }
    int rc = SQLITE_DONE;
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
        read_device_row(st, &devices[n++]);
    if (n < max && rc != SQLITE_DONE)
        r = registry_sql_failed(reg, "listing devices");
done:
    sqlite3_finalize(st);
    registry_unlock(reg);
    if (r != REGISTRY_OK) {
        free(devices);
        return r;
    }
    *out = devices;
    *count = n;
    return REGISTRY_OK;
}
