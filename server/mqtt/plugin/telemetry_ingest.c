#include "telemetry_ingest.h"

#include "mqtt_acl.h"

#include "protocol/hub_error.h"
#include "protocol/percent.h"
#include "protocol/telemetry_topic.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The names a system property goes by once stored (rule D10; Event Hubs' names). */
static const struct {
    const char *wire, *stored;
} system_names[] = {
    {"mid", "messageId"},
    {"cid", "correlationId"},
    {"uid", "userId"},
    {"to", "to"},
    {"ct", "contentType"},
    {"ce", "contentEncoding"},
    {"exp", "absoluteExpiryTime"},
    {"ctime", "iothub-creation-time-utc"},
    {"on", "iothub-outputname"},
    {"sub", "dt-subject"},
    {"ifid", "iothub-interface-id"},
};

static const char *stored_name(const char *wire)
{
    for (size_t i = 0; i < sizeof system_names / sizeof system_names[0]; i++) {
        if (strcmp(system_names[i].wire, wire) == 0)
            return system_names[i].stored;
    }
    return wire; /* unknown $. keys are kept as they are */
}

/* Rule D11's count. */
static size_t message_size(const struct ih_telemetry_topic *t, size_t body_len)
{
    size_t n = body_len;
    for (size_t i = 0; i < t->count; i++) {
        const struct ih_property *p = &t->properties[i];
        n += (p->value != NULL ? strlen(p->value) : 0) + (p->system ? 0 : strlen(p->name));
    }
    return n;
}

/* Rule D12: what the hub adds, from the authenticated identity. */
static void stamp(json_t *system, const struct ingest_identity *who,
                  const struct ih_telemetry_topic *t, const char *now)
{
    json_object_set_new(system, "iothub-connection-device-id", json_string(t->device_id));
    if (t->module_id != NULL)
        json_object_set_new(system, "iothub-connection-module-id", json_string(t->module_id));
    char method[128];
    snprintf(method, sizeof method,
             "{\"scope\":\"%s\",\"type\":\"sas\",\"issuer\":\"iothub\","
             "\"acceptingIpFilterRule\":null}",
             t->module_id != NULL ? "module" : "device");
    json_object_set_new(system, "iothub-connection-auth-method", json_string(method));
    json_object_set_new(system, "iothub-connection-auth-generation-id",
                        json_string(who->generation_id));
    json_object_set_new(system, "iothub-enqueuedtime", json_string(now));
    json_object_set_new(system, "iothub-message-source", json_string("Telemetry"));
    if (who->model_id[0] != '\0')
        json_object_set_new(system, "dt-dataschema", json_string(who->model_id));
}

static json_t *encoded(const char *bytes)
{
    char *text = NULL;
    json_t *value = ih_pct_encode(bytes, strlen(bytes), &text) == IH_OK ? json_string(text) : NULL;
    free(text);
    return value;
}

/* The two property objects; NULL values (a key without `=`) are kept as null. */
static int properties(const struct ih_telemetry_topic *t, int retain, json_t *app, json_t *system)
{
    /* A name that is not UTF-8 cannot be a JSON key: such a message is refused. */
    for (size_t i = 0; i < t->count; i++) {
        const struct ih_property *p = &t->properties[i];
        json_t *value = p->value != NULL ? json_string(p->value) : json_null();
        if (value == NULL) /* decoded to bytes that are not UTF-8: kept percent-encoded */
            value = encoded(p->value);
        if (value == NULL ||
            json_object_set_new(p->system ? system : app,
                                p->system ? stored_name(p->name) : p->name, value) != 0)
            return -1;
    }
    if (retain) /* rule D15: a retained publish is telemetry marked so */
        json_object_set_new(app, "mqtt-retain", json_string("true"));
    return 0;
}

static enum ingest_result append(struct telemetry_store *store, long long keep,
                                 const struct ih_telemetry_topic *t, json_t *app, json_t *system,
                                 const struct ingest_message *m, const char *now, long long *seq,
                                 char *reason, size_t cap)
{
    char *app_text = json_dumps(app, JSON_COMPACT), *system_text = json_dumps(system, JSON_COMPACT);
    enum ingest_result r = INGEST_FAILED;
    if (app_text == NULL || system_text == NULL) {
        snprintf(reason, cap, "out of memory, or a property that is not UTF-8");
    } else {
        struct telemetry_record rec = {0,        t->device_id, t->module_id, now,
                                       app_text, system_text,  m->payload,   m->len};
        if (telemetry_store_append(store, &rec, keep, reason, cap) == 0) {
            *seq = rec.sequence_number;
            r = INGEST_STORED;
        }
    }
    free(app_text);
    free(system_text);
    return r;
}

enum ingest_result telemetry_ingest(struct telemetry_store *store, long long keep,
                                    const struct ingest_identity *who,
                                    const struct ingest_message *m, long long *sequence_number,
                                    char *reason, size_t cap)
{
    struct ih_telemetry_topic t;
    struct ih_diag why = {{0}};
    if (ih_topic_parse_telemetry(m->topic, strlen(m->topic), &t, &why) != IH_OK) {
        snprintf(reason, cap, "not a telemetry topic: %s", why.msg);
        return INGEST_BAD_TOPIC;
    }
    enum ingest_result r = INGEST_FAILED;
    json_t *app = json_object(), *system = json_object();
    char now[40];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (!mqtt_telemetry_topic_is_own(m->topic, &t, who->cid)) {
        snprintf(reason, cap, "the topic names another identity than '%s'", who->cid);
        r = INGEST_BAD_TOPIC;
    } else if (message_size(&t, m->len) > TELEMETRY_MESSAGE_MAX) {
        snprintf(reason, cap,
                 "the message is %zu bytes with its properties, more than the hub's %d",
                 message_size(&t, m->len), TELEMETRY_MESSAGE_MAX);
        r = INGEST_TOO_LARGE;
    } else if (app == NULL || system == NULL ||
               ih_format_timestamp_utc(&ts, now, sizeof now) != IH_OK ||
               properties(&t, m->retain, app, system) != 0) {
        snprintf(reason, cap, "a property name is not UTF-8 once decoded, or out of memory");
    } else {
        stamp(system, who, &t, now);
        r = append(store, keep, &t, app, system, m, now, sequence_number, reason, cap);
    }
    json_decref(app);
    json_decref(system);
    ih_telemetry_topic_free(&t);
    return r;
}
