/* The registry's fast-changing state, on its own SQLite connection and lock with relaxed
 * durability (it is rebuilt at every start): device connection state (issue 3) and the
 * DeviceStreams log (issue 4). */
#include "registry.h"
#include "registry_internal.h"

#include "log.h"

#include <stdio.h>
#include <string.h>

/* Runs one UPDATE on the state connection with the id (?1, may be NULL) and now (?2). */
static enum registry_result update_state(struct registry *reg, const char *sql, const char *id)
{
    sqlite3_stmt *st = NULL;
    char now[TIME_TEXT_SIZE];
    registry_now_text(now);
    enum registry_result r = REGISTRY_OK;
    pthread_mutex_lock(&reg->state_lock);
    if (sqlite3_prepare_v2(reg->state_db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_error("registry", "preparing a state update failed: %s", sqlite3_errmsg(reg->state_db));
        r = REGISTRY_ERR;
        goto done;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        log_error("registry", "a state update failed: %s", sqlite3_errmsg(reg->state_db));
        r = REGISTRY_ERR;
    }
done:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&reg->state_lock);
    return r;
}

enum registry_result registry_device_set_connected(struct registry *reg, const char *id,
                                                   int connected)
{
    return update_state(reg,
                        connected ? "UPDATE devices SET connection_state = 'Connected', "
                                    "connection_state_updated_time = ?2, last_activity_time = ?2 "
                                    "WHERE device_id = ?1 AND connection_state != 'Connected'"
                                  : "UPDATE devices SET connection_state = 'Disconnected', "
                                    "connection_state_updated_time = ?2 WHERE device_id = ?1 "
                                    "AND connection_state = 'Connected'",
                        id);
}

enum registry_result registry_device_touch(struct registry *reg, const char *id)
{
    return update_state(reg, "UPDATE devices SET last_activity_time = ?2 WHERE device_id = ?1", id);
}

enum registry_result registry_reset_connections(struct registry *reg)
{
    return update_state(reg,
                        "UPDATE devices SET connection_state = 'Disconnected', "
                        "connection_state_updated_time = ?2 WHERE connection_state = 'Connected' "
                        "AND (?1 IS NULL OR device_id = ?1)",
                        NULL);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
    if (text != NULL)
        sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_number_or_null(sqlite3_stmt *st, int i, long long n)
{
    if (n >= 0)
        sqlite3_bind_int64(st, i, n);
    else
        sqlite3_bind_null(st, i);
}

enum registry_result registry_log_append(struct registry *reg, const struct log_record *r)
{
    sqlite3_stmt *st = NULL;
    char now[TIME_TEXT_SIZE];
    registry_now_text(now);
    enum registry_result result = REGISTRY_OK;
    pthread_mutex_lock(&reg->state_lock);
    if (sqlite3_prepare_v2(reg->state_db,
                           "INSERT INTO logs (time_utc, category, operation, device_id, module_id, "
                           "stream_id, stream_name, step, result, status_code, elapsed_ms, "
                           "bytes_device_to_service, bytes_service_to_device, message) VALUES "
                           "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?3, ?8, ?9, ?10, ?11, ?12, ?13)",
                           -1, &st, NULL) != SQLITE_OK) {
        result = REGISTRY_ERR;
    } else {
        sqlite3_bind_text(st, 1, r->time_utc[0] != '\0' ? r->time_utc : now, -1, SQLITE_STATIC);
        bind_text_or_null(st, 2, r->category);
        bind_text_or_null(st, 3, r->operation);
        bind_text_or_null(st, 4, r->device_id);
        bind_text_or_null(st, 5, r->module_id);
        bind_text_or_null(st, 6, r->stream_id);
        bind_text_or_null(st, 7, r->stream_name);
        bind_text_or_null(st, 8, r->result);
        bind_number_or_null(st, 9, r->status_code);
        bind_number_or_null(st, 10, r->elapsed_ms);
        bind_number_or_null(st, 11, r->bytes_device_to_service);
        bind_number_or_null(st, 12, r->bytes_service_to_device);
        bind_text_or_null(st, 13, r->message);
        if (sqlite3_step(st) != SQLITE_DONE)
            result = REGISTRY_ERR;
    }
    if (result != REGISTRY_OK)
        log_error("registry", "writing a log record failed: %s", sqlite3_errmsg(reg->state_db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&reg->state_lock);
    return result;
}

static const char *column_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

static long long column_number(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, col);
}

static void read_log_row(sqlite3_stmt *st, struct log_record *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->time_utc, sizeof r->time_utc, "%s", column_text(st, 0));
    r->category = column_text(st, 1);
    r->operation = column_text(st, 2);
    r->device_id = column_text(st, 3);
    r->module_id = column_text(st, 4);
    r->stream_id = column_text(st, 5);
    r->stream_name = column_text(st, 6);
    r->result = column_text(st, 7);
    r->status_code = (int)column_number(st, 8);
    r->elapsed_ms = column_number(st, 9);
    r->bytes_device_to_service = column_number(st, 10);
    r->bytes_service_to_device = column_number(st, 11);
    r->message = column_text(st, 12);
}

enum registry_result registry_log_each(struct registry *reg, const struct log_filter *f,
                                       void (*fn)(void *ctx, const struct log_record *r), void *ctx)
{
    sqlite3_stmt *st = NULL;
    enum registry_result result = REGISTRY_OK;
    pthread_mutex_lock(&reg->state_lock);
    /* The newest `limit` matches, returned oldest first. */
    if (sqlite3_prepare_v2(reg->state_db,
                           "SELECT * FROM (SELECT time_utc, category, operation, device_id, "
                           "module_id, stream_id, stream_name, result, status_code, elapsed_ms, "
                           "bytes_device_to_service, bytes_service_to_device, message, id FROM "
                           "logs WHERE (?1 IS NULL OR category = ?1) AND (?2 IS NULL OR "
                           "device_id = ?2) AND (?3 IS NULL OR time_utc >= ?3) ORDER BY id DESC "
                           "LIMIT ?4) ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        result = REGISTRY_ERR;
    } else {
        bind_text_or_null(st, 1, f->category);
        bind_text_or_null(st, 2, f->device_id);
        bind_text_or_null(st, 3, f->since);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)f->limit);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct log_record r;
            read_log_row(st, &r);
            fn(ctx, &r);
        }
        if (rc != SQLITE_DONE)
            result = REGISTRY_ERR;
    }
    if (result != REGISTRY_OK)
        log_error("registry", "reading the logs failed: %s", sqlite3_errmsg(reg->state_db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&reg->state_lock);
    return result;
}
