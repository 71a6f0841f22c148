#include "mqtt_identity.h"

#include <stdio.h>
#include <string.h>

ih_result mqtt_identity_parse(const char *client_id, struct mqtt_identity *out,
                              struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    if (client_id == NULL)
        return ih_fail(diag, IH_ERR_MISSING, "no client id");
    const char *slash = strchr(client_id, '/');
    size_t device_len = slash != NULL ? (size_t)(slash - client_id) : strlen(client_id);
    ih_result r = ih_id_check(client_id, device_len, "device id in the client id", diag);
    if (r != IH_OK)
        return r;
    memcpy(out->device_id, client_id, device_len);
    if (slash == NULL)
        return IH_OK;
    r = ih_id_check(slash + 1, strlen(slash + 1), "module id in the client id", diag);
    if (r == IH_OK && strchr(slash + 1, '/') != NULL)
        r = ih_fail(diag, IH_ERR_SYNTAX, "a client id is deviceId or deviceId/moduleId");
    if (r == IH_OK)
        snprintf(out->module_id, sizeof out->module_id, "%s", slash + 1);
    return r;
}

void mqtt_identity_resource(const struct mqtt_identity *id, char *out, size_t cap)
{
    if (id->module_id[0] != '\0')
        snprintf(out, cap, "/devices/%s/modules/%s", id->device_id, id->module_id);
    else
        snprintf(out, cap, "/devices/%s", id->device_id);
}

/* After the host (up to the first '/'), the user name must hold the client id followed by its
 * end, or '/' and then the end or '?' and the query. Comparing with the known id, rather than
 * splitting at the first "/?", keeps ids that contain '?' working. */
ih_result mqtt_username_check(const char *username, const char *client_id, struct ih_diag *diag)
{
    if (username == NULL || username[0] == '\0')
        return IH_OK;
    const char *slash = strchr(username, '/');
    const char *named = slash != NULL ? slash + 1 : username;
    size_t n = strlen(client_id);
    if (strncmp(named, client_id, n) == 0) {
        const char *after = named + n;
        while (*after == '/')
            after++;
        if (*after == '\0' || (*after == '?' && after > named + n))
            return IH_OK;
    }
    const char *query = strstr(named, "/?");
    int shown = (int)(query != NULL ? query - named : (long)strlen(named));
    return ih_fail(diag, IH_ERR_AUDIENCE,
                   "the user name names '%.*s' but the client id is '%s' (expected "
                   "{host}/%s/?api-version=...)",
                   shown > 100 ? 100 : shown, named, client_id, client_id);
}
