/* The devices' telemetry (docs/protocol.md §12.3, rules D10-D12), in its own SQLite file beside
 * the registry: the broker's plugin appends each message before the device gets its PUBACK
 * (rule D11), and the emulator reads them back for GET /emulator/telemetry and the live event
 * stream. The newest `keep` messages are kept.
 *
 * WAL with synchronous=NORMAL: a message is in the file (the operating system's, not yet the
 * disk's) when append returns, so it survives the emulator or the broker being killed; the
 * emulator's registry, which must also survive the machine, syncs fully. No logging: callers
 * get the reason in err (the plugin logs to mosquitto, the emulator to its own log). One
 * connection per thread. */
#ifndef TELEMETRY_STORE_H
#define TELEMETRY_STORE_H

#include <stddef.h>

/* The file's name in the state directory. */
#define TELEMETRY_STORE_FILE "telemetry.db"
#define TELEMETRY_KEEP_DEFAULT 100000

struct telemetry_store;

/* Opens the store at path; create != 0 makes the file and its table when missing (the emulator,
 * at start), else it must exist (the plugin). NULL with err when it cannot. */
struct telemetry_store *telemetry_store_open(const char *path, int create, char *err, size_t cap);
void telemetry_store_close(struct telemetry_store *s);

struct telemetry_record {
    long long sequence_number; /* from 1, in arrival order, for the whole hub */
    const char *device_id;
    const char *module_id; /* NULL for the device's own */
    const char *enqueued_time;
    const char *properties;        /* a JSON object: application properties */
    const char *system_properties; /* a JSON object: $. properties and the hub's stamps */
    const void *body;
    size_t body_len;
};

/* Appends r (its sequence_number is set here) and drops the oldest past keep, a batch at a
 * time. 0, or -1 with err. */
int telemetry_store_append(struct telemetry_store *s, struct telemetry_record *r, long long keep,
                           char *err, size_t cap);

struct telemetry_query {
    const char *device_id; /* NULL: every device */
    const char *module_id; /* NULL: any (the device's own and its modules') */
    long long after;       /* sequence numbers above this only */
    const char *since;     /* NULL, or enqueued at or after this time (ISO 8601, UTC) */
    long long keep;        /* only the newest keep count */
    size_t top;            /* at most this many, the oldest first */
};

/* Calls fn for each matching record, oldest first; the record lives during the call. The
 * number of records, or -1 with err. */
long long telemetry_store_each(struct telemetry_store *s, const struct telemetry_query *q,
                               void (*fn)(void *ctx, const struct telemetry_record *r), void *ctx,
                               char *err, size_t cap);

#endif
