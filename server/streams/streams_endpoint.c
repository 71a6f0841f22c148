#include "streams_endpoint.h"

#include "bridge_conn.h"
#include "conn_table.h"
#include "listen_socket.h"
#include "log.h"
#include "monotonic.h"
#include "relay.h"
#include "stream_service.h"

#include <libwebsockets.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lws reads up to this at a time: a 64 KiB frame (the real gateway's limit, docs/protocol.md
 * rule 13) and its header in one go. */
#define SERVICE_BUFFER (64 * 1024 + 4096)
/* Every accepted connection is a raw socket of this protocol (TLS by lws): the WebSocket
 * protocol is bridge_conn.c's. */
#define RAW_PROTOCOL "bridge-raw"
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
    struct bridge_env env;
};

/* A bridge whose sides another thread asked to close. */
struct close_order {
    char id[STREAM_ID_LEN + 1];
    enum stream_close_why why;
};

static struct streams_endpoint *endpoint_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
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
    stream_core_expire(ep->core, monotonic_ms(), on_expiry, ep);
    rearm_timer(ep);
}

/* The lws thread only: the timer fires at the core's next deadline. */
static void rearm_timer(struct streams_endpoint *ep)
{
    int64_t next = stream_core_next_deadline(ep->core);
    lws_sul_cancel(&ep->timer);
    if (next < 0)
        return;
    int64_t wait_ms = next - monotonic_ms();
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

static int on_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    (void)user;
    struct streams_endpoint *ep = endpoint_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
        return bridge_conn_open(&ep->env, wsi);
    case LWS_CALLBACK_RAW_RX:
        return bridge_conn_read(&ep->env, wsi, in, len);
    case LWS_CALLBACK_RAW_WRITEABLE:
        return bridge_conn_writable(&ep->env, wsi);
    case LWS_CALLBACK_RAW_CLOSE:
    case LWS_CALLBACK_WSI_DESTROY:
        bridge_conn_closed(&ep->env, wsi);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Once per vhost: the second call finds nothing left to do. */
        run_handed_work(ep);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {RAW_PROTOCOL, on_raw, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

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
    info.options |= LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
    info.listen_accept_role = "raw-skt";
    info.listen_accept_protocol = RAW_PROTOCOL;
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
    struct relay_limits relay_limits = {ep->limits.connection_memory, ep->limits.max_message,
                                        LWS_PRE};
    ep->relay = relay_new(&relay_limits, &bridge_conn_relay_io);
    ep->env = (struct bridge_env){ep->core, ep->relay, &ep->conns, ep->limits.max_message};
    int rc = -1;
    if (ep->relay == NULL)
        log_error("main", "the streaming endpoint: out of memory");
    else if (create_context(ep) != 0)
        log_error("main", "the streaming endpoint: libwebsockets could not start");
    else if (listen_on(ep, emu->cfg->streams_port, 1, &emu->streams_port) == 0 &&
             listen_on(ep, emu->cfg->streams_plain_port, 0, &emu->streams_plain_port) == 0)
        rc = 0; /* listen_on says why it failed */
    if (rc == 0 && pthread_create(&ep->thread, NULL, service_loop, ep) != 0) {
        log_error("main", "the streaming endpoint: cannot start its thread");
        rc = -1;
    }
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
