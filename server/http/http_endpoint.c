#include "http_endpoint.h"

#include "conn_table.h"
#include "event_hub.h"
#include "log.h"
#include "rest.h"
#include "deferred.h"

#include "protocol/number.h"
#include "util/deadline.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A new connection has this long to finish its TLS handshake and its first request head (silent
 * connections must not keep their slot); once it has made a request, it may sit idle between
 * requests for the longer keep-alive time. */
#define HEAD_TIMEOUT_SECONDS 10
#define KEEP_ALIVE_TIMEOUT_SECONDS 60
/* Each connection's memory pool. libmicrohttpd reads the request head into half of it and files
 * every query parameter and header in the rest, some 40 bytes each; past that it cannot even
 * build its own 431 and closes the connection. Its default, 32 KiB, ran out at 800 parameters
 * (3.2 KB of query); 128 KiB holds 1,600, more than a 3 KB query string can carry. Only the
 * pages a request touches are used. */
#define CONNECTION_MEMORY (128 * 1024)
/* libmicrohttpd's own cap sits above the table's (emulator.conn_limit), so a new connection is
 * always taken and the table sheds the one idle the longest instead. */
#define CONNECTION_HEADROOM 64
/* How much body past REST_MAX_BODY is read (and dropped) so a 413 can still be sent. */
#define DISCARD_LIMIT (1024 * 1024)
/* An event stream is sent in pieces of at most this. */
#define EVENTS_BLOCK (16 * 1024)
/* At shutdown, how long the requests being answered (stream POSTs are answered 503 by then)
 * have to get their answers out. */
#define DRAIN_MS 2000
/* Test-only: milliseconds a deferred stream POST waits between its handler and its suspension,
 * the window in which a shutdown once missed it (tests/integration/test_streams.py, Shutdown). */
#define TEST_HOLD_ENV "IOTHUB_EMULATOR_TEST_HOLD_DEFERRED_MS"

struct http_endpoint {
    const struct rest_router *router;
    struct MHD_Daemon *daemon;
    struct emulator *emu;
    /* Requests being answered, from the moment their handler runs until their answer is out:
     * libmicrohttpd may not be stopped with one suspended, and stopping it drops any answer
     * still queued. */
    pthread_mutex_t lock;
    pthread_cond_t drained;
    int in_flight;
    unsigned test_hold_ms;
    const char *name;        /* "HTTPS", "HTTP" */
    struct conn_table conns; /* libmicrohttpd's thread only */
};

/* A connection, from its accept to its close (libmicrohttpd's socket context). */
struct connection_state {
    struct conn_entry entry; /* first: the table hands back entries */
    int fd;
    int made_a_request; /* its timeout is the keep-alive one */
};

/* A request body as it arrives, bounded by REST_MAX_BODY. */
struct request_state {
    char *body;
    size_t len;
    int too_large;
    int responded;
    int counted;              /* in http_endpoint.in_flight until the connection is done */
    int suspended_once;       /* a request answered later (a stream POST), or an event stream */
    struct deferred later;    /* resumes the suspended connection when it completes */
    size_t received;          /* bytes of body seen, kept or dropped */
    struct event_sub *events; /* the page's event stream, until the connection ends */
};

static const char *lookup_header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static const char *lookup_query(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* libmicrohttpd would percent-decode the whole path before routing, turning an encoded '/' in a
 * device id into a separator; rest_path_parse decodes each segment instead (docs/protocol.md
 * rule 1). Query values stay encoded too; rest_query_value decodes them. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void log_from_mhd(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* A client that fails its TLS handshake makes libmicrohttpd say so, once per connection:
 * repeated lines are limited by kind, libmicrohttpd's format string. */
static void log_from_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    log_vwrite_limited(LOG_INFO, "main: libmicrohttpd", fmt, ap);
}

static void count_in_flight(struct http_endpoint *ep, int delta)
{
    pthread_mutex_lock(&ep->lock);
    ep->in_flight += delta;
    if (ep->in_flight == 0)
        pthread_cond_broadcast(&ep->drained);
    pthread_mutex_unlock(&ep->lock);
}

static struct connection_state *connection_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

/* The table is full: the connection idle the longest goes. Shutting its socket down makes
 * libmicrohttpd see it end and close it on its own thread, as any closed connection. */
static void shed(struct http_endpoint *ep, struct conn_entry *victim)
{
    shutdown(((struct connection_state *)victim)->fd, SHUT_RDWR);
    log_info_limited("main",
                     "%zu connections to the %s endpoint, the most it holds: closed the one idle "
                     "the longest (%zu so far); clients that connect and say nothing are shed "
                     "first",
                     ep->conns.count, ep->name, ep->conns.shed);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_endpoint *ep = cls;
    struct connection_state *cs = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (cs != NULL)
            conn_table_remove(&ep->conns, &cs->entry);
        free(cs);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == NULL || (cs = calloc(1, sizeof *cs)) == NULL)
        return; /* not counted: it cannot be shed, and its timeout still ends it */
    *socket_context = cs;
    cs->fd = info->connect_fd;
    struct conn_entry *victim = conn_table_add(&ep->conns, &cs->entry);
    if (victim != NULL)
        shed(ep, victim);
}

/* A request head is in: the connection is at work, and has earned the keep-alive timeout. */
static void connection_busy(struct MHD_Connection *c, struct http_endpoint *ep)
{
    struct connection_state *cs = connection_of(c);
    if (cs == NULL)
        return;
    conn_table_busy(&ep->conns, &cs->entry);
    if (!cs->made_a_request) {
        cs->made_a_request = 1;
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)KEEP_ALIVE_TIMEOUT_SECONDS);
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)code;
    struct connection_state *cs = connection_of(c);
    if (cs != NULL)
        conn_table_idle(&((struct http_endpoint *)cls)->conns, &cs->entry);
    struct request_state *st = *con_cls;
    if (st != NULL) {
        if (st->counted)
            count_in_flight(cls, -1);
        event_hub_unsubscribe(st->events);
        deferred_destroy(&st->later);
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

static void append_body(struct request_state *st, const char *data, size_t size)
{
    if (st->too_large || st->len + size > REST_MAX_BODY) {
        st->too_large = 1;
        return;
    }
    char *grown = realloc(st->body, st->len + size + 1);
    if (grown == NULL) {
        st->too_large = 1;
        return;
    }
    memcpy(grown + st->len, data, size);
    st->body = grown;
    st->len += size;
    st->body[st->len] = '\0';
}

static void suspend_connection(void *ctx);

/* The event stream's body, as the page's events come: with nothing to send the connection is
 * suspended, and the next event resumes it (the reader suspends and returns 0, libmicrohttpd's
 * way to say "no data yet"). */
static ssize_t read_events(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct request_state *st = cls;
    ssize_t n = event_sub_read(st->events, buf, max, suspend_connection);
    return n >= 0 ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static struct MHD_Response *make_response(struct request_state *st, struct rest_response *res)
{
    if (res->events != NULL) {
        st->events = res->events; /* unsubscribed when the connection ends */
        res->events = NULL;
        return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, EVENTS_BLOCK, read_events, st,
                                                 NULL);
    }
    struct MHD_Response *r =
        res->body != NULL
            ? MHD_create_response_from_buffer(res->body_len, res->body, MHD_RESPMEM_MUST_FREE)
            : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r != NULL)
        res->body = NULL; /* libmicrohttpd owns it now */
    return r;
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct request_state *st,
                                     struct rest_response *res)
{
    struct MHD_Response *r = make_response(st, res);
    if (r == NULL)
        return MHD_NO;
    if (res->content_type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    for (size_t i = 0; i < res->header_count; i++)
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ok;
}

/* 127.0.0.1 and ::1 (or ::ffff:127.0.0.1): the client runs on this machine. */
static int peer_is_loopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info != NULL ? info->client_addr : NULL;
    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    if (sa->sa_family != AF_INET6)
        return 0;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    static const unsigned char mapped[16] = {0, 0, 0,    0,    0,   0, 0, 0,
                                             0, 0, 0xff, 0xff, 127, 0, 0, 1};
    return IN6_IS_ADDR_LOOPBACK(a) || memcmp(a->s6_addr, mapped, 16) == 0;
}

static void resume_connection(void *ctx)
{
    MHD_resume_connection(ctx);
}

static void suspend_connection(void *ctx)
{
    MHD_suspend_connection(ctx);
}

static enum MHD_Result respond(struct http_endpoint *ep, struct MHD_Connection *c, const char *url,
                               const char *method, struct request_state *st)
{
    struct rest_request req = {
        .method = method,
        .path = url,
        .header = lookup_header,
        .query = lookup_query,
        .ctx = c,
        .body = st->body,
        .body_len = st->len,
        .body_too_large = st->too_large,
        .deferred = &st->later,
        .events_wake = resume_connection,
        .events_ctx = c,
        .peer_loopback = peer_is_loopback(c),
    };
    struct rest_response res;
    if (!st->counted) {
        /* Counted before the handler runs: a stream POST reaches its device inside rest_handle,
         * and from then on shutdown must wait for its answer (the 503) to go out. */
        st->counted = 1;
        count_in_flight(ep, 1);
    }
    if (st->suspended_once) {
        rest_finish_deferred(&req, &res);
    } else {
        rest_handle(ep->router, ep->emu, &req, &res);
        if (res.deferred) {
            if (ep->test_hold_ms > 0)
                usleep(ep->test_hold_ms * 1000u);
            /* Suspended until the stream is decided, unless it already is; libmicrohttpd calls
             * again once the wait resumes the connection. */
            st->suspended_once = 1;
            rest_response_free(&res);
            if (deferred_suspend(&st->later, suspend_connection))
                return MHD_YES;
            rest_finish_deferred(&req, &res);
        }
    }
    enum MHD_Result ok = send_response(c, st, &res);
    rest_response_free(&res);
    st->responded = 1;
    return ok;
}

/* The declared Content-Length, 0 when none. */
static unsigned long long declared_length(struct MHD_Connection *c)
{
    const char *length =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    return length != NULL && ih_parse_uint(length, UINT64_MAX, &n) == IH_OK ? n : 0;
}

/* A body past the limit is answered 413 once it has been read: a client still sending when the
 * answer comes and the connection closes sees a reset, not the answer (curl: exit 55). Up to
 * DISCARD_LIMIT more bytes are read and dropped for that; a body declared larger still is refused
 * at once, and one that runs past it without a declared length is cut off. */
static enum MHD_Result drop_excess(struct request_state *st, const char *url, const char *method)
{
    /* All of the body counts, what was kept before the limit too: a declared length up to the
     * limit plus DISCARD_LIMIT is always read to its end. */
    if (st->responded || st->received <= REST_MAX_BODY + DISCARD_LIMIT)
        return MHD_YES;
    log_info("main", "%s %.200s: closed the connection after more than %d bytes of body", method,
             url, REST_MAX_BODY + DISCARD_LIMIT);
    return MHD_NO;
}

/* libmicrohttpd calls this once when the headers are in, once per piece of body, and once at the
 * end. The answer goes out at the end, or as soon as the body is known to be too large. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct http_endpoint *ep = cls;
    struct request_state *st = *con_cls;
    if (st == NULL) {
        connection_busy(c, ep);
        if ((st = calloc(1, sizeof *st)) == NULL)
            return MHD_NO;
        deferred_init(&st->later, resume_connection, c);
        *con_cls = st;
        unsigned long long declared = declared_length(c);
        st->too_large = declared > REST_MAX_BODY;
        return declared > REST_MAX_BODY + DISCARD_LIMIT ? respond(ep, c, url, method, st) : MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t size = *upload_data_size;
        st->received += size;
        append_body(st, upload_data, size);
        *upload_data_size = 0;
        return st->too_large ? drop_excess(st, url, method) : MHD_YES;
    }
    return st->responded ? MHD_YES : respond(ep, c, url, method, st);
}

int http_endpoint_start(struct emulator *emu, const struct rest_router *router, int listen_fd,
                        int use_tls, struct http_endpoint **out, char *err, size_t err_len)
{
    struct http_endpoint *ep = calloc(1, sizeof *ep);
    if (ep == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    ep->emu = emu;
    ep->router = router;
    ep->name = use_tls ? "HTTPS" : "HTTP";
    conn_table_init(&ep->conns, emu->conn_limit, emu->conn_limit);
    const char *hold = getenv(TEST_HOLD_ENV);
    uint64_t hold_ms = 0;
    ep->test_hold_ms =
        hold != NULL && ih_parse_uint(hold, 60000, &hold_ms) == IH_OK ? (unsigned)hold_ms : 0;
    pthread_mutex_init(&ep->lock, NULL);
    deadline_cond_init(&ep->drained);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (use_tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_options[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, use_tls ? emu->tls.key_pem : NULL},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, use_tls ? emu->tls.cert_pem : NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* The logger goes first: libmicrohttpd uses its own for anything said before it. */
    ep->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, ep, MHD_OPTION_EXTERNAL_LOGGER, log_from_mhd, NULL,
        MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, ep, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        ep, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HEAD_TIMEOUT_SECONDS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(emu->conn_limit + CONNECTION_HEADROOM),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY, MHD_OPTION_ARRAY,
        use_tls ? tls_options : tls_options + 2, MHD_OPTION_END);
    if (ep->daemon == NULL) {
        snprintf(err, err_len, "libmicrohttpd could not start the %s listener (see the log above)",
                 use_tls ? "HTTPS" : "HTTP");
        pthread_cond_destroy(&ep->drained);
        pthread_mutex_destroy(&ep->lock);
        free(ep);
        return -1;
    }
    *out = ep;
    return 0;
}

/* Waits, up to DRAIN_MS, until every request being answered has its answer out. */
static void drain(struct http_endpoint *ep)
{
    struct timespec until = deadline_after_ms(DRAIN_MS);
    int rc = 0;
    pthread_mutex_lock(&ep->lock);
    while (ep->in_flight > 0 && rc == 0)
        rc = pthread_cond_timedwait(&ep->drained, &ep->lock, &until);
    int left = ep->in_flight;
    pthread_mutex_unlock(&ep->lock);
    if (left > 0)
        log_warn("main", "%d request(s) still had no answer out after %d ms; stopping anyway", left,
                 DRAIN_MS);
}

/* The stream service has answered every waiting POST (stream_service_shutdown): no new
 * connection is taken while those answers go out, then libmicrohttpd stops. */
void http_endpoint_stop(struct http_endpoint *ep)
{
    if (ep == NULL)
        return;
    MHD_socket listen_fd = MHD_quiesce_daemon(ep->daemon);
    drain(ep);
    MHD_stop_daemon(ep->daemon);
    if (ep->conns.count != 0)
        log_error("main", "%zu %s connections were never seen to close", ep->conns.count, ep->name);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd); /* quiesced: it is the caller's now */
    pthread_cond_destroy(&ep->drained);
    pthread_mutex_destroy(&ep->lock);
    free(ep);
}
