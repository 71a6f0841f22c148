/* libiothub-service's cloud-to-device messages (docs/protocol.md §12.4): sent and listed through
 * the emulator's /emulator/devices/{id}/messages/devicebound, purged with the hub's
 * DELETE /devices/{id}/commands. */
#include "service_internal.h"

#include "protocol/base64.h"
#include "protocol/format.h"
#include "protocol/utf8.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the service SDKs send today; the hub takes any api-version. */
#define C2D_API_VERSION "2021-04-12"

static int check_device(const char *device_id, struct iothub_error *err)
{
    if (device_id == NULL) {
        svc_set_error(err, 0, "a cloud-to-device call needs a device id");
        return -1;
    }
    return svc_check_ids(device_id, NULL, err);
}

/* Text the hub can take as a JSON string: UTF-8, control characters allowed, no NUL (which the
 * hub's JSON reader may refuse). */
static int is_text(const void *body, size_t len)
{
    struct ih_utf8_stream check;
    ih_utf8_stream_init(&check);
    return memchr(body, '\0', len) == NULL && ih_utf8_stream_feed(&check, body, len) == 0 &&
           ih_utf8_stream_end(&check) == 0;
}

/* "body" as text, or "bodyBase64"; nothing for an empty body. */
static int add_body(json_t *request, const struct iothub_c2d_message *m, struct iothub_error *err)
{
    if (m->body_len == 0)
        return 0;
    if (m->body == NULL) {
        svc_set_error(err, 0, "the message has a body_len of %zu but no body", m->body_len);
        return -1;
    }
    if (is_text(m->body, m->body_len))
        return json_object_set_new(request, "body", json_stringn(m->body, m->body_len)) == 0 ? 0
                                                                                             : -1;
    char *encoded = NULL;
    if (ih_base64_encode(m->body, m->body_len, &encoded) != IH_OK)
        return -1;
    int rc = json_object_set_new(request, "bodyBase64", json_string(encoded));
    free(encoded);
    return rc == 0 ? 0 : -1;
}

/* "properties": {name: value}, names unique. */
static int add_properties(json_t *request, const struct iothub_c2d_message *m,
                          struct iothub_error *err)
{
    if (m->property_count == 0)
        return 0;
    json_t *props = json_object();
    if (props == NULL || json_object_set_new(request, "properties", props) != 0)
        return -1;
    for (size_t i = 0; i < m->property_count; i++) {
        const struct iothub_c2d_property *p = &m->properties[i];
        if (p->name == NULL || p->name[0] == '\0' || p->value == NULL) {
            svc_set_error(err, 0, "property %zu of the message has no name or no value", i + 1);
            return -1;
        }
        if (json_object_get(props, p->name) != NULL) {
            svc_set_error(err, 0, "the message's property '%s' is given twice", p->name);
            return -1;
        }
        json_t *value = json_string(p->value);
        if (value == NULL || json_object_set_new(props, p->name, value) != 0) {
            svc_set_error(err, 0, "the message's property '%.200s' is not UTF-8 text", p->name);
            return -1;
        }
    }
    return 0;
}

/* The system properties that are set. */
static int add_system(json_t *request, const struct iothub_c2d_message *m, struct iothub_error *err)
{
    const struct {
        const char *name, *value;
    } fields[] = {
        {"messageId", m->message_id},
        {"correlationId", m->correlation_id},
        {"userId", m->user_id},
        {"contentType", m->content_type},
        {"contentEncoding", m->content_encoding},
        {"ack", m->ack},
        {"expiryTimeUtc", m->expiry_time_utc},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i].value == NULL)
            continue;
        json_t *value = json_string(fields[i].value);
        if (value == NULL || json_object_set_new(request, fields[i].name, value) != 0) {
            svc_set_error(err, 0, "the message's %s is not UTF-8 text", fields[i].name);
            return -1;
        }
    }
    return 0;
}

/* The POST's JSON body; *out is a new string. */
static int send_body(const struct iothub_c2d_message *m, char **out, struct iothub_error *err)
{
    struct iothub_error why = {0};
    json_t *request = json_object();
    int rc = request != NULL && add_body(request, m, &why) == 0 &&
                     add_properties(request, m, &why) == 0 && add_system(request, m, &why) == 0
                 ? 0
                 : -1;
    *out = rc == 0 ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    if (*out != NULL)
        return 0;
    if (why.message[0] != '\0' && err != NULL)
        *err = why;
    else
        svc_set_error(err, 0, "out of memory");
    return -1;
}

static int devicebound_path(const char *device_id, const char *query, char *out, size_t cap)
{
    char *device = svc_encode(device_id);
    ih_result rc =
        device != NULL
            ? ih_format(out, cap, "/emulator/devices/%s/messages/devicebound%s", device, query)
            : IH_ERR_NOMEM;
    free(device);
    return rc == IH_OK ? 0 : -1;
}

/* The 202's {"messageId","deviceId","sequenceNumber","expiryTimeUtc"}. */
static int read_send_answer(const struct ih_http_response *res, struct iothub_c2d_result *out,
                            struct iothub_error *err)
{
    json_t *answer = res->body != NULL ? json_loadb(res->body, res->body_len, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(answer, "messageId"));
    const char *expiry = json_string_value(json_object_get(answer, "expiryTimeUtc"));
    json_t *seq = json_object_get(answer, "sequenceNumber");
    int rc = -1;
    out->http_status = res->status;
    if (id == NULL || !json_is_integer(seq) || strlen(id) >= sizeof out->message_id) {
        svc_set_error(err, res->status,
                      "the hub's answer is not {\"messageId\":..,\"sequenceNumber\":..}");
    } else {
        snprintf(out->message_id, sizeof out->message_id, "%s", id);
        out->sequence_number = (long long)json_integer_value(seq);
        snprintf(out->expiry_time_utc, sizeof out->expiry_time_utc, "%s",
                 expiry != NULL ? expiry : "");
        rc = 0;
    }
    json_decref(answer);
    return rc;
}

int iothub_c2d_send(struct iothub_service *svc, const struct iothub_c2d_message *msg,
                    struct iothub_c2d_result *out, struct iothub_error *err)
{
    char path[1024];
    char *body = NULL;
    memset(out, 0, sizeof *out);
    if (check_device(msg->device_id, err) != 0 || send_body(msg, &body, err) != 0)
        return -1;
    if (devicebound_path(msg->device_id, "?api-version=" C2D_API_VERSION, path, sizeof path) != 0) {
        svc_set_error(err, 0, "the device id is too long");
        free(body);
        return -1;
    }
    struct hub_call call = {
        .method = "POST", .path = path, .body = body, .timeout_ms = IH_SVC_REGISTRY_TIMEOUT_MS};
    struct ih_http_response res;
    int rc = svc_call_hub(svc, &call, &res, err);
    free(body);
    if (rc != 0)
        return -1;
    rc = read_send_answer(&res, out, err);
    ih_http_response_free(&res);
    return rc;
}

int iothub_c2d_list(struct iothub_service *svc, const char *device_id, struct iothub_c2d_queue *out,
                    struct iothub_error *err)
{
    char path[1024];
    memset(out, 0, sizeof *out);
    if (check_device(device_id, err) != 0)
        return -1;
    if (devicebound_path(device_id, "", path, sizeof path) != 0) {
        svc_set_error(err, 0, "the device id is too long");
        return -1;
    }
    struct hub_call call = {
        .method = "GET", .path = path, .timeout_ms = IH_SVC_REGISTRY_TIMEOUT_MS};
    struct ih_http_response res;
    if (svc_call_hub(svc, &call, &res, err) != 0)
        return -1;
    /* A UTF-8 body may hold NUL characters (\u0000 in JSON). */
    json_t *list =
        res.body != NULL ? json_loadb(res.body, res.body_len, JSON_ALLOW_NUL, NULL) : NULL;
    int rc = json_is_array(list) ? 0 : -1;
    out->http_status = res.status;
    if (rc == 0) {
        out->count = json_array_size(list);
        out->json = res.body;
        res.body = NULL;
    } else {
        svc_set_error(err, res.status, "the hub's answer is not a JSON array of messages");
    }
    json_decref(list);
    ih_http_response_free(&res);
    return rc;
}

int iothub_c2d_purge(struct iothub_service *svc, const char *device_id, long long *purged,
                     struct iothub_error *err)
{
    char path[1024];
    if (purged != NULL)
        *purged = 0;
    if (check_device(device_id, err) != 0)
        return -1;
    char *device = svc_encode(device_id);
    ih_result made = device != NULL
                         ? ih_format(path, sizeof path,
                                     "/devices/%s/commands?api-version=" C2D_API_VERSION, device)
                         : IH_ERR_NOMEM;
    free(device);
    if (made != IH_OK) {
        svc_set_error(err, 0, "the device id is too long");
        return -1;
    }
    struct hub_call call = {
        .method = "DELETE", .path = path, .timeout_ms = IH_SVC_REGISTRY_TIMEOUT_MS};
    struct ih_http_response res;
    if (svc_call_hub(svc, &call, &res, err) != 0)
        return -1;
    json_t *answer = res.body != NULL ? json_loadb(res.body, res.body_len, 0, NULL) : NULL;
    json_t *count = json_object_get(answer, "totalMessagesPurged");
    int rc = json_is_integer(count) ? 0 : -1;
    if (rc == 0 && purged != NULL)
        *purged = (long long)json_integer_value(count);
    else if (rc != 0)
        svc_set_error(err, res.status, "the hub's answer is not {\"totalMessagesPurged\":..}");
    json_decref(answer);
    ih_http_response_free(&res);
    return rc;
}
