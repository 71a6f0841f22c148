/* The device registry and the hub's shared access policies, in one SQLite file.
 *
 * WAL mode, so the broker plugin can read keys from the same file while the emulator writes;
 * synchronous=FULL, so a write acknowledged to a client survives a crash. Thread-safe: every
 * function takes the registry's lock. */
#ifndef REGISTRY_H
#define REGISTRY_H

#include "keys.h"
#include "permissions.h"
#include "registry_result.h"
#include "registry_state.h"
#include "registry_watcher.h"
#include "time_text.h"

#include "protocol/identity.h"

#include <stddef.h>

/* The hub limits statusReason to 128 characters; a UTF-8 character takes up to 4 bytes. */
#define STATUS_REASON_MAX 128
#define STATUS_REASON_SIZE (4 * STATUS_REASON_MAX + 1)

/* Room for a policy name and its NUL. */
#define POLICY_NAME_SIZE 64

struct policy {
    char name[POLICY_NAME_SIZE];
    char primary_key[KEY_TEXT_MAX];
    char secondary_key[KEY_TEXT_MAX];
    unsigned permissions;
};

struct device {
    char id[IH_ID_MAX_LEN + 1];
    char generation_id[24];
    long long etag; /* a hub-wide version number; see registry_etag_text */
    int enabled;
    int has_status_reason;
    char status_reason[STATUS_REASON_SIZE];
    char status_updated_time[TIME_TEXT_SIZE];
    char primary_key[KEY_TEXT_MAX]; /* base64 of up to 64 bytes */
    char secondary_key[KEY_TEXT_MAX];
    int iot_edge;
    int connected;
    char connection_state_updated_time[TIME_TEXT_SIZE];
    char last_activity_time[TIME_TEXT_SIZE];
    long long cloud_to_device_message_count;
};

/* Opens or creates the database at path and applies every schema version it lacks. The default
 * policies get their documented permissions and well-known keys back at every open. */
enum registry_result registry_open(const char *path, struct registry **out, char *err,
                                   size_t err_len);
void registry_close(struct registry *reg);

/* A cheap query, for /health. */
enum registry_result registry_ping(struct registry *reg);

/* 1 while writes fail (a full disk, a corrupted file): the last write, of the registry or of
 * the connection state and logs, failed, and none has succeeded since. */
int registry_writes_failing(struct registry *reg);

enum registry_result registry_policy_get(struct registry *reg, const char *name,
                                         struct policy *out);
/* Replaces both keys of a policy; REGISTRY_NOT_FOUND when there is no such policy. */
enum registry_result registry_policy_set_keys(struct registry *reg, const char *name,
                                              const char *primary, const char *secondary);
/* The well-known keys of a default policy (dev only; documented in the README). */
void registry_default_policy_key(const char *name, char out[KEY_TEXT_SIZE]);
void registry_default_policy_secondary_key(const char *name, char out[KEY_TEXT_SIZE]);

enum registry_result registry_device_get(struct registry *reg, const char *id, struct device *out);
/* Inserts dev (id, enabled, status reason, keys, iot_edge set by the caller) and fills in its
 * etag, generation id and times. REGISTRY_EXISTS when the id is taken. */
enum registry_result registry_device_create(struct registry *reg, struct device *dev);
/* Replaces the writable fields of an existing device when if_match is NULL, "*" or its current
 * etag (quotes and W/ stripped); fills dev with the stored result. */
enum registry_result registry_device_update(struct registry *reg, struct device *dev,
                                            const char *if_match);
enum registry_result registry_device_delete(struct registry *reg, const char *id,
                                            const char *if_match);

/* Set before the main endpoint (which creates, updates and deletes devices) starts, and cleared
 * with NULL, 0 after it stopped, before the watchers go away. Copies at most
 * REGISTRY_MAX_WATCHERS. */
void registry_set_watchers(struct registry *reg, const struct registry_watcher *watchers,
                           size_t count);

/* Up to max devices in id order; *out (caller frees) holds *count of them. */
enum registry_result registry_device_list(struct registry *reg, size_t max, struct device **out,
                                          size_t *count);

/* The etag as the hub writes it: base64 of the decimal version. */
void registry_etag_text(long long etag, char out[32]);

#endif
