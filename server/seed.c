#include "seed.h"

#include "log.h"

#include <stdio.h>
#include <string.h>

static int seed_device(struct registry *reg, const struct device_seed *seed)
{
    struct device d;
    enum registry_result r = registry_device_get(reg, seed->id, &d);
    if (r == REGISTRY_NOT_FOUND) {
        memset(&d, 0, sizeof d);
        snprintf(d.id, sizeof d.id, "%s", seed->id);
        d.enabled = 1;
        if (seed->key != NULL)
            snprintf(d.primary_key, sizeof d.primary_key, "%s", seed->key);
        if ((d.primary_key[0] == '\0' && keys_generate(d.primary_key) != 0) ||
            keys_generate(d.secondary_key) != 0)
            return -1;
        r = registry_device_create(reg, &d);
        if (r == REGISTRY_OK)
            log_info("registry", "created device '%s' from --device", seed->id);
    } else if (r == REGISTRY_OK && seed->key != NULL && strcmp(d.primary_key, seed->key) != 0) {
        snprintf(d.primary_key, sizeof d.primary_key, "%s", seed->key);
        r = registry_device_update(reg, &d, NULL);
        if (r == REGISTRY_OK)
            log_info("registry", "set the primary key of device '%s' from --device", seed->id);
    }
    if (r != REGISTRY_OK) {
        log_error("registry", "cannot seed device '%s'", seed->id);
        return -1;
    }
    return 0;
}

int seed_registry(struct registry *reg, const struct config *cfg)
{
    for (size_t i = 0; i < cfg->policy_key_count; i++) {
        const struct policy_key *pk = &cfg->policy_keys[i];
        enum registry_result r = registry_policy_set_primary_key(reg, pk->policy, pk->key);
        if (r == REGISTRY_NOT_FOUND) {
            log_error("registry",
                      "--policy-key: there is no policy '%s' (iothubowner, service, device, "
                      "registryRead, registryReadWrite)",
                      pk->policy);
            return -1;
        }
        if (r != REGISTRY_OK)
            return -1;
    }
    for (size_t i = 0; i < cfg->device_count; i++) {
        if (seed_device(reg, &cfg->devices[i]) != 0)
            return -1;
    }
    return 0;
}
