/* The URLs the clients connect to: the hub's https://HOST[:PORT] and the streaming URL
 * wss://HOST:PORT/bridges/... it hands out (docs/protocol.md rule 11). Pure. */
#ifndef IH_URL_H
#define IH_URL_H

#include <stddef.h>

#define IH_URL_HOST_MAX 256
#define IH_URL_PATH_MAX 1024

struct ih_url {
    int tls;  /* https or wss */
    int port; /* the URL's, else 443 or 80 */
    char host[IH_URL_HOST_MAX];
    char path[IH_URL_PATH_MAX]; /* from the first '/', query included; "/" when empty */
};

/* Parses http, https, ws and wss URLs (scheme in any case; an IPv6 host in brackets).
 * Returns 0, or -1 for anything else: another scheme, userinfo, a bad or zero port, an empty
 * host, or parts too long. */
int ih_url_parse(const char *url, struct ih_url *out);

#endif
