#include "twin_service.h"

#include "hub_quotas.h"
#include "keys.h"
#include "log.h"
#include "registry_twins.h"
#include "time_text.h"
#include "twin_doc.h"

#include "protocol/hub_error.h"
#include "protocol/twin_topic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct twin_service {
    struct emulator *emu;
    struct twin_observer observers[TWIN_MAX_OBSERVERS];
    size_t observer_count;
};

struct twin_service *twin_service_new(struct emulator *emu, const struct twin_observer *observers,
                                      size_t count)
{
    if (count > TWIN_MAX_OBSERVERS)
        fatal("%zu twin observers, more than TWIN_MAX_OBSERVERS", count);
    struct twin_service *svc = calloc(1, sizeof *svc);
    if (svc == NULL)
        return NULL;
    svc->emu = emu;
    memcpy(svc->observers, observers, count * sizeof *observers);
    svc->observer_count = count;
    return svc;
}

void twin_service_free(struct twin_service *svc)
{
    free(svc);
}

static void observe(struct twin_service *svc, enum twin_op op, const char *cid, int ok,
                    long long desired_version, long long reported_version, const json_t *view)
{
    struct twin_event ev = {op, cid, ok, desired_version, reported_version, view};
    for (size_t i = 0; i < svc->observer_count; i++)
        svc->observers[i].on_event(svc->observers[i].ctx, &ev);
}

static void client_id(const struct twin_target *t, char *out, size_t cap)
{
    if (t->module_id != NULL)
        snprintf(out, cap, "%s/%s", t->device_id, t->module_id);
    else
        snprintf(out, cap, "%s", t->device_id);
}

/* ---- the service's twin (rule D9) ---- */

/* The fields in the order the hub writes them (docs/protocol.md §12.2). */
static json_t *service_twin(struct twin_service *svc, const struct device *d,
                            const struct twin_target *t, const json_t *doc)
{
    char etag[16], device_etag[32], cid[2 * IH_ID_MAX_LEN + 2];
    twin_etag_text(twin_doc_number(doc, "etag"), etag);
    registry_etag_text(d->etag, device_etag);
    client_id(t, cid, sizeof cid);
    int connected =
        t->module_id == NULL ? d->connected : mqtt_endpoint_view(svc->emu->mqtt, cid).connected;
    json_t *twin = json_pack("{s:s}", "deviceId", d->id);
    if (twin == NULL)
        return NULL;
    if (t->module_id != NULL)
        json_object_set_new(twin, "moduleId", json_string(t->module_id));
    json_t *rest = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:{s:n, s:n}, s:s, s:I, s:o, s:o, s:{s:b}}",
        "etag", etag, "deviceEtag", device_etag, "status", d->enabled ? "enabled" : "disabled",
        "statusUpdateTime", d->status_updated_time, "connectionState",
        connected ? "Connected" : "Disconnected", "lastActivityTime", d->last_activity_time,
        "cloudToDeviceMessageCount", (json_int_t)d->cloud_to_device_message_count,
        "authenticationType", "sas", "x509Thumbprint", "primaryThumbprint", "secondaryThumbprint",
        "modelId", "", "version", (json_int_t)twin_doc_number(doc, "version"), "tags",
        twin_doc_tags(doc), "properties", twin_doc_properties_view(doc), "capabilities", "iotEdge",
        d->iot_edge);
    if (rest == NULL || json_object_update(twin, rest) != 0) {
        json_decref(rest);
        json_decref(twin);
        return NULL;
    }
    json_decref(rest);
    return twin;
}

enum twin_call_result twin_service_get(struct twin_service *svc, const struct twin_target *t,
                                       json_t **twin, char *reason, size_t cap)
{
    struct device d;
    char *text = NULL, cid[2 * IH_ID_MAX_LEN + 2];
    reason[0] = '\0';
    enum registry_result r =
        registry_twin_get(svc->emu->registry, t->device_id, t->module_id, &d, &text);
    if (r == REGISTRY_NOT_FOUND) {
        snprintf(reason, cap, "device '%s' is not registered", t->device_id);
        return TWIN_CALL_NO_DEVICE;
    }
    /* A twin never written is as old as its device's status. */
    json_t *doc = r == REGISTRY_OK ? twin_doc_load(text, d.status_updated_time, reason, cap) : NULL;
    free(text);
    *twin = doc != NULL ? service_twin(svc, &d, t, doc) : NULL;
    client_id(t, cid, sizeof cid);
    observe(svc, TWIN_OP_SERVICE_GET, cid, *twin != NULL, twin_doc_number(doc, "desiredVersion"),
            twin_doc_number(doc, "reportedVersion"), NULL);
    json_decref(doc);
    if (*twin != NULL)
        return TWIN_CALL_OK;
    if (r != REGISTRY_OK || reason[0] == '\0')
        snprintf(reason, cap, "the twin could not be read (see the emulator's log)");
    return TWIN_CALL_FAILED;
}

json_t *twin_service_device_view(struct twin_service *svc, const struct twin_target *t)
{
    struct device d;
    char *text = NULL, reason[200];
    if (registry_twin_get(svc->emu->registry, t->device_id, t->module_id, &d, &text) != REGISTRY_OK)
        return NULL;
    json_t *doc = twin_doc_load(text, d.status_updated_time, reason, sizeof reason);
    json_t *view = doc != NULL ? twin_doc_device_view(doc) : NULL;
    json_decref(doc);
    free(text);
    return view;
}

/* If-Match (rule D9): absent, `*` or `"*"` match anything; otherwise one pair of quotes is
 * dropped and the rest must be the twin's etag. */
static int etag_matches(const char *if_match, const json_t *doc)
{
    if (if_match == NULL || strcmp(if_match, "*") == 0 || strcmp(if_match, "\"*\"") == 0)
        return 1;
    size_t len = strlen(if_match);
    if (len >= 2 && if_match[0] == '"' && if_match[len - 1] == '"') {
        if_match++;
        len -= 2;
    }
    char etag[16];
    twin_etag_text(twin_doc_number(doc, "etag"), etag);
    return strlen(etag) == len && memcmp(etag, if_match, len) == 0;
}

struct update_call {
    struct twin_service *svc;
    const struct twin_target *target;
    const char *body;
    size_t len;
    int replace;
    const char *if_match;
    char now[TIME_TEXT_SIZE];
    enum twin_call_result result;
    char *reason;
    size_t cap;
    json_t *twin, *notify, *view;
    long long desired_version;
};

static enum twin_call_result as_call_result(enum twin_error e)
{
    return e == TWIN_FORMAT    ? TWIN_CALL_FORMAT
           : e == TWIN_INVALID ? TWIN_CALL_INVALID
                               : TWIN_CALL_FAILED;
}

/* Under the registry's lock: the change, and the twin to answer with. */
static int apply_update(void *ctx, const struct device *dev, const char *current, char **next)
{
    struct update_call *c = ctx;
    /* A twin never written is as old as its device's status (as twin_service_get shows it). */
    json_t *doc = twin_doc_load(current, dev->status_updated_time, c->reason, c->cap);
    if (doc == NULL) {
        c->result = TWIN_CALL_FAILED;
        return 0;
    }
    enum twin_error e = TWIN_OK;
    if (!etag_matches(c->if_match, doc)) {
        snprintf(c->reason, c->cap, "the twin's etag is not %s", c->if_match);
        c->result = TWIN_CALL_PRECONDITION;
    } else if ((e = twin_doc_update(doc, c->body, c->len, c->replace, c->now, &c->notify, c->reason,
                                    c->cap)) != TWIN_OK) {
        c->result = as_call_result(e);
    } else {
        *next = twin_doc_dump(doc);
        c->twin = service_twin(c->svc, dev, c->target, doc);
        c->view = twin_doc_device_view(doc);
        c->desired_version = twin_doc_number(doc, "desiredVersion");
        c->result = *next != NULL && c->twin != NULL ? TWIN_CALL_OK : TWIN_CALL_FAILED;
    }
    json_decref(doc);
    return c->result == TWIN_CALL_OK;
}

/* Rule D8: the change goes to the identity if it listens, at QoS 0, and is not kept. */
static void notify_desired(struct twin_service *svc, const char *cid, const json_t *notice,
                           long long version)
{
    if ((mqtt_endpoint_view(svc->emu->mqtt, cid).listens & HUB_LISTEN_DESIRED) == 0)
        return;
    char *topic = NULL, *body = json_dumps(notice, JSON_COMPACT);
    if (body != NULL && ih_topic_format_twin_desired(version, &topic) == IH_OK &&
        mqtt_endpoint_send(svc->emu->mqtt, cid, topic, body, strlen(body)) == 0)
        observe(svc, TWIN_OP_DESIRED_NOTIFIED, cid, 1, version, -1, NULL);
    else
        log_warn("twin", "the desired properties (version %lld) could not be sent to '%s'", version,
                 cid);
    free(topic);
    free(body);
}

enum twin_call_result twin_service_update(struct twin_service *svc, const struct twin_target *t,
                                          const char *body, size_t len, int replace,
                                          const char *if_match, json_t **twin, char *reason,
                                          size_t cap)
{
    struct update_call c = {.svc = svc,
                            .target = t,
                            .body = body,
                            .len = len,
                            .replace = replace,
                            .if_match = if_match,
                            .result = TWIN_CALL_FAILED,
                            .reason = reason,
                            .cap = cap};
    char cid[2 * IH_ID_MAX_LEN + 2];
    client_id(t, cid, sizeof cid);
    time_text_now(c.now);
    reason[0] = '\0';
    enum registry_result r =
        registry_twin_update(svc->emu->registry, t->device_id, t->module_id, apply_update, &c);
    if (r == REGISTRY_NOT_FOUND) {
        snprintf(reason, cap, "device '%s' is not registered", t->device_id);
        c.result = TWIN_CALL_NO_DEVICE;
    } else if (r != REGISTRY_OK) {
        snprintf(reason, cap, "the twin could not be stored (see the emulator's log)");
        c.result = TWIN_CALL_FAILED;
    }
    int ok = r == REGISTRY_OK && c.result == TWIN_CALL_OK;
    observe(svc, TWIN_OP_SERVICE_UPDATE, cid, ok, c.desired_version, -1, c.view);
    json_decref(c.view);
    if (ok && c.notify != NULL)
        notify_desired(svc, cid, c.notify, c.desired_version);
    json_decref(c.notify);
    if (!ok) {
        json_decref(c.twin);
        c.twin = NULL;
    }
    *twin = c.twin;
    return ok ? TWIN_CALL_OK : c.result;
}

/* ---- the device's requests (rules D5-D7) ---- */

/* A twin answer goes only to an identity that listens for them, as a subscription would. */
static void answer_device(struct twin_service *svc, const char *cid, int status, const char *rid,
                          long long version, const char *body)
{
    char *topic = NULL;
    if ((mqtt_endpoint_view(svc->emu->mqtt, cid).listens & HUB_LISTEN_TWIN) == 0) {
        log_info_limited("twin",
                         "'%s' is not subscribed to " IH_TWIN_RES_FILTER
                         ": the answer to its twin request $rid=%.40s (status %d) is dropped",
                         cid, rid, status);
        return;
    }
    if (ih_topic_format_twin_response(status, rid, version, &topic) != IH_OK ||
        mqtt_endpoint_send(svc->emu->mqtt, cid, topic, body, body != NULL ? strlen(body) : 0) != 0)
        log_warn("twin", "the twin answer to '%s' ($rid=%.40s) could not be sent", cid, rid);
    free(topic);
}

/* Rule D7: the bare error object. */
static void answer_error(struct twin_service *svc, const char *cid, const char *rid,
                         enum ih_error_code code, const char *reason)
{
    char hex[33], tracking[96];
    char *body = NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (keys_random_hex(hex, 16) != 0)
        snprintf(hex, sizeof hex, "%032d", 0);
    log_info_limited("twin", "refused the twin request of '%s' ($rid=%.40s): %s", cid, rid, reason);
    if (ih_error_tracking_id(hex, &now, tracking, sizeof tracking) == IH_OK &&
        ih_error_body_bare(code, reason, tracking, &now, &body) == IH_OK)
        answer_device(svc, cid, ih_error_http_status(code), rid, -1, body);
    free(body);
}

/* The device and module ids of a client id. */
static int split_cid(const char *cid, char *device, char *module)
{
    size_t n = strcspn(cid, "/");
    if (n > IH_ID_MAX_LEN || strlen(cid + n) > IH_ID_MAX_LEN + 1)
        return -1;
    memcpy(device, cid, n);
    device[n] = '\0';
    snprintf(module, IH_ID_MAX_LEN + 1, "%s", cid[n] == '/' ? cid + n + 1 : "");
    return 0;
}

static void device_get(struct twin_service *svc, const char *cid, const struct twin_target *t,
                       const char *rid)
{
    char *text = NULL, reason[300] = "";
    struct device d;
    enum registry_result r =
        registry_twin_get(svc->emu->registry, t->device_id, t->module_id, &d, &text);
    json_t *doc =
        r == REGISTRY_OK ? twin_doc_load(text, d.status_updated_time, reason, sizeof reason) : NULL;
    json_t *view = doc != NULL ? twin_doc_device_view(doc) : NULL;
    char *body = view != NULL ? json_dumps(view, JSON_COMPACT) : NULL;
    if (body != NULL)
        answer_device(svc, cid, 200, rid, -1, body);
    else if (r == REGISTRY_NOT_FOUND)
        answer_error(svc, cid, rid, IH_E_DEVICE_NOT_FOUND, "the device is not registered");
    else
        answer_error(svc, cid, rid, IH_E_SERVER_ERROR, "the twin could not be read");
    observe(svc, TWIN_OP_DEVICE_GET, cid, body != NULL, twin_doc_number(doc, "desiredVersion"),
            twin_doc_number(doc, "reportedVersion"), view);
    free(body);
    json_decref(view);
    json_decref(doc);
    free(text);
}

struct reported_call {
    const void *patch;
    size_t len;
    char now[TIME_TEXT_SIZE];
    enum twin_error error;
    char reason[300];
    long long version;
    json_t *view;
};

static int apply_reported(void *ctx, const struct device *dev, const char *current, char **next)
{
    struct reported_call *c = ctx;
    json_t *doc = twin_doc_load(current, dev->status_updated_time, c->reason, sizeof c->reason);
    c->error = doc == NULL ? TWIN_NOMEM
                           : twin_doc_patch_reported(doc, c->patch, c->len, c->now, c->reason,
                                                     sizeof c->reason);
    if (c->error == TWIN_OK && (*next = twin_doc_dump(doc)) == NULL)
        c->error = TWIN_NOMEM;
    if (c->error == TWIN_OK)
        c->view = twin_doc_device_view(doc);
    c->version = twin_doc_number(doc, "reportedVersion");
    json_decref(doc);
    return c->error == TWIN_OK;
}

/* Rule D6: stored (committed) first, then answered 204 with the new version. */
static void device_reported(struct twin_service *svc, const char *cid, const struct twin_target *t,
                            const char *rid, const void *payload, size_t len)
{
    struct reported_call c = {payload, len, "", TWIN_NOMEM, "", 0, NULL};
    time_text_now(c.now);
    enum registry_result r =
        registry_twin_update(svc->emu->registry, t->device_id, t->module_id, apply_reported, &c);
    int ok = r == REGISTRY_OK && c.error == TWIN_OK;
    if (ok)
        answer_device(svc, cid, 204, rid, c.version, NULL);
    else if (r == REGISTRY_NOT_FOUND)
        answer_error(svc, cid, rid, IH_E_DEVICE_NOT_FOUND, "the device is not registered");
    else if (r == REGISTRY_OK && c.error == TWIN_INVALID)
        answer_error(svc, cid, rid, IH_E_ARGUMENT_INVALID, c.reason);
    else
        answer_error(svc, cid, rid, IH_E_SERVER_ERROR, "the twin could not be stored");
    observe(svc, TWIN_OP_DEVICE_REPORTED, cid, ok, -1, c.version, c.view);
    json_decref(c.view);
}

/* Rule D19: a device's twin operation counts against the hub's throttles and daily quota; past
 * one it is answered with the hub's error (429 429001 or 403 403002) on its $rid. */
static int quota_refused(struct twin_service *svc, const char *cid,
                         const struct ih_twin_request *req, size_t len)
{
    char reason[400];
    enum quota_kind kind = req->op == IH_TWIN_GET ? QUOTA_TWIN_READS : QUOTA_TWIN_UPDATES;
    enum quota_verdict v = hub_quotas_charge(
        svc->emu->quotas, kind, req->op == IH_TWIN_GET ? 0 : len, reason, sizeof reason);
    if (v == QUOTA_OK)
        return 0;
    answer_error(svc, cid, req->rid, hub_quotas_error(v), reason);
    return 1;
}

static void on_request(void *ctx, const char *cid, const char *topic, const void *payload,
                       size_t len)
{
    struct twin_service *svc = ctx;
    struct ih_twin_request req;
    struct ih_diag why = {{0}};
    char device[IH_ID_MAX_LEN + 1], module[IH_ID_MAX_LEN + 1];
    if (ih_topic_parse_twin_request(topic, strlen(topic), &req, &why) != IH_OK ||
        split_cid(cid, device, module) != 0) {
        log_info_limited("twin", "'%s' sent a twin request the hub cannot read (%s): %.200s", cid,
                         why.msg, topic);
        return;
    }
    struct twin_target t = {device, module[0] != '\0' ? module : NULL};
    if (quota_refused(svc, cid, &req, len))
        return;
    if (req.op == IH_TWIN_GET)
        device_get(svc, cid, &t, req.rid); /* rule D5: the body is ignored */
    else
        device_reported(svc, cid, &t, req.rid, payload, len);
}

struct mqtt_handler twin_service_mqtt_handler(struct twin_service *svc)
{
    struct mqtt_handler h = {IH_TWIN_PREFIX, on_request, NULL, svc};
    return h;
}
