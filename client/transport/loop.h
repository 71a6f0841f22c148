/* The clients' event loop: one libwebsockets context with one service thread, on which every
 * HTTPS call and every stream WebSocket of a client runs. Other threads hand it work with
 * ih_loop_post: lws calls are made on its thread only (lws_cancel_service, the one call that is
 * safe from another thread, wakes it). */
#ifndef IH_LOOP_H
#define IH_LOOP_H

#include <libwebsockets.h>

#include <stddef.h>

struct ih_loop;

struct ih_loop_options {
    /* PEM file of the CAs that sign the servers' certificates (the emulator's ca.pem); NULL
     * for the system's store. */
    const char *ca_file;
    /* The kinds of connection the loop serves, ended by one with a NULL name (at most
     * IH_LOOP_MAX_PROTOCOLS): each connection module's lws protocol. The loop names none of
     * them, so it sits below the modules that use it (client_loop.c puts them together). */
    const struct lws_protocols *protocols;
};

#define IH_LOOP_MAX_PROTOCOLS 6

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

/* What the loop's HTTP calls share, on the loop's thread only (the loop holds it, http_call.c
 * uses it): the one connection kept alive for the next call. */
struct ih_loop_keepalive {
    void *idle; /* the call whose connection waits for the next call, or NULL */
    int busy;   /* connections lws could pipeline onto, carrying a request or closing */
};

struct ih_loop_keepalive *ih_loop_keepalive(struct ih_loop *loop);

/* Every connection's user data (lws userdata) starts with this. Once a client connection's
 * protocol is dropped, lws delivers its last callback, LWS_CALLBACK_WSI_DESTROY, to the vhost's
 * first protocol, the loop's: it passes it on through here. */
struct ih_loop_conn {
    void (*destroyed)(void *self);
};

#endif
