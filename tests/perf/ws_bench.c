/* ws_bench: one end of a device stream, for the benchmarks in tests/perf (see README.md there).
 *
 * A process plays one side: it connects (or, for the socat baselines, listens for one
 * connection), speaks WebSocket or raw bytes over TCP or TLS, and does one job:
 *
 *   send   BYTES as binary frames of FRAME bytes (raw: writes of FRAME), then waits for the close
 *   recv   BYTES, then closes
 *   ping   COUNT messages of SIZE bytes, each waiting for its echo; prints RTT percentiles
 *   echo   everything back until the peer closes
 *
 * Times are CLOCK_MONOTONIC nanoseconds, one clock for every process on the machine, so the
 * driver takes a transfer's duration from the sender's start_ns to the receiver's end_ns.
 *
 * Why a hand-written client: the benchmark measures the relay, so each client must cost less
 * than the relay (one on libwebsockets costs some 5 ns a byte, capping a stream near 200 MB/s) and
 * the same in the relay and socat runs. Frames go out with a zero mask key: RFC 6455 §5.3 requires
 * client frames to be masked, and the unpredictable key it asks for protects proxies we do not
 * have (§10.3), so masking becomes a no-op and a 64 KiB frame is one write of a prebuilt buffer.
 * Every socket is blocking, with SO_RCVTIMEO/SO_SNDTIMEO as the deadline: each process has one
 * connection and one job, so nothing needs an event loop.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define READ_BUFFER (256 * 1024)
#define WS_HEADER_MAX 14        /* 2 + 8 (64-bit length) + 4 (mask key), RFC 6455 §5.2 */
#define MESSAGE_MAX (64 * 1024) /* ping/echo: the gateway's limit (docs/protocol.md rule 13) */
#define HANDSHAKE_MAX 4096
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 §1.3 */
#define CLOSE_NORMAL 1000

enum opcode { OP_CONTINUATION = 0, OP_BINARY = 2, OP_CLOSE = 8 };
enum scheme { SCHEME_TCP, SCHEME_TLS, SCHEME_WS, SCHEME_WSS };

struct url {
    enum scheme scheme;
    char host[256];
    char port[16];
    char path[1024];
};

struct options {
    const char *role, *connect, *listen, *token, *ca, *cert, *key;
    uint64_t bytes, frame, size, count, warmup, timeout_s;
};

struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int ws;             /* WebSocket framing, else raw bytes */
    unsigned char *buf; /* what was read: [start, end) is not consumed yet */
    size_t start, end;
    uint64_t data_frames; /* received: shows whether the relay kept frame boundaries */
};

struct frame {
    int fin, opcode;
    uint64_t len;
};

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ws_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    ERR_print_errors_fp(stderr);
    return -1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- addresses ---------------------------------------------------------------------------- */

static int scheme_parse(const char *text, size_t len, enum scheme *s)
{
    static const struct {
        const char *name;
        enum scheme scheme;
    } known[] = {{"tcp", SCHEME_TCP}, {"tls", SCHEME_TLS}, {"ws", SCHEME_WS}, {"wss", SCHEME_WSS}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strlen(known[i].name) == len && strncmp(text, known[i].name, len) == 0) {
            *s = known[i].scheme;
            return 0;
        }
    }
    return -1;
}

/* scheme://host:port[/path]; the port is required, as in every URL the emulator hands out. */
static int url_parse(const char *text, struct url *u)
{
    const char *sep = strstr(text, "://");
    if (sep == NULL || scheme_parse(text, (size_t)(sep - text), &u->scheme) != 0)
        return fail("'%s': expected tcp://, tls://, ws:// or wss://", text);
    const char *authority = sep + 3, *slash = strchr(authority, '/');
    size_t auth_len = slash != NULL ? (size_t)(slash - authority) : strlen(authority);
    const char *colon = memchr(authority, ':', auth_len);
    if (colon == NULL || (size_t)(colon - authority) >= sizeof u->host ||
        auth_len - (size_t)(colon - authority) > sizeof u->port)
        return fail("'%s': expected host:port", text);
    snprintf(u->host, sizeof u->host, "%.*s", (int)(colon - authority), authority);
    snprintf(u->port, sizeof u->port, "%.*s", (int)(auth_len - (size_t)(colon - authority) - 1),
             colon + 1);
    if (snprintf(u->path, sizeof u->path, "%s", slash != NULL ? slash : "/") >= (int)sizeof u->path)
        return fail("'%s': path too long", text);
    return 0;
}

static int uses_tls(enum scheme s)
{
    return s == SCHEME_TLS || s == SCHEME_WSS;
}

/* ---- sockets ------------------------------------------------------------------------------ */

/* No Nagle: a 32-byte echo must leave at once. The timeouts turn a stalled peer into an error. */
static int socket_tune(int fd, uint64_t timeout_s)
{
    int one = 1;
    struct timeval tv = {(time_t)timeout_s, 0};
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
        return fail("setsockopt: %s", strerror(errno));
    return 0;
}

static int tcp_socket(const struct url *u, int passive, struct addrinfo **out)
{
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int rc = getaddrinfo(u->host, u->port, &hints, out);
    if (rc != 0)
        return fail("%s:%s: %s", u->host, u->port, gai_strerror(rc));
    int fd = socket((*out)->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(*out);
        return fail("socket: %s", strerror(errno));
    }
    return fd;
}

static int tcp_connect(const struct url *u, uint64_t timeout_s)
{
    struct addrinfo *ai;
    int fd = tcp_socket(u, 0, &ai);
    if (fd < 0)
        return -1;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0) {
        fail("connect to %s:%s: %s", u->host, u->port, strerror(errno));
        close(fd);
        return -1;
    }
    if (socket_tune(fd, timeout_s) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int tcp_listen(const struct url *u)
{
    struct addrinfo *ai;
    int one = 1, fd = tcp_socket(u, 1, &ai);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0 ? 0 : -1;
    freeaddrinfo(ai);
    if (rc != 0) {
        fail("listen on %s:%s: %s", u->host, u->port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Prints the bound port (the driver starts socat towards it), then takes one connection. */
static int tcp_accept_one(const struct url *u, uint64_t timeout_s)
{
    int lfd = tcp_listen(u), fd = -1;
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (lfd < 0)
        return -1;
    if (getsockname(lfd, (struct sockaddr *)&addr, &len) != 0) {
        fail("getsockname: %s", strerror(errno));
        goto done;
    }
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)&addr;
    printf("listening %u\n", (unsigned)ntohs(in4->sin_port)); /* sin6_port is at the same place */
    struct pollfd p = {lfd, POLLIN, 0};
    if (poll(&p, 1, (int)(timeout_s * 1000)) != 1) {
        fail("no connection within %" PRIu64 " s", timeout_s);
        goto done;
    }
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        fail("accept: %s", strerror(errno));
    else if (socket_tune(fd, timeout_s) != 0) {
        close(fd);
        fd = -1;
    }
done:
    close(lfd);
    return fd;
}

/* ---- TLS ---------------------------------------------------------------------------------- */

static SSL_CTX *tls_context(int server, const struct options *o)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL)
        return NULL;
    /* A peer that closes without close_notify has still sent everything we count. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    int ok = 1;
    if (server)
        ok = o->cert != NULL && o->key != NULL &&
             SSL_CTX_use_certificate_chain_file(ctx, o->cert) == 1 &&
             SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) == 1;
    else if (o->ca != NULL) {
        ok = SSL_CTX_load_verify_locations(ctx, o->ca, NULL) == 1;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (!ok) {
        SSL_CTX_free(ctx);
        fail("TLS setup: %s",
             server ? "--cert and --key must name a PEM certificate and key" : "cannot read --ca");
        return NULL;
    }
    return ctx;
}

static int tls_start(struct conn *c, const struct url *u, int server, const struct options *o)
{
    c->ctx = tls_context(server, o);
    if (c->ctx == NULL || (c->ssl = SSL_new(c->ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
        return fail("TLS setup failed");
    if (!server) {
        /* The emulator's certificate carries 127.0.0.1 as an IP address, names as DNS names. */
        X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
        if (X509_VERIFY_PARAM_set1_ip_asc(param, u->host) != 1) {
            SSL_set_tlsext_host_name(c->ssl, u->host);
            SSL_set1_host(c->ssl, u->host);
        }
    }
    if ((server ? SSL_accept(c->ssl) : SSL_connect(c->ssl)) != 1)
        return fail("TLS handshake with %s:%s failed", u->host, u->port);
    printf("tls %s %s\n", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
    return 0;
}

/* ---- byte I/O ----------------------------------------------------------------------------- */

/* > 0 bytes, 0 at the peer's close, -1 on an error (a timeout included). */
static ssize_t conn_read(struct conn *c, void *buf, size_t len)
{
    if (c->ssl == NULL) {
        ssize_t n = recv(c->fd, buf, len, 0);
        return n >= 0 ? n : fail("read: %s", strerror(errno));
    }
    int n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    int err = SSL_get_error(c->ssl, n);
    return err == SSL_ERROR_ZERO_RETURN ? 0 : fail("TLS read failed (SSL error %d)", err);
}

static int conn_write_all(struct conn *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n;
        if (c->ssl != NULL)
            n = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
        else
            n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return fail("write: %s", c->ssl != NULL ? "TLS write failed" : strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Up to `want` bytes, in place in the read buffer (no copy): what a receiver mostly does. */
static ssize_t conn_take(struct conn *c, uint64_t want, const unsigned char **out)
{
    if (c->start == c->end) {
        ssize_t n = conn_read(c, c->buf, READ_BUFFER);
        if (n <= 0)
            return n;
        c->start = 0;
        c->end = (size_t)n;
    }
    size_t n = c->end - c->start;
    if (want < n)
        n = (size_t)want;
    *out = c->buf + c->start;
    c->start += n;
    return (ssize_t)n;
}

/* Exactly len bytes into dst; -1 if the peer closes first. */
static int conn_take_exact(struct conn *c, void *dst, size_t len)
{
    unsigned char *d = dst;
    while (len > 0) {
        const unsigned char *p;
        ssize_t n = conn_take(c, len, &p);
        if (n <= 0)
            return n == 0 ? fail("the peer closed the connection early") : -1;
        if (d != NULL) {
            memcpy(d, p, (size_t)n);
            d += n;
        }
        len -= (size_t)n;
    }
    return 0;
}

/* ---- WebSocket (RFC 6455) ----------------------------------------------------------------- */

/* A client frame header with a zero mask key; returns its length. */
static size_t ws_header(unsigned char h[WS_HEADER_MAX], int fin, int opcode, uint64_t len)
{
    size_t n = 2;
    h[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        h[1] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        h[1] = 0x80 | 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[1] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            h[n++] = (unsigned char)(len >> shift);
    }
    memset(h + n, 0, 4);
    return n + 4;
}

/* A server frame header; the payload is left in the connection. */
static int ws_next_frame(struct conn *c, struct frame *f)
{
    unsigned char h[8];
    if (conn_take_exact(c, h, 2) != 0)
        return -1;
    if (h[1] & 0x80)
        return fail("the server sent a masked frame (RFC 6455 §5.1 forbids it)");
    f->fin = (h[0] & 0x80) != 0;
    f->opcode = h[0] & 0x0f;
    f->len = h[1] & 0x7f;
    size_t ext = f->len == 126 ? 2 : f->len == 127 ? 8 : 0;
    if (ext > 0) {
        if (conn_take_exact(c, h, ext) != 0)
            return -1;
        f->len = 0;
        for (size_t i = 0; i < ext; i++)
            f->len = (f->len << 8) | h[i];
    }
    return 0;
}

static int ws_send_close(struct conn *c)
{
    unsigned char frame[WS_HEADER_MAX + 2];
    size_t h = ws_header(frame, 1, OP_CLOSE, 2);
    frame[h] = CLOSE_NORMAL >> 8;
    frame[h + 1] = CLOSE_NORMAL & 0xff;
    return conn_write_all(c, frame, h + 2);
}

static void base64(const unsigned char *in, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* Reads the upgrade response and returns the length of its head, -1 on an error; bytes after
 * it (frames the peer sent at once) stay in the read buffer. */
static ssize_t ws_read_response(struct conn *c)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = conn_read(c, c->buf + got, HANDSHAKE_MAX - got);
        if (n <= 0)
            return fail("the server closed the connection during the WebSocket handshake");
        got += (size_t)n;
        c->buf[got] = '\0';
        char *end = strstr((char *)c->buf, "\r\n\r\n");
        if (end != NULL) {
            c->start = (size_t)(end - (char *)c->buf) + 4;
            c->end = got;
            return end - (char *)c->buf;
        }
        if (got == HANDSHAKE_MAX)
            return fail("the upgrade response is larger than %d bytes", HANDSHAKE_MAX);
    }
}

/* Checks the 101 and its Sec-WebSocket-Accept (RFC 6455 §4.1), as strict clients do. */
static int ws_check_response(struct conn *c, const char *key)
{
    char expected[64], accept_line[128];
    unsigned char digest[SHA_DIGEST_LENGTH];
    ssize_t head = ws_read_response(c);
    if (head < 0)
        return -1;
    c->buf[head] = '\0'; /* the "\r\n\r\n" after it is consumed already */
    if (strncmp((char *)c->buf, "HTTP/1.1 101", 12) != 0)
        return fail("upgrade refused: %.200s", (char *)c->buf);
    char keyed[128];
    snprintf(keyed, sizeof keyed, "%s%s", key, WS_GUID);
    SHA1((const unsigned char *)keyed, strlen(keyed), digest);
    base64(digest, sizeof digest, expected);
    snprintf(accept_line, sizeof accept_line, "\r\nSec-WebSocket-Accept: %s", expected);
    char *found = strcasestr((char *)c->buf, "\r\nSec-WebSocket-Accept:");
    if (found == NULL || strncasecmp(found, accept_line, strlen(accept_line)) != 0)
        return fail("wrong or missing Sec-WebSocket-Accept (want %s)", expected);
    return 0;
}

/* The upgrade as the Azure clients send it (docs/protocol.md §3.2): a bearer token, no
 * subprotocol. */
static int ws_handshake(struct conn *c, const struct url *u, const char *token)
{
    unsigned char nonce[16];
    char key[32], request[HANDSHAKE_MAX];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return fail("no random bytes for Sec-WebSocket-Key");
    base64(nonce, sizeof nonce, key);
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: %s\r\n%s%s%s\r\n",
                     u->path, u->host, u->port, key, token != NULL ? "Authorization: Bearer " : "",
                     token != NULL ? token : "", token != NULL ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof request)
        return fail("the upgrade request does not fit in %d bytes", HANDSHAKE_MAX);
    if (conn_write_all(c, request, (size_t)n) != 0)
        return -1;
    return ws_check_response(c, key);
}

/* ---- the connection ----------------------------------------------------------------------- */

static int conn_open(struct conn *c, const struct options *o)
{
    struct url u;
    int listening = o->listen != NULL;
    if (url_parse(listening ? o->listen : o->connect, &u) != 0)
        return -1;
    if (listening && (u.scheme == SCHEME_WS || u.scheme == SCHEME_WSS))
        return fail("--listen takes tcp:// or tls:// (the socat baselines are raw bytes)");
    c->buf = malloc(READ_BUFFER + 1);
    if (c->buf == NULL)
        return fail("out of memory");
    c->fd = listening ? tcp_accept_one(&u, o->timeout_s) : tcp_connect(&u, o->timeout_s);
    if (c->fd < 0)
        return -1;
    if (uses_tls(u.scheme) && tls_start(c, &u, listening, o) != 0)
        return -1;
    c->ws = u.scheme == SCHEME_WS || u.scheme == SCHEME_WSS;
    return c->ws ? ws_handshake(c, &u, o->token) : 0;
}

static void conn_close(struct conn *c)
{
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    if (c->ctx != NULL)
        SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
}

/* Waits for the peer to end the connection; whatever else arrives is discarded. */
static int wait_closed(struct conn *c)
{
    const unsigned char *p;
    if (!c->ws) {
        while (conn_take(c, UINT64_MAX, &p) > 0)
            ;
        return 0;
    }
    struct frame f = {0, 0, 0};
    while (ws_next_frame(c, &f) == 0 && f.opcode != OP_CLOSE) {
        if (conn_take_exact(c, NULL, (size_t)f.len) != 0)
            break;
    }
    return 0;
}

/* Our side is done: a Close frame (and the peer's answer) or a TLS close_notify. */
static int close_gracefully(struct conn *c)
{
    if (c->ws)
        return ws_send_close(c) == 0 ? wait_closed(c) : -1;
    if (c->ssl != NULL)
        SSL_shutdown(c->ssl);
    return 0;
}

/* ---- the jobs ----------------------------------------------------------------------------- */

static int run_send(struct conn *c, const struct options *o)
{
    unsigned char *msg = malloc(WS_HEADER_MAX + o->frame), h[WS_HEADER_MAX];
    if (msg == NULL)
        return fail("out of memory");
    memset(msg + WS_HEADER_MAX, 'x', o->frame);
    printf("start_ns %" PRIu64 "\n", now_ns());
    int rc = 0;
    for (uint64_t left = o->bytes; left > 0 && rc == 0;) {
        uint64_t n = left < o->frame ? left : o->frame;
        /* The header goes right before the payload: one write per frame. */
        size_t hl = c->ws ? ws_header(h, 1, OP_BINARY, n) : 0;
        memcpy(msg + WS_HEADER_MAX - hl, h, hl);
        rc = conn_write_all(c, msg + WS_HEADER_MAX - hl, hl + (size_t)n);
        left -= n;
    }
    free(msg);
    if (rc != 0)
        return -1;
    printf("sent_ns %" PRIu64 "\n", now_ns());
    return wait_closed(c);
}

/* The payload of the next data frame (raw: the next bytes), up to `want`; 0 at a close. */
static ssize_t take_payload(struct conn *c, uint64_t *frame_left, uint64_t want,
                            const unsigned char **p)
{
    if (!c->ws)
        return conn_take(c, want, p);
    while (*frame_left == 0) {
        struct frame f;
        if (ws_next_frame(c, &f) != 0)
            return -1;
        if (f.opcode == OP_CLOSE)
            return 0;
        if (f.opcode < OP_CLOSE) {
            *frame_left = f.len; /* an empty data frame leaves it 0: read the next one */
            c->data_frames++;
        } else if (conn_take_exact(c, NULL, (size_t)f.len) != 0)
            return -1; /* ping or pong: the relay sends none, skip one if it comes */
    }
    ssize_t n = conn_take(c, want < *frame_left ? want : *frame_left, p);
    if (n > 0)
        *frame_left -= (uint64_t)n;
    return n;
}

static int run_recv(struct conn *c, const struct options *o)
{
    uint64_t got = 0, frame_left = 0;
    while (got < o->bytes) {
        const unsigned char *p;
        ssize_t n = take_payload(c, &frame_left, o->bytes - got, &p);
        if (n <= 0)
            return n < 0 ? -1
                         : fail("closed after %" PRIu64 " of %" PRIu64 " bytes", got, o->bytes);
        got += (uint64_t)n;
    }
    printf("end_ns %" PRIu64 " bytes %" PRIu64 " frames %" PRIu64 "\n", now_ns(), got,
           c->data_frames);
    return close_gracefully(c);
}

/* Reads exactly len payload bytes, across frames if the relay split them. */
static int read_message(struct conn *c, unsigned char *dst, size_t len)
{
    uint64_t frame_left = 0;
    while (len > 0) {
        const unsigned char *p;
        ssize_t n = take_payload(c, &frame_left, len, &p);
        if (n <= 0)
            return n < 0 ? -1 : fail("the peer closed the stream");
        memcpy(dst, p, (size_t)n);
        dst += n;
        len -= (size_t)n;
    }
    return 0;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank, as the driver's percentile() does. */
static uint64_t percentile(const uint64_t *sorted, uint64_t n, double p)
{
    return sorted[(uint64_t)(p / 100.0 * (double)(n - 1) + 0.5)];
}

/* The summary for a person, then every sample, so the driver can pool interleaved rounds. */
static void print_rtts(uint64_t *rtt, uint64_t n)
{
    qsort(rtt, n, sizeof *rtt, compare_u64);
    printf("rtt_ns count %" PRIu64 " p50 %" PRIu64 " p90 %" PRIu64 " p99 %" PRIu64 " max %" PRIu64
           "\n",
           n, percentile(rtt, n, 50), percentile(rtt, n, 90), percentile(rtt, n, 99), rtt[n - 1]);
    fputs("rtt_samples_ns", stdout);
    for (uint64_t i = 0; i < n; i++)
        printf(" %" PRIu64, rtt[i]);
    putchar('\n');
}

static int run_ping(struct conn *c, const struct options *o)
{
    unsigned char msg[WS_HEADER_MAX + MESSAGE_MAX], echo[MESSAGE_MAX];
    size_t hl = c->ws ? ws_header(msg, 1, OP_BINARY, o->size) : 0;
    memset(msg + hl, 'p', o->size);
    uint64_t *rtt = calloc(o->count, sizeof *rtt);
    if (rtt == NULL)
        return fail("out of memory");
    int rc = 0;
    for (uint64_t i = 0; i < o->warmup + o->count && rc == 0; i++) {
        uint64_t t0 = now_ns();
        rc = conn_write_all(c, msg, hl + o->size);
        if (rc == 0)
            rc = read_message(c, echo, o->size);
        if (rc == 0 && memcmp(echo, msg + hl, o->size) != 0)
            rc = fail("echo %" PRIu64 " came back changed", i);
        if (i >= o->warmup)
            rtt[i - o->warmup] = now_ns() - t0;
    }
    if (rc == 0) {
        print_rtts(rtt, o->count);
        rc = close_gracefully(c);
    }
    free(rtt);
    return rc;
}

/* Echoes frames with their own FIN and opcode (as the C SDK sample does), until the close. */
static int run_echo_ws(struct conn *c)
{
    unsigned char msg[WS_HEADER_MAX + MESSAGE_MAX];
    for (;;) {
        struct frame f;
        if (ws_next_frame(c, &f) != 0)
            return -1;
        if (f.opcode == OP_CLOSE)
            return 0;
        if (f.len > MESSAGE_MAX)
            return fail("echo takes frames up to %d bytes, got %" PRIu64, MESSAGE_MAX, f.len);
        if (f.opcode > OP_CLOSE) { /* ping or pong: not echoed */
            if (conn_take_exact(c, NULL, (size_t)f.len) != 0)
                return -1;
            continue;
        }
        size_t hl = ws_header(msg, f.fin, f.opcode, f.len);
        if (conn_take_exact(c, msg + hl, (size_t)f.len) != 0 ||
            conn_write_all(c, msg, hl + (size_t)f.len) != 0)
            return -1;
    }
}

static int run_echo(struct conn *c)
{
    if (c->ws)
        return run_echo_ws(c);
    for (;;) {
        const unsigned char *p;
        ssize_t n = conn_take(c, UINT64_MAX, &p);
        if (n <= 0)
            return (int)n;
        if (conn_write_all(c, p, (size_t)n) != 0)
            return -1;
    }
}

/* ---- command line ------------------------------------------------------------------------- */

static void usage(void)
{
    fputs("usage: ws_bench send|recv|ping|echo (--connect URL | --listen URL) [options]\n"
          "  URL: ws://H:P/path, wss://H:P/path, tcp://H:P, tls://H:P (--listen: tcp, tls)\n"
          "  --token T      Authorization: Bearer T on the upgrade\n"
          "  --ca FILE      verify the TLS server with this CA (else no verification)\n"
          "  --cert F --key F   certificate and key of a tls:// listener\n"
          "  --bytes N      send/recv: bytes to transfer (default 1000000000)\n"
          "  --frame N      send: bytes per frame or write (default 65536)\n"
          "  --count N      ping: timed round trips (default 2000)\n"
          "  --warmup N     ping: untimed round trips first (default 100)\n"
          "  --size N       ping: message size (default 32, at most 65536)\n"
          "  --timeout S    any read, write or accept (default 60)\n",
          stderr);
}

static int parse_number(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
        return fail("'%s' is not a number", text);
    *out = v;
    return 0;
}

static int parse_option(struct options *o, const char *name, const char *value)
{
    const struct {
        const char *name;
        const char **text;
        uint64_t *number;
    } table[] = {
        {"--connect", &o->connect, NULL}, {"--listen", &o->listen, NULL},
        {"--token", &o->token, NULL},     {"--ca", &o->ca, NULL},
        {"--cert", &o->cert, NULL},       {"--key", &o->key, NULL},
        {"--bytes", NULL, &o->bytes},     {"--frame", NULL, &o->frame},
        {"--count", NULL, &o->count},     {"--warmup", NULL, &o->warmup},
        {"--size", NULL, &o->size},       {"--timeout", NULL, &o->timeout_s},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(name, table[i].name) != 0)
            continue;
        if (table[i].text != NULL) {
            *table[i].text = value;
            return 0;
        }
        return parse_number(value, table[i].number);
    }
    return fail("unknown option %s", name);
}

static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){.bytes = 1000000000u,
                          .frame = 65536,
                          .size = 32,
                          .count = 2000,
                          .warmup = 100,
                          .timeout_s = 60};
    if (argc < 2)
        return -1;
    o->role = argv[1];
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc)
            return fail("%s needs a value", argv[i]);
        if (parse_option(o, argv[i], argv[i + 1]) != 0)
            return -1;
    }
    if ((o->connect == NULL) == (o->listen == NULL))
        return fail("give exactly one of --connect and --listen");
    if (o->frame == 0 || o->frame > (1u << 30) || o->size == 0 || o->size > MESSAGE_MAX ||
        o->count == 0 || o->timeout_s == 0)
        return fail("--frame, --size, --count and --timeout must be positive (size <= %d)",
                    MESSAGE_MAX);
    return 0;
}

static int run_role(struct conn *c, const struct options *o)
{
    if (strcmp(o->role, "send") == 0)
        return run_send(c, o);
    if (strcmp(o->role, "recv") == 0)
        return run_recv(c, o);
    if (strcmp(o->role, "ping") == 0)
        return run_ping(c, o);
    return run_echo(c);
}

static int role_known(const char *role)
{
    return strcmp(role, "send") == 0 || strcmp(role, "recv") == 0 || strcmp(role, "ping") == 0 ||
           strcmp(role, "echo") == 0;
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_args(argc, argv, &o) != 0 || !role_known(o.role)) {
        usage();
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* the driver reads each line as it comes */
    signal(SIGPIPE, SIG_IGN);         /* a dropped peer is an error return, not a signal */
    struct conn c = {.fd = -1};
    int rc = conn_open(&c, &o);
    if (rc == 0) {
        printf("connected\n");
        rc = run_role(&c, &o);
    }
    conn_close(&c);
    return rc == 0 ? 0 : 1;
}
