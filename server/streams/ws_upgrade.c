#include "ws_upgrade.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 6455 §1.3. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum ws_head_result ws_head_feed(struct ws_head *h, const char *data, size_t len, size_t *used)
{
    for (size_t i = 0; i < len; i++) {
        if (h->len == WS_HEAD_MAX)
            return WS_HEAD_TOO_LONG;
        h->text[h->len++] = data[i];
        h->text[h->len] = '\0';
        /* A lone LF ends a line too (RFC 9112 §2.2 lets a recipient take it). */
        if (h->len >= 2 && h->text[h->len - 1] == '\n' &&
            (h->text[h->len - 2] == '\n' ||
             (h->len >= 4 && memcmp(h->text + h->len - 4, "\r\n\r\n", 4) == 0) ||
             (h->len >= 3 && memcmp(h->text + h->len - 3, "\n\r\n", 3) == 0))) {
            *used = i + 1;
            return WS_HEAD_DONE;
        }
    }
    return WS_HEAD_MORE;
}

const char *ws_list_next(const char **cursor, size_t *len)
{
    const char *p = *cursor;
    for (;;) {
        p += strspn(p, " \t,");
        if (*p == '\0') {
            *cursor = p;
            return NULL;
        }
        size_t n = strcspn(p, ",");
        *cursor = p + n;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0) {
            *len = n;
            return p;
        }
        p = *cursor;
    }
}

/* Whether a comma-separated list holds token, in any case (Connection: keep-alive, Upgrade). */
static int list_has(const char *list, const char *token)
{
    size_t len, n = strlen(token);
    for (const char *item; (item = ws_list_next(&list, &len)) != NULL;) {
        if (len == n && strncasecmp(item, token, n) == 0)
            return 1;
    }
    return 0;
}

/* Appends a field's value; a field sent twice is one list (RFC 9110 §5.3). */
static int add_value(char *field, size_t cap, const char *value, size_t len)
{
    size_t have = strlen(field);
    size_t sep = have > 0 ? 2 : 0;
    if (have + sep + len + 1 > cap)
        return -1;
    if (sep > 0)
        memcpy(field + have, ", ", 2);
    memcpy(field + have + sep, value, len);
    field[have + sep + len] = '\0';
    return 0;
}

/* The field that name names, or NULL when the emulator does not read it. */
static char *field_for(struct ws_request *r, const char *name, size_t len, size_t *cap,
                       char *upgrade, char *connection)
{
    struct {
        const char *name;
        char *field;
        size_t cap;
    } known[] = {
        {"authorization", r->authorization, sizeof r->authorization},
        {"sec-websocket-protocol", r->protocols, sizeof r->protocols},
        {"sec-websocket-key", r->key, sizeof r->key},
        {"sec-websocket-version", r->version, sizeof r->version},
        {"upgrade", upgrade, WS_FIELD_MAX},
        {"connection", connection, WS_FIELD_MAX},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strlen(known[i].name) == len && strncasecmp(known[i].name, name, len) == 0) {
            *cap = known[i].cap;
            return known[i].field;
        }
    }
    return NULL;
}

/* "GET /bridges/x?y HTTP/1.1". */
static enum ws_request_result parse_request_line(const char *line, size_t len, struct ws_request *r,
                                                 const char **why)
{
    const char *sp1 = memchr(line, ' ', len);
    const char *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
    size_t version_len = sp2 != NULL ? len - (size_t)(sp2 + 1 - line) : 0;
    if (sp2 == NULL || sp2 == sp1 + 1 || version_len != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        *why = "the request line is not METHOD TARGET HTTP/1.x";
        return WS_REQUEST_BAD;
    }
    r->get = sp1 - line == 3 && memcmp(line, "GET", 3) == 0;
    size_t target = (size_t)(sp2 - sp1 - 1);
    const char *query = memchr(sp1 + 1, '?', target);
    size_t path = query != NULL ? (size_t)(query - sp1 - 1) : target;
    if (path >= sizeof r->path) {
        *why = "the path is too long";
        return WS_REQUEST_TOO_LONG;
    }
    memcpy(r->path, sp1 + 1, path);
    r->path[path] = '\0';
    return WS_REQUEST_OK;
}

/* "Name: value", the value trimmed; a field the emulator does not read is skipped. */
static enum ws_request_result parse_field(const char *line, size_t len, struct ws_request *r,
                                          char *upgrade, char *connection, const char **why)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t' || colon[-1] == ' ' ||
        colon[-1] == '\t') {
        *why = "a header line is not NAME: VALUE";
        return WS_REQUEST_BAD;
    }
    size_t cap = 0;
    char *field = field_for(r, line, (size_t)(colon - line), &cap, upgrade, connection);
    if (field == NULL)
        return WS_REQUEST_OK;
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (add_value(field, cap, v, (size_t)(end - v)) != 0) {
        *why = "a header the emulator reads is too long";
        return WS_REQUEST_TOO_LONG;
    }
    return WS_REQUEST_OK;
}

enum ws_request_result ws_request_parse(const char *head, size_t len, struct ws_request *out,
                                        const char **why)
{
    char upgrade[WS_FIELD_MAX] = "", connection[WS_FIELD_MAX] = "";
    memset(out, 0, sizeof *out);
    enum ws_request_result rc = WS_REQUEST_OK;
    const char *p = head, *end = head + len;
    for (int line_no = 0; p < end && rc == WS_REQUEST_OK; line_no++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line_len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        size_t content = line_len > 0 && p[line_len - 1] == '\r' ? line_len - 1 : line_len;
        if (content == 0)
            break; /* the blank line */
        if (memchr(p, '\0', content) != NULL) {
            *why = "the request head holds a NUL byte";
            return WS_REQUEST_BAD;
        }
        rc = line_no == 0 ? parse_request_line(p, content, out, why)
                          : parse_field(p, content, out, upgrade, connection, why);
        p += line_len + 1;
    }
    out->upgrade = list_has(upgrade, "websocket") && list_has(connection, "upgrade");
    return rc;
}

int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
    unsigned char decoded[24];
    if (strlen(key) != 24 || EVP_DecodeBlock(decoded, (const unsigned char *)key, 24) != 18 ||
        key[22] != '=' || key[23] != '=')
        return -1;
    unsigned char digest[SHA_DIGEST_LENGTH];
    char text[24 + sizeof ws_guid];
    snprintf(text, sizeof text, "%s%s", key, ws_guid);
    if (EVP_Digest(text, strlen(text), digest, NULL, EVP_sha1(), NULL) != 1)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
    return 0;
}

size_t ws_switching_protocols(const char *accept, const char *protocol, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     accept, protocol != NULL ? "Sec-WebSocket-Protocol: " : "",
                     protocol != NULL ? protocol : "", protocol != NULL ? "\r\n" : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
