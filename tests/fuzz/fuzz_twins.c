/* Twins (docs/protocol.md rules D5-D9): a device's twin topic, and any bytes as a reported
 * patch and as the service's PATCH and PUT bodies; whatever is accepted stays a twin document
 * that stores and loads back the same. */
#include "fuzz.h"

#include "twin_doc.h"

#include "protocol/twin_topic.h"

#define NOW "2026-12-02T10:00:00.0000000Z"

static void stays_a_twin(json_t *doc)
{
    char reason[200];
    char *text = twin_doc_dump(doc);
    json_t *again = text != NULL ? twin_doc_load(text, NOW, reason, sizeof reason) : NULL;
    if (again == NULL || !json_equal(doc, again))
        abort();
    json_decref(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ih_twin_request req;
    ih_topic_parse_twin_request((const char *)data, size, &req, NULL);
    char reason[200];
    json_t *doc = twin_doc_load(NULL, NOW, reason, sizeof reason), *notify = NULL;
    if (doc == NULL)
        return 0;
    if (twin_doc_patch_reported(doc, (const char *)data, size, NOW, reason, sizeof reason) ==
        TWIN_OK)
        stays_a_twin(doc);
    for (int replace = 0; replace <= 1; replace++) {
        if (twin_doc_update(doc, (const char *)data, size, replace, NOW, &notify, reason,
                            sizeof reason) == TWIN_OK)
            stays_a_twin(doc);
        json_decref(notify);
    }
    json_decref(twin_doc_device_view(doc));
    json_decref(twin_doc_properties_view(doc));
    json_decref(doc);
    return 0;
}
