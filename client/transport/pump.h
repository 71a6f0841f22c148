/* Relaying a stream and local file descriptors both ways: the local proxies' core, on the service
 * side (a local TCP connection, or stdin/stdout for ssh's ProxyCommand) and on the device side (the
 * connection to the target). Like the SDKs' proxy samples, bytes go out in binary frames of at most
 * 64 KiB and no framing is added.
 *
 * Either end finishing ends both: local input at its end closes the stream (1000), and the
 * stream closed by the peer ends the local side (its output is shut down). */
#ifndef IH_PUMP_H
#define IH_PUMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The stream, as the pump sees it (a service stream or a device's WebSocket). */
struct ih_pump_stream {
    ssize_t (*read)(void *ctx, void *buf, size_t cap); /* 0 once closed */
    int (*write)(void *ctx, const void *buf, size_t len);
    void (*close)(void *ctx, int code, const char *reason);
    void *ctx;
};

struct ih_pump_totals {
    uint64_t to_stream, from_stream;
    int local_ended_first; /* the local side ended before the stream did */
};

/* Runs until both directions are done. in_fd is read (to the stream), out_fd written (from
 * it); the same socket may be both. Returns 0, or -1 when a thread could not be started. */
int ih_pump_run(const struct ih_pump_stream *s, int in_fd, int out_fd,
                struct ih_pump_totals *totals);

#endif
