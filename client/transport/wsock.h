/* A stream's WebSocket as a byte pipe (docs/protocol.md §3.2): opened with `Authorization: Bearer
 * TOKEN` (and, as the C SDK does, an optional Sec-WebSocket-Protocol), then read and written like a
 * socket.
 *
 * Threading: every call blocks its caller, and may be made from any thread; the I/O runs on the
 * loop's thread. One thread may read while another writes. Received bytes are queued up to
 * IH_WSOCK_HIGH_WATER, past which the peer is not read (flow control) until a reader drains the
 * queue; writes queue up to IH_WSOCK_HIGH_WATER and then block, so a slow peer slows its writer
 * instead of growing memory. */
#ifndef IH_WSOCK_H
#define IH_WSOCK_H

#include "loop.h"

#include <stddef.h>
#include <sys/types.h>

#define IH_WSOCK_HIGH_WATER (256 * 1024)
#define IH_WSOCK_LOW_WATER (64 * 1024)
/* Writes go out in binary frames of at most this size: the real gateway's limit
 * (docs/protocol.md rule 13), which the C proxy sample respects too. */
#define IH_WSOCK_FRAME_MAX (64 * 1024)

struct ih_wsock;

struct ih_wsock_options {
    const char *url;         /* ws:// or wss://HOST:PORT/PATH */
    const char *bearer;      /* the token for Authorization: Bearer */
    const char *subprotocol; /* NULL: none asked for (C#, Node); "MQTT" etc. like the C SDK */
    int timeout_ms;          /* for the connection and the upgrade; 0 for 10 s */
};

/* Connects and upgrades. Returns 0, or -1 with err saying why (the HTTP status of a refused
 * upgrade included). */
int ih_wsock_open(struct ih_loop *loop, const struct ih_wsock_options *o, struct ih_wsock **out,
                  char *err, size_t err_len);

/* Up to cap received bytes (frame boundaries are not kept). Blocks until there is some.
 * Returns the count, or 0 once the WebSocket is closed and everything received was read
 * (ih_wsock_close_code says how it ended: 1006 when the connection dropped). */
ssize_t ih_wsock_read(struct ih_wsock *ws, void *buf, size_t cap);

/* Queues len bytes as binary frames. Blocks while the send queue is full. Returns 0, or -1 when
 * the WebSocket is closed or closing. */
int ih_wsock_write(struct ih_wsock *ws, const void *buf, size_t len);

/* Sends what is queued, then a Close frame with code (1000 when code may not be sent) and
 * reason; returns at once. Reads go on until the peer's Close arrives. */
void ih_wsock_close(struct ih_wsock *ws, int code, const char *reason);

/* How the WebSocket ended: the code of the peer's Close, the code this side sent when it
 * closed first, or 1006 when the connection dropped; 0 while open. reason (may be NULL) gets
 * the Close's reason. */
int ih_wsock_close_code(struct ih_wsock *ws, char *reason, size_t reason_len);

/* The subprotocol the server chose, "" for none. */
const char *ih_wsock_subprotocol(struct ih_wsock *ws);

/* Closes (1000) if still open, waits until the connection is gone, and frees. */
void ih_wsock_free(struct ih_wsock *ws);

/* The loop's lws callback for WebSockets. */
/* The WebSockets' kind of connection, for the loop's options (client_loop.c). */
extern const struct lws_protocols ih_wsock_protocol;

#endif
