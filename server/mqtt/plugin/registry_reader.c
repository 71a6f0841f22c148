#include "registry_reader.h"

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Authentication runs on mosquitto's only thread: statements are prepared once, and a busy
 * registry (the emulator committing a write) is waited for briefly. */
#define BUSY_TIMEOUT_MS 200

static const char device_sql[] =
    "SELECT status, primary_key, secondary_key, generation_id FROM devices WHERE device_id = ?1";
static const char policy_sql[] =
    "SELECT permissions, primary_key, secondary_key FROM policies WHERE name = ?1";

struct registry_reader {
    sqlite3 *db;
    sqlite3_stmt *device;
    sqlite3_stmt *policy;
};

struct registry_reader *registry_reader_open(const char *path)
{
    struct registry_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v3(r->db, device_sql, -1, SQLITE_PREPARE_PERSISTENT, &r->device, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v3(r->db, policy_sql, -1, SQLITE_PREPARE_PERSISTENT, &r->policy, NULL) !=
            SQLITE_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "iothub plugin: cannot open the registry %s: %s", path,
                             r->db != NULL ? sqlite3_errmsg(r->db) : "out of memory");
        registry_reader_close(r);
        return NULL;
    }
    sqlite3_busy_timeout(r->db, BUSY_TIMEOUT_MS);
    return r;
}

void registry_reader_close(struct registry_reader *r)
{
    if (r == NULL)
        return;
    sqlite3_finalize(r->device);
    sqlite3_finalize(r->policy);
    sqlite3_close(r->db);
    free(r);
}

static void copy_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", text != NULL ? (const char *)text : "");
}

/* Runs a prepared one-row query with one text parameter; fill reads the row. */
static enum lookup_result query_one(struct registry_reader *r, sqlite3_stmt *st, const char *arg,
                                    void (*fill)(sqlite3_stmt *, void *), void *out)
{
    enum lookup_result result = LOOKUP_ERROR;
    if (sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            fill(st, out);
            result = LOOKUP_FOUND;
        } else if (rc == SQLITE_DONE) {
            result = LOOKUP_NOT_FOUND;
        }
    }
    if (result == LOOKUP_ERROR)
        mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: registry read failed: %s",
                             sqlite3_errmsg(r->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return result;
}

static void fill_device(sqlite3_stmt *st, void *out)
{
    struct device_keys *d = out;
    const unsigned char *status = sqlite3_column_text(st, 0);
    d->enabled = status != NULL && strcmp((const char *)status, "enabled") == 0;
    copy_text(st, 1, d->primary_key, sizeof d->primary_key);
    copy_text(st, 2, d->secondary_key, sizeof d->secondary_key);
    copy_text(st, 3, d->generation_id, sizeof d->generation_id);
}

static void fill_policy(sqlite3_stmt *st, void *out)
{
    struct policy_keys *p = out;
    p->permissions = (unsigned)sqlite3_column_int(st, 0);
    copy_text(st, 1, p->primary_key, sizeof p->primary_key);
    copy_text(st, 2, p->secondary_key, sizeof p->secondary_key);
}

enum lookup_result registry_reader_device(void *ctx, const char *device_id, struct device_keys *out)
{
    struct registry_reader *r = ctx;
    return query_one(r, r->device, device_id, fill_device, out);
}

enum lookup_result registry_reader_policy(void *ctx, const char *name, struct policy_keys *out)
{
    struct registry_reader *r = ctx;
    return query_one(r, r->policy, name, fill_policy, out);
}
