#include "url.h"

#include "protocol/number.h"
#include "protocol/format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *prefix;
    int tls, port;
} schemes[] = {
    {"https://", 1, 443},
    {"wss://", 1, 443},
    {"http://", 0, 80},
    {"ws://", 0, 80},
};

static const char *read_scheme(const char *url, struct ih_url *out)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncasecmp(url, schemes[i].prefix, n) == 0) {
            out->tls = schemes[i].tls;
            out->port = schemes[i].port;
            return url + n;
        }
    }
    return NULL;
}

static int read_port(const char *p, size_t len, int *port)
{
    uint64_t v = 0;
    if (ih_parse_uint_n(p, len, 65535, &v) != IH_OK || v < 1)
        return -1;
    *port = (int)v;
    return 0;
}

/* host[:port] or [v6][:port], authority_len bytes at a. */
static int read_authority(const char *a, size_t len, struct ih_url *out)
{
    const char *host = a, *colon;
    size_t host_len;
    if (len > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', len);
        if (close == NULL)
            return -1;
        host = a + 1;
        host_len = (size_t)(close - host);
        colon = close + 1 < a + len ? close + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return -1;
    } else {
        colon = memchr(a, ':', len);
        host_len = colon != NULL ? (size_t)(colon - a) : len;
    }
    if (host_len == 0 || host_len >= sizeof out->host || memchr(a, '@', len) != NULL)
        return -1;
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    if (colon != NULL && read_port(colon + 1, (size_t)(a + len - colon - 1), &out->port) != 0)
        return -1;
    return 0;
}

int ih_url_parse(const char *url, struct ih_url *out)
{
    memset(out, 0, sizeof *out);
    const char *a = url != NULL ? read_scheme(url, out) : NULL;
    if (a == NULL)
        return -1;
    size_t authority_len = strcspn(a, "/?#");
    if (read_authority(a, authority_len, out) != 0)
        return -1;
    const char *rest = a + authority_len;
    return ih_format(out->path, sizeof out->path, "%s%s", rest[0] == '/' ? "" : "/", rest) == IH_OK
               ? 0
               : -1;
}
