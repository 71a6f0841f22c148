/* Cloud-to-device messages (docs/protocol.md rules D13, D14): any bytes as the body of
 * POST /emulator/devices/{id}/messages/devicebound; whatever is accepted stays within 64 KiB, and
 * its stored envelope makes a topic that holds %24.to and no `/` in its bag, that the device's
 * reader (c2d_bag) reads back with the same message id, and a queue view. The same bytes as a
 * topic for the device's reader. */
#include "fuzz.h"

#include "c2d_message.h"

#include "protocol/c2d_bag.h"

#include <string.h>

#define NOW_MS 1764669600000LL
#define PREFIX "devices/dev1/messages/devicebound/"

static void check_accepted(const struct c2d_message *m)
{
    char *topic = NULL;
    if (m->body_len > C2D_MAX_MESSAGE_BYTES || m->message_id == NULL || m->envelope == NULL)
        abort();
    if (c2d_message_topic("dev1", m->envelope, &topic) != 0)
        abort();
    if (strncmp(topic, PREFIX, strlen(PREFIX)) != 0 ||
        strchr(topic + strlen(PREFIX), '/') != NULL ||
        strstr(topic, "%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound") == NULL)
        abort();
    struct ih_c2d_bag bag;
    if (ih_c2d_bag_parse(topic, strlen(topic), &bag, NULL) != IH_OK ||
        strcmp(bag.device_id, "dev1") != 0 ||
        strcmp(ih_c2d_bag_get(&bag, "$.to"), "/devices/dev1/messages/deviceBound") != 0 ||
        strcmp(ih_c2d_bag_get(&bag, "$.mid"), m->message_id) != 0)
        abort();
    ih_c2d_bag_free(&bag);
    free(topic);
    struct c2d_row row = {1,           m->message_id, (char *)C2D_STATE_ENQUEUED,
                          NOW_MS,      m->expiry_ms,  0,
                          m->envelope, m->body,       m->body_len};
    json_t *view = c2d_message_view(&row);
    if (view == NULL)
        abort();
    json_decref(view);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct c2d_message m;
    struct ih_c2d_bag bag;
    char reason[400];
    if (ih_c2d_bag_parse((const char *)data, size, &bag, NULL) == IH_OK)
        ih_c2d_bag_free(&bag);
    if (c2d_message_parse((const char *)data, size, "default-id", NOW_MS, &m, reason,
                          sizeof reason) == C2D_PARSE_OK) {
        check_accepted(&m);
        c2d_message_free(&m);
    } else if (reason[0] == '\0') {
        abort(); /* every refusal says why */
    }
    return 0;
}
