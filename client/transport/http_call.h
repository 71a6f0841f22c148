/* One HTTPS request and its response, blocking the caller: the service's calls to the hub's main
 * endpoint, the stream POST (docs/protocol.md §1.1) and the registry's REST calls (§5). The I/O
 * runs on the loop's thread; any thread may call.
 *
 * Connections are kept alive: a finished call's connection waits up to 30 s for the next call to
 * the same host, which then skips the TCP and TLS handshakes. One connection is kept per loop; a
 * call made while another is in flight (a held stream POST) gets a connection of its own, closed
 * after its response. http_call.c says why, and when a call is sent again. */
#ifndef IH_HTTP_CALL_H
#define IH_HTTP_CALL_H

#include "loop.h"

#include <stddef.h>

/* Responses larger than this are refused (the largest are a 1000-device list, and a C2D queue of
 * 50 queued and 50 finished messages of 64 KiB, each as text and base64: about 15 MiB), with
 * IH_HTTP_TOO_LARGE in the call's err: a caller that can ask for less (a page of telemetry) tells
 * it apart by that text. */
#define IH_HTTP_BODY_MAX (32 * 1024 * 1024)
#define IH_HTTP_TOO_LARGE "the response body is too large"
#define IH_HTTP_MAX_HEADERS 8
#define IH_HTTP_HEADER_VALUE_MAX 1024

struct ih_http_header {
    const char *name; /* lowercase */
    const char *value;
};

struct ih_http_request {
    const char *method;
    const char *url; /* https://HOST[:PORT]/PATH?QUERY, or http:// */
    struct ih_http_header headers[IH_HTTP_MAX_HEADERS]; /* name NULL ends the list */
    const char *body;                                   /* NULL for none */
    size_t body_len;
    const char *content_type; /* for a body */
    /* Response headers to keep, by lowercase name (NULL ends the list), ones libwebsockets
     * knows (etag) as well as others (iothub-errorcode). */
    const char *keep[IH_HTTP_MAX_HEADERS];
    int timeout_ms; /* the whole call; 0 for 30 s */
};

struct ih_http_response {
    int status;
    char *body; /* NUL-terminated; NULL when empty */
    size_t body_len;
    /* values[i] for request.keep[i]: NULL when the response had no such header */
    char *values[IH_HTTP_MAX_HEADERS];
};

/* Returns 0 once a response arrived (any status), or -1 with err saying why there is none. */
int ih_http_call(struct ih_loop *loop, const struct ih_http_request *req,
                 struct ih_http_response *res, char *err, size_t err_len);

void ih_http_response_free(struct ih_http_response *res);

/* The HTTP calls' kind of connection, for the loop's options (client_loop.c). */
extern const struct lws_protocols ih_http_protocol;

#endif
