/* Who an MQTT client says it is (docs/protocol.md §2.1, rule 6): the client id is `deviceId` or
 * `deviceId/moduleId`, and the user name `{host}/{deviceId}[/{moduleId}]/?api-version=...`. */
#ifndef MQTT_IDENTITY_H
#define MQTT_IDENTITY_H

#include "protocol/identity.h"
#include "protocol/result.h"

struct mqtt_identity {
    char device_id[IH_ID_MAX_LEN + 1];
    char module_id[IH_ID_MAX_LEN + 1]; /* "" for a device */
};

/* Splits a client id at its first '/' and checks both ids. */
ih_result mqtt_identity_parse(const char *client_id, struct mqtt_identity *out,
                              struct ih_diag *diag);

/* The resource path a token must cover: "/devices/{id}" or "/devices/{id}/modules/{m}". */
void mqtt_identity_resource(const struct mqtt_identity *id, char *out, size_t cap);

/* Lenient user name check: the host (before the first '/') and the query after "/?"
 * (api-version, DeviceClientType) are ignored; between them must be the client id. A missing or
 * empty user name is accepted, since the token's audience names the device anyway. */
ih_result mqtt_username_check(const char *username, const char *client_id, struct ih_diag *diag);

#endif
