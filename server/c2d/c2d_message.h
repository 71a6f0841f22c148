/* A cloud-to-device message as the emulator takes it and shows it (docs/protocol.md §12.4): the
 * body of POST /emulator/devices/{id}/messages/devicebound read and checked, the envelope kept
 * with it in the queue, the topic it reaches the device on, and its view in the queue's GET.
 * Pure: unit-tested and fuzzed.
 *
 * The envelope is JSON text: {"properties":{name:value...},"systemProperties":{"messageId",
 * "correlationId","userId","contentType","contentEncoding","ack"}} (each system property only
 * when set). */
#ifndef C2D_MESSAGE_H
#define C2D_MESSAGE_H

#include "registry_c2d.h"

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>

/* Rule D14: a message's body and properties together, at most. */
#define C2D_MAX_MESSAGE_BYTES (64 * 1024)
/* Rule D14: the hub's default time to live. */
#define C2D_DEFAULT_TTL_MS (60 * 60 * 1000)
/* IoT Hub's limit on a message id's length. */
#define C2D_MAX_ID_LEN 128

enum c2d_parse_result {
    C2D_PARSE_OK,
    C2D_PARSE_NOT_JSON,  /* 400 400006 */
    C2D_PARSE_INVALID,   /* 400 400004 */
    C2D_PARSE_TOO_LARGE, /* 413 413001 */
};

/* What the queue stores (the fields of a struct c2d_row that the sender decides). */
struct c2d_message {
    char *message_id;
    int64_t expiry_ms;
    char *envelope;
    unsigned char *body;
    size_t body_len;
};

void c2d_message_free(struct c2d_message *m);

/* Reads a POST body (len bytes of JSON). A message without messageId gets default_id; one without
 * expiryTimeUtc expires C2D_DEFAULT_TTL_MS after now_ms. On anything but OK, reason says why, in
 * words for the error body. */
enum c2d_parse_result c2d_message_parse(const char *json, size_t len, const char *default_id,
                                        int64_t now_ms, struct c2d_message *out, char *reason,
                                        size_t cap);

/* The topic the stored message reaches device_id on (rule D13). *topic: a new string. Returns 0,
 * or -1 when out of memory or the envelope is damaged. */
int c2d_message_topic(const char *device_id, const char *envelope, char **topic);

/* The message as GET .../messages/devicebound shows it; NULL when out of memory. */
json_t *c2d_message_view(const struct c2d_row *row);

#endif
