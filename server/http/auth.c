#include "auth.h"

#include "protocol/format.h"
#include "protocol/sas.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *auth_permission_name(unsigned permission)
{
    switch (permission) {
    case PERM_REGISTRY_READ:
        return "RegistryRead";
    case PERM_REGISTRY_WRITE:
        return "RegistryWrite";
    case PERM_SERVICE_CONNECT:
        return "ServiceConnect";
    case PERM_DEVICE_CONNECT:
        return "DeviceConnect";
    case PERM_REGISTRY_READ | PERM_SERVICE_CONNECT:
        return "RegistryRead or ServiceConnect";
    case PERM_REGISTRY_WRITE | PERM_SERVICE_CONNECT:
        return "RegistryWrite or ServiceConnect";
    }
    return "?";
}

/* Signature, expiry and audience of a parsed token against a policy's keys. */
static enum auth_result check_token(struct emulator *emu, const struct ih_sas *token,
                                    const struct policy *policy, const char *resource_path,
                                    long long now, char *reason, size_t len)
{
    const char *keys[2] = {policy->primary_key, policy->secondary_key};
    int matched = -1;
    if (ih_sas_verify_signature(token, keys, 2, &matched) != IH_OK)
        return ih_reason(reason, len, AUTH_DENIED,
                         "the signature does not match either key of policy '%s' (wrong "
                         "SharedAccessKey in the connection string?)",
                         policy->name);
    if (ih_sas_check_expiry(token, now) != IH_OK)
        return ih_reason(reason, len, AUTH_DENIED,
                         "the token expired at %lld (now %lld, with %d s of skew)", token->expiry,
                         now, IH_SAS_CLOCK_SKEW_SECONDS);
    if (ih_sas_check_audience(token, emu->audience_hosts, emu->audience_host_count,
                              resource_path) != IH_OK)
        return ih_reason(reason, len, AUTH_DENIED,
                         "the token's sr '%.100s' does not cover %s%s (HostName must be one of the "
                         "emulator's --host-name values)",
                         token->sr_raw, emu->host_name, resource_path);
    return AUTH_OK;
}

static enum auth_result check_policy_token(struct emulator *emu, const struct ih_sas *token,
                                           const char *resource_path, unsigned permission,
                                           long long now, char *reason, size_t len)
{
    if (token->skn == NULL)
        return ih_reason(reason, len, AUTH_DENIED,
                         "a device token (no skn=) cannot call the service API; use a service "
                         "connection string with a policy that has %s",
                         auth_permission_name(permission));
    struct policy policy;
    enum registry_result rr = registry_policy_get(emu->registry, token->skn, &policy);
    if (rr == REGISTRY_NOT_FOUND)
        return ih_reason(reason, len, AUTH_DENIED, "there is no shared access policy '%.64s'",
                         token->skn);
    if (rr != REGISTRY_OK)
        return AUTH_ERROR;
    enum auth_result r = check_token(emu, token, &policy, resource_path, now, reason, len);
    if (r == AUTH_OK && (policy.permissions & permission) == 0)
        return ih_reason(reason, len, AUTH_DENIED, "policy '%s' lacks the %s permission",
                         policy.name, auth_permission_name(permission));
    return r;
}

enum auth_result auth_check_policy(struct emulator *emu, const char *authorization,
                                   const char *resource_path, unsigned permission, long long now,
                                   char *reason, size_t reason_len,
                                   char policy_out[POLICY_NAME_SIZE])
{
    policy_out[0] = '\0';
    if (authorization == NULL || authorization[0] == '\0')
        return ih_reason(
            reason, reason_len, AUTH_DENIED,
            "no Authorization header; send 'SharedAccessSignature sr=...&sig=...&se=..."
            "&skn=...'");
    struct ih_sas token;
    struct ih_diag diag = {{0}};
    if (ih_sas_parse(authorization, strlen(authorization), &token, &diag) != IH_OK)
        return ih_reason(reason, reason_len, AUTH_DENIED,
                         "the Authorization header is not a valid SAS token: %s", diag.msg);
    if (token.skn != NULL)
        snprintf(policy_out, POLICY_NAME_SIZE, "%s", token.skn);
    enum auth_result r =
        check_policy_token(emu, &token, resource_path, permission, now, reason, reason_len);
    ih_sas_free(&token);
    return r;
}
