#include "wsock.h"

#include "url.h"

#include "util/deadline.h"
#include "util/fifo.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 10000
#define BEARER_MAX 2048
/* A Close frame's payload is at most 125 bytes: a 2-byte code and the reason. */
#define CLOSE_REASON_MAX 123
/* Small writes are gathered into frames of at least this much room. */
#define CHUNK_MIN (16 * 1024)
/* How long ih_wsock_free waits for lws to let go of a connection it asked to close. */
#define RELEASE_WAIT_MS 10000

/* A stream that goes quiet is pinged, and given up when nothing valid arrives for a minute:
 * a connection dropped on the way (a NAT, a dead peer) ends instead of hanging a reader. */
static const lws_retry_bo_t idle_policy = {
    .secs_since_valid_ping = 30,
    .secs_since_valid_hangup = 60,
};

struct chunk {
    struct ih_fifo_link link; /* first: the queue links chunks through it */
    size_t len, cap, off;     /* off: bytes already taken by a reader */
    unsigned char data[];     /* tx: LWS_PRE bytes of headroom first */
};

struct queue {
    struct ih_fifo chunks;
    size_t bytes;
};

enum ws_state { WS_CONNECTING, WS_OPEN, WS_CLOSED };

struct ih_wsock {
    struct ih_loop_conn conn; /* first: the loop passes WSI_DESTROY on through it */
    struct ih_loop *loop;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* any of the below */
    enum ws_state state;
    struct lws *wsi; /* the loop thread's; NULL before the connection and once it is gone */
    int gone;        /* lws will not call back for this wsock any more */
    int kick_posted, jobs;
    struct queue rx, tx;
    int rx_paused;
    int close_requested, close_sent;
    int close_code;
    char close_reason[CLOSE_REASON_MAX + 1];
    int peer_code;
    char peer_reason[CLOSE_REASON_MAX + 1];
    char error[256];
    char subprotocol[32];
    /* What the connection is made with (the loop thread reads them). */
    struct ih_url url;
    char host_header[IH_URL_HOST_MAX + 8];
    char bearer[BEARER_MAX];
    char asked_protocol[32];
};

static void queue_clear(struct queue *q)
{
    ih_fifo_free_all(&q->chunks);
    q->bytes = 0;
}

static void queue_push(struct queue *q, struct chunk *c)
{
    ih_fifo_push(&q->chunks, &c->link);
    q->bytes += c->len;
}

static struct chunk *queue_pop(struct queue *q)
{
    struct chunk *c = (struct chunk *)ih_fifo_pop(&q->chunks);
    if (c != NULL)
        q->bytes -= c->len - c->off;
    return c;
}

static struct chunk *queue_first(const struct queue *q)
{
    return (struct chunk *)q->chunks.head;
}

static struct chunk *queue_last(const struct queue *q)
{
    return (struct chunk *)q->chunks.tail;
}

/* ---- the loop thread ---- */

/* Callers hold the lock. */
static void mark_closed(struct ih_wsock *ws, int code, const char *error)
{
    if (ws->state != WS_CLOSED) {
        ws->state = WS_CLOSED;
        if (ws->peer_code == 0)
            ws->peer_code = code;
        if (error != NULL && ws->error[0] == '\0')
            snprintf(ws->error, sizeof ws->error, "%s", error);
    }
    pthread_cond_broadcast(&ws->changed);
}

static void connect_now(void *arg)
{
    struct ih_wsock *ws = arg;
    struct lws_client_connect_info i;
    ih_loop_connect_info(ws->loop, &ws->url, ws->host_header, &i);
    i.protocol = ws->asked_protocol[0] != '\0' ? ws->asked_protocol : NULL;
    i.local_protocol_name = ih_wsock_protocol.name;
    i.ietf_version_or_minus_one = -1;
    i.userdata = ws;
    i.retry_and_idle_policy = &idle_policy;
    struct lws *wsi = lws_client_connect_via_info(&i);
    pthread_mutex_lock(&ws->lock);
    ws->jobs--;
    if (wsi == NULL) {
        char why[240];
        snprintf(why, sizeof why, "cannot connect to %.200s:%d", ws->url.host, ws->url.port);
        mark_closed(ws, 1006, why);
        ws->gone = 1;
    } else if (!ws->gone) {
        ws->wsi = wsi;
    }
    pthread_cond_broadcast(&ws->changed);
    pthread_mutex_unlock(&ws->lock);
}

/* Work other threads asked for: writing, reading again, or giving up. */
static void kick(void *arg)
{
    struct ih_wsock *ws = arg;
    pthread_mutex_lock(&ws->lock);
    ws->jobs--;
    ws->kick_posted = 0;
    if (ws->wsi != NULL && !ws->gone) {
        if (ws->state == WS_CONNECTING && ws->close_requested)
            lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        else if (queue_first(&ws->tx) != NULL || ws->close_requested)
            lws_callback_on_writable(ws->wsi);
        if (ws->rx_paused && ws->rx.bytes < IH_WSOCK_LOW_WATER) {
            ws->rx_paused = 0;
            lws_rx_flow_control(ws->wsi, 1);
        }
    }
    pthread_cond_broadcast(&ws->changed);
    pthread_mutex_unlock(&ws->lock);
}

/* Callers hold the lock. */
static void post_kick(struct ih_wsock *ws)
{
    if (ws->kick_posted || ws->gone)
        return;
    if (ih_loop_post(ws->loop, kick, ws) == 0) {
        ws->kick_posted = 1;
        ws->jobs++;
    }
}

static int append_headers(struct ih_wsock *ws, struct lws *wsi, void *in, size_t len)
{
    unsigned char **p = in, *end = *p + len;
    char value[BEARER_MAX + 8];
    snprintf(value, sizeof value, "Bearer %s", ws->bearer);
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)value,
                                        (int)strlen(value), p, end)
               ? -1
               : 0;
}

/* The 101's headers are still there: the subprotocol the server chose. */
static void read_subprotocol(struct ih_wsock *ws, struct lws *wsi)
{
    char proto[32] = "";
    if (lws_hdr_copy(wsi, proto, sizeof proto, WSI_TOKEN_PROTOCOL) < 0)
        proto[0] = '\0';
    pthread_mutex_lock(&ws->lock);
    snprintf(ws->subprotocol, sizeof ws->subprotocol, "%s", proto);
    pthread_mutex_unlock(&ws->lock);
}

static void on_established(struct ih_wsock *ws, struct lws *wsi)
{
    pthread_mutex_lock(&ws->lock);
    ws->wsi = wsi;
    ws->state = WS_OPEN;
    if (queue_first(&ws->tx) != NULL || ws->close_requested)
        lws_callback_on_writable(wsi);
    pthread_cond_broadcast(&ws->changed);
    pthread_mutex_unlock(&ws->lock);
}

static int on_receive(struct ih_wsock *ws, struct lws *wsi, const void *in, size_t len)
{
    if (len == 0)
        return 0; /* an empty frame carries nothing; a read of 0 means the end */
    struct chunk *c = malloc(sizeof *c + (len > 0 ? len : 1));
    if (c == NULL)
        return -1;
    c->len = c->cap = len;
    c->off = 0;
    memcpy(c->data, in, len);
    pthread_mutex_lock(&ws->lock);
    queue_push(&ws->rx, c);
    if (ws->rx.bytes > IH_WSOCK_HIGH_WATER && !ws->rx_paused) {
        ws->rx_paused = 1;
        lws_rx_flow_control(wsi, 0);
    }
    pthread_cond_broadcast(&ws->changed);
    pthread_mutex_unlock(&ws->lock);
    return 0;
}

/* One frame per call (lws allows one write per writable callback); then the Close once the
 * queue is empty. */
static int on_writable(struct ih_wsock *ws, struct lws *wsi)
{
    pthread_mutex_lock(&ws->lock);
    struct chunk *c = queue_pop(&ws->tx);
    int more = queue_first(&ws->tx) != NULL || ws->close_requested;
    int close_now = c == NULL && ws->close_requested;
    if (close_now)
        ws->close_sent = 1;
    pthread_cond_broadcast(&ws->changed);
    pthread_mutex_unlock(&ws->lock);
    if (close_now) {
        lws_close_reason(wsi, (enum lws_close_status)ws->close_code,
                         (unsigned char *)ws->close_reason, strlen(ws->close_reason));
        return -1;
    }
    if (c == NULL)
        return 0;
    int n = lws_write(wsi, c->data + LWS_PRE, c->len, LWS_WRITE_BINARY);
    free(c);
    if (n < 0)
        return -1;
    if (more)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_peer_close(struct ih_wsock *ws, const unsigned char *p, size_t len)
{
    pthread_mutex_lock(&ws->lock);
    ws->peer_code = len >= 2 ? (p[0] << 8) | p[1] : 1005;
    size_t n = len > 2 ? len - 2 : 0;
    if (n > CLOSE_REASON_MAX)
        n = CLOSE_REASON_MAX;
    memcpy(ws->peer_reason, p + 2, n);
    ws->peer_reason[n] = '\0';
    pthread_mutex_unlock(&ws->lock);
}

static void on_connection_error(struct ih_wsock *ws, struct lws *wsi, const char *why)
{
    char text[256], detail[256];
    int status = wsi != NULL ? (int)lws_http_client_http_response(wsi) : 0;
    ih_loop_take_error(detail, sizeof detail);
    if (status > 0 && status != 101)
        snprintf(text, sizeof text, "the streaming endpoint refused the WebSocket with HTTP %d%s%s",
                 status, why != NULL ? ": " : "", why != NULL ? why : "");
    else
        snprintf(text, sizeof text, "%.100s%s%.140s%s", why != NULL ? why : "failed",
                 detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
    pthread_mutex_lock(&ws->lock);
    mark_closed(ws, 1006, text);
    pthread_mutex_unlock(&ws->lock);
}

static void on_gone(void *self)
{
    struct ih_wsock *ws = self;
    pthread_mutex_lock(&ws->lock);
    mark_closed(ws, 1006, NULL);
    ws->wsi = NULL;
    ws->gone = 1;
    pthread_cond_broadcast(&ws->changed);
    pthread_mutex_unlock(&ws->lock);
}

static int wsock_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct ih_wsock *ws = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return ws != NULL ? append_headers(ws, wsi, in, len) : 0;
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
        read_subprotocol(ws, wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        on_established(ws, wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(ws, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writable(ws, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        on_peer_close(ws, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (ws != NULL)
            on_connection_error(ws, wsi, in);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (ws != NULL) {
            pthread_mutex_lock(&ws->lock);
            mark_closed(ws, 1006, NULL);
            pthread_mutex_unlock(&ws->lock);
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (ws != NULL)
            on_gone(ws);
        return 0;
    default:
        return 0;
    }
}

/* ---- the callers' threads ---- */

static int prepare(struct ih_wsock *ws, const struct ih_wsock_options *o, char *err, size_t err_len)
{
    if (ih_url_parse(o->url, &ws->url) != 0) {
        snprintf(err, err_len, "'%.200s' is not a ws:// or wss:// URL", o->url);
        return -1;
    }
    if (o->bearer == NULL || strlen(o->bearer) >= sizeof ws->bearer) {
        snprintf(err, err_len, "the stream's token is missing or too long");
        return -1;
    }
    /* Host carries the port, as the C SDK sends it (docs/protocol.md §3.2). */
    int v6 = strchr(ws->url.host, ':') != NULL;
    snprintf(ws->host_header, sizeof ws->host_header, "%s%s%s:%d", v6 ? "[" : "", ws->url.host,
             v6 ? "]" : "", ws->url.port);
    snprintf(ws->bearer, sizeof ws->bearer, "%s", o->bearer);
    snprintf(ws->asked_protocol, sizeof ws->asked_protocol, "%s",
             o->subprotocol != NULL ? o->subprotocol : "");
    return 0;
}

static struct ih_wsock *wsock_new(struct ih_loop *loop)
{
    struct ih_wsock *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return NULL;
    ws->conn.destroyed = on_gone;
    ws->loop = loop;
    pthread_mutex_init(&ws->lock, NULL);
    deadline_cond_init(&ws->changed);
    return ws;
}

/* Waits (lock held) until lws has let go of the connection and no job is pending. */
static void wait_released(struct ih_wsock *ws)
{
    struct timespec until = deadline_after_ms(RELEASE_WAIT_MS);
    while ((!ws->gone || ws->jobs > 0) &&
           pthread_cond_timedwait(&ws->changed, &ws->lock, &until) != ETIMEDOUT)
        ;
}

static void wsock_destroy(struct ih_wsock *ws)
{
    queue_clear(&ws->rx);
    queue_clear(&ws->tx);
    pthread_cond_destroy(&ws->changed);
    pthread_mutex_destroy(&ws->lock);
    free(ws);
}

int ih_wsock_open(struct ih_loop *loop, const struct ih_wsock_options *o, struct ih_wsock **out,
                  char *err, size_t err_len)
{
    struct ih_wsock *ws = wsock_new(loop);
    if (ws == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (prepare(ws, o, err, err_len) != 0) {
        wsock_destroy(ws);
        return -1;
    }
    struct timespec until =
        deadline_after_ms(o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS);
    pthread_mutex_lock(&ws->lock);
    ws->jobs++;
    if (ih_loop_post(loop, connect_now, ws) != 0) {
        ws->jobs--;
        ws->gone = 1;
        mark_closed(ws, 1006, "out of memory");
    }
    int timed_out = 0;
    while (ws->state == WS_CONNECTING && !timed_out)
        timed_out = pthread_cond_timedwait(&ws->changed, &ws->lock, &until) == ETIMEDOUT;
    int rc = ws->state == WS_OPEN ? 0 : -1;
    if (rc != 0) {
        if (timed_out)
            snprintf(err, err_len, "no answer from %.200s:%d in time", ws->url.host, ws->url.port);
        else
            snprintf(err, err_len, "%s", ws->error);
        ws->close_requested = 1;
        ws->close_code = 1001; /* going away: should the upgrade still complete */
        post_kick(ws);
        wait_released(ws);
    }
    int released = ws->gone && ws->jobs == 0;
    pthread_mutex_unlock(&ws->lock);
    if (rc == 0)
        *out = ws;
    else if (released)
        wsock_destroy(ws);
    /* else lws may still call back with it: kept (a bounded leak beats a use after free). */
    return rc;
}

ssize_t ih_wsock_read(struct ih_wsock *ws, void *buf, size_t cap)
{
    pthread_mutex_lock(&ws->lock);
    while (queue_first(&ws->rx) == NULL && ws->state != WS_CLOSED)
        pthread_cond_wait(&ws->changed, &ws->lock);
    size_t n = 0;
    struct chunk *c;
    while (n < cap && (c = queue_first(&ws->rx)) != NULL) {
        size_t take = c->len - c->off < cap - n ? c->len - c->off : cap - n;
        memcpy((unsigned char *)buf + n, c->data + c->off, take);
        c->off += take;
        n += take;
        ws->rx.bytes -= take;
        if (c->off == c->len)
            free(queue_pop(&ws->rx)); /* all of it was counted off already */
    }
    if (ws->rx_paused && ws->rx.bytes < IH_WSOCK_LOW_WATER)
        post_kick(ws);
    pthread_mutex_unlock(&ws->lock);
    return (ssize_t)n;
}

/* Callers hold the lock: appends to the last queued frame while it has room. */
static int enqueue(struct ih_wsock *ws, const unsigned char *p, size_t len)
{
    while (len > 0) {
        struct chunk *t = queue_last(&ws->tx);
        if (t == NULL || t->len == t->cap) {
            size_t cap = len > CHUNK_MIN ? len : CHUNK_MIN;
            if (cap > IH_WSOCK_FRAME_MAX)
                cap = IH_WSOCK_FRAME_MAX;
            if ((t = malloc(sizeof *t + LWS_PRE + cap)) == NULL)
                return -1;
            t->len = t->off = 0;
            t->cap = cap;
            queue_push(&ws->tx, t);
        }
        size_t n = len < t->cap - t->len ? len : t->cap - t->len;
        memcpy(t->data + LWS_PRE + t->len, p, n);
        t->len += n;
        ws->tx.bytes += n;
        p += n;
        len -= n;
    }
    return 0;
}

int ih_wsock_write(struct ih_wsock *ws, const void *buf, size_t len)
{
    pthread_mutex_lock(&ws->lock);
    while (ws->tx.bytes > IH_WSOCK_HIGH_WATER && ws->state == WS_OPEN && !ws->close_requested)
        pthread_cond_wait(&ws->changed, &ws->lock);
    int rc = ws->state == WS_OPEN && !ws->close_requested ? enqueue(ws, buf, len) : -1;
    if (rc == 0)
        post_kick(ws);
    pthread_mutex_unlock(&ws->lock);
    return rc;
}

/* Codes an endpoint may send in a Close frame (RFC 6455 §7.4). */
static int sendable_code(int code)
{
    return (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006) ||
           (code >= 3000 && code <= 4999);
}

void ih_wsock_close(struct ih_wsock *ws, int code, const char *reason)
{
    if (!sendable_code(code))
        code = 1000;
    pthread_mutex_lock(&ws->lock);
    if (!ws->close_requested && ws->state != WS_CLOSED) {
        ws->close_requested = 1;
        ws->close_code = code;
        snprintf(ws->close_reason, sizeof ws->close_reason, "%s", reason != NULL ? reason : "");
        post_kick(ws);
    }
    pthread_cond_broadcast(&ws->changed);
    pthread_mutex_unlock(&ws->lock);
}

int ih_wsock_close_code(struct ih_wsock *ws, char *reason, size_t reason_len)
{
    pthread_mutex_lock(&ws->lock);
    /* When this side closed first, lws does not hand over the peer's answering Close: the code
     * is the one sent. */
    int ours = ws->close_sent && ws->peer_reason[0] == '\0' && ws->peer_code == 1006;
    int code = ws->state != WS_CLOSED ? 0 : ours ? ws->close_code : ws->peer_code;
    if (reason != NULL)
        snprintf(reason, reason_len, "%s", ours ? ws->close_reason : ws->peer_reason);
    pthread_mutex_unlock(&ws->lock);
    return code;
}

const char *ih_wsock_subprotocol(struct ih_wsock *ws)
{
    return ws->subprotocol;
}

void ih_wsock_free(struct ih_wsock *ws)
{
    if (ws == NULL)
        return;
    ih_wsock_close(ws, 1000, "");
    pthread_mutex_lock(&ws->lock);
    wait_released(ws);
    int released = ws->gone && ws->jobs == 0;
    pthread_mutex_unlock(&ws->lock);
    /* Not released in time: lws may still call back with it, so it is kept (a bounded leak
     * beats a use after free). */
    if (released)
        wsock_destroy(ws);
}

/* Frames of up to 64 KiB (the real gateway's limit) arrive in one piece. */
const struct lws_protocols ih_wsock_protocol = {"ih-ws", wsock_callback, 0, 64 * 1024, 0, NULL, 0};
