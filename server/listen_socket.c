#include "listen_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

static int bound_port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
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
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
        *err_no = errno;
        close(fd);
        return classify(*err_no);
    }
    *fd_out = fd;
    *bound_port = bound_port_of(fd);
    return LISTEN_OK;
}
