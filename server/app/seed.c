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
        if (keys_generate_if_empty(d.primary_key) != 0 ||
            keys_generate_if_empty(d.secondary_key) != 0)
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

/* Without a given secondary key the secondary becomes random: the well-known one is public. */
static int seed_policy_keys(struct registry *reg, const struct policy_key *pk)
{
    char secondary[KEY_TEXT_MAX] = "";
    if (pk->secondary_key != NULL)
        snprintf(secondary, sizeof secondary, "%s", pk->secondary_key);
    else if (keys_generate(secondary) != 0)
        return -1;
    enum registry_result r = registry_policy_set_keys(reg, pk->policy, pk->key, secondary);
    if (r == REGISTRY_NOT_FOUND)
        log_error("registry",
                  "--policy-key: there is no policy '%s' (iothubowner, service, device, "
                  "registryRead, registryReadWrite)",
                  pk->policy);
    else if (r == REGISTRY_OK)
        log_info("registry", "policy '%s' uses the keys given with --policy-key", pk->policy);
    return r == REGISTRY_OK ? 0 : -1;
}

static int is_loopback(const char *address)
{
    return strncmp(address, "127.", 4) == 0 || strcmp(address, "::1") == 0;
}

/* Reachable from other machines with keys anyone can look up: say so once, at start. */
static void warn_exposed_keys(const struct config *cfg)
{
    static const char *const policies[] = {"iothubowner", "service", "device", "registryRead",
                                           "registryReadWrite"};
    if (is_loopback(cfg->listen))
        return;
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        int replaced = 0;
        for (size_t k = 0; k < cfg->policy_key_count; k++)
            replaced |= strcmp(cfg->policy_keys[k].policy, policies[i]) == 0;
        if (!replaced)
            log_warn("registry",
                     "--listen %s is reachable from other machines and policy '%s' still has "
                     "its well-known dev key; replace it with --policy-key %s=KEY",
                     cfg->listen, policies[i], policies[i]);
    }
}

int seed_registry(struct registry *reg, const struct config *cfg)
{
    for (size_t i = 0; i < cfg->policy_key_count; i++) {
        if (seed_policy_keys(reg, &cfg->policy_keys[i]) != 0)
            return -1;
    }
    warn_exposed_keys(cfg);
    for (size_t i = 0; i < cfg->device_count; i++) {
        if (seed_device(reg, &cfg->devices[i]) != 0)
            return -1;
    }
    return 0;
}
