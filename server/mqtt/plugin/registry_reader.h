/* Read-only access to the emulator's registry from inside mosquitto: device and policy keys for
 * device_auth. The emulator writes the same SQLite file; WAL mode lets this connection read while
 * it writes. */
#ifndef REGISTRY_READER_H
#define REGISTRY_READER_H

#include "device_auth.h"

struct registry_reader;

/* NULL on failure (the reason goes to mosquitto's log). */
struct registry_reader *registry_reader_open(const char *path);
void registry_reader_close(struct registry_reader *r);

/* device_auth lookups; ctx is the struct registry_reader. */
enum lookup_result registry_reader_device(void *ctx, const char *device_id,
                                          struct device_keys *out);
enum lookup_result registry_reader_policy(void *ctx, const char *name, struct policy_keys *out);

#endif
