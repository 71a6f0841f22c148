/* One client connection of the streaming endpoint, from its accept to its close:
 * the upgrade request (ws_upgrade.c), refused with the hub's error body or answered 101, then
 * the client's frames (ws_frame.c) into the relay and the relay's frames out, its pings
 * answered, and the close handshake.
 *
 * lws carries the bytes as raw sockets, TLS included; the WebSocket protocol is the emulator's
 * own, so every rule a server must enforce is enforced here, the client's masking among them
 * (lws 4.1 neither checks nor reports it). Everything runs on the endpoint's one thread. */
#ifndef BRIDGE_CONN_H
#define BRIDGE_CONN_H

#include "conn_table.h"
#include "relay.h"
#include "stream_core.h"

#include <libwebsockets.h>

/* A new connection has this long to send its upgrade request. */
#define BRIDGE_HEAD_TIMEOUT_S 10

/* What every connection of the endpoint shares. */
struct bridge_env {
    struct stream_core *core;
    struct relay *relay;
    struct conn_table *table; /* connections before their upgrade are shed first */
    size_t max_message;       /* for the 1009's log line */
};

/* What the relay asks of a connection, done with lws (struct relay_io; conn is the
 * connection's struct bridge_conn). */
extern const struct relay_io bridge_conn_relay_io;

/* lws accepted wsi (LWS_CALLBACK_RAW_ADOPT). Returns 0, or -1 to close it. */
int bridge_conn_open(struct bridge_env *env, struct lws *wsi);

/* Bytes from the client (LWS_CALLBACK_RAW_RX); lws's buffer, changed in place. 0, or -1 to
 * close now. */
int bridge_conn_read(struct bridge_env *env, struct lws *wsi, void *in, size_t len);

/* The connection may write (LWS_CALLBACK_RAW_WRITEABLE). 0, or -1 to close now. */
int bridge_conn_writable(struct bridge_env *env, struct lws *wsi);

/* The connection is gone (LWS_CALLBACK_RAW_CLOSE; safe to call again). */
void bridge_conn_closed(struct bridge_env *env, struct lws *wsi);

#endif
