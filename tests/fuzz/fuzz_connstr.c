/* Connection strings (docs/protocol.md §4.4): parse, classify, and format what parsed. */
#include "fuzz.h"

#include "protocol/connstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ih_connstr cs;
    struct ih_diag diag;
    enum ih_connstr_kind kind;
    if (ih_connstr_parse((const char *)data, size, &cs, &diag) != IH_OK)
        return 0;
    ih_connstr_classify(&cs, &kind, &diag);
    char *text = NULL;
    if (ih_connstr_format(&cs, &text) == IH_OK) {
        /* What the formatter writes parses back. */
        struct ih_connstr again;
        if (ih_connstr_parse(text, strlen(text), &again, &diag) != IH_OK)
            abort();
        ih_connstr_free(&again);
    }
    free(text);
    ih_connstr_free(&cs);
    return 0;
}
