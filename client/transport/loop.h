/* The clients' event loop (issue 5): one libwebsockets context with one service thread, on which
 * every HTTPS call and every stream WebSocket of a client runs. Other threads hand it work with
 * ih_loop_post: lws calls are made on its thread only (DESIGN.md §3: lws is woken from other
 * threads with lws_cancel_service). */
#ifndef IH_LOOP_H
#define IH_LOOP_H

#include <libwebsockets.h>

#include <stddef.h>

struct ih_loop;

struct ih_loop_options {
    /* PEM file of the CAs that sign the servers' certificates (the emulator's ca.pem); NULL
     * for the system's store. */
    const char *ca_file;
};

/* Returns 0, or -1 with err filled. */
int ih_loop_new(const struct ih_loop_options *o, struct ih_loop **out, char *err, size_t err_len);

/* Stops the thread and closes the kept-alive HTTP connection. Every WebSocket must be freed and
 * every call returned first. */
void ih_loop_free(struct ih_loop *loop);

/* Thread-safe: fn(ctx) runs on the loop's thread soon, in the order posted. Returns 0, or -1
 * when out of memory (fn will not run). */
int ih_loop_post(struct ih_loop *loop, void (*fn)(void *ctx), void *ctx);

/* The last error line libwebsockets logged (it is not printed), then forgotten: the detail of a
 * failed connection, like "SSL error: unable to get local issuer certificate". "" when none. */
void ih_loop_take_error(char *out, size_t cap);

struct ih_url;

/* For the connection modules, on the loop's thread. Fills `out` (zeroed first) with what every
 * client connection of the loop shares: the loop's context and vhost, the URL's host,
 * port and path, the Host header, TLS when the URL says so, HTTP/1.1, and no redirect followed
 * (the SAS or bearer token is for this host only). The caller adds its protocol and userdata.
 * `url` and `host_header` must outlive the connect call. */
void ih_loop_connect_info(struct ih_loop *loop, const struct ih_url *url, const char *host_header,
                          struct lws_client_connect_info *out);

struct ih_http_shared;

/* For http_call.c, on the loop's thread: what the loop's HTTP calls share (the kept-alive
 * connection). */
struct ih_http_shared *ih_loop_http_shared(struct ih_loop *loop);

/* Every connection's user data (lws userdata) starts with this. Once a client connection's
 * protocol is dropped, lws delivers its last callback, LWS_CALLBACK_WSI_DESTROY, to the vhost's
 * first protocol, the loop's: it passes it on through here. */
struct ih_loop_conn {
    void (*destroyed)(void *self);
};

/* The loop's protocol names (connections pick theirs with local_protocol_name). */
#define IH_LOOP_PROTOCOL_WS "ih-ws"
#define IH_LOOP_PROTOCOL_HTTP "ih-http"

#endif
