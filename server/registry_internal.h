/* What registry.c and registry_state.c share: the store itself. Not for other modules. */
#ifndef REGISTRY_INTERNAL_H
#define REGISTRY_INTERNAL_H

#include "registry.h"

#include <pthread.h>
#include <sqlite3.h>

/* One queued write of the state connection (registry_state.c builds them, registry_writer.c
 * runs them in order). */
enum state_job_kind {
    JOB_CONNECTED,
    JOB_DISCONNECTED,
    JOB_TOUCH,
    JOB_RESET_CONNECTIONS,
    JOB_LOG,
};

struct state_job {
    struct state_job *next;
    enum state_job_kind kind;
    char time[TIME_TEXT_SIZE]; /* when it happened, not when it is written */
    char id[IH_ID_MAX_LEN + 1];
    struct log_record record; /* JOB_LOG; its strings point into text */
    char text[];
};

struct state_writer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    struct state_job *head, *tail;
    unsigned long queued, submitted, written, dropped;
    unsigned long logs_since_prune; /* the writer thread's */
    int running, stopping;
};

struct registry {
    sqlite3 *db;       /* identity writes: synchronous=FULL, committed before the reply */
    sqlite3 *state_db; /* connection state: synchronous=NORMAL, rebuilt at every start */
    pthread_mutex_t lock;
    /* The state connection has its own lock, so a device's connect never waits for an identity
     * write's fsync (and the other way round). */
    pthread_mutex_t state_lock;
    struct state_writer writer;
    _Atomic size_t log_limit;   /* rows the log keeps (registry_set_log_limit) */
    _Atomic int writes_failing; /* the last write of either connection failed */
};

/* Every write's outcome: a failed one makes the registry degraded until a write succeeds. */
void registry_note_write(struct registry *reg, int ok);

int registry_writer_start(struct registry *reg);
/* Writes what is queued, then stops the thread. */
void registry_writer_stop(struct registry *reg);
/* Takes the job (freed once written). */
void registry_writer_submit(struct registry *reg, struct state_job *job);
/* Returns once every job submitted before the call is written. */
void registry_writer_flush(struct registry *reg);
/* The writer thread, with state_lock held: performs one job. Returns 0, or -1 when it failed
 * (logged). */
int registry_state_run(struct registry *reg, const struct state_job *job);
/* The writer thread, with state_lock held: deletes all but the newest `keep` log rows. */
void registry_state_prune_logs(struct registry *reg, size_t keep);

#endif
