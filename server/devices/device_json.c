#include "device_json.h"

#include "protocol/sas.h"
#include "protocol/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static enum device_json_error invalid(struct ih_diag *diag, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum device_json_error invalid(struct ih_diag *diag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ih_vfail(diag, IH_ERR_SYNTAX, fmt, ap);
    va_end(ap);
    return DEVICE_JSON_INVALID;
}

/* A string member, or NULL when it is absent or null; *wrong_type when it is something else. */
static const char *optional_string(json_t *obj, const char *name, int *wrong_type)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *wrong_type = 1;
        return NULL;
    }
    return json_string_value(v);
}

static enum device_json_error parse_status(json_t *root, struct device_patch *p,
                                           struct ih_diag *diag)
{
    int wrong = 0;
    const char *status = optional_string(root, "status", &wrong);
    if (wrong || (status != NULL && strcasecmp(status, "enabled") != 0 &&
                  strcasecmp(status, "disabled") != 0))
        return invalid(diag, "%s must be \"enabled\" or \"disabled\"", "status");
    if (status != NULL) {
        p->has_enabled = 1;
        p->enabled = strcasecmp(status, "enabled") == 0;
    }
    json_t *reason = json_object_get(root, "statusReason");
    if (reason == NULL)
        return DEVICE_JSON_OK;
    const char *text = optional_string(root, "statusReason", &wrong);
    if (wrong)
        return invalid(diag, "%s must be a string or null", "statusReason");
    if (text != NULL && ih_utf8_length(text, strlen(text)) > STATUS_REASON_MAX)
        return invalid(diag, "%s is longer than 128 characters", "statusReason");
    p->has_status_reason = 1;
    p->status_reason_is_null = text == NULL;
    snprintf(p->status_reason, sizeof p->status_reason, "%s", text != NULL ? text : "");
    return DEVICE_JSON_OK;
}

static enum device_json_error parse_key(json_t *symmetric, const char *name, char *out, size_t cap,
                                        struct ih_diag *diag)
{
    int wrong = 0;
    const char *key = optional_string(symmetric, name, &wrong);
    if (wrong)
        return invalid(diag, "authentication.symmetricKey.%s must be a base64 string", name);
    if (key == NULL || key[0] == '\0')
        return DEVICE_JSON_OK;
    struct ih_diag why;
    if (ih_key_check(key, &why) != IH_OK || strlen(key) >= cap) {
        char msg[sizeof why.msg + 64];
        snprintf(msg, sizeof msg, "authentication.symmetricKey.%s: %s", name, why.msg);
        return invalid(diag, "%s", msg);
    }
    snprintf(out, cap, "%s", key);
    return DEVICE_JSON_OK;
}

/* null and "" both mean no thumbprint (Node's SDK sends "" for a SAS device). */
static int thumbprint_given(json_t *value)
{
    return value != NULL && !json_is_null(value) &&
           !(json_is_string(value) && json_string_length(value) == 0);
}

/* Only SAS identities are emulated: an X.509 type or thumbprint is refused, not stored. */
static enum device_json_error parse_authentication(json_t *root, struct device_patch *p,
                                                   struct ih_diag *diag)
{
    json_t *auth = json_object_get(root, "authentication");
    if (auth == NULL || json_is_null(auth))
        return DEVICE_JSON_OK;
    if (!json_is_object(auth))
        return invalid(diag, "%s must be an object", "authentication");
    int wrong = 0;
    const char *type = optional_string(auth, "type", &wrong);
    if (wrong || (type != NULL && strcasecmp(type, "sas") != 0))
        return invalid(diag,
                       "authentication.type %s: the emulator supports only \"sas\" (symmetric "
                       "keys); X.509 identities are not emulated",
                       type != NULL ? type : "is not a string");
    json_t *x509 = json_object_get(auth, "x509Thumbprint");
    json_t *primary = json_is_object(x509) ? json_object_get(x509, "primaryThumbprint") : NULL;
    json_t *secondary = json_is_object(x509) ? json_object_get(x509, "secondaryThumbprint") : NULL;
    if (thumbprint_given(primary) || thumbprint_given(secondary))
        return invalid(diag, "%s: X.509 identities are not emulated",
                       "authentication.x509Thumbprint");
    json_t *symmetric = json_object_get(auth, "symmetricKey");
    if (symmetric == NULL || json_is_null(symmetric))
        return DEVICE_JSON_OK;
    if (!json_is_object(symmetric))
        return invalid(diag, "%s must be an object", "authentication.symmetricKey");
    enum device_json_error e =
        parse_key(symmetric, "primaryKey", p->primary_key, sizeof p->primary_key, diag);
    return e != DEVICE_JSON_OK ? e
                               : parse_key(symmetric, "secondaryKey", p->secondary_key,
                                           sizeof p->secondary_key, diag);
}

static enum device_json_error parse_capabilities(json_t *root, struct device_patch *p,
                                                 struct ih_diag *diag)
{
    json_t *caps = json_object_get(root, "capabilities");
    if (caps == NULL || json_is_null(caps))
        return DEVICE_JSON_OK;
    json_t *edge = json_is_object(caps) ? json_object_get(caps, "iotEdge") : NULL;
    if (!json_is_object(caps) || (edge != NULL && !json_is_boolean(edge)))
        return invalid(diag, "%s must be an object with a boolean iotEdge", "capabilities");
    if (edge != NULL) {
        p->has_iot_edge = 1;
        p->iot_edge = json_is_true(edge);
    }
    return DEVICE_JSON_OK;
}

static enum device_json_error parse_object(json_t *root, const char *path_id,
                                           struct device_patch *out, struct ih_diag *diag)
{
    int wrong = 0;
    const char *id = optional_string(root, "deviceId", &wrong);
    if (wrong)
        return invalid(diag, "%s must be a string", "deviceId");
    if (id != NULL && strcmp(id, path_id) != 0)
        return invalid(diag, "deviceId in the body does not match the device id in the URL (%s)",
                       path_id);
    enum device_json_error e = parse_status(root, out, diag);
    if (e == DEVICE_JSON_OK)
        e = parse_authentication(root, out, diag);
    if (e == DEVICE_JSON_OK)
        e = parse_capabilities(root, out, diag);
    return e;
}

enum device_json_error device_json_parse(const char *body, size_t len, const char *path_id,
                                         struct device_patch *out, struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *root = json_loadb(body, len, 0, &err);
    if (root == NULL || !json_is_object(root)) {
        if (root == NULL)
            ih_fail(diag, IH_ERR_SYNTAX, "the body is not valid JSON: %s at line %d column %d",
                    err.text, err.line, err.column);
        else
            ih_fail(diag, IH_ERR_SYNTAX, "the body must be a JSON object describing the device");
        json_decref(root);
        return DEVICE_JSON_MALFORMED;
    }
    enum device_json_error e = parse_object(root, path_id, out, diag);
    json_decref(root);
    return e;
}

void device_patch_apply(const struct device_patch *p, struct device *d)
{
    if (p->has_enabled)
        d->enabled = p->enabled;
    if (p->has_status_reason) {
        d->has_status_reason = !p->status_reason_is_null;
        snprintf(d->status_reason, sizeof d->status_reason, "%s", p->status_reason);
    }
    if (p->primary_key[0] != '\0')
        snprintf(d->primary_key, sizeof d->primary_key, "%s", p->primary_key);
    if (p->secondary_key[0] != '\0')
        snprintf(d->secondary_key, sizeof d->secondary_key, "%s", p->secondary_key);
    if (p->has_iot_edge)
        d->iot_edge = p->iot_edge;
}

static json_t *authentication_object(const struct device *d)
{
    return json_pack("{s:{s:s, s:s}, s:s, s:{s:n, s:n}}", "symmetricKey", "primaryKey",
                     d->primary_key, "secondaryKey", d->secondary_key, "type", "sas",
                     "x509Thumbprint", "primaryThumbprint", "secondaryThumbprint");
}

/* Field order follows the hub's own responses. */
json_t *device_json_object(const struct device *d)
{
    char etag[32];
    registry_etag_text(d->etag, etag);
    json_t *auth = authentication_object(d);
    if (auth == NULL)
        return NULL;
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:o, s:{s:b}, s:n, "
        "s:[]}",
        "deviceId", d->id, "generationId", d->generation_id, "etag", etag, "connectionState",
        d->connected ? "Connected" : "Disconnected", "status", d->enabled ? "enabled" : "disabled",
        "statusReason", d->has_status_reason ? json_string(d->status_reason) : json_null(),
        "connectionStateUpdatedTime", d->connection_state_updated_time, "statusUpdatedTime",
        d->status_updated_time, "lastActivityTime", d->last_activity_time,
        "cloudToDeviceMessageCount", (json_int_t)d->cloud_to_device_message_count, "authentication",
        auth, "capabilities", "iotEdge", d->iot_edge, "deviceScope", "parentScopes");
}
