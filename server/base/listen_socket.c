#include "listen_socket.h"

#include "transport/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections the kernel completes before the endpoint accepts them: a burst of new clients
 * waits here rather than being refused (Linux caps it at net.core.somaxconn). */
#define LISTEN_BACKLOG 4096

static enum listen_result classify(int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
        return LISTEN_ERR_PERMISSION;
    case EADDRINUSE:
        return LISTEN_ERR_IN_USE;
    case EADDRNOTAVAIL:
        return LISTEN_ERR_ADDRESS;
    }
    return LISTEN_ERR_OTHER;
}

static int fill_address(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        *len = sizeof *v6;
        return 0;
    }
    return -1;
}

enum listen_result listen_socket_open(const char *addr, int port, int *fd_out, int *bound_port,
                                      int *err_no)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    *err_no = EINVAL;
    if (fill_address(addr, port, &ss, &len) != 0)
        return LISTEN_ERR_ADDRESS;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err_no = errno;
        return classify(errno);
    }
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) /* "::" also takes IPv4, like 0.0.0.0 does for IPv4 */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        *err_no = errno;
        close(fd);
        return classify(*err_no);
    }
    *fd_out = fd;
    *bound_port = ih_tcp_local_port(fd);
    return LISTEN_OK;
}

void listen_socket_describe(enum listen_result r, int err_no, const char *what, const char *flag,
                            int port, const char *addr, char *out, size_t cap)
{
    switch (r) {
    case LISTEN_ERR_PERMISSION:
        snprintf(out, cap,
                 "cannot bind the %s port %d on %s: permission denied. Fix: %s 8443 (or 0 for a "
                 "free port), or allow low ports with `sudo setcap cap_net_bind_service=+ep "
                 "$(command -v iothub-emulator)`, or run it in Docker",
                 what, port, addr, flag);
        return;
    case LISTEN_ERR_IN_USE:
        snprintf(out, cap,
                 "cannot bind the %s port %d on %s: it is in use (another emulator?). Fix: stop "
                 "it, or choose another port with %s N (0 for a free port)",
                 what, port, addr, flag);
        return;
    case LISTEN_ERR_ADDRESS:
        snprintf(out, cap, "cannot bind %s: the address is not on this machine (--listen)", addr);
        return;
    case LISTEN_ERR_OTHER:
    case LISTEN_OK:
        break;
    }
    snprintf(out, cap, "cannot bind the %s port %d on %s: %s", what, port, addr, strerror(err_no));
}

int listen_socket_reserve(const char *addr, int port, const char *what, const char *flag,
                          int *chosen, char *reason, size_t reason_len)
{
    int fd = -1, err_no = 0;
    enum listen_result r = listen_socket_open(addr, port, &fd, chosen, &err_no);
    if (r != LISTEN_OK) {
        listen_socket_describe(r, err_no, what, flag, port, addr, reason, reason_len);
        return -1;
    }
    close(fd);
    return 0;
}
