#ifndef REGISTRY_WATCHER_H
#define REGISTRY_WATCHER_H

/* Who must know when a device may no longer connect: it was deleted, or stored disabled (by a
 * create or an update). Told after the write is committed, on the thread that made it, outside
 * the registry's lock. The MQTT endpoint disconnects it and the stream service ends its streams;
 * main registers them, so the registry names neither. */
struct registry_watcher {
    void (*device_gone)(void *ctx, const char *device_id, int disabled);
    void *ctx;
};

#define REGISTRY_MAX_WATCHERS 4

#endif
