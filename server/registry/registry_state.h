/* The registry's fast-changing state: device connection state and the DeviceStreams log, on
 * their own SQLite connection with relaxed durability (they are rebuilt at every start), written
 * by a queue's thread so that no caller waits on SQLite. Part of the registry (registry.h
 * includes it); registry_open starts it. */
#ifndef REGISTRY_STATE_H
#define REGISTRY_STATE_H

#include "registry_result.h"
#include "time_text.h"

#include <stddef.h>

struct registry;

/* registry.c, at open and close: the thread that performs the queued writes. */
enum registry_result registry_state_start(struct registry *reg);
void registry_state_stop(struct registry *reg);

/* Connection state. Written with relaxed durability (it is rebuilt at every start): connectionState
 * and its time when the state changes, and lastActivityTime on connect and on publishes. */
enum registry_result registry_device_set_connected(struct registry *reg, const char *id,
                                                   int connected);
enum registry_result registry_device_touch(struct registry *reg, const char *id);
/* Every device Disconnected: at start, and when the broker goes away. */
enum registry_result registry_reset_connections(struct registry *reg);
/* These writes are queued and return at once; this returns once those made before it are in
 * the database (the log query does it itself). */
void registry_state_flush(struct registry *reg);

/* A resource-log record (category DeviceStreams, as in the real hub's resource logs: one per
 * stream step). Strings may be NULL; numbers are -1 when they do not apply. */
struct log_record {
    char time_utc[TIME_TEXT_SIZE];
    const char *category;
    const char *operation;
    const char *device_id;
    const char *module_id;
    const char *stream_id;
    const char *stream_name;
    const char *result;
    const char *message;
    int status_code;
    long long elapsed_ms;
    long long bytes_device_to_service;
    long long bytes_service_to_device;
};

/* Appends a record; time_utc empty means now. */
enum registry_result registry_log_append(struct registry *reg, const struct log_record *r);

struct log_filter {
    const char *category;  /* NULL: any */
    const char *device_id; /* NULL: any */
    const char *since;     /* NULL, or records with time_utc >= since (ISO 8601 compares as text) */
    size_t limit;          /* the newest `limit` matching records */
};

/* The log keeps the newest rows only: older ones are deleted as new ones come, so it never
 * holds more than a tenth over the limit. */
#define REGISTRY_LOG_ROWS_DEFAULT 100000
void registry_set_log_limit(struct registry *reg, size_t rows);

/* Calls fn for each matching record, oldest first. */
enum registry_result registry_log_each(struct registry *reg, const struct log_filter *f,
                                       void (*fn)(void *ctx, const struct log_record *r),
                                       void *ctx);

#endif
