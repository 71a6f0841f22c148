/* What registry.c and registry_state.c share: the store itself. Not for other modules. */
#ifndef REGISTRY_INTERNAL_H
#define REGISTRY_INTERNAL_H

#include "registry.h"

#include <pthread.h>
#include <sqlite3.h>

struct registry {
    sqlite3 *db;       /* identity writes: synchronous=FULL, committed before the reply */
    sqlite3 *state_db; /* connection state: synchronous=NORMAL, rebuilt at every start */
    pthread_mutex_t lock;
    /* The state connection has its own lock, so a device's connect never waits for an identity
     * write's fsync (and the other way round). */
    pthread_mutex_t state_lock;
};

#endif
