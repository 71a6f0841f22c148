/* A SQLite file that the emulator and its broker's plugin both write (the telemetry, the daily
 * message count): WAL with synchronous=NORMAL, so a write is in the file (the operating
 * system's, not yet the disk's) when it returns and survives either process being killed, and
 * a busy timeout, so one process waits for the other's write. One connection per thread. */
#ifndef SHARED_FILE_H
#define SHARED_FILE_H

#include <sqlite3.h>

#include <stddef.h>

/* Opens path as *db (set even on failure: close it); create != 0 makes the file when missing and
 * runs schema on it, else the file must exist. 0, or -1 with err naming what ("the telemetry
 * file"). */
int shared_file_open(const char *path, int create, const char *schema, const char *what,
                     sqlite3 **db, char *err, size_t cap);

/* Prepares sql, kept for the connection's life, as *st. 0, or -1 with err naming what. */
int shared_file_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, const char *what,
                        char *err, size_t cap);

#endif
