/* The bytes of a device stream (issue 4, protocol.md rules 13-14, prototypes.md §2): the two
 * WebSockets of a bridge, paired, with one queue per direction.
 *
 * - Either side may come first; what it sends before its peer arrives is queued, not dropped.
 * - Frames keep their opcode (text or binary) and their boundaries: lws hands a frame over in
 *   pieces (a TLS record at a time), which are joined again before the frame is passed on, up to
 *   a quarter of the connection memory (at most RELAY_FRAME_MAX); nothing is injected.
 * - A queue above half the connection memory pauses its sender (lws_rx_flow_control) until it
 *   drains below an eighth, so a fast sender facing a slow reader costs bounded memory.
 * - A message larger than the limit (--max-message-bytes, issue 8) ends the stream with 1009.
 * - A text message that is not UTF-8 ends the stream with 1007 (RFC 6455 §8.1), checked as its
 *   pieces pass: what went before the bad byte may already be with the peer.
 * - A side that closes, or whose TCP connection drops, closes the other with the same code
 *   (1001 for a drop) once what was queued for it is sent, or after RELAY_CLOSE_FLUSH_S.
 * - The peak of each queue is kept in the stream core (GET /emulator/streams shows it).
 *
 * Everything here runs on the streaming endpoint's one service thread. */
#ifndef RELAY_H
#define RELAY_H

#include "stream_core.h"

#include <libwebsockets.h>
#include <stddef.h>

/* Frames up to this size go out whole; a larger one (beyond the real gateway's 64 KiB) goes out
 * as a fragmented message of pieces this size, which keeps memory bounded. */
#define RELAY_FRAME_MAX (256 * 1024)
/* The close code of a message past the limit (RFC 6455 §7.4.1: too big to process). */
#define RELAY_CLOSE_TOO_BIG 1009
/* The close code of a text message that is not UTF-8 (RFC 6455 §7.4.1, §8.1). */
#define RELAY_CLOSE_BAD_TEXT 1007
/* For a side whose TCP connection dropped without a Close frame (1006 may not be sent). */
#define RELAY_CLOSE_GONE 1001
/* A side being closed has this long to take what is queued for it before it is cut off. */
#define RELAY_CLOSE_FLUSH_S 10

struct relay;
struct bridge;

struct relay_limits {
    size_t connection_memory; /* bytes held for one connection, at most (>= 64 KiB) */
    size_t max_message;       /* bytes of one message; 0: no limit */
};

struct relay *relay_new(const struct relay_limits *limits);
void relay_free(struct relay *r);

/* A side's WebSocket is up: joins (or starts) the bridge of the stream, which the side holds
 * (stream_core_attach) until relay_left. NULL when out of memory. */
struct bridge *relay_join(struct relay *r, struct stream *stream, enum stream_side side,
                          struct lws *wsi);

/* A piece of a frame from side `from`, with lws's flags and the frame's bytes still to come
 * (lws_remaining_packet_payload). */
struct relay_piece {
    const void *data;
    size_t len;
    size_t remaining;
    int first, final, binary;
};

enum relay_result {
    RELAY_OK = 0,
    RELAY_NO_MEMORY, /* the caller closes the connection */
    RELAY_TOO_BIG,   /* past max_message: the caller closes it; the peer gets 1009 too */
    RELAY_BAD_TEXT,  /* text that is not UTF-8: the caller closes it; the peer gets 1007 too */
};

enum relay_result relay_receive(struct bridge *b, enum stream_side from,
                                const struct relay_piece *piece);

/* Side `to` may write. Returns -1 when the connection must close now (lws then sends the Close
 * frame set with lws_close_reason), else 0. */
int relay_writable(struct bridge *b, enum stream_side to);

/* Side `from` sent a Close frame (payload as lws gives it: a 2-byte code and a reason). */
void relay_peer_closed(struct bridge *b, enum stream_side from, const void *payload, size_t len);

/* Side `side`'s connection is gone. Its peer is closed once its queue is sent; the bridge is
 * freed when both are gone. Returns the stream's close code, and in *first the side that ended
 * the stream (the one that sent the first Close, or this one). */
int relay_left(struct relay *r, struct bridge *b, enum stream_side side, enum stream_side *first);

/* Closes every side of bridge id still present, with code and reason (deadline, rejection). */
void relay_close_bridge(struct relay *r, const char *id, int code, const char *reason);

/* The bytes queued towards side `to` (tests and views). */
size_t relay_queued(const struct bridge *b, enum stream_side to);

#endif
