/* WebSocket frames at the streaming endpoint (RFC 6455 §5), sans-I/O: the reader takes a
 * client's bytes as they come, split anywhere, unmasks payloads in place and hands over data
 * pieces, pings and the client's Close; the writer makes the headers of the server's frames.
 *
 * The reader refuses what a server must refuse (§5.1-5.5, §7.4, §8.1): a frame the client did
 * not mask, reserved bits (no extension is agreed), an unknown opcode, a control frame that is
 * fragmented or longer than 125 bytes, a continuation with no message to continue or a new
 * message inside one, a 64-bit length with its top bit set, a Close payload of one byte or an
 * invalid code (1002), and a text message or a Close reason that is not UTF-8 (1007). Text is
 * checked before each piece is handed over, so bad bytes are never passed on. */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include "protocol/utf8.h"

#include <stddef.h>
#include <stdint.h>

#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL_ERROR 1002
#define WS_CLOSE_NO_STATUS 1005 /* a Close frame without a code: never sent on */
#define WS_CLOSE_BAD_DATA 1007
#define WS_CLOSE_TOO_BIG 1009
/* A server frame's header: 2 bytes, plus 2 or 8 of length; never a mask. */
#define WS_HEADER_MAX 10
#define WS_CONTROL_MAX 125
/* A Close reason: the control payload less its 2-byte code. */
#define WS_CLOSE_REASON_MAX (WS_CONTROL_MAX - 2)

enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

/* A piece of a data frame's payload, unmasked. */
struct ws_piece {
    const void *data;
    size_t len;
    uint64_t remaining; /* bytes of the same frame still to come */
    int first;          /* the frame starts a message (text or binary, not a continuation) */
    int final;          /* the frame ends its message (FIN) */
    int binary;         /* the message is binary, not text */
};

struct ws_reader_ops {
    /* A piece of a data frame (an empty frame is one empty piece). 0 to go on, -1 to stop
     * reading: the caller closes the connection. */
    int (*data)(void *ctx, const struct ws_piece *piece);
    void (*ping)(void *ctx, const unsigned char *payload, size_t len);
    /* The client's Close (code WS_CLOSE_NO_STATUS when it gave none); reading stops. */
    void (*close)(void *ctx, int code, const unsigned char *reason, size_t len);
};

enum ws_read_result {
    WS_READ_MORE,    /* every byte was taken; more may come */
    WS_READ_STOPPED, /* the data callback said stop, or the Close came: read no more */
    WS_READ_REFUSED, /* the client broke the protocol: close with *code (why says how) */
};

struct ws_reader {
    int state;
    unsigned char buf[8]; /* an extended length or a mask key, as it arrives */
    unsigned have, need;
    int fin, opcode;
    uint64_t remaining;
    unsigned char mask[4];
    unsigned mask_at;
    int in_message, message_binary, frame_first;
    struct ih_utf8_stream utf8; /* of the text message under way */
    unsigned char control[WS_CONTROL_MAX];
    size_t control_len;
    int done; /* stopped or refused: nothing more is read */
};

void ws_reader_init(struct ws_reader *r);

/* Reads data[0..len), unmasking payloads in place. On WS_READ_REFUSED, *code is the close code
 * to send (1002 or 1007) and *why says what was wrong. */
enum ws_read_result ws_reader_feed(struct ws_reader *r, unsigned char *data, size_t len,
                                   const struct ws_reader_ops *ops, void *ctx, int *code,
                                   const char **why);

/* The header of a server frame (never masked) into out; returns its length (2, 4 or 10). */
size_t ws_frame_header(unsigned char out[WS_HEADER_MAX], enum ws_opcode op, int fin, uint64_t len);

/* A whole Close frame with code and reason (cut to WS_CLOSE_REASON_MAX) into out; returns its
 * length. */
size_t ws_close_frame(unsigned char out[WS_HEADER_MAX + WS_CONTROL_MAX], int code,
                      const void *reason, size_t len);

/* Whether a client may send code in a Close frame (§7.4.1-7.4.2). */
int ws_close_code_valid(int code);

#endif
