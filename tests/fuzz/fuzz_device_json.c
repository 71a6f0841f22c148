/* A device PUT body (docs/protocol.md §5): parsed into a patch, applied, formatted back. */
#include "fuzz.h"

#include "device_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct device_patch patch;
    struct ih_diag diag;
    if (device_json_parse((const char *)data, size, "dev1", &patch, &diag) != DEVICE_JSON_OK)
        return 0;
    struct device d;
    memset(&d, 0, sizeof d);
    strcpy(d.id, "dev1");
    device_patch_apply(&patch, &d);
    json_decref(device_json_object(&d));
    return 0;
}
