/* The loop every client uses: the event loop (loop.h) serving both kinds of connection a client
 * makes, HTTPS calls (http_call.h) and stream WebSockets (wsock.h). It sits above all three, so
 * the loop itself names none of its users. */
#ifndef IH_CLIENT_LOOP_H
#define IH_CLIENT_LOOP_H

#include "loop.h"

/* ca_file: PEM file of the CAs that sign the servers' certificates, or NULL for the system's
 * store. Returns 0, or -1 with err filled. */
int ih_client_loop_new(const char *ca_file, struct ih_loop **out, char *err, size_t err_len);

#endif
