/* The connections an endpoint holds, so a stranger cannot lock others out by opening many and
 * saying nothing. Every connection is counted; those with nothing under way (still in their TLS
 * handshake, still sending a request head, or idle between requests) are also kept in the order
 * they last did something. When a new connection takes the count past its limit, or the idle ones
 * past theirs, the table names the one to shed: the idle one quiet the longest. A connection with a
 * request under way is never shed.
 *
 * Sans-I/O and single-threaded: the endpoint calls it from its own I/O thread and closes what it
 * is told to. */
#ifndef CONN_TABLE_H
#define CONN_TABLE_H

#include <stddef.h>

/* Embedded in the endpoint's own record of a connection. */
struct conn_entry {
    struct conn_entry *older, *newer; /* in the idle list, while idle */
    int idle;                         /* in the idle list */
};

struct conn_table {
    struct conn_entry *oldest, *newest; /* the idle list, oldest first */
    size_t count, idle_count;
    size_t max_count, max_idle;
    size_t shed; /* connections named to shed, in all */
};

/* Most connections one endpoint holds, whatever the descriptors allow. */
#define CONN_TABLE_MAX 8192
/* Descriptors kept for everything else: the registry, the logs, the broker's pipes. */
#define CONN_TABLE_FD_RESERVE 256

/* An endpoint's share of the process's descriptors (its RLIMIT_NOFILE) when endpoints share
 * them: at most CONN_TABLE_MAX, at least 16. */
size_t conn_table_share(unsigned long long fd_limit, size_t endpoints);

void conn_table_init(struct conn_table *t, size_t max_count, size_t max_idle);

/* A new connection, idle until its first request. Returns the connection to shed (already out
 * of the idle list; it stays counted until removed), or NULL. */
struct conn_entry *conn_table_add(struct conn_table *t, struct conn_entry *e);

/* A request is under way on e: it is not shed until it is idle again. */
void conn_table_busy(struct conn_table *t, struct conn_entry *e);

/* e has nothing under way again: the newest idle one. */
void conn_table_idle(struct conn_table *t, struct conn_entry *e);

/* e is closed. */
void conn_table_remove(struct conn_table *t, struct conn_entry *e);

#endif
