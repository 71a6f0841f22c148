/* One emulator per state directory: two emulators sharing a registry file and a broker config would
 * each rewrite what the other relies on. The first takes an exclusive lock on a file in the
 * directory for its whole life; a second one is refused at once and told who holds it. The lock
 * goes with the process (flock), so a crash never leaves it behind. */
#ifndef STATE_LOCK_H
#define STATE_LOCK_H

#include <stddef.h>
#include <sys/types.h>

#define STATE_LOCK_FILE "emulator.lock"

enum state_lock_result {
    STATE_LOCK_OK,
    STATE_LOCK_HELD, /* another process holds it; *holder is its pid, or 0 if unknown */
    STATE_LOCK_IO,   /* the lock file could not be opened or locked: see errno */
};

struct state_lock {
    int fd; /* -1 when not held */
};

/* Takes the lock of dir and writes this process's pid into the lock file. */
enum state_lock_result state_lock_take(const char *dir, struct state_lock *lock, pid_t *holder);

/* Lets go of it (at exit; the kernel does the same if the process dies). */
void state_lock_release(struct state_lock *lock);

#endif
