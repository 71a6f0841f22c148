/* Reading a request: its path, split and decoded segment by segment, and its query values. */
#include "rest.h"

#include "protocol/percent.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum rest_path_result rest_path_parse(const char *path, struct rest_path *out)
{
    memset(out, 0, sizeof *out);
    if (path == NULL || path[0] != '/')
        return REST_PATH_BAD;
    const char *p = path + 1;
    enum rest_path_result r = REST_PATH_OK;
    while (*p != '\0' && r == REST_PATH_OK) {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || out->count == REST_MAX_SEGMENTS) {
            r = REST_PATH_BAD;
            break;
        }
        ih_result d = ih_pct_decode(p, len, IH_PCT_STRICT, &out->segments[out->count], NULL);
        if (d != IH_OK)
            r = d == IH_ERR_NOMEM ? REST_PATH_NOMEM : REST_PATH_BAD_ESCAPE;
        else
            out->count++;
        p = slash != NULL ? slash + 1 : p + len;
    }
    if (r != REST_PATH_OK)
        rest_path_free(out);
    return r;
}

void rest_path_free(struct rest_path *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->segments[i]);
    memset(p, 0, sizeof *p);
}

const char *rest_query_value(const struct rest_request *req, const char *name, char *buf,
                             size_t cap)
{
    const char *raw = req->query(req->ctx, name);
    char *decoded = NULL;
    size_t len = 0;
    if (raw == NULL ||
        ih_pct_decode(raw, strlen(raw), IH_PCT_PLUS_IS_SPACE, &decoded, &len) != IH_OK)
        return NULL;
    const char *result = len < cap ? memcpy(buf, decoded, len + 1) : NULL;
    free(decoded);
    return result;
}

int rest_host_is_ours(const char *host, const char *const *names, size_t count)
{
    if (host == NULL)
        return 0;
    size_t len;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (close == NULL)
            return 0;
        len = (size_t)(close - host) + 1;
    } else {
        len = strcspn(host, ":");
    }
    const char *rest = host + len;
    if (rest[0] != '\0' && (rest[0] != ':' || strspn(rest + 1, "0123456789") != strlen(rest + 1)))
        return 0;
    if (len == 5 && strncmp(host, "[::1]", 5) == 0)
        return 1;
    for (size_t i = 0; i < count; i++) {
        if (strlen(names[i]) == len && strncasecmp(host, names[i], len) == 0)
            return 1;
    }
    return 0;
}

int rest_twin_path_ids(struct rest_call *call, size_t module_count, const char **device_id,
                       const char **module_id)
{
    const struct rest_path *path = call->path;
    struct ih_diag why;
    *device_id = path->segments[1];
    *module_id = path->count == module_count ? path->segments[3] : NULL;
    if (ih_id_check(*device_id, strlen(*device_id), "device id", &why) == IH_OK &&
        (*module_id == NULL ||
         ih_id_check(*module_id, strlen(*module_id), "module id", &why) == IH_OK))
        return 0;
    rest_error(call->res, IH_E_ARGUMENT_INVALID, "%s", why.msg);
    return -1;
}
