/* What registry.c and registry_state.c share: the store itself. Not for other modules. */
#ifndef REGISTRY_STORE_H
#define REGISTRY_STORE_H

#include "log.h"
#include "registry_result.h"
#include "registry_watcher.h"
#include "write_queue.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>

struct registry {
    sqlite3 *db;       /* identity writes: synchronous=FULL, committed before the reply */
    sqlite3 *state_db; /* connection state: synchronous=NORMAL, rebuilt at every start */
    pthread_mutex_t lock;
    /* The state connection has its own lock, so a device's connect never waits for an identity
     * write's fsync (and the other way round). */
    pthread_mutex_t state_lock;
    struct write_queue *state_writes; /* registry_state.c's */
    size_t logs_since_prune;          /* the state writes' thread only */
    _Atomic size_t log_limit;         /* rows the log keeps (registry_set_log_limit) */
    _Atomic int writes_failing;       /* the last write of either connection failed */
    /* registry_set_watchers: set while the main endpoint is stopped */
    struct registry_watcher watchers[REGISTRY_MAX_WATCHERS];
    size_t watcher_count;
};

struct device;

/* registry.c's helpers for the other files of the store (registry_twins.c). */
void registry_lock(struct registry *reg);
void registry_unlock(struct registry *reg);
/* Logs what failed and returns REGISTRY_ERR. */
enum registry_result registry_sql_failed(struct registry *reg, const char *what);
/* Runs body inside BEGIN IMMEDIATE ... COMMIT, rolling back when it fails; callers hold the
 * lock. */
enum registry_result
registry_in_transaction(struct registry *reg,
                        enum registry_result (*body)(struct registry *, void *), void *arg);
/* Callers hold the lock. */
enum registry_result registry_get_locked(struct registry *reg, const char *id, struct device *out);

/* Every write's outcome: a failed one makes the registry degraded until a write succeeds. */
static inline void registry_note_write(struct registry *reg, int ok)
{
    if (atomic_exchange(&reg->writes_failing, !ok) == ok)
        log_warn("registry", ok ? "writes succeed again: the registry is up"
                                : "a write failed: the registry is degraded (see /health) until "
                                  "one succeeds; check the disk and the state directory");
}

#endif
