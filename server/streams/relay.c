#include "relay.h"

#include "strmap.h"

#include "util/fifo.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#define BRIDGE_BUCKETS 1024

struct chunk {
    struct ih_fifo_link link; /* first: the queue links chunks through it */
    size_t len, cap;
    int first, binary;    /* of the frame being joined: starts a message; its type */
    int fin;              /* ends its message */
    unsigned char data[]; /* the relay's headroom, then the payload */
};

struct queue {
    struct ih_fifo chunks;
    size_t bytes;
};

struct bridge {
    char id[STREAM_ID_LEN + 1];
    const struct relay *relay;
    void *conn[2];            /* conn[s]: side s's connection, NULL while absent */
    struct queue to[2];       /* to[d]: waiting to be written to side d */
    struct chunk *joining[2]; /* joining[s]: the frame side s is sending, still in pieces */
    int paused[2];            /* side s is not read while to[1 - s] is too full */
    size_t message[2];        /* message[s]: bytes of the message side s is sending */
    int in_frame[2];          /* side s is amid a frame: more of its pieces are to come */
    int closing[2];           /* close side d once to[d] is empty */
    int code_set;
    enum stream_side first; /* who ended the stream, once code_set */
    int close_code;
    unsigned char close_reason[WS_CLOSE_REASON_MAX];
    size_t close_reason_len;
};

struct relay {
    struct strmap bridges; /* stream id -> struct bridge */
    const struct relay_io *io;
    size_t high_water, low_water, frame_max, max_message;
    size_t headroom; /* before a chunk's payload: the writer's, then the frame header */
};

static void queue_clear(struct queue *q)
{
    ih_fifo_free_all(&q->chunks);
    q->bytes = 0;
}

static void bridge_free(void *value)
{
    struct bridge *b = value;
    if (b == NULL)
        return;
    queue_clear(&b->to[0]);
    queue_clear(&b->to[1]);
    free(b->joining[0]);
    free(b->joining[1]);
    free(b);
}

struct relay *relay_new(const struct relay_limits *limits, const struct relay_io *io)
{
    struct relay *r = calloc(1, sizeof *r);
    if (r != NULL && strmap_init(&r->bridges, BRIDGE_BUCKETS) != 0) {
        free(r);
        return NULL;
    }
    if (r != NULL) {
        size_t memory = limits->connection_memory;
        r->high_water = memory / 2;
        r->low_water = memory / 8;
        r->frame_max = memory / 4 < RELAY_FRAME_MAX ? memory / 4 : RELAY_FRAME_MAX;
        r->max_message = limits->max_message;
        r->headroom = limits->write_headroom + WS_HEADER_MAX;
        r->io = io;
    }
    return r;
}

void relay_free(struct relay *r)
{
    if (r == NULL)
        return;
    strmap_free(&r->bridges, bridge_free);
    free(r);
}

static void set_close(struct bridge *b, enum stream_side first, int code, const void *reason,
                      size_t len)
{
    if (b->code_set)
        return;
    b->code_set = 1;
    b->first = first;
    b->close_code = code;
    b->close_reason_len = len < WS_CLOSE_REASON_MAX ? len : WS_CLOSE_REASON_MAX;
    if (b->close_reason_len > 0)
        memcpy(b->close_reason, reason, b->close_reason_len);
}

/* Side d is to close once its queue is sent; a reader too slow to take it in time is cut off. */
static void close_after_flush(struct bridge *b, enum stream_side d)
{
    b->closing[d] = 1;
    if (b->conn[d] != NULL)
        b->relay->io->close_after_flush(b->conn[d]);
}

struct bridge *relay_join(struct relay *r, const char *id, enum stream_side side, void *conn)
{
    struct strmap_entry *e = strmap_put(&r->bridges, id);
    if (e == NULL)
        return NULL;
    if (e->value == NULL) {
        struct bridge *b = calloc(1, sizeof *b);
        if (b == NULL) {
            strmap_remove(&r->bridges, id);
            return NULL;
        }
        snprintf(b->id, sizeof b->id, "%s", id);
        b->relay = r;
        e->value = b;
    }
    struct bridge *b = e->value;
    b->conn[side] = conn;
    /* What the peer sent before this side came is waiting (docs/protocol.md rule 13). */
    if (b->closing[side])
        close_after_flush(b, side);
    else if (b->to[side].chunks.head != NULL)
        r->io->want_write(conn);
    return b;
}

static void enqueue(struct bridge *b, enum stream_side from, struct chunk *c)
{
    enum stream_side to = 1 - from;
    struct queue *q = &b->to[to];
    ih_fifo_push(&q->chunks, &c->link);
    q->bytes += c->len;
    const struct relay_io *io = b->relay->io;
    io->queued(b->conn[from], to, q->bytes);
    if (q->bytes > b->relay->high_water && !b->paused[from]) {
        b->paused[from] = 1;
        io->read_flow(b->conn[from], 0);
    }
    if (b->conn[to] != NULL)
        io->want_write(b->conn[to]);
}

/* A chunk sized for the whole frame (or frame_max of it), known from its first piece. */
static struct chunk *start_frame(const struct relay *r, const struct ws_piece *p, int first)
{
    uint64_t size = p->len + p->remaining;
    size_t cap = size < r->frame_max ? (size_t)size : r->frame_max;
    struct chunk *c = malloc(sizeof *c + r->headroom + (cap > 0 ? cap : 1));
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof *c);
    c->cap = cap;
    c->first = first;
    c->binary = p->binary;
    return c;
}

/* A new frame's first piece: counts it into its message, and tells whether that is too big.
 * The frame's whole size is known from its first piece, so a big one is refused before it
 * is held. */
static int message_too_big(struct bridge *b, enum stream_side from, const struct ws_piece *p)
{
    if (p->first)
        b->message[from] = 0; /* the first frame of a new message */
    b->message[from] += p->len + p->remaining;
    return b->relay->max_message > 0 && b->message[from] > b->relay->max_message;
}

enum relay_result relay_receive(struct bridge *b, enum stream_side from, const struct ws_piece *p)
{
    static const char too_big[] = "message too big";
    const unsigned char *data = p->data;
    size_t left = p->len;
    /* Only a frame's first chunk may start a message: the rest of a frame cut at frame_max
     * goes on as continuations. */
    int first = p->first && !b->in_frame[from];
    if (b->closing[1 - from])
        return RELAY_OK; /* the peer is going: nothing more can reach it */
    if (!b->in_frame[from]) {
        b->in_frame[from] = 1;
        if (message_too_big(b, from, p)) {
            /* The peer is closed now, not once this side's close handshake is over (seconds,
             * with a client that does not answer it). */
            relay_fail(b, from, RELAY_CLOSE_TOO_BIG, too_big);
            return RELAY_TOO_BIG;
        }
    }
    do {
        struct chunk *c = b->joining[from];
        if (c == NULL && (c = b->joining[from] = start_frame(b->relay, p, first)) == NULL)
            return RELAY_NO_MEMORY;
        first = 0;
        size_t n = left < c->cap - c->len ? left : c->cap - c->len;
        memcpy(c->data + b->relay->headroom + c->len, data, n);
        c->len += n;
        data += n;
        left -= n;
        int frame_done = left == 0 && p->remaining == 0;
        if (frame_done)
            b->in_frame[from] = 0;
        if (!frame_done && c->len < c->cap)
            break; /* more pieces of this frame to come */
        c->fin = frame_done && p->final;
        b->joining[from] = NULL;
        enqueue(b, from, c);
    } while (left > 0);
    return RELAY_OK;
}

/* Writes one frame: its header goes just before the payload, in the chunk's headroom. */
static int write_frame(const struct relay *r, void *conn, struct chunk *c)
{
    unsigned char header[WS_HEADER_MAX];
    enum ws_opcode op = !c->first ? WS_OP_CONTINUATION : c->binary ? WS_OP_BINARY : WS_OP_TEXT;
    size_t h = ws_frame_header(header, op, c->fin, c->len);
    unsigned char *start = c->data + r->headroom - h;
    memcpy(start, header, h);
    return r->io->write(conn, start, h + c->len);
}

/* Reads from the other side again once the queue towards `to` has drained. */
static void resume_sender(struct bridge *b, enum stream_side to)
{
    enum stream_side from = 1 - to;
    if (b->paused[from] && b->to[to].bytes < b->relay->low_water && b->conn[from] != NULL) {
        b->paused[from] = 0;
        b->relay->io->read_flow(b->conn[from], 1);
    }
}

/* One frame per call: the writer takes it whole (keeping what the socket did not) and calls
 * back once it is out. */
enum relay_write relay_writable(struct bridge *b, enum stream_side to)
{
    const struct relay_io *io = b->relay->io;
    struct queue *q = &b->to[to];
    struct chunk *c = (struct chunk *)ih_fifo_pop(&q->chunks);
    if (c != NULL) {
        q->bytes -= c->len;
        int n = write_frame(b->relay, b->conn[to], c);
        free(c);
        if (n < 0)
            return RELAY_WRITE_FAILED;
        resume_sender(b, to);
    }
    if (q->chunks.head != NULL) {
        io->want_write(b->conn[to]);
        return RELAY_WRITE_DONE;
    }
    if (!b->closing[to])
        return RELAY_WRITE_DONE;
    if (c != NULL) {
        /* The Close frame goes in a write of its own, once this one is out. */
        io->want_write(b->conn[to]);
        return RELAY_WRITE_DONE;
    }
    return RELAY_WRITE_CLOSE;
}

int relay_close_code(const struct bridge *b, const unsigned char **reason, size_t *len)
{
    *reason = b->close_reason;
    *len = b->close_reason_len;
    return b->close_code;
}

void relay_peer_closed(struct bridge *b, enum stream_side from, int code, const void *reason,
                       size_t len)
{
    /* No status code in the frame (1005) may not be sent on: a normal close instead. */
    if (code == WS_CLOSE_NO_STATUS)
        code = WS_CLOSE_NORMAL;
    set_close(b, from, code, reason, len);
    close_after_flush(b, 1 - from);
}

void relay_fail(struct bridge *b, enum stream_side from, int code, const char *reason)
{
    set_close(b, from, code, reason, strlen(reason));
    close_after_flush(b, 1 - from);
}

int relay_left(struct relay *r, struct bridge *b, enum stream_side side, enum stream_side *first)
{
    static const char gone[] = "the peer's connection dropped";
    b->conn[side] = NULL;
    queue_clear(&b->to[side]);
    free(b->joining[side]);
    b->joining[side] = NULL;
    set_close(b, side, RELAY_CLOSE_GONE, gone, sizeof gone - 1);
    int code = b->close_code;
    *first = b->first;
    enum stream_side other = 1 - side;
    if (b->conn[other] != NULL) {
        if (b->paused[other]) {
            b->paused[other] = 0;
            r->io->read_flow(b->conn[other], 1);
        }
        close_after_flush(b, other);
    } else {
        bridge_free(strmap_remove(&r->bridges, b->id));
    }
    return code;
}

void relay_close_bridge(struct relay *r, const char *id, int code, const char *reason)
{
    struct strmap_entry *e = strmap_find(&r->bridges, id);
    struct bridge *b = e != NULL ? e->value : NULL;
    if (b == NULL)
        return;
    set_close(b, STREAM_DEVICE, code, reason, strlen(reason));
    for (int d = 0; d < 2; d++) {
        if (b->conn[d] != NULL)
            close_after_flush(b, (enum stream_side)d);
    }
}

size_t relay_queued(const struct bridge *b, enum stream_side to)
{
    return b->to[to].bytes;
}
