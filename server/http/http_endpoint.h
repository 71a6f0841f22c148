/* The main endpoint on libmicrohttpd: one daemon per listener (HTTPS, and plain HTTP when asked),
 * each with its own epoll thread, suspend/resume enabled so a held stream POST blocks no thread.
 * Every request goes to rest_handle. */
#ifndef HTTP_ENDPOINT_H
#define HTTP_ENDPOINT_H

#include "emulator.h"
#include "rest.h"

#include <stddef.h>

struct http_endpoint;

/* Serves router's routes on listen_fd (already bound and listening; the daemon takes it over).
 * use_tls serves HTTPS with emu->tls. router must outlive the endpoint. On failure err says
 * why. */
int http_endpoint_start(struct emulator *emu, const struct rest_router *router, int listen_fd,
                        int use_tls, struct http_endpoint **out, char *err, size_t err_len);
void http_endpoint_stop(struct http_endpoint *ep);

#endif
