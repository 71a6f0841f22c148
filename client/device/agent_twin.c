/* The agent's twin, kept as a device app keeps it (docs/protocol.md §12.2): on every connection
 * it reads the twin (rule D5), the first time it reports the --report patches (rule D6), and it
 * logs each desired change (rule D8) and acknowledges it by reporting {"lastDesiredVersion":N},
 * as the samples of the SDKs do. Every answer of the hub is logged (rules D6, D7). Everything
 * here runs on the MQTT thread. */
#include "agent.h"

#include "cli_common.h"

#include "protocol/hub_error.h"
#include "protocol/twin_topic.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest JSON a log line shows. */
#define LOG_JSON_MAX 1200

/* Remembers a request until its answer; returns its slot, or NULL when it cannot be sent. */
static struct agent_twin_request *send_request(struct agent *a, enum ih_twin_op op,
                                               const char *body)
{
    struct agent_twin_request *r = &a->twin_requests[a->twin_next];
    snprintf(r->rid, sizeof r->rid, "%lu", ++a->twin_rid);
    r->is_get = op == IH_TWIN_GET;
    snprintf(r->what, sizeof r->what, "%s", body);
    if (strlen(body) >= sizeof r->what)
        memcpy(r->what + sizeof r->what - 4, "...", 4);
    if (mqtt_link_twin_request(a->link, op, r->rid, body, strlen(body)) != 0) {
        r->rid[0] = '\0';
        return NULL;
    }
    a->twin_next = (a->twin_next + 1) % AGENT_TWIN_PENDING;
    return r;
}

static void report(struct agent *a, const char *patch)
{
    if (send_request(a, IH_TWIN_PATCH_REPORTED, patch) == NULL)
        cli_error("twin: the reported properties %.200s could not be sent (the MQTT connection "
                  "is down)",
                  patch);
}

/* Reports {"lastDesiredVersion":version}, once for each newer version. */
static void acknowledge(struct agent *a, long long version)
{
    char patch[64];
    if (version <= a->desired_acked)
        return;
    a->desired_acked = version;
    snprintf(patch, sizeof patch, "{\"lastDesiredVersion\":%lld}", version);
    report(a, patch);
}

void agent_twin_connected(struct agent *a)
{
    if (send_request(a, IH_TWIN_GET, "") == NULL)
        cli_error("twin: the GET could not be sent (the MQTT connection is down)");
    if (a->reports_sent)
        return;
    a->reports_sent = 1;
    for (int i = 0; i < a->report_count; i++)
        report(a, a->reports[i]);
}

static struct agent_twin_request *take_request(struct agent *a, const char *rid)
{
    for (int i = 0; i < AGENT_TWIN_PENDING; i++) {
        if (a->twin_requests[i].rid[0] != '\0' && strcmp(a->twin_requests[i].rid, rid) == 0)
            return &a->twin_requests[i];
    }
    return NULL;
}

/* A section's "$version", -1 when it has none. */
static long long version_of(const json_t *section)
{
    json_t *v = json_object_get(section, "$version");
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* Whether desired holds a property, not only "$version" and "$metadata". */
static int has_properties(json_t *desired)
{
    const char *key;
    json_t *value;
    json_object_foreach(desired, key, value)
    {
        if (key[0] != '$')
            return 1;
    }
    return 0;
}

/* Rule D5's answer: {"desired":{..,"$version":n},"reported":{..,"$version":m}}. A desired
 * change the device missed while offline is acknowledged now, as one it was told of. */
static void on_twin_read(struct agent *a, const char *rid, const char *body, size_t len)
{
    json_t *twin = json_loadb(body, len, 0, NULL);
    json_t *desired = json_object_get(twin, "desired"),
           *reported = json_object_get(twin, "reported");
    long long desired_version = version_of(desired), reported_version = version_of(reported);
    if (desired_version < 0 || reported_version < 0) {
        cli_error("twin read ($rid %s): the hub's answer is not {\"desired\":{..,\"$version\":n},"
                  "\"reported\":{..}}: %.300s",
                  rid, len > 0 ? body : "(empty)");
        json_decref(twin);
        return;
    }
    cli_info("twin read ($rid %s): desired properties version %lld, reported properties version "
             "%lld",
             rid, desired_version, reported_version);
    json_t *acked = json_object_get(reported, "lastDesiredVersion");
    if (has_properties(desired) &&
        !(json_is_integer(acked) && json_integer_value(acked) == desired_version))
        acknowledge(a, desired_version);
    json_decref(twin);
}

/* The hub's error, bare (rule D7), for the log. */
static void say_refused(const char *what, const char *rid, int status, const char *body, size_t len)
{
    struct ih_error_detail d;
    char code[24] = "";
    if (ih_error_parse(body, len, &d) != IH_OK)
        snprintf(d.message, sizeof d.message, "%s", len > 0 ? "(not an error object)" : "");
    if (d.code != 0)
        snprintf(code, sizeof code, " (%ld)", d.code);
    cli_error("twin %s ($rid %s) refused: %d%s %s", what, rid, status, code, d.message);
}

static void on_answer(struct agent *a, const char *topic, const char *body, size_t len)
{
    struct ih_twin_response res;
    struct ih_diag why = {{0}};
    if (ih_topic_parse_twin_response(topic, strlen(topic), &res, &why) != IH_OK) {
        cli_error("a twin answer the agent cannot read (%s): %.300s", why.msg, topic);
        return;
    }
    struct agent_twin_request *r = take_request(a, res.rid);
    if (r == NULL) {
        cli_info("twin: an answer %d to no request of this run ($rid %s); ignored", res.status,
                 res.rid);
        return;
    }
    r->rid[0] = '\0';
    int ok = res.status >= 200 && res.status <= 299;
    if (r->is_get && res.status == 200)
        on_twin_read(a, res.rid, body, len);
    else if (r->is_get)
        say_refused("read", res.rid, res.status, body, len);
    else if (ok)
        cli_info("twin reported %s ($rid %s): %d, reported properties version %lld", r->what,
                 res.rid, res.status, res.version);
    else {
        char what[sizeof r->what + 16];
        snprintf(what, sizeof what, "reported %s", r->what);
        say_refused(what, res.rid, res.status, body, len);
    }
}

/* Rule D8: the patch with "$version"; the topic's version counts, else the body's. */
static void on_desired(struct agent *a, const char *topic, const char *body, size_t len)
{
    long long version = -1;
    struct ih_diag why = {{0}};
    json_t *patch = json_loadb(body, len, 0, NULL);
    if (ih_topic_parse_twin_desired(topic, strlen(topic), &version, &why) != IH_OK)
        version = version_of(patch);
    if (version < 0 || !json_is_object(patch)) {
        cli_error("a desired properties notification the agent cannot read (%s): %.300s %.300s",
                  why.msg[0] != '\0' ? why.msg : "its body is not a JSON object", topic,
                  len > 0 ? body : "");
        json_decref(patch);
        return;
    }
    json_object_del(patch, "$version");
    char *text = json_dumps(patch, JSON_COMPACT);
    int cut = text != NULL && strlen(text) > LOG_JSON_MAX;
    cli_info("desired properties version %lld: %.*s%s", version, LOG_JSON_MAX,
             text != NULL ? text : "", cut ? "..." : "");
    free(text);
    json_decref(patch);
    acknowledge(a, version);
}

void agent_on_twin(void *ctx, const char *topic, const void *payload, size_t len)
{
    struct agent *a = ctx;
    /* mosquitto ends every payload with a NUL past its length. */
    const char *body = payload != NULL ? payload : "";
    if (strncmp(topic, IH_TWIN_RES_PREFIX, strlen(IH_TWIN_RES_PREFIX)) == 0)
        on_answer(a, topic, body, len);
    else if (strncmp(topic, IH_TWIN_DESIRED_PREFIX, strlen(IH_TWIN_DESIRED_PREFIX)) == 0)
        on_desired(a, topic, body, len);
    else
        cli_info("twin: a message on %.300s; ignored", topic);
}
