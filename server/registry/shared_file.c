#include "shared_file.h"

#include <stdio.h>

/* The plugin writes on mosquitto's only thread; a write of the other process is waited for. */
#define BUSY_TIMEOUT_MS 2000

static int fail(sqlite3 *db, const char *doing, const char *what, char *err, size_t cap)
{
    snprintf(err, cap, "cannot %s %s: %s", doing, what,
             db != NULL ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

int shared_file_open(const char *path, int create, const char *schema, const char *what,
                     sqlite3 **db, char *err, size_t cap)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK)
        return fail(*db, "open", what, err, cap);
    sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
    if (sqlite3_exec(*db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK)
        return fail(*db, "set up", what, err, cap);
    if (create && sqlite3_exec(*db, schema, NULL, NULL, NULL) != SQLITE_OK)
        return fail(*db, "make the tables of", what, err, cap);
    return 0;
}

int shared_file_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, const char *what,
                        char *err, size_t cap)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return fail(db, "prepare", what, err, cap);
    return 0;
}
