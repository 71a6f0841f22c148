/* Authorization of service calls on the main endpoint: a shared access policy's SAS token in the
 * Authorization header (docs/protocol.md rule 3, §4). */
#ifndef AUTH_H
#define AUTH_H

#include "emulator.h"

#include <stddef.h>

enum auth_result {
    AUTH_OK = 0,
    AUTH_DENIED, /* 401 401002; reason says why */
    AUTH_ERROR,  /* the registry failed */
};

/* Checks that authorization holds a valid, unexpired token of a policy with `permission`
 * (enum permission), made for the hub or for resource_path under it ("/devices/dev1").
 * policy_out receives the policy name, for logs. */
enum auth_result auth_check_policy(struct emulator *emu, const char *authorization,
                                   const char *resource_path, unsigned permission, long long now,
                                   char *reason, size_t reason_len,
                                   char policy_out[POLICY_NAME_SIZE]);

/* "RegistryRead" and so on, for messages. */
const char *auth_permission_name(unsigned permission);

#endif
