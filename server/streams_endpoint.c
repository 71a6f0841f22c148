#include "streams_endpoint.h"

#include "bridge_request.h"
#include "conn_table.h"
#include "keys.h"
#include "listen_socket.h"
#include "log.h"
#include "relay.h"
#include "stream_service.h"

#include "protocol/hub_error.h"

#include <libwebsockets.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frames up to 64 KiB (the real gateway's limit, protocol.md rule 13) arrive in one piece. */
#define RX_BUFFER (64 * 1024)
#define SERVICE_BUFFER (RX_BUFFER + 4096)
#define AUTH_HEADER_MAX 256
#define PATH_MAX_LEN 256
#define PROTOCOL_HEADER_MAX 256
/* The hub's closes (Going Away), with what ended the stream. */
#define CLOSE_BY_HUB 1001
#define CLOSE_UNPAIRED_REASON "the stream ended before both sides connected"
#define CLOSE_DEVICE_GONE_REASON "the device was deleted or disabled"
/* Connections still before their upgrade (TLS handshake, request head) held at once: past it
 * the one waiting the longest is shed. lws files every such connection's deadline in a sorted
 * list, so their number is what each new connection costs; a stream's two upgrades take
 * milliseconds, so legitimate ones never come near it. */
#define PRE_UPGRADE_MAX 1024

struct streams_endpoint {
    struct emulator *emu;
    struct stream_core *core;
    struct lws_context *ctx;
    struct relay *relay;
    struct stream_limits limits;
    pthread_t thread;
    atomic_int stopping;
    lws_sorted_usec_list_t timer;
    /* Work handed over by other threads, done at LWS_CALLBACK_EVENT_WAIT_CANCELLED. */
    pthread_mutex_t lock;
    int rearm;
    struct close_order *closes;
    size_t close_count, close_cap;
    struct conn_table conns; /* the lws thread only */
};

/* A bridge whose sides another thread asked to close. */
struct close_order {
    char id[STREAM_ID_LEN + 1];
    enum stream_close_why why;
};

/* One WebSocket of a bridge. */
struct session {
    struct stream *stream; /* referenced from the claim until the connection is gone */
    struct bridge *bridge;
    enum stream_side side;
    int peer_code; /* the close code this side sent, 0 if none */
};

static struct streams_endpoint *endpoint_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* An accepted connection in the table (the wsi's opaque user data). */
struct tracked {
    struct conn_entry entry; /* first: the table hands back entries */
    struct lws *wsi;
};

/* Closed at once and without the polite TLS shutdown: lws accepts a burst of connections in one
 * go, and would otherwise keep each one shed waiting for its silent peer, with a deadline filed
 * in the sorted list every new connection walks. lws_close_free_wsi is lws's own close (exported
 * for event-loop plugins); the context-destroy reason is the one that skips the wait. */
static void shed(struct streams_endpoint *ep, struct tracked *victim)
{
    lws_close_free_wsi(victim->wsi, LWS_CLOSE_STATUS_NOSTATUS_CONTEXT_DESTROY, "shed");
    log_info_limited("streams",
                     "%zu connections to the streaming endpoint, %zu of them before their "
                     "upgrade: closed the one waiting the longest (%zu so far)",
                     ep->conns.count, ep->conns.idle_count, ep->conns.shed);
}

/* Every accepted connection is in the table, idle until its upgrade: one that connects and
 * says nothing is shed before any other. */
static void track(struct streams_endpoint *ep, struct lws *wsi)
{
    struct tracked *t = calloc(1, sizeof *t);
    if (t == NULL)
        return; /* not counted: its lws deadline still ends it */
    t->wsi = wsi;
    lws_set_opaque_user_data(wsi, t);
    struct conn_entry *victim = conn_table_add(&ep->conns, &t->entry);
    if (victim != NULL)
        shed(ep, (struct tracked *)victim);
}

static void untrack(struct streams_endpoint *ep, struct lws *wsi)
{
    struct tracked *t = lws_get_opaque_user_data(wsi);
    if (t == NULL)
        return;
    conn_table_remove(&ep->conns, &t->entry);
    lws_set_opaque_user_data(wsi, NULL);
    free(t);
}

static void upgraded(struct streams_endpoint *ep, struct lws *wsi)
{
    struct tracked *t = lws_get_opaque_user_data(wsi);
    if (t != NULL)
        conn_table_busy(&ep->conns, &t->entry);
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    default:
        return "Not Found";
    }
}

/* The refusal goes out as a complete HTTP/1.1 response written by hand: lws's helpers answer an
 * upgrade request with HTTP/1.0, which WebSocket clients refuse to read. */
static int refuse(struct lws *wsi, const struct bridge_refusal *r)
{
    char hex[33], tracking[96], *body = NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (keys_random_hex(hex, 16) != 0 ||
        ih_error_tracking_id(hex, &now, tracking, sizeof tracking) != IH_OK ||
        ih_error_body(r->code, r->message, tracking, &now, NULL, &body) != IH_OK)
        return -1;
    size_t body_len = strlen(body);
    unsigned char buf[LWS_PRE + 2048];
    int n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                     "iothub-errorcode: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     r->status, reason_phrase(r->status), ih_error_name(r->code), body_len, body);
    free(body);
    if (n <= 0 || (size_t)n >= sizeof buf - LWS_PRE ||
        lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    return 1;
}

static void log_refusal(struct streams_endpoint *ep, const char *id, const struct bridge_refusal *r,
                        const char *detail)
{
    struct stream_info info;
    if (id[0] != '\0' && stream_core_find(ep->core, id, &info) == 0)
        log_info("streams", "refused a WebSocket for stream %s of '%s' (%s): %d, %s", id,
                 info.device_id, detail, r->status, r->message);
    else
        log_info("streams", "refused a WebSocket for bridge '%s' (%s): %d, %s", id, detail,
                 r->status, r->message);
}

/* Reads the bridge id and the bearer token of an upgrade. */
static enum stream_attach_result read_request(struct lws *wsi, char id[STREAM_ID_LEN + 1],
                                              char token[AUTH_HEADER_MAX])
{
    char path[PATH_MAX_LEN], auth[AUTH_HEADER_MAX];
    id[0] = '\0';
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0 ||
        bridge_path_parse(path, id) != 0)
        return ATTACH_UNKNOWN_BRIDGE;
    if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) < 0 ||
        bridge_bearer_parse(auth, token, AUTH_HEADER_MAX) != 0)
        return ATTACH_BAD_TOKEN;
    return ATTACH_OK;
}

/* lws would drop, without an answer, an upgrade asking only for subprotocols it does not
 * serve; such a request gets a 400 here instead. */
static int subprotocol_acceptable(struct lws *wsi)
{
    char header[PROTOCOL_HEADER_MAX];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) <= 0)
        return 1;
    return lws_hdr_copy(wsi, header, sizeof header, WSI_TOKEN_PROTOCOL) >= 0 &&
           bridge_subprotocol_acceptable(header);
}

/* Before the 101 (protocol.md §3.3): the path and the token, checked without using it up. */
static int admit(struct streams_endpoint *ep, struct lws *wsi)
{
    char id[STREAM_ID_LEN + 1], token[AUTH_HEADER_MAX];
    enum stream_side side;
    enum stream_attach_result r = read_request(wsi, id, token);
    if (r == ATTACH_OK)
        r = stream_core_attach(ep->core, id, token, 0, stream_clock_ms(), &side, NULL);
    struct bridge_refusal refusal = bridge_refusal_for(r);
    if (r == ATTACH_OK && subprotocol_acceptable(wsi))
        return 0;
    if (r == ATTACH_OK)
        refusal = (struct bridge_refusal){400, IH_E_ARGUMENT_INVALID,
                                          "none of the WebSocket subprotocols asked for is "
                                          "served here; ask for none, or one of bridge, MQTT, "
                                          "AMQP, HTTP (any of them in lowercase too)"};
    log_refusal(ep, id, &refusal, "at the upgrade");
    return refuse(wsi, &refusal);
}

/* The protocol is chosen: the token is used up and the session bound to its stream. */
static int claim(struct streams_endpoint *ep, struct lws *wsi, struct session *ss)
{
    char id[STREAM_ID_LEN + 1], token[AUTH_HEADER_MAX];
    memset(ss, 0, sizeof *ss);
    enum stream_attach_result r = read_request(wsi, id, token);
    if (r == ATTACH_OK)
        r = stream_core_attach(ep->core, id, token, 1, stream_clock_ms(), &ss->side, &ss->stream);
    if (r == ATTACH_OK)
        return 0;
    /* The same token raced another connection between the two checks. */
    struct bridge_refusal refusal = bridge_refusal_for(r);
    log_refusal(ep, id, &refusal, "at the claim");
    return -1;
}

static int established(struct streams_endpoint *ep, struct lws *wsi, struct session *ss)
{
    ss->bridge = relay_join(ep->relay, ss->stream, ss->side, wsi);
    if (ss->bridge == NULL)
        return -1;
    stream_core_side_up(ep->core, ss->stream, ss->side, stream_clock_ms());
    return 0;
}

static int receive(struct streams_endpoint *ep, struct lws *wsi, struct session *ss, const void *in,
                   size_t len)
{
    if (ss->bridge == NULL)
        return -1;
    stream_core_count(ss->stream, ss->side, len);
    struct relay_piece piece = {in,
                                len,
                                lws_remaining_packet_payload(wsi),
                                lws_is_first_fragment(wsi),
                                lws_is_final_fragment(wsi),
                                lws_frame_is_binary(wsi)};
    switch (relay_receive(ss->bridge, ss->side, &piece)) {
    case RELAY_OK:
        return 0;
    case RELAY_TOO_BIG:
        log_info("streams",
                 "stream %s: the %s sent a message larger than %zu bytes (--max-message-bytes): "
                 "closing both sides with 1009",
                 stream_core_id(ss->stream), stream_side_name(ss->side), ep->limits.max_message);
        lws_close_reason(wsi, RELAY_CLOSE_TOO_BIG, (unsigned char *)"message too big", 15);
        return -1;
    case RELAY_BAD_TEXT:
        log_info("streams",
                 "stream %s: the %s sent a text message that is not UTF-8: closing both sides "
                 "with 1007",
                 stream_core_id(ss->stream), stream_side_name(ss->side));
        lws_close_reason(wsi, RELAY_CLOSE_BAD_TEXT, (unsigned char *)"text that is not UTF-8", 22);
        return -1;
    case RELAY_NO_MEMORY:
        break;
    }
    log_error("streams", "stream %s: out of memory relaying the %s's bytes: closing it",
              stream_core_id(ss->stream), stream_side_name(ss->side));
    return -1;
}

/* The connection is gone (closed, dropped, or refused after the claim): once only. */
static void release(struct streams_endpoint *ep, struct session *ss)
{
    if (ss->stream == NULL)
        return;
    enum stream_side first = ss->side;
    int code = ss->bridge != NULL ? relay_left(ep->relay, ss->bridge, ss->side, &first) : 0;
    char reason[32];
    snprintf(reason, sizeof reason, "%s_closed", stream_side_name(first));
    stream_core_side_down(ep->core, ss->stream, ss->side, code, reason, stream_clock_ms());
    ss->stream = NULL;
    ss->bridge = NULL;
}

static void rearm_timer(struct streams_endpoint *ep);

static void on_expiry(void *ctx, const struct stream_expiry *e)
{
    struct streams_endpoint *ep = ctx;
    stream_service_on_expiry(ep->emu->streams, e);
}

static void on_timer(lws_sorted_usec_list_t *sul)
{
    struct streams_endpoint *ep = lws_container_of(sul, struct streams_endpoint, timer);
    stream_core_expire(ep->core, stream_clock_ms(), on_expiry, ep);
    rearm_timer(ep);
}

/* The lws thread only: the timer fires at the core's next deadline. */
static void rearm_timer(struct streams_endpoint *ep)
{
    int64_t next = stream_core_next_deadline(ep->core);
    lws_sul_cancel(&ep->timer);
    if (next < 0)
        return;
    int64_t wait_ms = next - stream_clock_ms();
    lws_sul_schedule(ep->ctx, 0, &ep->timer, on_timer,
                     (lws_usec_t)(wait_ms > 0 ? wait_ms : 0) * 1000 + 1000);
}

/* Work other threads handed over: closes asked for, and the timer to re-arm. */
static void run_handed_work(struct streams_endpoint *ep)
{
    pthread_mutex_lock(&ep->lock);
    int rearm = ep->rearm;
    size_t n = ep->close_count;
    struct close_order *closes = ep->closes;
    ep->rearm = 0;
    ep->closes = NULL;
    ep->close_count = ep->close_cap = 0;
    pthread_mutex_unlock(&ep->lock);
    for (size_t i = 0; i < n; i++)
        relay_close_bridge(ep->relay, closes[i].id, CLOSE_BY_HUB,
                           closes[i].why == STREAM_CLOSE_DEVICE_GONE ? CLOSE_DEVICE_GONE_REASON
                                                                     : CLOSE_UNPAIRED_REASON);
    free(closes);
    if (rearm)
        rearm_timer(ep);
}

/* Every subprotocol a client may ask for (bridge_subprotocols, filled in by create_context);
 * lws echoes the first one requested that is in this list, and a request without one gets
 * the first, "bridge", and no Sec-WebSocket-Protocol. No extensions are offered, so
 * permessage-deflate is declined. */
static struct lws_protocols protocols[BRIDGE_SUBPROTOCOL_COUNT + 1];

/* By name: a vhost may hold its own copy of the protocol table. */
static int is_first_protocol(struct lws *wsi)
{
    const struct lws_protocols *p = lws_get_protocol(wsi);
    return p != NULL && p->name != NULL && strcmp(p->name, bridge_subprotocols[0]) == 0;
}

static int on_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    struct streams_endpoint *ep = endpoint_of(wsi);
    struct session *ss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return admit(ep, wsi);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return claim(ep, wsi, ss);
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        track(ep, wsi);
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        upgraded(ep, wsi);
        return established(ep, wsi, ss);
    case LWS_CALLBACK_RECEIVE:
        return receive(ep, wsi, ss, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ss->bridge != NULL ? relay_writable(ss->bridge, ss->side) : -1;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (ss->bridge != NULL)
            relay_peer_closed(ss->bridge, ss->side, in, len);
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (ss != NULL)
            release(ep, ss);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (ss != NULL)
            release(ep, ss);
        untrack(ep, wsi);
        return 0;
    case LWS_CALLBACK_HTTP: {
        struct bridge_refusal r = {404, IH_E_NOT_FOUND,
                                   "the streaming endpoint takes only WebSocket upgrades of "
                                   "/bridges/{id}"};
        return refuse(wsi, &r) > 0 ? 0 : -1;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* lws calls every protocol of every vhost: the work is done once, for "bridge". */
        if (is_first_protocol(wsi))
            run_handed_work(ep);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static void fill_protocols(void)
{
    for (size_t i = 0; i < BRIDGE_SUBPROTOCOL_COUNT; i++) {
        protocols[i].name = bridge_subprotocols[i];
        protocols[i].callback = on_ws;
        protocols[i].per_session_data_size = sizeof(struct session);
        protocols[i].rx_buffer_size = RX_BUFFER;
    }
}

/* Thread-safe: deadlines changed, the timer must be re-armed. */
static void op_wake(void *ctx)
{
    struct streams_endpoint *ep = ctx;
    pthread_mutex_lock(&ep->lock);
    ep->rearm = 1;
    pthread_mutex_unlock(&ep->lock);
    lws_cancel_service(ep->ctx);
}

/* Thread-safe: close what is attached to a bridge (a rejection, a deadline, a deleted device). */
static void op_close_bridge(void *ctx, const char *id, enum stream_close_why why)
{
    struct streams_endpoint *ep = ctx;
    pthread_mutex_lock(&ep->lock);
    if (ep->close_count == ep->close_cap) {
        size_t cap = ep->close_cap > 0 ? 2 * ep->close_cap : 8;
        void *grown = realloc(ep->closes, cap * sizeof *ep->closes);
        if (grown != NULL) {
            ep->closes = grown;
            ep->close_cap = cap;
        }
    }
    int queued = ep->close_count < ep->close_cap;
    if (queued) {
        struct close_order *o = &ep->closes[ep->close_count++];
        snprintf(o->id, sizeof o->id, "%s", id);
        o->why = why;
    }
    pthread_mutex_unlock(&ep->lock);
    if (!queued)
        log_error("streams",
                  "out of memory: stream %s is over but its WebSockets could not be closed now; "
                  "they close when their peers do",
                  id);
    lws_cancel_service(ep->ctx);
}

static void *service_loop(void *arg)
{
    struct streams_endpoint *ep = arg;
    while (!atomic_load(&ep->stopping)) {
        if (lws_service(ep->ctx, 0) < 0)
            break;
    }
    return NULL;
}

/* lws takes an address, or NULL for every interface. */
static const char *lws_interface(const char *listen)
{
    return strcmp(listen, "0.0.0.0") == 0 || strcmp(listen, "::") == 0 ? NULL : listen;
}

static struct lws_vhost *add_vhost(struct streams_endpoint *ep, const char *name, int port, int tls)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.vhost_name = name;
    info.port = port;
    info.iface = lws_interface(ep->emu->cfg->listen);
    /* lws binds an IPv4 address given as iface only with IPv6 off: with it on, it listens on
     * every address (found by the loopback-by-default test). */
    if (info.iface != NULL && strchr(info.iface, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.protocols = protocols;
    if (tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = ep->emu->tls.cert_path;
        info.ssl_private_key_filepath = ep->emu->tls.key_path;
    }
    return lws_create_vhost(ep->ctx, &info);
}

/* One listener: checked free first (a taken port fails with its fix), then served. */
static int listen_on(struct streams_endpoint *ep, int requested, int tls, int *bound)
{
    const char *flag = tls ? "--streams-port" : "--streams-plain-port";
    char reason[400];
    int port = 0;
    *bound = CONFIG_PORT_OFF;
    if (requested == CONFIG_PORT_OFF)
        return 0;
    if (requested != 0 && listen_socket_reserve(ep->emu->cfg->listen, requested, tls ? "WSS" : "WS",
                                                flag, &port, reason, sizeof reason) != 0) {
        log_error("main", "%s", reason);
        return -1;
    }
    struct lws_vhost *vh = add_vhost(ep, tls ? "wss" : "ws", requested, tls);
    if (vh == NULL) {
        log_error("main", "the streaming endpoint could not listen on port %d (%s)", requested,
                  flag);
        return -1;
    }
    *bound = lws_get_vhost_listen_port(vh);
    return 0;
}

static int create_context(struct streams_endpoint *ep)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.pt_serv_buf_size = SERVICE_BUFFER;
    info.user = ep;
    info.count_threads = 1;
    fill_protocols();
    lws_set_log_level(LLL_ERR, NULL);
    ep->ctx = lws_create_context(&info);
    return ep->ctx != NULL ? 0 : -1;
}

int streams_endpoint_start(struct emulator *emu, struct streams_endpoint **out)
{
    struct streams_endpoint *ep = calloc(1, sizeof *ep);
    if (ep == NULL)
        return -1;
    ep->emu = emu;
    ep->core = stream_service_core(emu->streams);
    conn_table_init(&ep->conns, emu->conn_limit, PRE_UPGRADE_MAX);
    pthread_mutex_init(&ep->lock, NULL);
    config_stream_limits(emu->cfg, &ep->limits);
    struct relay_limits relay_limits = {ep->limits.connection_memory, ep->limits.max_message};
    int rc = (ep->relay = relay_new(&relay_limits)) != NULL && create_context(ep) == 0 ? 0 : -1;
    if (rc == 0)
        rc = listen_on(ep, emu->cfg->streams_port, 1, &emu->streams_port);
    if (rc == 0)
        rc = listen_on(ep, emu->cfg->streams_plain_port, 0, &emu->streams_plain_port);
    if (rc == 0)
        rc = pthread_create(&ep->thread, NULL, service_loop, ep) == 0 ? 0 : -1;
    if (rc != 0) {
        if (ep->ctx != NULL)
            lws_context_destroy(ep->ctx);
        relay_free(ep->relay);
        pthread_mutex_destroy(&ep->lock);
        free(ep);
        return -1;
    }
    struct stream_relay_ops ops = {op_wake, op_close_bridge, ep};
    stream_service_set_relay(emu->streams, &ops);
    *out = ep;
    return 0;
}

void streams_endpoint_stop(struct streams_endpoint *ep)
{
    if (ep == NULL)
        return;
    /* Once set to none, no other thread calls in (stream_service_set_relay waits for calls in
     * progress); then the service thread is stopped, and the context can go. */
    struct stream_relay_ops none = {NULL, NULL, NULL};
    stream_service_set_relay(ep->emu->streams, &none);
    atomic_store(&ep->stopping, 1);
    lws_cancel_service(ep->ctx);
    pthread_join(ep->thread, NULL);
    lws_context_destroy(ep->ctx); /* closes every WebSocket: the streams are released */
    if (ep->conns.count != 0)
        log_error("streams", "%zu connections were never seen to close", ep->conns.count);
    relay_free(ep->relay);
    free(ep->closes);
    pthread_mutex_destroy(&ep->lock);
    free(ep);
}
