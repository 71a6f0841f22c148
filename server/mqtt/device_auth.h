/* Authentication of a device's MQTT CONNECT (docs/protocol.md rule 6, §4.2): the password is a SAS
 * token for that device (or module), signed with the device's key, or with the key of a policy
 * that has DeviceConnect. Sans-I/O: the keys come through lookup functions, so the mosquitto
 * plugin reads them from the registry and the unit tests from a table. */
#ifndef DEVICE_AUTH_H
#define DEVICE_AUTH_H

#include "keys.h"

#include <stddef.h>

enum device_auth_result {
    DEVICE_AUTH_OK = 0,
    DEVICE_AUTH_DENIED, /* reason says why, for the log; the client gets CONNACK 5 */
    DEVICE_AUTH_ERROR,  /* the registry could not be read */
};

enum lookup_result { LOOKUP_FOUND, LOOKUP_NOT_FOUND, LOOKUP_ERROR };

struct device_keys {
    int enabled;
    char generation_id[24]; /* stamped on its telemetry (docs/protocol.md rule D12) */
    char primary_key[KEY_TEXT_MAX];
    char secondary_key[KEY_TEXT_MAX];
};

struct policy_keys {
    unsigned permissions; /* enum permission of registry.h */
    char primary_key[KEY_TEXT_MAX];
    char secondary_key[KEY_TEXT_MAX];
};

struct device_auth_lookups {
    enum lookup_result (*device)(void *ctx, const char *device_id, struct device_keys *out);
    enum lookup_result (*policy)(void *ctx, const char *name, struct policy_keys *out);
    void *ctx;
};

struct device_auth_request {
    const char *client_id;
    const char *username;
    const char *password;
    const char *const *hosts; /* accepted audiences */
    size_t host_count;
    long long now;
};

/* Checks, in this order: the client id, the user name, the token's syntax, that the device exists
 * and is enabled, the audience, the signature, the expiry. A module's own token is checked with
 * its device's keys (the emulator keeps no module registry). */
enum device_auth_result device_auth_check(const struct device_auth_request *req,
                                          const struct device_auth_lookups *lookups, char *reason,
                                          size_t reason_len);

#endif
