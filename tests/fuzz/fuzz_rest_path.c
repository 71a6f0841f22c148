/* The main endpoint's paths and query values: each segment percent-decoded on its own. */
#include "fuzz.h"

#include "rest.h"

#include "protocol/identity.h"
#include "protocol/percent.h"

static const char *query_from_input(void *ctx, const char *name)
{
    (void)name;
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (text == NULL)
        return 0;
    struct rest_path path;
    if (rest_path_parse(text, &path) == REST_PATH_OK) {
        struct ih_diag diag;
        for (size_t i = 0; i < path.count; i++)
            ih_id_check(path.segments[i], strlen(path.segments[i]), "id", &diag);
        rest_path_free(&path);
    }
    struct rest_request req = {.query = query_from_input, .ctx = text};
    char value[64];
    rest_query_value(&req, "x", value, sizeof value);
    char *decoded = NULL;
    size_t len = 0;
    if (ih_pct_decode(text, strlen(text), IH_PCT_STRICT, &decoded, &len) == IH_OK)
        free(decoded);
    static const char *const names[] = {"hub.example", "localhost", "127.0.0.1"};
    rest_host_is_ours(text, names, 3);
    free(text);
    return 0;
}
