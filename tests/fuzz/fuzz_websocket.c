/* What a client sends the streaming endpoint: the upgrade request (gathered as it arrives,
 * then parsed) and the frames behind it, read in the pieces the input's first byte picks. The
 * reader must hand over no more bytes than it was given, never a piece of a text message that
 * is not UTF-8, and stop for good once it stops. */
#include "fuzz.h"

#include "ws_frame.h"
#include "ws_upgrade.h"

#include <stdint.h>

struct seen {
    size_t bytes;
    int stopped;
    int in_frame;
    struct ih_utf8_stream text; /* of the text message handed over */
};

static int on_data(void *ctx, const struct ws_piece *p)
{
    struct seen *s = ctx;
    if (s->stopped)
        abort(); /* nothing after a stop */
    if (p->first && !s->in_frame)
        ih_utf8_stream_init(&s->text);
    s->in_frame = p->remaining > 0;
    /* What a text message hands over is UTF-8, whole once the message ends. */
    if (!p->binary && (ih_utf8_stream_feed(&s->text, p->data, p->len) != 0 ||
                       (p->final && p->remaining == 0 && ih_utf8_stream_end(&s->text) != 0)))
        abort();
    s->bytes += p->len;
    return 0;
}

static void on_ping(void *ctx, const unsigned char *payload, size_t len)
{
    (void)ctx;
    (void)payload;
    if (len > WS_CONTROL_MAX)
        abort();
}

static void on_close(void *ctx, int code, const unsigned char *reason, size_t len)
{
    struct seen *s = ctx;
    if ((code != WS_CLOSE_NO_STATUS && !ws_close_code_valid(code)) || len > WS_CLOSE_REASON_MAX ||
        (len > 0 && reason == NULL))
        abort();
    s->stopped = 1;
}

static const struct ws_reader_ops ops = {on_data, on_ping, on_close};

static size_t read_head(const uint8_t *data, size_t size)
{
    static struct ws_head head;
    memset(&head, 0, sizeof head);
    size_t used = 0;
    if (ws_head_feed(&head, (const char *)data, size, &used) != WS_HEAD_DONE)
        return size;
    struct ws_request req;
    const char *why = NULL;
    if (ws_request_parse(head.text, head.len, &req, &why) == WS_REQUEST_OK) {
        char accept[WS_ACCEPT_LEN + 1], answer[1024];
        if (ws_accept_key(req.key, accept) == 0 &&
            ws_switching_protocols(accept, req.protocols[0] ? "bridge" : NULL, answer,
                                   sizeof answer) == 0)
            abort();
    } else if (why == NULL) {
        abort();
    }
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t)(data[0] % 64) + 1;
    data++;
    size--;
    size_t head = read_head(data, size);
    unsigned char *frames = malloc(size - head + 1);
    if (frames == NULL)
        return 0;
    memcpy(frames, data + head, size - head);
    struct ws_reader r;
    ws_reader_init(&r);
    struct seen seen;
    memset(&seen, 0, sizeof seen);
    int code = 0;
    const char *why = NULL;
    enum ws_read_result result = WS_READ_MORE;
    for (size_t at = 0; at < size - head && result == WS_READ_MORE; at += piece) {
        size_t n = size - head - at < piece ? size - head - at : piece;
        result = ws_reader_feed(&r, frames + at, n, &ops, &seen, &code, &why);
    }
    if (seen.bytes > size - head)
        abort();
    if (result == WS_READ_REFUSED &&
        (why == NULL || (code != WS_CLOSE_PROTOCOL_ERROR && code != WS_CLOSE_BAD_DATA)))
        abort();
    if (result != WS_READ_MORE &&
        ws_reader_feed(&r, frames, size - head, &ops, &seen, &code, &why) != WS_READ_STOPPED)
        abort();
    free(frames);
    return 0;
}
