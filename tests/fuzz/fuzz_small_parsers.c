/* The small parsers of peer text: log times (since=), URLs and targets the clients connect
 * to, the hub's error bodies, percent coding. */
#include "fuzz.h"

#include "time_text.h"
#include "transport/tcp.h"
#include "transport/url.h"

#include "protocol/hub_error.h"
#include "protocol/percent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ih_error_detail detail;
    ih_error_parse((const char *)data, size, &detail);
    char *text = fuzz_text(data, size);
    if (text == NULL)
        return 0;
    char normal[TIME_TEXT_NORMAL_SIZE];
    if (time_text_normalize(text, normal) == 0 && strlen(normal) != TIME_TEXT_NORMAL_SIZE - 1)
        abort();
    struct ih_url url;
    ih_url_parse(text, &url);
    char host[256];
    int port;
    ih_tcp_split_target(text, host, sizeof host, &port);
    char *encoded = NULL, *decoded = NULL;
    size_t len = 0;
    if (ih_pct_encode(text, strlen(text), &encoded) == IH_OK) {
        /* Encoding then decoding gives the text back. */
        if (ih_pct_decode(encoded, strlen(encoded), IH_PCT_STRICT, &decoded, &len) == IH_OK &&
            (len != strlen(text) || memcmp(decoded, text, len) != 0))
            abort();
    }
    free(encoded);
    free(decoded);
    free(text);
    return 0;
}
