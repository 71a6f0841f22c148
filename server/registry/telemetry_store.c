#include "telemetry_store.h"

#include "shared_file.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Old messages are dropped this many at a time, so a message's append rarely pays for it. */
#define PRUNE_EVERY 256

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS telemetry ("
    " seq INTEGER PRIMARY KEY,"
    " device_id TEXT NOT NULL,"
    " module_id TEXT,"
    " enqueued_time TEXT NOT NULL,"
    " properties TEXT NOT NULL,"
    " system_properties TEXT NOT NULL,"
    " body BLOB NOT NULL);"
    /* No index on the device: the query reads in seq order anyway (its filters are "NULL or
     * equal", which no index serves), and each index is one more page written per message, on
     * the broker's only thread (a quarter of the ingest rate, measured). Files of version 1
     * had one. */
    "DROP INDEX IF EXISTS telemetry_by_device;"
    "PRAGMA user_version = 2;";

static const char insert_sql[] =
    "INSERT INTO telemetry (device_id, module_id, enqueued_time, properties, system_properties,"
    " body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

struct telemetry_store {
    sqlite3 *db;
    sqlite3_stmt *insert;
};

static int fail(struct telemetry_store *s, const char *what, char *err, size_t cap)
{
    snprintf(err, cap, "%s: %s", what, sqlite3_errmsg(s->db));
    return -1;
}

struct telemetry_store *telemetry_store_open(const char *path, int create, char *err, size_t cap)
{
    struct telemetry_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    if (shared_file_open(path, create, schema, "the telemetry file", &s->db, err, cap) != 0 ||
        shared_file_prepare(s->db, insert_sql, &s->insert, "the telemetry insert", err, cap) != 0) {
        telemetry_store_close(s);
        return NULL;
    }
    return s;
}

void telemetry_store_close(struct telemetry_store *s)
{
    if (s == NULL)
        return;
    sqlite3_finalize(s->insert);
    sqlite3_close(s->db);
    free(s);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
    if (text != NULL)
        sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void prune(struct telemetry_store *s, long long last, long long keep)
{
    char sql[96];
    snprintf(sql, sizeof sql, "DELETE FROM telemetry WHERE seq <= %lld", last - keep);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL); /* a failure only keeps more for a while */
}

int telemetry_store_append(struct telemetry_store *s, struct telemetry_record *r, long long keep,
                           char *err, size_t cap)
{
    sqlite3_stmt *st = s->insert;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_text(st, 1, r->device_id, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, r->module_id);
    sqlite3_bind_text(st, 3, r->enqueued_time, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->properties, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->system_properties, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, r->body != NULL ? r->body : "", (int)r->body_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return fail(s, "cannot store a telemetry message", err, cap);
    r->sequence_number = sqlite3_last_insert_rowid(s->db);
    if (keep > 0 && r->sequence_number % PRUNE_EVERY == 0 && r->sequence_number > keep)
        prune(s, r->sequence_number, keep);
    return 0;
}

static const char *column_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* ?1 device, ?2 module, ?3 after, ?4 since, ?5 top, ?6 keep; a NULL parameter filters
 * nothing. */
static const char query_sql[] =
    "SELECT seq, device_id, module_id, enqueued_time, properties, system_properties, body"
    " FROM telemetry WHERE seq > ?3"
    " AND seq > (SELECT COALESCE(MAX(seq), 0) FROM telemetry) - ?6"
    " AND (?1 IS NULL OR device_id = ?1) AND (?2 IS NULL OR module_id = ?2)"
    " AND (?4 IS NULL OR enqueued_time >= ?4)"
    " ORDER BY seq LIMIT ?5";

long long telemetry_store_each(struct telemetry_store *s, const struct telemetry_query *q,
                               void (*fn)(void *ctx, const struct telemetry_record *r), void *ctx,
                               char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, query_sql, -1, &st, NULL) != SQLITE_OK)
        return fail(s, "cannot read the telemetry", err, cap);
    bind_text_or_null(st, 1, q->device_id);
    bind_text_or_null(st, 2, q->module_id);
    sqlite3_bind_int64(st, 3, q->after);
    bind_text_or_null(st, 4, q->since);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)q->top);
    sqlite3_bind_int64(st, 6, q->keep > 0 ? q->keep : (long long)1 << 62);
    long long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct telemetry_record r = {
            sqlite3_column_int64(st, 0), column_text(st, 1),
            column_text(st, 2),          column_text(st, 3),
            column_text(st, 4),          column_text(st, 5),
            sqlite3_column_blob(st, 6),  (size_t)sqlite3_column_bytes(st, 6)};
        fn(ctx, &r);
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, cap, "cannot read the telemetry: %s", sqlite3_errmsg(s->db));
        return -1;
    }
    return n;
}
