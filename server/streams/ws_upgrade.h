/* The HTTP/1.1 request that opens a WebSocket at the streaming endpoint (RFC 6455 §4.2), and the
 * 101 that answers it; sans-I/O. The head is gathered as it arrives, bounded, then parsed. */
#ifndef WS_UPGRADE_H
#define WS_UPGRADE_H

#include <stddef.h>

/* A request head longer than this is refused (the SDKs' are about 400 bytes). */
#define WS_HEAD_MAX 8192
#define WS_PATH_MAX 256
#define WS_FIELD_MAX 512
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */

struct ws_head {
    char text[WS_HEAD_MAX + 1];
    size_t len;
};

enum ws_head_result {
    WS_HEAD_MORE,     /* every byte was taken; the head goes on */
    WS_HEAD_DONE,     /* the head is complete: *used bytes of this input were part of it */
    WS_HEAD_TOO_LONG, /* past WS_HEAD_MAX */
};

/* Gathers head bytes up to the blank line that ends them. */
enum ws_head_result ws_head_feed(struct ws_head *h, const char *data, size_t len, size_t *used);

/* What the streaming endpoint reads of a request. */
struct ws_request {
    int get;                          /* the method is GET */
    int upgrade;                      /* Upgrade: websocket and Connection: upgrade */
    char path[WS_PATH_MAX];           /* the target without its query */
    char authorization[WS_FIELD_MAX]; /* "" when absent */
    char protocols[WS_FIELD_MAX];     /* Sec-WebSocket-Protocol, every one joined; "" when none */
    char key[WS_FIELD_MAX];           /* Sec-WebSocket-Key */
    char version[16];                 /* Sec-WebSocket-Version */
};

enum ws_request_result {
    WS_REQUEST_OK,
    WS_REQUEST_BAD,      /* not HTTP/1.1 as RFC 9112 writes it: 400 */
    WS_REQUEST_TOO_LONG, /* a path or a field the emulator reads is too long: 400 */
};

/* Parses a complete head (as ws_head_feed gathered it). why says what was wrong. */
enum ws_request_result ws_request_parse(const char *head, size_t len, struct ws_request *out,
                                        const char **why);

/* The next item of a comma-separated header list (RFC 9110 §5.6.1), blanks trimmed, empty items
 * skipped: its start and *len, with *cursor moved past it; NULL at the end of the list. */
const char *ws_list_next(const char **cursor, size_t *len);

/* Sec-WebSocket-Accept for key: base64(SHA-1(key + the RFC's GUID)). 0, or -1 when key is not
 * the base64 of 16 bytes (§4.2.1). */
int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* The 101 answer, with the subprotocol chosen (NULL for none). Returns its length, or 0 when
 * cap is too small. */
size_t ws_switching_protocols(const char *accept, const char *protocol, char *out, size_t cap);

#endif
