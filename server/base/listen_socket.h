/* Listening TCP sockets, opened before any endpoint starts, so a port that cannot be bound fails
 * the start at once with the reason and port 0 gets a real port to report. */
#ifndef LISTEN_SOCKET_H
#define LISTEN_SOCKET_H

#include <stddef.h>

enum listen_result {
    LISTEN_OK = 0,
    LISTEN_ERR_PERMISSION, /* a port below 1024 without root or CAP_NET_BIND_SERVICE */
    LISTEN_ERR_IN_USE,
    LISTEN_ERR_ADDRESS, /* the address is not on this machine */
    LISTEN_ERR_OTHER,
};

/* Binds addr (an IPv4 or IPv6 literal) and port (0: any), listens, and returns the non-blocking,
 * close-on-exec fd and the bound port. *err_no holds errno on failure. */
enum listen_result listen_socket_open(const char *addr, int port, int *fd, int *bound_port,
                                      int *err_no);

/* A one-line reason with the fixes, for a failed listen_socket_open of port on addr.
 * what names the endpoint ("HTTPS"), flag the option that sets its port ("--https-port"). */
void listen_socket_describe(enum listen_result r, int err_no, const char *what, const char *flag,
                            int port, const char *addr, char *out, size_t cap);

/* Checks that port (0: any) can be bound on addr now and returns the port to use; for a server
 * that binds it itself a moment later (mosquitto). On failure out has the reason. */
int listen_socket_reserve(const char *addr, int port, const char *what, const char *flag,
                          int *chosen, char *reason, size_t reason_len);

#endif
