#include "state_lock.h"

#include "fsutil.h"

#include "protocol/number.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The pid a holder wrote, or 0. The holder writes it just after it takes the lock, so a reader
 * may see the file empty for that instant. */
static pid_t read_holder(int fd)
{
    char text[24] = "";
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    uint64_t pid = 0; /* the file holds the pid and a newline */
    if (ih_parse_uint_n(text, strspn(text, "0123456789"), INT32_MAX, &pid) != IH_OK)
        return 0;
    return (pid_t)pid;
}

static int write_pid(int fd)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    return ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) == n ? 0 : -1;
}

enum state_lock_result state_lock_take(const char *dir, struct state_lock *lock, pid_t *holder)
{
    enum state_lock_result rc = STATE_LOCK_IO;
    lock->fd = -1;
    *holder = 0;
    char *path = fs_join(dir, STATE_LOCK_FILE);
    /* Close-on-exec: the broker child must not carry the lock past the emulator's life. */
    int fd = path != NULL ? open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
    if (fd < 0)
        goto done;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            rc = STATE_LOCK_HELD;
            *holder = read_holder(fd);
        }
        goto done;
    }
    if (write_pid(fd) != 0)
        goto done;
    lock->fd = fd;
    fd = -1;
    rc = STATE_LOCK_OK;
done:
    if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    free(path);
    return rc;
}

void state_lock_release(struct state_lock *lock)
{
    if (lock->fd >= 0)
        close(lock->fd);
    lock->fd = -1;
}
