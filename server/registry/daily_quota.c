#include "daily_quota.h"

#include "shared_file.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>

#define DAY_MS 86400000LL

/* One row: the day (days since 1970, UTC) and its count. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS daily_messages ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " day INTEGER NOT NULL,"
    " used INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO daily_messages (id, day, used) VALUES (1, 0, 0);";

/* One statement, so the check and the count are one step for both processes: a new day starts
 * from 0, and the row changes only when the count stays within ?4 (or ?3 forces it). */
static const char take_sql[] =
    "UPDATE daily_messages SET"
    " used = (CASE WHEN day = ?1 THEN used ELSE 0 END) + ?2, day = ?1"
    " WHERE id = 1 AND (?3 OR (CASE WHEN day = ?1 THEN used ELSE 0 END) + ?2 <= ?4)"
    " RETURNING used";

static const char used_sql[] =
    "SELECT CASE WHEN day = ?1 THEN used ELSE 0 END FROM daily_messages WHERE id = 1";

struct daily_quota {
    sqlite3 *db;
    sqlite3_stmt *take, *used;
};

struct daily_quota *daily_quota_open(const char *path, int create, char *err, size_t cap)
{
    struct daily_quota *q = calloc(1, sizeof *q);
    if (q == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    if (shared_file_open(path, create, schema, "the quota file", &q->db, err, cap) != 0 ||
        shared_file_prepare(q->db, take_sql, &q->take, "the quota count", err, cap) != 0 ||
        shared_file_prepare(q->db, used_sql, &q->used, "the quota read", err, cap) != 0) {
        daily_quota_close(q);
        return NULL;
    }
    return q;
}

void daily_quota_close(struct daily_quota *q)
{
    if (q == NULL)
        return;
    sqlite3_finalize(q->take);
    sqlite3_finalize(q->used);
    sqlite3_close(q->db);
    free(q);
}

long long daily_quota_messages(size_t len)
{
    return len == 0 ? 1 : (long long)((len + DAILY_QUOTA_BLOCK - 1) / DAILY_QUOTA_BLOCK);
}

/* The day's count as it stands, into *used. */
static int read_used(struct daily_quota *q, long long day, long long *used)
{
    sqlite3_reset(q->used);
    sqlite3_bind_int64(q->used, 1, day);
    int rc = sqlite3_step(q->used);
    *used = rc == SQLITE_ROW ? sqlite3_column_int64(q->used, 0) : 0;
    sqlite3_reset(q->used);
    return rc == SQLITE_ROW ? 0 : -1;
}

enum daily_take daily_quota_take(struct daily_quota *q, long long messages, long long limit,
                                 int force, int64_t now_ms, long long *used, char *err, size_t cap)
{
    long long day = now_ms / DAY_MS;
    sqlite3_stmt *st = q->take;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, day);
    sqlite3_bind_int64(st, 2, messages);
    sqlite3_bind_int(st, 3, force != 0);
    sqlite3_bind_int64(st, 4, limit);
    int rc = sqlite3_step(st);
    int taken = rc == SQLITE_ROW; /* the row changed, and says the new count */
    if (taken) {
        *used = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st); /* to the end, which commits */
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, cap, "cannot count against the daily quota: %s", sqlite3_errmsg(q->db));
        return DAILY_FAILED;
    }
    if (taken)
        return DAILY_TAKEN;
    if (read_used(q, day, used) != 0) {
        snprintf(err, cap, "cannot read the daily quota: %s", sqlite3_errmsg(q->db));
        return DAILY_FAILED;
    }
    return DAILY_EXCEEDED;
}

void daily_quota_reason(long long limit, long long used, char *out, size_t cap)
{
    snprintf(out, cap,
             "the hub's daily quota of %lld messages is used up (%lld counted today in 4 KB "
             "blocks; --quota daily=N, or --fidelity strict's 400000); it starts again at 00:00 "
             "UTC",
             limit, used);
}
