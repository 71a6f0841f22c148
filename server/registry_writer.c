/* The writer of the registry's fast-changing state (connection state, the stream log): one
 * thread that takes the writes other threads queue and commits them in batches, so the MQTT
 * and streaming threads never wait on SQLite, nor on a WAL checkpoint's fsync. */
#include "registry.h"
#include "registry_internal.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

/* Beyond this many waiting writes, new ones are dropped (and counted) rather than let memory
 * grow without bound. */
#define QUEUE_MAX 100000

static void *write_loop(void *arg);

int registry_writer_start(struct registry *reg)
{
    struct state_writer *w = &reg->writer;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, write_loop, reg) != 0)
        return -1;
    w->running = 1;
    return 0;
}

void registry_writer_stop(struct registry *reg)
{
    struct state_writer *w = &reg->writer;
    if (!w->running)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    w->running = 0;
}

void registry_writer_submit(struct registry *reg, struct state_job *job)
{
    struct state_writer *w = &reg->writer;
    pthread_mutex_lock(&w->lock);
    if (w->queued >= QUEUE_MAX) {
        if (w->dropped++ % 1000 == 0)
            log_warn("registry", "the state writer is %d writes behind: dropping (%lu so far)",
                     QUEUE_MAX, w->dropped);
        free(job);
    } else {
        job->next = NULL;
        if (w->tail != NULL)
            w->tail->next = job;
        else
            w->head = job;
        w->tail = job;
        w->queued++;
        w->submitted++;
        pthread_cond_signal(&w->work);
    }
    pthread_mutex_unlock(&w->lock);
}

void registry_writer_flush(struct registry *reg)
{
    struct state_writer *w = &reg->writer;
    pthread_mutex_lock(&w->lock);
    unsigned long target = w->submitted;
    while (w->written < target)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

/* Commits a batch in one transaction: one fsync at most, whatever its size. The log is pruned
 * each time it has grown by a tenth of its limit. */
static void write_batch(struct registry *reg, struct state_job *batch)
{
    struct state_writer *w = &reg->writer;
    size_t limit = reg->log_limit;
    pthread_mutex_lock(&reg->state_lock);
    int in_tx = sqlite3_exec(reg->state_db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    int ok = in_tx;
    for (struct state_job *j = batch; j != NULL; j = j->next) {
        ok &= registry_state_run(reg, j) == 0;
        w->logs_since_prune += j->kind == JOB_LOG;
    }
    if (w->logs_since_prune * 10 >= limit) {
        registry_state_prune_logs(reg, limit);
        w->logs_since_prune = 0;
    }
    if (in_tx && sqlite3_exec(reg->state_db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        log_error_limited("registry", "committing state writes failed: %s",
                          sqlite3_errmsg(reg->state_db));
        ok = 0;
    }
    pthread_mutex_unlock(&reg->state_lock);
    registry_note_write(reg, ok);
}

static void *write_loop(void *arg)
{
    struct registry *reg = arg;
    struct state_writer *w = &reg->writer;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->work, &w->lock);
        if (w->head == NULL)
            break; /* stopping, and everything is written */
        struct state_job *batch = w->head;
        unsigned long n = w->queued;
        w->head = w->tail = NULL;
        w->queued = 0;
        pthread_mutex_unlock(&w->lock);
        write_batch(reg, batch);
        while (batch != NULL) {
            struct state_job *next = batch->next;
            free(batch);
            batch = next;
        }
        pthread_mutex_lock(&w->lock);
        w->written += n;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}
