#include "method_request.h"

#include "protocol/methods_topic.h"

#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A timeout member: absent or null -> fallback; a number (C# may write a fraction; it is
 * dropped) within [min, max]; else -1. */
static int read_timeout(json_t *body, const char *key, int fallback, int min, int max)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL || json_is_null(v))
        return fallback;
    if (!json_is_number(v))
        return -1;
    double seconds = json_number_value(v);
    if (!isfinite(seconds) || seconds < min || seconds >= max + 1)
        return -1;
    return (int)seconds;
}

static enum method_parse_result read_name(json_t *body, struct method_invocation *out, char *reason,
                                          size_t cap)
{
    json_t *name = json_object_get(body, "methodName");
    struct ih_diag why = {{0}};
    if (!json_is_string(name)) {
        snprintf(reason, cap, "methodName is required: a string, the name of the method");
        return METHOD_PARSE_INVALID;
    }
    if (ih_method_name_check(json_string_value(name), json_string_length(name), &why) != IH_OK) {
        snprintf(reason, cap, "methodName is invalid: %s", why.msg);
        return METHOD_PARSE_INVALID;
    }
    out->name = strdup(json_string_value(name));
    return out->name != NULL ? METHOD_PARSE_OK : METHOD_PARSE_NOMEM;
}

/* Rule D3: the payload as compact JSON; absent or null is the 4 bytes `null`. */
static enum method_parse_result read_payload(json_t *body, struct method_invocation *out)
{
    json_t *payload = json_object_get(body, "payload");
    out->payload =
        payload != NULL ? json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("null");
    if (out->payload == NULL)
        return METHOD_PARSE_NOMEM;
    out->payload_len = strlen(out->payload);
    return METHOD_PARSE_OK;
}

/* Rule D1's bounds, in its words. */
static enum method_parse_result read_timeouts(json_t *body, struct method_invocation *out,
                                              char *reason, size_t cap)
{
    out->response_timeout_s =
        read_timeout(body, "responseTimeoutInSeconds", METHOD_RESPONSE_TIMEOUT_DEFAULT,
                     METHOD_RESPONSE_TIMEOUT_MIN, METHOD_TIMEOUT_MAX);
    out->connect_timeout_s =
        read_timeout(body, "connectTimeoutInSeconds", 0, 0, METHOD_TIMEOUT_MAX);
    if (out->response_timeout_s < 0)
        snprintf(reason, cap, "responseTimeoutInSeconds must be within [%d; %d].",
                 METHOD_RESPONSE_TIMEOUT_MIN, METHOD_TIMEOUT_MAX);
    else if (out->connect_timeout_s < 0)
        snprintf(reason, cap, "connectTimeoutInSeconds must be within [0; %d].",
                 METHOD_TIMEOUT_MAX);
    else
        return METHOD_PARSE_OK;
    return METHOD_PARSE_INVALID;
}

enum method_parse_result method_invocation_parse(const char *body, size_t len,
                                                 struct method_invocation *out, char *reason,
                                                 size_t cap)
{
    memset(out, 0, sizeof *out);
    json_error_t error;
    json_t *doc = json_loadb(body != NULL ? body : "", len, 0, &error);
    enum method_parse_result r = METHOD_PARSE_INVALID;
    if (!json_is_object(doc))
        snprintf(reason, cap, "the body must be a JSON object with methodName and payload%s%s",
                 doc == NULL ? ": " : "", doc == NULL ? error.text : "");
    else if ((r = read_timeouts(doc, out, reason, cap)) == METHOD_PARSE_OK &&
             (r = read_name(doc, out, reason, cap)) == METHOD_PARSE_OK)
        r = read_payload(doc, out);
    json_decref(doc);
    if (r != METHOD_PARSE_OK)
        method_invocation_free(out);
    return r;
}

void method_invocation_free(struct method_invocation *inv)
{
    free(inv->name);
    free(inv->payload);
    memset(inv, 0, sizeof *inv);
}

char *method_answer_body(int status, const void *payload, size_t len, char *reason, size_t cap)
{
    json_error_t error;
    reason[0] = '\0';
    if (len > 0) {
        /* Checked, then passed on as the device wrote it: a number such as 0.1 keeps its
         * spelling. */
        json_t *value = json_loadb(payload, len, JSON_DECODE_ANY, &error);
        if (value == NULL) {
            snprintf(reason, cap,
                     "the device answered with a body that is not JSON (%s, at byte %d)",
                     error.text, error.position);
            return NULL;
        }
        json_decref(value);
    }
    char head[48];
    int n = snprintf(head, sizeof head, "{\"status\":%d,\"payload\":", status);
    size_t body_len = len > 0 ? len : 4;
    char *text = malloc((size_t)n + body_len + 2);
    if (text == NULL)
        return NULL;
    memcpy(text, head, (size_t)n);
    memcpy(text + n, len > 0 ? payload : "null", body_len);
    memcpy(text + n + body_len, "}", 2);
    return text;
}
