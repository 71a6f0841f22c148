#include "bridge_conn.h"

#include "bridge_request.h"
#include "keys.h"
#include "log.h"
#include "monotonic.h"
#include "stream_service.h"
#include "ws_frame.h"
#include "ws_upgrade.h"

#include "protocol/hub_error.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BEARER_MAX 256
#define TLS_RECORD_MAX 16384 /* plaintext bytes in one TLS record (RFC 8446 §5.1) */

enum phase {
    PHASE_HEAD, /* reading the upgrade request */
    PHASE_OPEN, /* a WebSocket of a bridge */
    PHASE_CLOSE_SENT /* its Close went: waiting for the client's */,
    PHASE_ENDING, /* a last answer to write (a refusal, a final Close), then the close */
};

struct bridge_conn {
    struct conn_entry entry; /* first: the table hands back entries */
    struct lws *wsi;
    enum phase phase;
    struct ws_head *head; /* while PHASE_HEAD */
    /* What goes out before any frame: the 101 or a refusal. */
    unsigned char *out;
    size_t out_len;
    /* A control frame to write before the next data frame: a pong, or a final Close. */
    unsigned char control[LWS_PRE + WS_HEADER_MAX + WS_CONTROL_MAX];
    size_t control_len;
    int last_write_out; /* the last write is out: close at the next writable */
    struct ws_reader reader;
    struct stream *stream; /* referenced from the claim until the connection is gone */
    struct bridge *bridge;
    enum stream_side side;
    struct bridge_env *env;
};

static struct bridge_conn *conn_of(struct lws *wsi)
{
    return lws_get_opaque_user_data(wsi);
}

/* ---- writing ---- */

static int write_raw(struct lws *wsi, unsigned char *data, size_t len)
{
    return lws_write(wsi, data, len, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

/* A control frame for the next writable: a pong, or a Close after which the connection ends. */
static void queue_control(struct bridge_conn *c, enum ws_opcode op, const void *payload, size_t len)
{
    unsigned char *frame = c->control + LWS_PRE;
    size_t n = ws_frame_header(frame, op, 1, len);
    if (len > 0)
        memcpy(frame + n, payload, len);
    c->control_len = n + len;
    lws_callback_on_writable(c->wsi);
}

/* The connection's last words: a Close with code (none for WS_CLOSE_NO_STATUS) and reason. */
static void queue_final_close(struct bridge_conn *c, int code, const void *reason, size_t len)
{
    unsigned char payload[WS_CONTROL_MAX];
    size_t n = 0;
    if (code != WS_CLOSE_NO_STATUS) {
        if (len > WS_CLOSE_REASON_MAX)
            len = WS_CLOSE_REASON_MAX;
        payload[0] = (unsigned char)(code >> 8);
        payload[1] = (unsigned char)code;
        if (len > 0)
            memcpy(payload + 2, reason, len);
        n = 2 + len;
    }
    queue_control(c, WS_OP_CLOSE, payload, n);
    c->phase = PHASE_ENDING;
}

/* ---- refusing an upgrade ---- */

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

/* The HTTP/1.1 refusal with the hub's error body, then the close. */
static int refuse(struct bridge_conn *c, const struct bridge_refusal *r)
{
    char hex[33], tracking[96], *body = NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (keys_random_hex(hex, 16) != 0 ||
        ih_error_tracking_id(hex, &now, tracking, sizeof tracking) != IH_OK ||
        ih_error_body(r->code, r->message, tracking, &now, NULL, &body) != IH_OK)
        return -1;
    size_t cap = LWS_PRE + strlen(body) + 256;
    c->out = malloc(cap);
    int n = c->out != NULL
                ? snprintf((char *)c->out + LWS_PRE, cap - LWS_PRE,
                           "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                           "iothub-errorcode: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
                           "\r\n%s",
                           r->status, reason_phrase(r->status), ih_error_name(r->code),
                           strlen(body), body)
                : -1;
    free(body);
    if (n <= 0 || (size_t)n >= cap - LWS_PRE)
        return -1;
    c->out_len = (size_t)n;
    c->phase = PHASE_ENDING;
    lws_callback_on_writable(c->wsi);
    return 0;
}

static void log_refusal(struct bridge_conn *c, const char *id, const struct bridge_refusal *r)
{
    struct stream_info info;
    if (id[0] != '\0' && stream_core_find(c->env->core, id, &info) == 0)
        log_info_limited("streams", "refused a WebSocket for stream %s of '%s': %d, %s", id,
                         info.device_id, r->status, r->message);
    else
        log_info_limited("streams", "refused a WebSocket for bridge '%s': %d, %s", id, r->status,
                         r->message);
}

static int refuse_logged(struct bridge_conn *c, const char *id, struct bridge_refusal r)
{
    log_refusal(c, id, &r);
    return refuse(c, &r);
}

/* ---- the upgrade ---- */

/* The request as a WebSocket upgrade (RFC 6455 §4.2.1); 0, or a refusal. */
static int check_upgrade(const struct ws_request *req, char accept[WS_ACCEPT_LEN + 1],
                         struct bridge_refusal *no)
{
    if (!req->get || !req->upgrade) {
        *no = (struct bridge_refusal){404, IH_E_NOT_FOUND,
                                      "the streaming endpoint takes only WebSocket upgrades of "
                                      "/bridges/{id}"};
        return -1;
    }
    if (strcmp(req->version, "13") != 0) {
        *no =
            (struct bridge_refusal){400, IH_E_ARGUMENT_INVALID, "Sec-WebSocket-Version must be 13"};
        return -1;
    }
    if (ws_accept_key(req->key, accept) != 0) {
        *no = (struct bridge_refusal){400, IH_E_ARGUMENT_INVALID,
                                      "Sec-WebSocket-Key must be the base64 of 16 bytes"};
        return -1;
    }
    return 0;
}

/* The bridge and the token: checked (claim 0) or used up (claim 1). */
static enum stream_attach_result attach(struct bridge_conn *c, const struct ws_request *req,
                                        char id[STREAM_ID_LEN + 1], int claim)
{
    char token[BEARER_MAX];
    id[0] = '\0';
    if (bridge_path_parse(req->path, id) != 0)
        return ATTACH_UNKNOWN_BRIDGE;
    if (bridge_bearer_parse(req->authorization, token, sizeof token) != 0)
        return ATTACH_BAD_TOKEN;
    return stream_core_attach(c->env->core, id, token, claim, monotonic_ms(), &c->side,
                              claim ? &c->stream : NULL);
}

/* The 101: the side joins its bridge; what the client sent behind its request is read next. */
static int accept_upgrade(struct bridge_conn *c, const char *accept, const char *protocol)
{
    c->out = malloc(LWS_PRE + 512);
    size_t n = c->out != NULL
                   ? ws_switching_protocols(accept, protocol, (char *)c->out + LWS_PRE, 512)
                   : 0;
    c->bridge = n > 0 ? relay_join(c->env->relay, stream_core_id(c->stream), c->side, c) : NULL;
    if (c->bridge == NULL)
        return -1; /* the claimed stream is released when the connection goes */
    c->out_len = n;
    c->phase = PHASE_OPEN;
    free(c->head);
    c->head = NULL;
    ws_reader_init(&c->reader);
    conn_table_busy(c->env->table, &c->entry);
    lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
    stream_core_side_up(c->env->core, c->stream, c->side, monotonic_ms());
    lws_callback_on_writable(c->wsi);
    return 0;
}

/* The request head is in: refuse it, or upgrade (docs/protocol.md §3.2-3.4). The token is checked
 * first and used up last, so a refusal for its subprotocols leaves it good. */
static int upgrade(struct bridge_conn *c)
{
    struct ws_request req;
    const char *why = NULL;
    char accept[WS_ACCEPT_LEN + 1], id[STREAM_ID_LEN + 1] = "";
    struct bridge_refusal no;
    if (ws_request_parse(c->head->text, c->head->len, &req, &why) != WS_REQUEST_OK)
        return refuse_logged(c, id, (struct bridge_refusal){400, IH_E_ARGUMENT_INVALID, why});
    if (check_upgrade(&req, accept, &no) != 0)
        return refuse_logged(c, id, no);
    enum stream_attach_result r = attach(c, &req, id, 0);
    if (r != ATTACH_OK)
        return refuse_logged(c, id, bridge_refusal_for(r));
    const char *protocol = NULL;
    if (!bridge_subprotocol_choose(req.protocols, &protocol))
        return refuse_logged(c, id,
                             (struct bridge_refusal){400, IH_E_ARGUMENT_INVALID,
                                                     "none of the WebSocket subprotocols asked "
                                                     "for is served here; ask for none, or one "
                                                     "of bridge, MQTT, AMQP, HTTP (any of them "
                                                     "in lowercase too)"});
    if ((r = attach(c, &req, id, 1)) != ATTACH_OK) /* another connection raced for the token */
        return refuse_logged(c, id, bridge_refusal_for(r));
    return accept_upgrade(c, accept, protocol);
}

/* ---- reading frames ---- */

static int on_data(void *ctx, const struct ws_piece *p)
{
    struct bridge_conn *c = ctx;
    if (c->phase != PHASE_OPEN)
        return 0; /* the stream is ending: nothing more is passed on */
    stream_core_count(c->stream, c->side, p->len);
    switch (relay_receive(c->bridge, c->side, p)) {
    case RELAY_OK:
        return 0;
    case RELAY_TOO_BIG:
        log_info_limited("streams",
                         "stream %s: the %s sent a message larger than %zu bytes "
                         "(--max-message-bytes): closing both sides with 1009",
                         stream_core_id(c->stream), stream_side_name(c->side), c->env->max_message);
        queue_final_close(c, WS_CLOSE_TOO_BIG, "message too big", 15);
        return -1;
    case RELAY_NO_MEMORY:
        break;
    }
    log_error("streams", "stream %s: out of memory relaying the %s's bytes: closing it",
              stream_core_id(c->stream), stream_side_name(c->side));
    relay_fail(c->bridge, c->side, WS_CLOSE_GOING_AWAY, "the hub ran out of memory");
    queue_final_close(c, WS_CLOSE_GOING_AWAY, "the hub ran out of memory", 25);
    return -1;
}

static void on_ping(void *ctx, const unsigned char *payload, size_t len)
{
    struct bridge_conn *c = ctx;
    if (c->phase == PHASE_OPEN) /* the newest ping's pong replaces an older one not yet out */
        queue_control(c, WS_OP_PONG, payload, len);
}

/* The client's Close: the end of our handshake, or the start of its own, which its peer hears
 * of and this connection answers. */
static void on_close(void *ctx, int code, const unsigned char *reason, size_t len)
{
    struct bridge_conn *c = ctx;
    if (c->phase == PHASE_CLOSE_SENT) {
        c->last_write_out = 1;
        lws_callback_on_writable(c->wsi);
        return;
    }
    relay_peer_closed(c->bridge, c->side, code, reason, len);
    queue_final_close(c, code, reason, len);
}

static const struct ws_reader_ops reader_ops = {on_data, on_ping, on_close};

/* A client that breaks the protocol: one line, its peer closed with the same code, and its own
 * Close saying why. */
static void refused_frame(struct bridge_conn *c, int code, const char *why)
{
    if (c->phase != PHASE_OPEN) { /* its Close went already: only the connection is left */
        c->last_write_out = 1;
        lws_callback_on_writable(c->wsi);
        return;
    }
    log_info_limited("streams", "stream %s: the %s sent %s: closing both sides with %d",
                     stream_core_id(c->stream), stream_side_name(c->side), why, code);
    relay_fail(c->bridge, c->side, code, why);
    queue_final_close(c, code, why, strlen(why));
}

static int read_frames(struct bridge_conn *c, unsigned char *data, size_t len)
{
    int code = 0;
    const char *why = NULL;
    switch (ws_reader_feed(&c->reader, data, len, &reader_ops, c, &code, &why)) {
    case WS_READ_MORE:
    case WS_READ_STOPPED:
        return 0;
    case WS_READ_REFUSED:
        refused_frame(c, code, why);
        return 0;
    }
    return 0;
}

/* ---- what the relay asks of a connection (relay.h) ---- */

static void io_want_write(void *conn)
{
    struct bridge_conn *c = conn;
    lws_callback_on_writable(c->wsi);
}

static void io_read_flow(void *conn, int on)
{
    struct bridge_conn *c = conn;
    lws_rx_flow_control(c->wsi, on);
}

/* A reader too slow to take what is queued for it in time is cut off. */
static void io_close_after_flush(void *conn)
{
    struct bridge_conn *c = conn;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_REASON_BASE, RELAY_CLOSE_FLUSH_S);
    lws_callback_on_writable(c->wsi);
}

/* Over TLS a frame bigger than a record leaves as several records, each its own write():
 * corked, the kernel sends them as a few full segments instead of one per record (a 64 KiB
 * frame and its 4-byte header are five records, the last of 4 bytes), which the receiver also
 * reads in fewer wake-ups. Small frames go out at once, uncorked, for the echo's latency. lws
 * takes a raw write whole, keeping what the socket did not, and calls back once it is out. */
static int io_write(void *conn, unsigned char *frame, size_t len)
{
    static const int on = 1, off = 0;
    struct bridge_conn *c = conn;
    int fd = len > TLS_RECORD_MAX && lws_is_ssl(c->wsi) ? lws_get_socket_fd(c->wsi) : -1;
    /* Corking is only an optimisation: if it fails, the frame still goes out, uncorked. */
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
    int rc = write_raw(c->wsi, frame, len);
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    return rc;
}

static void io_queued(void *conn, enum stream_side to, size_t bytes)
{
    struct bridge_conn *c = conn;
    stream_core_note_queued(c->stream, to, bytes);
}

const struct relay_io bridge_conn_relay_io = {
    io_want_write, io_read_flow, io_close_after_flush, io_write, io_queued,
};

/* ---- the callbacks ---- */

static void shed(struct bridge_env *env, struct bridge_conn *victim)
{
    /* Closed at once, without the polite TLS shutdown: lws accepts a burst of connections in
     * one go, and each one it still holds makes the next one's deadline dearer to file in its
     * sorted list. lws_close_free_wsi is lws's own close (exported for event-loop plugins); the
     * context-destroy reason is the one that skips the wait. */
    lws_close_free_wsi(victim->wsi, LWS_CLOSE_STATUS_NOSTATUS_CONTEXT_DESTROY, "shed");
    log_info_limited("streams",
                     "%zu connections to the streaming endpoint, %zu of them before their "
                     "upgrade: closed the one waiting the longest (%zu so far)",
                     env->table->count, env->table->idle_count, env->table->shed);
}

int bridge_conn_open(struct bridge_env *env, struct lws *wsi)
{
    struct bridge_conn *c = calloc(1, sizeof *c);
    struct ws_head *head = calloc(1, sizeof *head);
    if (c == NULL || head == NULL) {
        free(c);
        free(head);
        return -1;
    }
    c->wsi = wsi;
    c->env = env;
    c->head = head;
    c->phase = PHASE_HEAD;
    lws_set_opaque_user_data(wsi, c);
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_REASON_BASE + 1, BRIDGE_HEAD_TIMEOUT_S);
    struct conn_entry *victim = conn_table_add(env->table, &c->entry);
    if (victim == &c->entry)
        return -1; /* every slot is at work: this one goes (lws closes it, then RAW_CLOSE) */
    if (victim != NULL)
        shed(env, (struct bridge_conn *)victim);
    return 0;
}

int bridge_conn_read(struct bridge_env *env, struct lws *wsi, void *in, size_t len)
{
    (void)env;
    struct bridge_conn *c = conn_of(wsi);
    if (c == NULL)
        return -1;
    unsigned char *data = in;
    if (c->phase == PHASE_HEAD) {
        size_t used = 0;
        switch (ws_head_feed(c->head, in, len, &used)) {
        case WS_HEAD_MORE:
            return 0;
        case WS_HEAD_TOO_LONG:
            return refuse_logged(c, "",
                                 (struct bridge_refusal){400, IH_E_ARGUMENT_INVALID,
                                                         "the upgrade request is longer than "
                                                         "8 KiB"});
        case WS_HEAD_DONE:
            if (upgrade(c) != 0)
                return -1;
            data += used;
            len -= used;
            break;
        }
    }
    if (c->phase == PHASE_OPEN || c->phase == PHASE_CLOSE_SENT)
        return read_frames(c, data, len);
    return 0; /* ending: what else comes is not read */
}

/* One write per call: lws keeps what the socket did not take and calls back once it is out. */
int bridge_conn_writable(struct bridge_env *env, struct lws *wsi)
{
    (void)env;
    struct bridge_conn *c = conn_of(wsi);
    if (c == NULL || c->last_write_out)
        return -1;
    if (c->out != NULL) {
        int rc = write_raw(wsi, c->out + LWS_PRE, c->out_len);
        free(c->out);
        c->out = NULL;
        c->last_write_out = c->phase == PHASE_ENDING && c->control_len == 0;
        lws_callback_on_writable(wsi);
        return rc;
    }
    if (c->control_len > 0) {
        int rc = write_raw(wsi, c->control + LWS_PRE, c->control_len);
        c->control_len = 0;
        c->last_write_out = c->phase == PHASE_ENDING;
        lws_callback_on_writable(wsi);
        return rc;
    }
    if (c->phase != PHASE_OPEN)
        return 0;
    switch (relay_writable(c->bridge, c->side)) {
    case RELAY_WRITE_DONE:
        return 0;
    case RELAY_WRITE_FAILED:
        return -1;
    case RELAY_WRITE_CLOSE:
        break;
    }
    const unsigned char *reason;
    size_t len;
    int code = relay_close_code(c->bridge, &reason, &len);
    queue_final_close(c, code, reason, len);
    c->phase = PHASE_CLOSE_SENT; /* the client answers it; lws's flush deadline still runs */
    return 0;
}

/* The side leaves its bridge (its peer is closed) and its stream. */
static void release(struct bridge_conn *c)
{
    if (c->stream == NULL)
        return;
    enum stream_side first = c->side;
    int code = c->bridge != NULL ? relay_left(c->env->relay, c->bridge, c->side, &first) : 0;
    char reason[32];
    snprintf(reason, sizeof reason, "%s_closed", stream_side_name(first));
    stream_core_side_down(c->env->core, c->stream, c->side, code, reason, monotonic_ms());
    c->stream = NULL;
    c->bridge = NULL;
}

void bridge_conn_closed(struct bridge_env *env, struct lws *wsi)
{
    struct bridge_conn *c = conn_of(wsi);
    if (c == NULL)
        return;
    release(c);
    conn_table_remove(env->table, &c->entry);
    lws_set_opaque_user_data(wsi, NULL);
    free(c->head);
    free(c->out);
    free(c);
}
