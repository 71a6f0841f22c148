/* The registry's fast-changing state, on its own SQLite connection and lock with relaxed
 * durability (it is rebuilt at every start): device connection state and the DeviceStreams log.
 * Writes are queued (write_queue.h) and return at once; reads wait for what was queued before
 * them. */
#include "registry_state.h"

#include "log.h"
#include "registry_store.h"
#include "write_queue.h"

#include "protocol/identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Beyond this many waiting writes, new ones are dropped (and counted) rather than let memory
 * grow without bound. */
#define QUEUE_MAX 100000

/* One queued write of the state connection. */
enum state_job_kind {
    JOB_CONNECTED,
    JOB_DISCONNECTED,
    JOB_TOUCH,
    JOB_RESET_CONNECTIONS,
    JOB_LOG,
};

struct state_job {
    struct write_queue_item item; /* first: the queue links jobs through it */
    enum state_job_kind kind;
    char time[TIME_TEXT_SIZE]; /* when it happened, not when it is written */
    char id[IH_ID_MAX_LEN + 1];
    struct log_record record; /* JOB_LOG; its strings point into text */
    char text[];
};

static const char *const job_sql[] = {
    [JOB_CONNECTED] = "UPDATE devices SET connection_state = 'Connected', "
                      "connection_state_updated_time = ?2, last_activity_time = ?2 WHERE "
                      "device_id = ?1 AND connection_state != 'Connected'",
    [JOB_DISCONNECTED] = "UPDATE devices SET connection_state = 'Disconnected', "
                         "connection_state_updated_time = ?2 WHERE device_id = ?1 AND "
                         "connection_state = 'Connected'",
    [JOB_TOUCH] = "UPDATE devices SET last_activity_time = ?2 WHERE device_id = ?1",
    [JOB_RESET_CONNECTIONS] = "UPDATE devices SET connection_state = 'Disconnected', "
                              "connection_state_updated_time = ?2 WHERE connection_state = "
                              "'Connected'",
    [JOB_LOG] = "INSERT INTO logs (time_utc, category, operation, device_id, module_id, "
                "stream_id, stream_name, step, result, status_code, elapsed_ms, "
                "bytes_device_to_service, bytes_service_to_device, message) VALUES (?1, ?2, "
                "?3, ?4, ?5, ?6, ?7, ?3, ?8, ?9, ?10, ?11, ?12, ?13)",
};

static struct state_job *new_job(enum state_job_kind kind, const char *id, size_t text)
{
    struct state_job *job = calloc(1, sizeof *job + text);
    if (job == NULL)
        return NULL;
    job->kind = kind;
    time_text_now(job->time);
    if (id != NULL)
        snprintf(job->id, sizeof job->id, "%s", id);
    return job;
}

static enum registry_result submit(struct registry *reg, enum state_job_kind kind, const char *id)
{
    struct state_job *job = new_job(kind, id, 0);
    if (job == NULL)
        return REGISTRY_ERR;
    write_queue_submit(reg->state_writes, &job->item);
    return REGISTRY_OK;
}

enum registry_result registry_device_set_connected(struct registry *reg, const char *id,
                                                   int connected)
{
    return submit(reg, connected ? JOB_CONNECTED : JOB_DISCONNECTED, id);
}

enum registry_result registry_device_touch(struct registry *reg, const char *id)
{
    return submit(reg, JOB_TOUCH, id);
}

enum registry_result registry_reset_connections(struct registry *reg)
{
    return submit(reg, JOB_RESET_CONNECTIONS, NULL);
}

void registry_state_flush(struct registry *reg)
{
    write_queue_flush(reg->state_writes);
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

/* Copies s into the job's text and returns the copy (NULL stays NULL). */
static const char *keep(struct state_job *job, size_t *used, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *copy = job->text + *used;
    memcpy(copy, s, n);
    *used += n;
    return copy;
}

static size_t text_size(const struct log_record *r)
{
    const char *fields[] = {r->category,  r->operation,   r->device_id, r->module_id,
                            r->stream_id, r->stream_name, r->result,    r->message};
    size_t n = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        n += fields[i] != NULL ? strlen(fields[i]) + 1 : 0;
    return n;
}

enum registry_result registry_log_append(struct registry *reg, const struct log_record *r)
{
    struct state_job *job = new_job(JOB_LOG, NULL, text_size(r));
    if (job == NULL)
        return REGISTRY_ERR;
    size_t used = 0;
    struct log_record *c = &job->record;
    *c = *r;
    if (r->time_utc[0] == '\0')
        memcpy(c->time_utc, job->time, sizeof c->time_utc);
    c->category = keep(job, &used, r->category);
    c->operation = keep(job, &used, r->operation);
    c->device_id = keep(job, &used, r->device_id);
    c->module_id = keep(job, &used, r->module_id);
    c->stream_id = keep(job, &used, r->stream_id);
    c->stream_name = keep(job, &used, r->stream_name);
    c->result = keep(job, &used, r->result);
    c->message = keep(job, &used, r->message);
    write_queue_submit(reg->state_writes, &job->item);
    return REGISTRY_OK;
}

static void bind_log_record(sqlite3_stmt *st, const struct log_record *r)
{
    sqlite3_bind_text(st, 1, r->time_utc, -1, SQLITE_STATIC);
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
}

/* With state_lock held: performs one job. Returns 0, or -1 when it failed (logged). */
static int run_job(struct registry *reg, const struct state_job *job)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->state_db, job_sql[job->kind], -1, &st, NULL) != SQLITE_OK) {
        log_error_limited("registry", "preparing a state write failed: %s",
                          sqlite3_errmsg(reg->state_db));
        return -1;
    }
    if (job->kind == JOB_LOG) {
        bind_log_record(st, &job->record);
    } else {
        bind_text_or_null(st, 1, job->id[0] != '\0' ? job->id : NULL);
        sqlite3_bind_text(st, 2, job->time, -1, SQLITE_STATIC);
    }
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    if (rc != 0)
        log_error_limited("registry", "a state write failed: %s", sqlite3_errmsg(reg->state_db));
    sqlite3_finalize(st);
    return rc;
}

/* With state_lock held: deletes all but the newest `keep` log rows. */
static void prune_logs(struct registry *reg, size_t keep)
{
    /* Ids only grow (INTEGER PRIMARY KEY, rows deleted from the oldest up), so the newest
     * `keep` rows are those above MAX(id) - keep: a range delete on the primary key. */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(reg->state_db,
                                "DELETE FROM logs WHERE id <= (SELECT MAX(id) FROM logs) - ?1", -1,
                                &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)keep);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE)
        log_error("registry", "pruning the log failed: %s", sqlite3_errmsg(reg->state_db));
    sqlite3_finalize(st);
}

/* Commits a batch in one transaction: one fsync at most, whatever its size. The log is pruned
 * each time it has grown by a tenth of its limit. */
static void write_batch(void *ctx, const struct write_queue_item *batch)
{
    struct registry *reg = ctx;
    size_t limit = reg->log_limit;
    pthread_mutex_lock(&reg->state_lock);
    int in_tx = sqlite3_exec(reg->state_db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    int ok = in_tx;
    for (const struct ih_fifo_link *i = &batch->link; i != NULL; i = i->next) {
        const struct state_job *j = (const struct state_job *)i;
        ok &= run_job(reg, j) == 0;
        reg->logs_since_prune += j->kind == JOB_LOG;
    }
    if (reg->logs_since_prune * 10 >= limit) {
        prune_logs(reg, limit);
        reg->logs_since_prune = 0;
    }
    if (in_tx && sqlite3_exec(reg->state_db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        log_error_limited("registry", "committing state writes failed: %s",
                          sqlite3_errmsg(reg->state_db));
        ok = 0;
    }
    pthread_mutex_unlock(&reg->state_lock);
    registry_note_write(reg, ok);
}

static void free_job(struct write_queue_item *item)
{
    free(item);
}

static const struct write_queue_ops state_write_ops = {write_batch, free_job};

enum registry_result registry_state_start(struct registry *reg)
{
    reg->state_writes = write_queue_start("registry", QUEUE_MAX, &state_write_ops, reg);
    return reg->state_writes != NULL ? REGISTRY_OK : REGISTRY_ERR;
}

void registry_state_stop(struct registry *reg)
{
    write_queue_stop(reg->state_writes);
    reg->state_writes = NULL;
}

void registry_set_log_limit(struct registry *reg, size_t rows)
{
    reg->log_limit = rows;
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
    write_queue_flush(reg->state_writes); /* what happened before the call is in the answer */
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
