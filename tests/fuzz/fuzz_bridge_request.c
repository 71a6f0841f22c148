/* A WebSocket upgrade at the streaming endpoint (docs/protocol.md §3.2-3.4): the bridge path, the
 * bearer token and the subprotocol list. */
#include "fuzz.h"

#include "bridge_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (text == NULL)
        return 0;
    char id[STREAM_ID_LEN + 1], token[STREAM_TOKEN_LEN + 1];
    if (bridge_path_parse(text, id) == 0 && strlen(id) != STREAM_ID_LEN)
        abort();
    if (bridge_bearer_parse(text, token, sizeof token) == 0 && strlen(token) >= sizeof token)
        abort();
    const char *chosen;
    bridge_subprotocol_choose(text, &chosen);
    free(text);
    return 0;
}
