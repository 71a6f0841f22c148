/* Device and module twins in the registry's file (docs/protocol.md §12.2). The registry keeps
 * each twin's document as text and knows nothing of its content (server/twins does); it makes a
 * change atomic and durable: read, changed, written and committed under one lock, before any
 * answer. A device's delete removes its twins. */
#ifndef REGISTRY_TWINS_H
#define REGISTRY_TWINS_H

#include "registry.h"

/* The twin of device_id (module_id NULL for the device's own, else a module's): *doc a new
 * string, or NULL when the twin was never written. dev (may be NULL) gets the device.
 * REGISTRY_NOT_FOUND when the device does not exist. */
enum registry_result registry_twin_get(struct registry *reg, const char *device_id,
                                       const char *module_id, struct device *dev, char **doc);

/* change gets the device and the current document (NULL: none yet) and returns 1 with *next (a
 * new string, stored and freed here), or 0 to write nothing. Runs under the registry's lock:
 * it must be quick and call nothing of the registry. */
typedef int (*registry_twin_change)(void *ctx, const struct device *dev, const char *current,
                                    char **next);

/* Reads, changes and writes one twin in one transaction. REGISTRY_NOT_FOUND when the device does
 * not exist; REGISTRY_ERR when the store failed (nothing was written). */
enum registry_result registry_twin_update(struct registry *reg, const char *device_id,
                                          const char *module_id, registry_twin_change change,
                                          void *ctx);

#endif
