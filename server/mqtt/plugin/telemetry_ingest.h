/* A device's telemetry publish made a stored message (docs/protocol.md rules D10-D12): the
 * topic's property bag read, the size checked, the hub's stamps added, and the message
 * appended to the telemetry store, all before mosquitto acknowledges the publish. */
#ifndef TELEMETRY_INGEST_H
#define TELEMETRY_INGEST_H

#include "telemetry_store.h"

#include <stddef.h>

/* Rule D11: body, system property values, application property names and values together. */
#define TELEMETRY_MESSAGE_MAX (256 * 1024)

/* Who published, as authenticated (never what the topic says). */
struct ingest_identity {
    const char *cid;
    const char *generation_id;
    const char *model_id; /* "" when the CONNECT user name had none */
};

struct ingest_message {
    const char *topic;
    const void *payload;
    size_t len;
    int retain;
};

enum ingest_result {
    INGEST_STORED,
    INGEST_BAD_TOPIC, /* not a telemetry topic of this identity */
    INGEST_TOO_LARGE, /* rule D11: the connection is closed */
    INGEST_FAILED,    /* out of memory, or the store failed: not acknowledged */
};

/* Stores m; *sequence_number is the stored message's. reason says why when not stored. */
enum ingest_result telemetry_ingest(struct telemetry_store *store, long long keep,
                                    const struct ingest_identity *who,
                                    const struct ingest_message *m, long long *sequence_number,
                                    char *reason, size_t cap);

#endif
