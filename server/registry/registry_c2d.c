#include "registry_c2d.h"

#include "registry_store.h"

#include <stdlib.h>
#include <string.h>

void c2d_row_free(struct c2d_row *row)
{
    if (row == NULL)
        return;
    free(row->message_id);
    free(row->state);
    free(row->envelope);
    free(row->body);
    memset(row, 0, sizeof *row);
}

void c2d_rows_free(struct c2d_row *rows, size_t count)
{
    for (size_t i = 0; i < count; i++)
        c2d_row_free(&rows[i]);
    free(rows);
}

/* Runs one statement with ?1 = device_id, ?2 = a, ?3 = b (when the statement uses them).
 * *changed (may be NULL): the rows it changed. Callers hold the lock. */
static enum registry_result run(struct registry *reg, const char *sql, const char *device_id,
                                int64_t a, int64_t b, size_t *changed)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db, sql, -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "preparing a cloud-to-device queue change");
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, a);
    if (sqlite3_bind_parameter_count(st) >= 3)
        sqlite3_bind_int64(st, 3, b);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return registry_sql_failed(reg, "changing a cloud-to-device queue");
    if (changed != NULL)
        *changed = (size_t)sqlite3_changes(reg->db);
    return REGISTRY_OK;
}

/* Rule D14: a message whose expiry has passed while Enqueued is dropped (Expired). */
static enum registry_result expire_due(struct registry *reg, const char *device_id, int64_t now_ms,
                                       struct c2d_effects *fx)
{
    size_t n = 0;
    enum registry_result r =
        run(reg,
            "UPDATE c2d_messages SET state = '" C2D_STATE_EXPIRED
            "', end_ms = ?2 WHERE device_id = ?1 AND state = '" C2D_STATE_ENQUEUED
            "' AND expiry_ms <= ?2",
            device_id, now_ms, 0, &n);
    if (fx != NULL)
        fx->expired += n;
    return r;
}

/* After a change: the history keeps its newest C2D_KEEP_FINISHED, and the device's
 * cloudToDeviceMessageCount is its queue's depth. */
static enum registry_result tidy(struct registry *reg, const char *device_id)
{
    enum registry_result r = run(
        reg,
        "DELETE FROM c2d_messages WHERE device_id = ?1 AND state <> '" C2D_STATE_ENQUEUED
        "' AND sequence_number NOT IN (SELECT sequence_number FROM c2d_messages WHERE device_id = "
        "?1 AND state <> '" C2D_STATE_ENQUEUED "' ORDER BY sequence_number DESC LIMIT ?2)",
        device_id, C2D_KEEP_FINISHED, 0, NULL);
    if (r == REGISTRY_OK)
        r = run(reg,
                "UPDATE devices SET cloud_to_device_message_count = (SELECT count(*) FROM "
                "c2d_messages WHERE device_id = ?1 AND state = '" C2D_STATE_ENQUEUED
                "') WHERE device_id = ?1",
                device_id, 0, 0, NULL);
    return r;
}

/* The device exists, and its expired messages are marked. */
static enum registry_result open_queue(struct registry *reg, const char *device_id, int64_t now_ms,
                                       struct c2d_effects *fx)
{
    struct device dev;
    enum registry_result r = registry_get_locked(reg, device_id, &dev);
    if (r == REGISTRY_OK)
        r = expire_due(reg, device_id, now_ms, fx);
    return r;
}

static enum registry_result count_enqueued(struct registry *reg, const char *device_id,
                                           size_t *count)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT count(*) FROM c2d_messages WHERE device_id = ?1 AND state = "
                           "'" C2D_STATE_ENQUEUED "'",
                           -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "counting a cloud-to-device queue");
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *count = rc == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? REGISTRY_OK
                            : registry_sql_failed(reg, "counting a cloud-to-device queue");
}

static enum registry_result insert_row(struct registry *reg, const char *device_id,
                                       const struct c2d_row *in, int64_t now_ms, long long *seq)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "INSERT INTO c2d_messages (device_id, message_id, state, enqueued_ms, "
                           "expiry_ms, envelope, body) VALUES (?1, ?2, '" C2D_STATE_ENQUEUED
                           "', ?3, ?4, ?5, ?6)",
                           -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "preparing a cloud-to-device message's insert");
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, in->message_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, in->expiry_ms);
    sqlite3_bind_text(st, 5, in->envelope, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, in->body != NULL ? (const void *)in->body : "", (int)in->body_len,
                      SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return registry_sql_failed(reg, "storing a cloud-to-device message");
    *seq = (long long)sqlite3_last_insert_rowid(reg->db);
    return REGISTRY_OK;
}

static char *column_text(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return strdup(t != NULL ? t : "");
}

static int read_row(sqlite3_stmt *st, struct c2d_row *row)
{
    row->sequence_number = sqlite3_column_int64(st, 0);
    row->message_id = column_text(st, 1);
    row->state = column_text(st, 2);
    row->enqueued_ms = sqlite3_column_int64(st, 3);
    row->expiry_ms = sqlite3_column_int64(st, 4);
    row->end_ms = sqlite3_column_int64(st, 5);
    row->envelope = column_text(st, 6);
    row->body_len = (size_t)sqlite3_column_bytes(st, 7);
    row->body = malloc(row->body_len + 1);
    if (row->body != NULL && row->body_len > 0)
        memcpy(row->body, sqlite3_column_blob(st, 7), row->body_len);
    return row->message_id != NULL && row->state != NULL && row->envelope != NULL &&
                   row->body != NULL
               ? 0
               : -1;
}

/* The rows of the device (only Enqueued ones when enqueued_only), oldest first, at most max. */
static enum registry_result read_rows(struct registry *reg, const char *device_id,
                                      int enqueued_only, size_t max, struct c2d_row **rows,
                                      size_t *count)
{
    sqlite3_stmt *st = NULL;
    const char *sql = enqueued_only
                          ? "SELECT sequence_number, message_id, state, enqueued_ms, expiry_ms, "
                            "COALESCE(end_ms, 0), envelope, body FROM c2d_messages WHERE device_id "
                            "= ?1 AND state = '" C2D_STATE_ENQUEUED
                            "' ORDER BY sequence_number LIMIT ?2"
                          : "SELECT sequence_number, message_id, state, enqueued_ms, expiry_ms, "
                            "COALESCE(end_ms, 0), envelope, body FROM c2d_messages WHERE device_id "
                            "= ?1 ORDER BY sequence_number LIMIT ?2";
    *rows = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(reg->db, sql, -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "reading a cloud-to-device queue");
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    enum registry_result r = REGISTRY_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct c2d_row *grown = realloc(*rows, (*count + 1) * sizeof *grown);
        if (grown == NULL) {
            r = REGISTRY_ERR;
            break;
        }
        *rows = grown;
        memset(&grown[*count], 0, sizeof *grown);
        int bad = read_row(st, &grown[*count]);
        (*count)++;
        if (bad) {
            r = REGISTRY_ERR;
            break;
        }
    }
    if (r == REGISTRY_OK && rc != SQLITE_DONE)
        r = registry_sql_failed(reg, "reading a cloud-to-device queue");
    sqlite3_finalize(st);
    if (r != REGISTRY_OK) {
        c2d_rows_free(*rows, *count);
        *rows = NULL;
        *count = 0;
    }
    return r;
}

/* One call's arguments and results, for the transaction bodies. */
struct c2d_call {
    const char *device_id;
    int64_t now_ms;
    struct c2d_effects *fx;
    const struct c2d_row *in;
    size_t max;
    long long sequence_number;
    const long long *sequence_numbers;
    struct c2d_row *rows;
    size_t count;
    int enqueued_only;
};

static enum registry_result enqueue_body(struct registry *reg, void *arg)
{
    struct c2d_call *c = arg;
    size_t depth = 0;
    enum registry_result r = open_queue(reg, c->device_id, c->now_ms, c->fx);
    if (r == REGISTRY_OK)
        r = count_enqueued(reg, c->device_id, &depth);
    if (r == REGISTRY_OK && depth >= c->max)
        r = REGISTRY_FULL;
    if (r == REGISTRY_OK)
        r = insert_row(reg, c->device_id, c->in, c->now_ms, &c->sequence_number);
    return r == REGISTRY_OK ? tidy(reg, c->device_id) : r;
}

static enum registry_result read_body(struct registry *reg, void *arg)
{
    struct c2d_call *c = arg;
    enum registry_result r = open_queue(reg, c->device_id, c->now_ms, c->fx);
    if (r == REGISTRY_OK && c->fx->expired > 0)
        r = tidy(reg, c->device_id);
    if (r == REGISTRY_OK)
        r = read_rows(reg, c->device_id, c->enqueued_only, c->max, &c->rows, &c->count);
    return r;
}

static enum registry_result complete_body(struct registry *reg, void *arg)
{
    struct c2d_call *c = arg;
    enum registry_result r = REGISTRY_OK;
    for (size_t i = 0; i < c->count && r == REGISTRY_OK; i++)
        r = run(reg,
                "UPDATE c2d_messages SET state = '" C2D_STATE_COMPLETED
                "', end_ms = ?2 WHERE device_id = ?1 AND sequence_number = ?3 AND state = "
                "'" C2D_STATE_ENQUEUED "'",
                c->device_id, c->now_ms, c->sequence_numbers[i], NULL);
    return r == REGISTRY_OK ? tidy(reg, c->device_id) : r;
}

static enum registry_result purge_body(struct registry *reg, void *arg)
{
    struct c2d_call *c = arg;
    enum registry_result r = open_queue(reg, c->device_id, c->now_ms, c->fx);
    if (r == REGISTRY_OK)
        r = run(reg,
                "UPDATE c2d_messages SET state = '" C2D_STATE_PURGED
                "', end_ms = ?2 WHERE device_id = ?1 AND state = '" C2D_STATE_ENQUEUED "'",
                c->device_id, c->now_ms, 0, &c->count);
    return r == REGISTRY_OK ? tidy(reg, c->device_id) : r;
}

static enum registry_result in_transaction(struct registry *reg,
                                           enum registry_result (*body)(struct registry *, void *),
                                           struct c2d_call *c)
{
    struct c2d_effects none = {0};
    if (c->fx == NULL)
        c->fx = &none;
    registry_lock(reg);
    enum registry_result r = registry_in_transaction(reg, body, c);
    registry_unlock(reg);
    if (r != REGISTRY_OK)
        *c->fx = (struct c2d_effects){0}; /* rolled back */
    c->fx = NULL;
    return r;
}

enum registry_result registry_c2d_enqueue(struct registry *reg, const char *device_id,
                                          const struct c2d_row *in, int64_t now_ms,
                                          size_t max_depth, long long *sequence_number,
                                          struct c2d_effects *fx)
{
    struct c2d_call c = {
        .device_id = device_id, .now_ms = now_ms, .fx = fx, .in = in, .max = max_depth};
    enum registry_result r = in_transaction(reg, enqueue_body, &c);
    *sequence_number = c.sequence_number;
    return r;
}

enum registry_result registry_c2d_enqueued(struct registry *reg, const char *device_id,
                                           int64_t now_ms, size_t max, struct c2d_row **rows,
                                           size_t *count, struct c2d_effects *fx)
{
    struct c2d_call c = {
        .device_id = device_id, .now_ms = now_ms, .fx = fx, .max = max, .enqueued_only = 1};
    enum registry_result r = in_transaction(reg, read_body, &c);
    *rows = c.rows;
    *count = c.count;
    return r;
}

enum registry_result registry_c2d_list(struct registry *reg, const char *device_id, int64_t now_ms,
                                       struct c2d_row **rows, size_t *count, struct c2d_effects *fx)
{
    struct c2d_call c = {.device_id = device_id, .now_ms = now_ms, .fx = fx, .max = SIZE_MAX / 2};
    enum registry_result r = in_transaction(reg, read_body, &c);
    *rows = c.rows;
    *count = c.count;
    return r;
}

enum registry_result registry_c2d_complete(struct registry *reg, const char *device_id,
                                           const long long *sequence_numbers, size_t count,
                                           int64_t now_ms)
{
    struct c2d_call c = {.device_id = device_id,
                         .now_ms = now_ms,
                         .sequence_numbers = sequence_numbers,
                         .count = count};
    return in_transaction(reg, complete_body, &c);
}

enum registry_result registry_c2d_purge(struct registry *reg, const char *device_id, int64_t now_ms,
                                        size_t *purged, struct c2d_effects *fx)
{
    struct c2d_call c = {.device_id = device_id, .now_ms = now_ms, .fx = fx};
    enum registry_result r = in_transaction(reg, purge_body, &c);
    *purged = r == REGISTRY_OK ? c.count : 0;
    return r;
}
