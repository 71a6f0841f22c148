/* Who an MQTT client says it is (docs/protocol.md §2.1): the client id and the user name. */
#include "fuzz.h"

#include "mqtt_identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (text == NULL)
        return 0;
    /* The input is "client id\nuser name" when it has a newline. */
    char *username = strchr(text, '\n');
    if (username != NULL)
        *username++ = '\0';
    struct mqtt_identity id;
    struct ih_diag diag;
    if (mqtt_identity_parse(text, &id, &diag) == IH_OK) {
        char resource[600];
        mqtt_identity_resource(&id, resource, sizeof resource);
    }
    mqtt_username_check(username != NULL ? username : text, text, &diag);
    free(text);
    return 0;
}
