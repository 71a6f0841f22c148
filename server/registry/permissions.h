/* The permissions of IoT Hub's shared access policies (docs/protocol.md §4.3), as stored in the
 * registry's policies.permissions bit set. */
#ifndef PERMISSIONS_H
#define PERMISSIONS_H

enum permission {
    PERM_REGISTRY_READ = 1,
    PERM_REGISTRY_WRITE = 2,
    PERM_SERVICE_CONNECT = 4,
    PERM_DEVICE_CONNECT = 8,
};

#endif
