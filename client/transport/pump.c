#include "pump.h"

#include "fd_write.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One frame's worth: the real gateway's 64 KiB limit (docs/protocol.md rule 13). */
#define PIECE (64 * 1024)

struct pump {
    const struct ih_pump_stream *s;
    int in_fd, out_fd;
    int stop[2]; /* written once the stream has ended: the local reader stops */
    struct ih_pump_totals *totals;
};

/* Local input to the stream, until the input ends or the stream has. */
static void *local_to_stream(void *arg)
{
    struct pump *p = arg;
    unsigned char *buf = malloc(PIECE);
    struct pollfd fds[2] = {{p->in_fd, POLLIN, 0}, {p->stop[0], POLLIN, 0}};
    int local_ended = 0;
    while (buf != NULL) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents != 0)
            break; /* the stream ended first */
        ssize_t n = read(p->in_fd, buf, PIECE);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if ((local_ended = n <= 0))
            break;
        if (p->s->write(p->s->ctx, buf, (size_t)n) != 0)
            break; /* the stream is closed */
        p->totals->to_stream += (uint64_t)n;
    }
    free(buf);
    if (local_ended) {
        p->totals->local_ended_first = 1;
        p->s->close(p->s->ctx, 1000, "");
    }
    return NULL;
}

int ih_pump_run(const struct ih_pump_stream *s, int in_fd, int out_fd,
                struct ih_pump_totals *totals)
{
    struct pump p = {s, in_fd, out_fd, {-1, -1}, totals};
    memset(totals, 0, sizeof *totals);
    pthread_t up;
    unsigned char *buf = malloc(PIECE);
    if (buf == NULL || pipe2(p.stop, O_CLOEXEC) != 0) {
        free(buf);
        return -1;
    }
    if (pthread_create(&up, NULL, local_to_stream, &p) != 0) {
        free(buf);
        close(p.stop[0]);
        close(p.stop[1]);
        return -1;
    }
    for (;;) {
        ssize_t n = s->read(s->ctx, buf, PIECE);
        if (n <= 0 || ih_write_all(out_fd, buf, (size_t)n) != 0)
            break;
        totals->from_stream += (uint64_t)n;
    }
    /* The stream is over (or the local side stopped taking bytes): stop reading, and tell the
     * local peer there is nothing more. */
    s->close(s->ctx, 1000, "");
    if (write(p.stop[1], "x", 1) < 0) {
        /* the reader also stops when the stream refuses its next write */
    }
    shutdown(out_fd, SHUT_WR);
    pthread_join(up, NULL);
    free(buf);
    close(p.stop[0]);
    close(p.stop[1]);
    return 0;
}
