/* Plain TCP for the local proxies: the device agent's connection to its target, and the service
 * proxy's local listener. */
#ifndef IH_TCP_H
#define IH_TCP_H

#include <stddef.h>

/* Connects to host:port (a name or an address), giving up after timeout_ms. Returns the
 * socket, or -1 with err saying why ("connection refused"). */
int ih_tcp_connect(const char *host, int port, int timeout_ms, char *err, size_t err_len);

/* Listens on address:port (port 0 picks a free one). Returns the socket, or -1 with err. */
int ih_tcp_listen(const char *address, int port, char *err, size_t err_len);

/* The port a listening socket is bound to, or -1. */
int ih_tcp_local_port(int fd);

/* Splits "HOST:PORT" ("[v6]:PORT" too). Returns 0, or -1 when it is not of that form. */
int ih_tcp_split_target(const char *text, char *host, size_t host_cap, int *port);

#endif
