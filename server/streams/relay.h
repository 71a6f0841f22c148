/* The bytes of a device stream (docs/protocol.md rules 13-14): the two WebSockets of a bridge,
 * paired, with one queue per direction.
 *
 * - Either side may come first; what it sends before its peer arrives is queued, not dropped.
 * - Frames keep their opcode (text or binary) and their boundaries: a frame arrives in pieces
 *   (as the socket gives them, ws_frame.c), which are joined again before the frame is passed
 *   on, up to a quarter of the connection memory (at most RELAY_FRAME_MAX); nothing is injected.
 * - A queue above half the connection memory pauses its sender until it drains below an eighth,
 *   so a fast sender facing a slow reader costs bounded memory.
 * - A message larger than the limit (--max-message-bytes) ends the stream with 1009.
 * - A side that breaks the protocol (a frame it did not mask: 1002; text that is not UTF-8:
 *   1007, found by ws_frame.c) ends the stream with that code at once (relay_fail).
 * - A side that closes, or whose TCP connection drops, closes the other with the same code
 *   (1001 for a drop) once what was queued for it is sent, or after RELAY_CLOSE_FLUSH_S.
 * - The peak of each queue is kept in the stream core (GET /emulator/streams shows it).
 *
 * The relay does no I/O: it takes events (a piece of a frame from a side, a side may write, a
 * side closed or left, a bridge to close) and asks for actions through struct relay_io (write
 * this frame, want to write, pause or resume reading a side, close a side after its queue),
 * which bridge_conn.c performs with lws and tests/unit/test_relay.c records. Everything here
 * runs on the streaming endpoint's one service thread. */
#ifndef RELAY_H
#define RELAY_H

#include "stream_core.h"
#include "ws_frame.h"

#include <stddef.h>

/* Frames up to this size go out whole; a larger one (beyond the real gateway's 64 KiB) goes out
 * as a fragmented message of pieces this size, which keeps memory bounded. */
#define RELAY_FRAME_MAX (256 * 1024)
/* The close code of a message past the limit (RFC 6455 §7.4.1: too big to process). */
#define RELAY_CLOSE_TOO_BIG WS_CLOSE_TOO_BIG
/* For a side whose TCP connection dropped without a Close frame (1006 may not be sent). */
#define RELAY_CLOSE_GONE WS_CLOSE_GOING_AWAY
/* A side being closed has this long to take what is queued for it before it is cut off. */
#define RELAY_CLOSE_FLUSH_S 10

struct relay;
struct bridge;

struct relay_limits {
    size_t connection_memory; /* bytes held for one connection, at most (>= 64 KiB) */
    size_t max_message;       /* bytes of one message; 0: no limit */
    size_t write_headroom;    /* bytes the writer may use before a frame it is given */
};

/* The actions the relay asks of a side's connection (`conn`, as given to relay_join). */
struct relay_io {
    /* Call relay_writable for this side once it can write. */
    void (*want_write)(void *conn);
    /* Stop (0) or resume (1) reading from this side. */
    void (*read_flow)(void *conn, int on);
    /* This side closes once its queue is written: call relay_writable, and cut the connection
     * off if that takes longer than RELAY_CLOSE_FLUSH_S. */
    void (*close_after_flush)(void *conn);
    /* Writes one whole frame, header included, with write_headroom bytes free before it. 0, or
     * -1 when the connection failed. */
    int (*write)(void *conn, unsigned char *frame, size_t len);
    /* The bytes now queued towards side `to` (the stream keeps their peak). conn is the side
     * that sent them. */
    void (*queued)(void *conn, enum stream_side to, size_t bytes);
};

/* io is borrowed for the relay's life. */
struct relay *relay_new(const struct relay_limits *limits, const struct relay_io *io);
void relay_free(struct relay *r);

/* A side's WebSocket is up: joins (or starts) the bridge of stream id, until relay_left. conn is
 * what the relay's io gets for this side. NULL when out of memory. */
struct bridge *relay_join(struct relay *r, const char *id, enum stream_side side, void *conn);

enum relay_result {
    RELAY_OK = 0,
    RELAY_NO_MEMORY, /* the caller closes the connection */
    RELAY_TOO_BIG,   /* past max_message: the caller closes it with 1009; the peer gets 1009 too */
};

/* A piece of a data frame from side `from` (ws_frame.c read it). */
enum relay_result relay_receive(struct bridge *b, enum stream_side from,
                                const struct ws_piece *piece);

enum relay_write {
    RELAY_WRITE_DONE,   /* a frame went, or there was none to write */
    RELAY_WRITE_FAILED, /* the connection must close now */
    RELAY_WRITE_CLOSE,  /* everything queued went and the side is closing: send the Close frame
                         * (relay_close_code) */
};

/* Side `to` may write: one frame goes out with its WebSocket header (io->write). */
enum relay_write relay_writable(struct bridge *b, enum stream_side to);

/* The code and reason the stream ends with, for a side's Close frame. */
int relay_close_code(const struct bridge *b, const unsigned char **reason, size_t *len);

/* Side `from` sent a Close frame (code WS_CLOSE_NO_STATUS when it gave none): the other side is
 * closed with the same code and reason once its queue is sent. */
void relay_peer_closed(struct bridge *b, enum stream_side from, int code, const void *reason,
                       size_t len);

/* Side `from` broke the protocol: the other side is closed with code and reason at once (after
 * what is queued for it). */
void relay_fail(struct bridge *b, enum stream_side from, int code, const char *reason);

/* Side `side`'s connection is gone. Its peer is closed once its queue is sent; the bridge is
 * freed when both are gone. Returns the stream's close code, and in *first the side that ended
 * the stream (the one that sent the first Close, or this one). */
int relay_left(struct relay *r, struct bridge *b, enum stream_side side, enum stream_side *first);

/* Closes every side of bridge id still present, with code and reason (deadline, rejection). */
void relay_close_bridge(struct relay *r, const char *id, int code, const char *reason);

/* The bytes queued towards side `to` (tests and views). */
size_t relay_queued(const struct bridge *b, enum stream_side to);

#endif
