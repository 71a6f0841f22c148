#include "relay.h"

#include "strmap.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

#define BRIDGE_BUCKETS 1024
#define TLS_RECORD_MAX 16384 /* plaintext bytes in one TLS record (RFC 8446 §5.1) */
/* A chunk's headroom: what lws_write may use before a buffer, then the frame's header. */
#define HEADROOM (LWS_PRE + WS_HEADER_MAX)

struct chunk {
    struct chunk *next;
    size_t len, cap;
    int first, binary;    /* of the frame being joined: starts a message; its type */
    int fin;              /* ends its message */
    unsigned char data[]; /* HEADROOM bytes, then the payload */
};

struct queue {
    struct chunk *head, *tail;
    size_t bytes;
};

struct bridge {
    char id[STREAM_ID_LEN + 1];
    const struct relay *relay;
    struct stream *stream; /* held by the sides present, so alive while the bridge is */
    struct lws *wsi[2];
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
    size_t high_water, low_water, frame_max, max_message;
};

static void queue_clear(struct queue *q)
{
    for (struct chunk *c = q->head, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    memset(q, 0, sizeof *q);
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

struct relay *relay_new(const struct relay_limits *limits)
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
    if (b->wsi[d] != NULL) {
        lws_set_timeout(b->wsi[d], PENDING_TIMEOUT_USER_REASON_BASE, RELAY_CLOSE_FLUSH_S);
        lws_callback_on_writable(b->wsi[d]);
    }
}

struct bridge *relay_join(struct relay *r, struct stream *stream, enum stream_side side,
                          struct lws *wsi)
{
    const char *id = stream_core_id(stream);
    struct strmap_entry *e = strmap_put(&r->bridges, id);
    if (e == NULL)
        return NULL;
    if (e->value == NULL) {
        struct bridge *b = calloc(1, sizeof *b);
        if (b == NULL) {
            strmap_remove(&r->bridges, id);
            return NULL;
        }
        memcpy(b->id, id, sizeof b->id - 1);
        b->relay = r;
        b->stream = stream;
        e->value = b;
    }
    struct bridge *b = e->value;
    b->wsi[side] = wsi;
    /* What the peer sent before this side came is waiting (rule 13). */
    if (b->closing[side])
        close_after_flush(b, side);
    else if (b->to[side].head != NULL)
        lws_callback_on_writable(wsi);
    return b;
}

static void enqueue(struct bridge *b, enum stream_side from, struct chunk *c)
{
    enum stream_side to = 1 - from;
    struct queue *q = &b->to[to];
    c->next = NULL;
    if (q->tail != NULL)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += c->len;
    stream_core_note_queued(b->stream, to, q->bytes);
    if (q->bytes > b->relay->high_water && !b->paused[from]) {
        b->paused[from] = 1;
        lws_rx_flow_control(b->wsi[from], 0);
    }
    if (b->wsi[to] != NULL)
        lws_callback_on_writable(b->wsi[to]);
}

/* A chunk sized for the whole frame (or frame_max of it), known from its first piece. */
static struct chunk *start_frame(const struct relay *r, const struct ws_piece *p, int first)
{
    uint64_t size = p->len + p->remaining;
    size_t cap = size < r->frame_max ? (size_t)size : r->frame_max;
    struct chunk *c = malloc(sizeof *c + HEADROOM + (cap > 0 ? cap : 1));
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
        memcpy(c->data + HEADROOM + c->len, data, n);
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

/* Writes one frame. Over TLS a frame bigger than a record leaves as several records, each its
 * own write(): corked, the kernel sends them as a few full segments instead of one per record
 * (a 64 KiB frame and its 4-byte header are five records, the last of 4 bytes), which the receiver
 * also reads in fewer wake-ups. Small frames go out at once, uncorked, for the echo's latency. */
static int write_frame(struct lws *wsi, struct chunk *c)
{
    static const int on = 1, off = 0;
    unsigned char header[WS_HEADER_MAX];
    enum ws_opcode op = !c->first ? WS_OP_CONTINUATION : c->binary ? WS_OP_BINARY : WS_OP_TEXT;
    size_t h = ws_frame_header(header, op, c->fin, c->len);
    unsigned char *start = c->data + HEADROOM - h;
    memcpy(start, header, h);
    int fd = c->len > TLS_RECORD_MAX && lws_is_ssl(wsi) ? lws_get_socket_fd(wsi) : -1;
    /* Corking is only an optimisation: if it fails, the frame still goes out, uncorked. */
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
    int n = lws_write(wsi, start, h + c->len, LWS_WRITE_RAW);
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    return n;
}

/* Reads from the other side again once the queue towards `to` has drained. */
static void resume_sender(struct bridge *b, enum stream_side to)
{
    enum stream_side from = 1 - to;
    if (b->paused[from] && b->to[to].bytes < b->relay->low_water && b->wsi[from] != NULL) {
        b->paused[from] = 0;
        lws_rx_flow_control(b->wsi[from], 1);
    }
}

/* One frame per call: lws takes a raw write whole (keeping what the socket did not) and calls
 * back once it is out. */
enum relay_write relay_writable(struct bridge *b, enum stream_side to)
{
    struct queue *q = &b->to[to];
    struct chunk *c = q->head;
    if (c != NULL) {
        q->head = c->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->bytes -= c->len;
        int n = write_frame(b->wsi[to], c);
        free(c);
        if (n < 0)
            return RELAY_WRITE_FAILED;
        resume_sender(b, to);
    }
    if (q->head != NULL) {
        lws_callback_on_writable(b->wsi[to]);
        return RELAY_WRITE_DONE;
    }
    if (!b->closing[to])
        return RELAY_WRITE_DONE;
    if (c != NULL) {
        /* The Close frame goes in a write of its own, once this one is out. */
        lws_callback_on_writable(b->wsi[to]);
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
    b->wsi[side] = NULL;
    queue_clear(&b->to[side]);
    free(b->joining[side]);
    b->joining[side] = NULL;
    set_close(b, side, RELAY_CLOSE_GONE, gone, sizeof gone - 1);
    int code = b->close_code;
    *first = b->first;
    enum stream_side other = 1 - side;
    if (b->wsi[other] != NULL) {
        b->paused[other] = 0;
        lws_rx_flow_control(b->wsi[other], 1);
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
        if (b->wsi[d] != NULL)
            close_after_flush(b, (enum stream_side)d);
    }
}

size_t relay_queued(const struct bridge *b, enum stream_side to)
{
    return b->to[to].bytes;
}
