#include "ws_frame.h"

#include <string.h>

enum {
    ST_HEAD,   /* FIN, RSV, opcode */
    ST_LENGTH, /* MASK and the 7-bit length */
    ST_EXTENDED /* 2 or 8 bytes of length */,
    ST_MASK, /* the 4-byte key */
    ST_PAYLOAD,
};

static int is_control(int opcode)
{
    return (opcode & 0x8) != 0;
}

void ws_reader_init(struct ws_reader *r)
{
    memset(r, 0, sizeof *r);
    r->state = ST_HEAD;
}

int ws_close_code_valid(int code)
{
    if (code >= 3000 && code <= 4999)
        return 1; /* registered and private codes */
    return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

/* XOR with the key, from key byte *at on: a byte at a time up to a key boundary, then eight at
 * a time (a whole number of keys, whatever the byte order). */
static void unmask(unsigned char *p, size_t n, const unsigned char key[4], unsigned *at)
{
    size_t i = 0;
    unsigned k = *at;
    if ((key[0] | key[1] | key[2] | key[3]) == 0)
        return; /* a zero key masks nothing (a benchmark client's choice) */
    for (; i < n && (k & 3) != 0; i++, k++)
        p[i] ^= key[k & 3];
    uint32_t k32;
    memcpy(&k32, key, 4);
    uint64_t k64 = ((uint64_t)k32 << 32) | k32;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= k64;
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++, k++)
        p[i] ^= key[k & 3];
    *at = k & 3;
}

struct feed {
    struct ws_reader *r;
    const struct ws_reader_ops *ops;
    void *ctx;
    int *code;
    const char **why;
};

static enum ws_read_result refuse(struct feed *f, int code, const char *why)
{
    f->r->done = 1;
    *f->code = code;
    *f->why = why;
    return WS_READ_REFUSED;
}

/* The first header byte: what this frame may be, given the message under way. */
static enum ws_read_result read_head(struct feed *f, unsigned char c)
{
    struct ws_reader *r = f->r;
    r->fin = (c & 0x80) != 0;
    r->opcode = c & 0x0f;
    if ((c & 0x70) != 0)
        return refuse(f, WS_CLOSE_PROTOCOL_ERROR, "reserved bits set: no extension was agreed");
    switch (r->opcode) {
    case WS_OP_CONTINUATION:
        if (!r->in_message)
            return refuse(f, WS_CLOSE_PROTOCOL_ERROR, "a continuation with no message to continue");
        break;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (r->in_message)
            return refuse(f, WS_CLOSE_PROTOCOL_ERROR, "a new message inside a fragmented one");
        break;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!r->fin)
            return refuse(f, WS_CLOSE_PROTOCOL_ERROR, "a fragmented control frame");
        break;
    default:
        return refuse(f, WS_CLOSE_PROTOCOL_ERROR, "an unknown opcode");
    }
    r->state = ST_LENGTH;
    return WS_READ_MORE;
}

/* The second header byte: the mask bit (a client must set it, §5.1) and the length. */
static enum ws_read_result read_length(struct feed *f, unsigned char c)
{
    struct ws_reader *r = f->r;
    unsigned len = c & 0x7f;
    if ((c & 0x80) == 0)
        return refuse(f, WS_CLOSE_PROTOCOL_ERROR, "a frame the client did not mask");
    if (is_control(r->opcode) && len > WS_CONTROL_MAX)
        return refuse(f, WS_CLOSE_PROTOCOL_ERROR, "a control frame longer than 125 bytes");
    r->have = 0;
    if (len >= 126) {
        r->need = len == 126 ? 2 : 8;
        r->state = ST_EXTENDED;
    } else {
        r->remaining = len;
        r->need = 4;
        r->state = ST_MASK;
    }
    return WS_READ_MORE;
}

static enum ws_read_result read_extended(struct feed *f)
{
    struct ws_reader *r = f->r;
    uint64_t len = 0;
    for (unsigned i = 0; i < r->need; i++)
        len = (len << 8) | r->buf[i];
    if (len >> 63)
        return refuse(f, WS_CLOSE_PROTOCOL_ERROR, "a frame length with its top bit set");
    r->remaining = len;
    r->have = 0;
    r->need = 4;
    r->state = ST_MASK;
    return WS_READ_MORE;
}

/* Hands over a piece of data (already unmasked), the text checked first. */
static enum ws_read_result deliver(struct feed *f, const unsigned char *data, size_t len)
{
    struct ws_reader *r = f->r;
    int message_ends = r->remaining == 0 && r->fin;
    if (!r->message_binary) {
        if (ih_utf8_stream_feed(&r->utf8, data, len) != 0 ||
            (message_ends && ih_utf8_stream_end(&r->utf8) != 0))
            return refuse(f, WS_CLOSE_BAD_DATA, "a text message that is not UTF-8");
    }
    struct ws_piece piece = {data, len, r->remaining, r->frame_first, r->fin, r->message_binary};
    if (message_ends)
        r->in_message = 0;
    if (f->ops->data(f->ctx, &piece) != 0) {
        r->done = 1;
        return WS_READ_STOPPED;
    }
    return WS_READ_MORE;
}

static enum ws_read_result control_done(struct feed *f)
{
    struct ws_reader *r = f->r;
    const unsigned char *p = r->control;
    size_t len = r->control_len;
    if (r->opcode == WS_OP_PING)
        f->ops->ping(f->ctx, p, len);
    if (r->opcode != WS_OP_CLOSE)
        return WS_READ_MORE; /* a pong answers nothing */
    if (len == 1)
        return refuse(f, WS_CLOSE_PROTOCOL_ERROR, "a Close payload of one byte");
    int code = len >= 2 ? (p[0] << 8) | p[1] : WS_CLOSE_NO_STATUS;
    if (len >= 2 && !ws_close_code_valid(code))
        return refuse(f, WS_CLOSE_PROTOCOL_ERROR, "a Close code no endpoint may send");
    struct ih_utf8_stream utf8;
    ih_utf8_stream_init(&utf8);
    if (len > 2 &&
        (ih_utf8_stream_feed(&utf8, p + 2, len - 2) != 0 || ih_utf8_stream_end(&utf8) != 0))
        return refuse(f, WS_CLOSE_BAD_DATA, "a Close reason that is not UTF-8");
    r->done = 1;
    f->ops->close(f->ctx, code, len > 2 ? p + 2 : NULL, len > 2 ? len - 2 : 0);
    return WS_READ_STOPPED;
}

/* The key is in: the frame's payload starts (an empty one ends at once). */
static enum ws_read_result start_payload(struct feed *f)
{
    struct ws_reader *r = f->r;
    memcpy(r->mask, r->buf, 4);
    r->mask_at = 0;
    r->state = ST_PAYLOAD;
    if (is_control(r->opcode)) {
        r->control_len = 0;
    } else {
        r->frame_first = r->opcode != WS_OP_CONTINUATION;
        if (r->frame_first) {
            r->in_message = 1;
            r->message_binary = r->opcode == WS_OP_BINARY;
            ih_utf8_stream_init(&r->utf8);
        }
    }
    if (r->remaining > 0)
        return WS_READ_MORE;
    r->state = ST_HEAD;
    return is_control(r->opcode) ? control_done(f) : deliver(f, (const unsigned char *)"", 0);
}

/* Payload bytes in place: as many as this frame has left. Returns how many were used. */
static size_t read_payload(struct feed *f, unsigned char *data, size_t len,
                           enum ws_read_result *result)
{
    struct ws_reader *r = f->r;
    size_t n = len < r->remaining ? len : (size_t)r->remaining;
    unmask(data, n, r->mask, &r->mask_at);
    r->remaining -= n;
    if (r->remaining == 0)
        r->state = ST_HEAD;
    if (is_control(r->opcode)) {
        memcpy(r->control + r->control_len, data, n);
        r->control_len += n;
        *result = r->remaining == 0 ? control_done(f) : WS_READ_MORE;
    } else {
        *result = deliver(f, data, n);
    }
    return n;
}

/* One header byte. */
static enum ws_read_result read_header_byte(struct feed *f, unsigned char c)
{
    struct ws_reader *r = f->r;
    switch (r->state) {
    case ST_HEAD:
        return read_head(f, c);
    case ST_LENGTH:
        return read_length(f, c);
    default:
        r->buf[r->have++] = c;
        if (r->have < r->need)
            return WS_READ_MORE;
        return r->state == ST_EXTENDED ? read_extended(f) : start_payload(f);
    }
}

enum ws_read_result ws_reader_feed(struct ws_reader *r, unsigned char *data, size_t len,
                                   const struct ws_reader_ops *ops, void *ctx, int *code,
                                   const char **why)
{
    struct feed f = {r, ops, ctx, code, why};
    if (r->done)
        return WS_READ_STOPPED;
    enum ws_read_result result = WS_READ_MORE;
    size_t i = 0;
    while (i < len && result == WS_READ_MORE) {
        if (r->state == ST_PAYLOAD) {
            i += read_payload(&f, data + i, len - i, &result);
        } else {
            result = read_header_byte(&f, data[i]);
            i++;
        }
    }
    return result;
}

size_t ws_frame_header(unsigned char out[WS_HEADER_MAX], enum ws_opcode op, int fin, uint64_t len)
{
    out[0] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 10;
}

size_t ws_close_frame(unsigned char out[WS_HEADER_MAX + WS_CONTROL_MAX], int code,
                      const void *reason, size_t len)
{
    if (len > WS_CLOSE_REASON_MAX)
        len = WS_CLOSE_REASON_MAX;
    size_t n = ws_frame_header(out, WS_OP_CLOSE, 1, 2 + len);
    out[n++] = (unsigned char)(code >> 8);
    out[n++] = (unsigned char)code;
    if (len > 0)
        memcpy(out + n, reason, len);
    return n + len;
}
