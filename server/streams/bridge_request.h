/* Reading a WebSocket upgrade at the streaming endpoint (docs/protocol.md §3.2-3.4): the bridge
 * path and the bearer token. Pure, so it is unit-tested and fuzzed. */
#ifndef BRIDGE_REQUEST_H
#define BRIDGE_REQUEST_H

#include "stream_core.h"

#include "protocol/hub_error.h"

#include <stddef.h>

/* "/bridges/{id}" (one trailing '/' allowed) with a bridge id of the emulator's form; the query
 * is not part of path. Returns 0 and fills id, or -1. */
int bridge_path_parse(const char *path, char id[STREAM_ID_LEN + 1]);

/* "Bearer TOKEN" (the scheme in any case, one or more spaces). Returns 0 and fills token (at
 * most cap - 1 characters), or -1 when absent or not a bearer token. */
int bridge_bearer_parse(const char *authorization, char *token, size_t cap);

/* The WebSocket subprotocols a client may ask for: the C SDK sends its transport's name
 * (docs/protocol.md rule 12), in either case; "bridge" is what a client that asks for none gets. */
#define BRIDGE_SUBPROTOCOL_COUNT 7
extern const char *const bridge_subprotocols[BRIDGE_SUBPROTOCOL_COUNT];

/* A Sec-WebSocket-Protocol header (a comma-separated list, NULL when absent): 1 when it is
 * absent or empty (*chosen NULL: the answer names none) or names one of bridge_subprotocols in
 * exact case (*chosen: the first it names, to echo), else 0. */
int bridge_subprotocol_choose(const char *header, const char **chosen);

/* The HTTP answer to a refused upgrade: the statuses are the emulator's choice (docs/protocol.md
 * §3.4 marks them unknown): 401 for a missing or bad token, 404 for a bridge that is not (or no
 * longer) there. */
struct bridge_refusal {
    int status;
    enum ih_error_code code;
    const char *message;
};

struct bridge_refusal bridge_refusal_for(enum stream_attach_result r);

#endif
