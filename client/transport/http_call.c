#include "http_call.h"

#include "url.h"

#include "util/deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 30000
#define HEADER_NAME_MAX 64
/* How long a finished call's connection waits for the next call: half the emulator's 60 s idle
 * timeout (IoT Hub's is minutes), so the hub does not close it for idleness just as a request
 * goes out on it. */
#define KEEP_IDLE_SECONDS 30
#define CLOSED_EARLY "the connection closed before the response was complete"

/* Where a call's connection stands in the loop's count (struct ih_loop_keepalive). */
enum conn_state {
    CONN_UNCOUNTED, /* none yet, or gone, or one lws never pipelines onto (a DELETE's) */
    CONN_BUSY,      /* carrying the call's request, or closing */
    CONN_IDLE,      /* the call is over; the connection waits for the next call */
};

struct http_call {
    struct ih_loop_conn conn; /* first: the loop passes WSI_DESTROY on through it */
    struct ih_loop *loop;
    /* The call's own copies: should lws keep it past the caller's wait, nothing it touches is
     * the caller's. */
    struct ih_http_request req_copy;
    struct ih_http_response res_storage;
    const struct ih_http_request *req; /* &req_copy */
    struct ih_http_response *res;      /* &res_storage */
    struct ih_url url;
    char host_header[IH_URL_HOST_MAX + 8];
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct lws *wsi;
    int done, gone, jobs, kill;
    /* The caller has its answer and is gone: the loop frees the call once lws lets go. */
    int orphaned;
    size_t body_cap;
    char error[256];
    /* The connection, on the loop's thread only. */
    enum conn_state state;
    int pipelined;     /* asked for keep-alive (LCCSCF_PIPELINE) */
    int reused;        /* went out on the kept connection */
    int resent;        /* went out again on a fresh connection (once at most) */
    int server_closes; /* the response said Connection: close */
    int destroys;      /* WSI_DESTROYs seen */
};

static int post_job(struct http_call *c, void (*fn)(void *ctx))
{
    c->jobs++;
    if (ih_loop_post(c->loop, fn, c) == 0)
        return 0;
    c->jobs--;
    return -1;
}

/* ---- the loop thread ---- */

/* Callers hold the lock. */
static void finish(struct http_call *c, const char *error)
{
    if (!c->done && error != NULL)
        snprintf(c->error, sizeof c->error, "%s", error);
    c->done = 1;
    pthread_cond_broadcast(&c->changed);
}

static void call_destroy(struct http_call *c);

/* Callers hold the lock, on the loop's thread: whether this was the last use of an orphan
 * (then the caller frees it once unlocked). */
static int last_use(struct http_call *c)
{
    return c->orphaned && c->gone && c->jobs == 0;
}

static void unlock_loop_side(struct http_call *c)
{
    int free_it = last_use(c);
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    if (free_it)
        call_destroy(c);
}

/* ---- the kept-alive connection (the loop thread) ----
 *
 * libwebsockets 4.1 does the keeping. A connection made with LCCSCF_PIPELINE asks for
 * keep-alive (without the flag lws sends Connection: close); when the callback returns 0 at the
 * end of a response, lws keeps the connection idle for keep_warm_secs, and the next
 * LCCSCF_PIPELINE connection to the same host, port and TLS takes it over. But lws queues that
 * next request behind the first candidate it finds, busy or idle (lws_vhost_active_conns), and
 * every GET, POST and PUT connection is a candidate, flag or not. So a call pipelines only while
 * none of the loop's candidates carries a request: else it could wait behind a held stream POST
 * for the device's answer. Calls made meanwhile get a connection of their own, closed after the
 * response. One idle connection is kept, which calls one after another (the common case) share. */

/* The methods lws 4.1 pipelines (client/connect2.c): a DELETE gets a connection of its own. */
static int method_keeps(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
}

static int same_endpoint(const struct http_call *a, const struct http_call *b)
{
    return strcmp(a->url.host, b->url.host) == 0 && a->url.port == b->url.port &&
           a->url.tls == b->url.tls;
}

/* An idle connection has nothing to read unless the hub closed it (its idle timeout, or it
 * stopped). lws notices that at its next poll; the peek sees it now. */
static int still_open(struct lws *wsi)
{
    char byte;
    ssize_t n = recv(lws_get_socket_fd(wsi), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Empties the slot: lws hands the connection over to the next call and closes the old wsi, or,
 * when close_it, closes it now, before lws could hand a dead connection over. The call may be
 * freed by the time this returns. */
static void release_idle(struct ih_loop_keepalive *s, int close_it)
{
    struct http_call *idle = s->idle;
    s->idle = NULL;
    idle->state = CONN_UNCOUNTED;
    if (close_it)
        lws_set_timeout(idle->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* Whether c, about to pipeline, goes out on the kept connection. */
static int reuse_kept(struct ih_loop_keepalive *s, const struct http_call *c)
{
    const struct http_call *idle = s->idle;
    if (idle == NULL || !same_endpoint(idle, c))
        return 0;
    int open = still_open(idle->wsi);
    release_idle(s, !open);
    return open;
}

/* At the end of c's response: whether its connection stays open as the kept one. */
static int keep_idle(struct http_call *c, struct lws *wsi)
{
    struct ih_loop_keepalive *s = ih_loop_keepalive(c->loop);
    if (!c->pipelined || c->state != CONN_BUSY || s->idle != NULL || c->server_closes ||
        c->error[0] != '\0')
        return 0;
    s->busy--;
    c->state = CONN_IDLE;
    c->wsi = wsi;
    s->idle = c;
    return 1;
}

static void uncount(struct http_call *c)
{
    struct ih_loop_keepalive *s = ih_loop_keepalive(c->loop);
    if (c->state == CONN_BUSY)
        s->busy--;
    else if (c->state == CONN_IDLE)
        s->idle = NULL;
    c->state = CONN_UNCOUNTED;
}

/* Whether c goes out again, on a fresh connection: the kept connection closed before any of
 * the response came, as when the hub closed it idle just as the request went out. Only a GET,
 * which reads, is sent again: a POST the hub got has asked the device for a stream, and a PUT
 * it got has created the device (a second would answer 409). Those fail, as they would have on
 * a fresh connection cut by the hub; still_open and KEEP_IDLE_SECONDS leave that to a hub that
 * stops at that very instant. */
static int may_resend(const struct http_call *c)
{
    return c->reused && !c->resent && !c->done && c->res->status == 0 &&
           strcmp(c->req->method, "GET") == 0;
}

/* Starts c's request: on the kept connection when it may, else on a new one. */
static struct lws *open_connection(struct http_call *c)
{
    struct ih_loop_keepalive *s = ih_loop_keepalive(c->loop);
    struct lws_client_connect_info i;
    ih_loop_connect_info(c->loop, &c->url, c->host_header, &i);
    i.method = c->req->method;
    i.local_protocol_name = ih_http_protocol.name;
    i.userdata = c;
    i.keep_warm_secs = KEEP_IDLE_SECONDS;
    int keeps = method_keeps(c->req->method);
    c->pipelined = keeps && !c->resent && s->busy == 0;
    c->reused = c->pipelined && reuse_kept(s, c);
    if (c->pipelined)
        i.ssl_connection |= LCCSCF_PIPELINE;
    if (keeps) {
        c->state = CONN_BUSY;
        s->busy++;
    }
    return lws_client_connect_via_info(&i);
}

static void connect_now(void *arg)
{
    struct http_call *c = arg;
    /* Not under the lock: lws may call back from inside the connect. */
    pthread_mutex_lock(&c->lock);
    int give_up = c->done, destroys = c->destroys;
    pthread_mutex_unlock(&c->lock);
    struct lws *wsi = give_up ? NULL : open_connection(c);
    pthread_mutex_lock(&c->lock);
    c->jobs--;
    if (c->destroys != destroys) {
        /* lws failed it from inside the connect; WSI_DESTROY settled the call. */
    } else if (wsi == NULL) {
        char why[240];
        snprintf(why, sizeof why, "cannot connect to %.200s:%d", c->url.host, c->url.port);
        uncount(c);
        finish(c, why);
        c->gone = 1;
    } else {
        c->wsi = wsi;
    }
    unlock_loop_side(c);
}

/* lws let go of c's connection (its last callback): c ends, or goes out again. */
static void connection_gone(struct http_call *c)
{
    uncount(c);
    c->wsi = NULL;
    c->destroys++;
    if (may_resend(c)) {
        c->resent = 1;
        if (post_job(c, connect_now) == 0)
            return;
    }
    finish(c, CLOSED_EARLY);
    c->gone = 1;
}

static void kill_now(void *arg)
{
    struct http_call *c = arg;
    pthread_mutex_lock(&c->lock);
    c->jobs--;
    if (c->wsi != NULL && !c->gone)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    unlock_loop_side(c);
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    char with_colon[HEADER_NAME_MAX + 2];
    snprintf(with_colon, sizeof with_colon, "%s:", name);
    return lws_add_http_header_by_name(wsi, (const unsigned char *)with_colon,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int append_headers(struct http_call *c, struct lws *wsi, void *in, size_t len)
{
    unsigned char **p = in, *end = *p + len;
    const struct ih_http_request *r = c->req;
    for (int i = 0; i < IH_HTTP_MAX_HEADERS && r->headers[i].name != NULL; i++) {
        if (add_header(wsi, r->headers[i].name, r->headers[i].value, p, end) != 0)
            return -1;
    }
    int sends_body = r->body != NULL && r->body_len > 0;
    if (sends_body && add_header(wsi, "content-type", r->content_type, p, end) != 0)
        return -1;
    if (strcmp(r->method, "GET") != 0) {
        /* The SDKs send Content-Length: 0 on the stream POST (docs/protocol.md §1.1). */
        char length[24];
        snprintf(length, sizeof length, "%zu", sends_body ? r->body_len : 0);
        if (add_header(wsi, "content-length", length, p, end) != 0)
            return -1;
    }
    if (sends_body) {
        lws_client_http_body_pending(wsi, 1);
        lws_callback_on_writable(wsi);
    }
    return 0;
}

static int send_body(struct http_call *c, struct lws *wsi)
{
    const struct ih_http_request *r = c->req;
    unsigned char *buf = malloc(LWS_PRE + r->body_len);
    if (buf == NULL)
        return -1;
    memcpy(buf + LWS_PRE, r->body, r->body_len);
    int n = lws_write(wsi, buf + LWS_PRE, r->body_len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    lws_client_http_body_pending(wsi, 0);
    return n < 0 ? -1 : 0;
}

/* A header lws knows by name (etag...) is parsed into its token, not kept as a custom one:
 * that token, or -1. name: lowercase, with its ':'. */
static int known_token(const char *name)
{
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const unsigned char *known = lws_token_to_string((enum lws_token_indexes)t);
        if (known != NULL && strcmp((const char *)known, name) == 0)
            return t;
    }
    return -1;
}

static void keep_headers(struct http_call *c, struct lws *wsi)
{
    char name[HEADER_NAME_MAX + 2], value[IH_HTTP_HEADER_VALUE_MAX];
    for (int i = 0; i < IH_HTTP_MAX_HEADERS && c->req->keep[i] != NULL; i++) {
        int n = snprintf(name, sizeof name, "%s:", c->req->keep[i]);
        int token = known_token(name);
        if (token < 0 && lws_hdr_custom_copy(wsi, value, sizeof value, name, n) >= 0)
            c->res->values[i] = strdup(value);
        else if (token >= 0 && lws_hdr_total_length(wsi, (enum lws_token_indexes)token) > 0 &&
                 lws_hdr_copy(wsi, value, sizeof value, (enum lws_token_indexes)token) >= 0)
            c->res->values[i] = strdup(value);
    }
}

static int append_body(struct http_call *c, const void *in, size_t len)
{
    struct ih_http_response *res = c->res;
    if (res->body_len + len > IH_HTTP_BODY_MAX) {
        finish(c, IH_HTTP_TOO_LARGE);
        return -1;
    }
    if (res->body_len + len + 1 > c->body_cap) {
        size_t cap = c->body_cap > 0 ? c->body_cap : 4096;
        while (cap < res->body_len + len + 1)
            cap *= 2;
        char *grown = realloc(res->body, cap);
        if (grown == NULL) {
            finish(c, "out of memory");
            return -1;
        }
        res->body = grown;
        c->body_cap = cap;
    }
    memcpy(res->body + res->body_len, in, len);
    res->body_len += len;
    res->body[res->body_len] = '\0';
    return 0;
}

static int read_more(struct lws *wsi)
{
    char buf[LWS_PRE + 4096];
    char *p = buf + LWS_PRE;
    int len = (int)sizeof buf - LWS_PRE;
    return lws_http_client_read(wsi, &p, &len) < 0 ? -1 : 0;
}

/* The hub closes the connection after this response. */
static int says_close(struct lws *wsi)
{
    char value[32];
    return lws_hdr_copy(wsi, value, sizeof value, WSI_TOKEN_CONNECTION) > 0 &&
           strcasecmp(value, "close") == 0;
}

static void connection_error(struct http_call *c, const char *in)
{
    char detail[256], text[240];
    ih_loop_take_error(detail, sizeof detail);
    snprintf(text, sizeof text, "%s%s%.150s%s", in != NULL ? in : "failed", detail[0] ? " (" : "",
             detail, detail[0] ? ")" : "");
    finish(c, text);
}

static int on_event(struct http_call *c, struct lws *wsi, enum lws_callback_reasons reason,
                    void *in, size_t len)
{
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        c->res->status = (int)lws_http_client_http_response(wsi);
        c->server_closes = says_close(wsi);
        keep_headers(c, wsi);
        break;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        rc = append_body(c, in, len);
        break;
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        finish(c, NULL);
        rc = keep_idle(c, wsi) ? 0 : -1; /* -1 closes the connection */
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!may_resend(c))
            connection_error(c, in);
        break;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        if (!may_resend(c))
            finish(c, CLOSED_EARLY);
        break;
    case LWS_CALLBACK_WSI_DESTROY:
        connection_gone(c);
        break;
    default:
        break;
    }
    unlock_loop_side(c);
    return rc;
}

static void on_destroyed(void *self)
{
    on_event(self, NULL, LWS_CALLBACK_WSI_DESTROY, NULL, 0);
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct http_call *c = user;
    if (c == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return append_headers(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
        return lws_http_is_redirected_to_get(wsi) ? 0 : send_body(c, wsi);
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
        return read_more(wsi);
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
    case LWS_CALLBACK_WSI_DESTROY:
        return on_event(c, wsi, reason, in, len);
    default:
        return 0;
    }
}

/* ---- the caller's thread ---- */

/* Lock held: waits for the result (or the timeout, which kills the connection). */
static void run(struct http_call *c, int timeout_ms)
{
    struct timespec until = deadline_after_ms(timeout_ms);
    int timed_out = 0;
    if (post_job(c, connect_now) != 0) {
        finish(c, "out of memory");
        c->gone = 1;
    }
    while (!c->done && !timed_out)
        timed_out = pthread_cond_timedwait(&c->changed, &c->lock, &until) == ETIMEDOUT;
    if (timed_out) {
        snprintf(c->error, sizeof c->error, "no response from %.200s:%d within %d s", c->url.host,
                 c->url.port, timeout_ms / 1000);
        c->done = 1;
        post_job(c, kill_now);
    }
}

static char *copy_text(const char *text, int *failed)
{
    char *copy = text != NULL ? strdup(text) : NULL;
    *failed |= text != NULL && copy == NULL;
    return copy;
}

static int copy_request(struct ih_http_request *dst, const struct ih_http_request *src)
{
    int failed = 0;
    memset(dst, 0, sizeof *dst);
    dst->method = copy_text(src->method, &failed);
    dst->url = copy_text(src->url, &failed);
    dst->content_type = copy_text(src->content_type, &failed);
    dst->timeout_ms = src->timeout_ms;
    if (src->body != NULL) {
        char *body = malloc(src->body_len + 1);
        if (body != NULL) {
            memcpy(body, src->body, src->body_len);
            body[src->body_len] = '\0';
        }
        failed |= body == NULL;
        dst->body = body;
        dst->body_len = src->body_len;
    }
    for (int i = 0; i < IH_HTTP_MAX_HEADERS && src->headers[i].name != NULL; i++) {
        dst->headers[i].name = copy_text(src->headers[i].name, &failed);
        dst->headers[i].value = copy_text(src->headers[i].value, &failed);
    }
    for (int i = 0; i < IH_HTTP_MAX_HEADERS && src->keep[i] != NULL; i++)
        dst->keep[i] = copy_text(src->keep[i], &failed);
    return failed ? -1 : 0;
}

static void free_request(struct ih_http_request *r)
{
    free((void *)r->method);
    free((void *)r->url);
    free((void *)r->content_type);
    free((void *)r->body);
    for (int i = 0; i < IH_HTTP_MAX_HEADERS; i++) {
        free((void *)r->headers[i].name);
        free((void *)r->headers[i].value);
        free((void *)r->keep[i]);
    }
}

static void call_destroy(struct http_call *c)
{
    free_request(&c->req_copy);
    ih_http_response_free(&c->res_storage);
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int ih_http_call(struct ih_loop *loop, const struct ih_http_request *req,
                 struct ih_http_response *res, char *err, size_t err_len)
{
    memset(res, 0, sizeof *res);
    struct http_call *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    c->conn.destroyed = on_destroyed;
    c->loop = loop;
    c->req = &c->req_copy;
    c->res = &c->res_storage;
    pthread_mutex_init(&c->lock, NULL);
    deadline_cond_init(&c->changed);
    if (copy_request(&c->req_copy, req) != 0 || ih_url_parse(req->url, &c->url) != 0) {
        snprintf(err, err_len, "'%.200s' is not an http:// or https:// URL", req->url);
        call_destroy(c);
        return -1;
    }
    snprintf(c->host_header, sizeof c->host_header, "%s", c->url.host);
    pthread_mutex_lock(&c->lock);
    run(c, req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
    int rc = c->error[0] == '\0' && c->res->status > 0 ? 0 : -1;
    if (rc != 0)
        snprintf(err, err_len, "%s", c->error[0] != '\0' ? c->error : "no response");
    if (rc == 0) {
        *res = c->res_storage; /* handed over */
        memset(&c->res_storage, 0, sizeof c->res_storage);
    }
    /* The answer does not wait for the connection's close: lws lets go of it on its own time,
     * and the loop frees the call then (it holds copies of everything it uses). */
    int released = c->gone && c->jobs == 0;
    c->orphaned = !released;
    pthread_mutex_unlock(&c->lock);
    if (released)
        call_destroy(c);
    return rc;
}

void ih_http_response_free(struct ih_http_response *res)
{
    free(res->body);
    for (int i = 0; i < IH_HTTP_MAX_HEADERS; i++)
        free(res->values[i]);
    memset(res, 0, sizeof *res);
}

const struct lws_protocols ih_http_protocol = {"ih-http", http_callback, 0, 16 * 1024, 0, NULL, 0};
