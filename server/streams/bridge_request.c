#include "bridge_request.h"

#include "ws_upgrade.h"

#include <string.h>
#include <strings.h>

static const char prefix[] = "/bridges/";

int bridge_path_parse(const char *path, char id[STREAM_ID_LEN + 1])
{
    size_t plen = sizeof prefix - 1;
    if (path == NULL || strncmp(path, prefix, plen) != 0)
        return -1;
    const char *p = path + plen;
    size_t n = strspn(p, "0123456789abcdef");
    if (n != STREAM_ID_LEN || (p[n] != '\0' && strcmp(p + n, "/") != 0))
        return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    return 0;
}

int bridge_bearer_parse(const char *authorization, char *token, size_t cap)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return -1;
    const char *t = authorization + 7;
    while (*t == ' ')
        t++;
    size_t n = strcspn(t, " \t\r\n");
    /* Trailing blanks are tolerated: a proxy or a hand-written header may leave them. */
    if (n == 0 || n >= cap || t[n + strspn(t + n, " \t")] != '\0')
        return -1;
    memcpy(token, t, n);
    token[n] = '\0';
    return 0;
}

struct bridge_refusal bridge_refusal_for(enum stream_attach_result r)
{
    switch (r) {
    case ATTACH_UNKNOWN_BRIDGE:
        return (struct bridge_refusal){404, IH_E_NOT_FOUND, "there is no such bridge"};
    case ATTACH_ENDED:
        return (struct bridge_refusal){404, IH_E_NOT_FOUND,
                                       "the stream of this bridge has ended or was never "
                                       "accepted"};
    case ATTACH_TOKEN_USED:
        return (struct bridge_refusal){401, IH_E_UNAUTHORIZED,
                                       "Unauthorized: this token was used already; tokens are "
                                       "single-use"};
    case ATTACH_BAD_TOKEN:
    case ATTACH_OK:
        break;
    }
    return (struct bridge_refusal){401, IH_E_UNAUTHORIZED,
                                   "Unauthorized: send 'Authorization: Bearer TOKEN' with the "
                                   "token this bridge gave your side"};
}

const char *const bridge_subprotocols[BRIDGE_SUBPROTOCOL_COUNT] = {
    "bridge", "MQTT", "AMQP", "HTTP", "mqtt", "amqp", "http",
};

static const char *served(const char *name, size_t len)
{
    for (size_t i = 0; i < BRIDGE_SUBPROTOCOL_COUNT; i++) {
        if (strlen(bridge_subprotocols[i]) == len && memcmp(bridge_subprotocols[i], name, len) == 0)
            return bridge_subprotocols[i];
    }
    return NULL;
}

int bridge_subprotocol_choose(const char *header, const char **chosen)
{
    *chosen = NULL;
    if (header == NULL || header[strspn(header, " \t")] == '\0')
        return 1;
    size_t len;
    for (const char *item; (item = ws_list_next(&header, &len)) != NULL;) {
        if ((*chosen = served(item, len)) != NULL)
            return 1;
    }
    return 0;
}
