#include "device_auth.h"

#include "mqtt_identity.h"
#include "permissions.h"

#include "protocol/format.h"
#include "protocol/sas.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The keys that may have signed the token: a DeviceConnect policy's when it names one (skn),
 * else the device's own. */
static enum device_auth_result signing_keys(const struct ih_sas *token,
                                            const struct device_keys *device,
                                            const struct device_auth_lookups *lookups,
                                            const char *keys[2], struct policy_keys *policy,
                                            char *reason, size_t len)
{
    if (token->skn == NULL) {
        keys[0] = device->primary_key;
        keys[1] = device->secondary_key;
        return DEVICE_AUTH_OK;
    }
    switch (lookups->policy(lookups->ctx, token->skn, policy)) {
    case LOOKUP_NOT_FOUND:
        return ih_reason(reason, len, DEVICE_AUTH_DENIED,
                         "the token names policy '%.64s', which does not exist", token->skn);
    case LOOKUP_ERROR:
        return DEVICE_AUTH_ERROR;
    case LOOKUP_FOUND:
        break;
    }
    if ((policy->permissions & PERM_DEVICE_CONNECT) == 0)
        return ih_reason(reason, len, DEVICE_AUTH_DENIED,
                         "policy '%.64s' lacks the DeviceConnect permission", token->skn);
    keys[0] = policy->primary_key;
    keys[1] = policy->secondary_key;
    return DEVICE_AUTH_OK;
}

static enum device_auth_result
check_token(const struct device_auth_request *req, const struct mqtt_identity *id,
            const struct ih_sas *token, const struct device_keys *device,
            const struct device_auth_lookups *lookups, char *reason, size_t len)
{
    char resource[300];
    mqtt_identity_resource(id, resource, sizeof resource);
    if (ih_sas_check_audience(token, req->hosts, req->host_count, resource) != IH_OK)
        return ih_reason(reason, len, DEVICE_AUTH_DENIED,
                         "wrong audience: the token's sr '%.120s' does not cover %s", token->sr_raw,
                         resource);
    const char *keys[2];
    struct policy_keys policy;
    enum device_auth_result r = signing_keys(token, device, lookups, keys, &policy, reason, len);
    if (r != DEVICE_AUTH_OK)
        return r;
    int matched = -1;
    if (ih_sas_verify_signature(token, keys, 2, &matched) != IH_OK)
        return ih_reason(reason, len, DEVICE_AUTH_DENIED,
                         "wrong key: the signature matches neither key of %s",
                         token->skn != NULL ? "the policy" : "the device");
    if (ih_sas_check_expiry(token, req->now) != IH_OK)
        return ih_reason(reason, len, DEVICE_AUTH_DENIED,
                         "expired: the token expired at %lld, now is %lld", token->expiry,
                         req->now);
    return DEVICE_AUTH_OK;
}

static enum device_auth_result check_device(const struct device_auth_request *req,
                                            const struct mqtt_identity *id,
                                            const struct ih_sas *token,
                                            const struct device_auth_lookups *lookups, char *reason,
                                            size_t len)
{
    struct device_keys device;
    switch (lookups->device(lookups->ctx, id->device_id, &device)) {
    case LOOKUP_NOT_FOUND:
        return ih_reason(reason, len, DEVICE_AUTH_DENIED,
                         "unknown device: '%s' is not in the registry", id->device_id);
    case LOOKUP_ERROR:
        return DEVICE_AUTH_ERROR;
    case LOOKUP_FOUND:
        break;
    }
    if (!device.enabled)
        return ih_reason(reason, len, DEVICE_AUTH_DENIED,
                         "disabled: device '%s' has status disabled", id->device_id);
    return check_token(req, id, token, &device, lookups, reason, len);
}

enum device_auth_result device_auth_check(const struct device_auth_request *req,
                                          const struct device_auth_lookups *lookups, char *reason,
                                          size_t reason_len)
{
    struct mqtt_identity id;
    struct ih_diag diag = {{0}};
    if (mqtt_identity_parse(req->client_id, &id, &diag) != IH_OK)
        return ih_reason(reason, reason_len, DEVICE_AUTH_DENIED, "bad client id: %s", diag.msg);
    if (mqtt_username_check(req->username, req->client_id, &diag) != IH_OK)
        return ih_reason(reason, reason_len, DEVICE_AUTH_DENIED, "bad user name: %s", diag.msg);
    if (req->password == NULL || req->password[0] == '\0')
        return ih_reason(reason, reason_len, DEVICE_AUTH_DENIED,
                         "no password: send a SAS token as the MQTT password");
    struct ih_sas token;
    if (ih_sas_parse(req->password, strlen(req->password), &token, &diag) != IH_OK)
        return ih_reason(reason, reason_len, DEVICE_AUTH_DENIED,
                         "the password is not a SAS token: %s", diag.msg);
    enum device_auth_result r = check_device(req, &id, &token, lookups, reason, reason_len);
    ih_sas_free(&token);
    return r;
}
