#include "service_internal.h"

#include "transport/http_call.h"
#include "transport/client_loop.h"
#include "transport/wsock.h"

#include "protocol/connstr.h"
#include "protocol/format.h"
#include "protocol/hub_error.h"
#include "protocol/identity.h"
#include "protocol/streams_topic.h"
#include "protocol/percent.h"
#include "protocol/sas.h"

#include <jansson.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The api-version the C# SDK's 2020 device-streams port sends (docs/protocol.md §1.1). */
#define API_VERSION "2020-09-30"
#define DEFAULT_PORT 443
#define DEFAULT_SAS_TTL_S 3600
/* Like C#: the HTTP call may take the hub's two timeouts plus 15 s (docs/protocol.md §1.1). */
#define STREAM_DEFAULT_TIMEOUT_S 60
#define STREAM_CALL_MARGIN_S 15
#define WS_OPEN_TIMEOUT_MS 20000
#define USER_AGENT "iothub-service/0.1"
/* Characters a raw path segment may hold as they are (RFC 3986 pchar less '%'). */
#define IH_RAW_SAFE                                                                                \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"

struct iothub_stream {
    struct ih_wsock *ws;
};

void svc_set_error(struct iothub_error *err, int status, const char *fmt, ...)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof *err);
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static int read_connection_string(struct iothub_service *svc, const char *text,
                                  struct iothub_error *err)
{
    struct ih_connstr cs;
    struct ih_diag why = {{0}};
    enum ih_connstr_kind kind;
    if (text == NULL || text[0] == '\0') {
        svc_set_error(err, 0,
                      "no service connection string (HostName=...;SharedAccessKeyName=...;"
                      "SharedAccessKey=...)");
        return -1;
    }
    if (ih_connstr_parse(text, strlen(text), &cs, &why) != IH_OK ||
        ih_connstr_classify(&cs, &kind, &why) != IH_OK || kind != IH_CONNSTR_SERVICE ||
        ih_key_check(cs.shared_access_key, &why) != IH_OK) {
        svc_set_error(err, 0, "the connection string is not a service connection string: %s",
                      why.msg[0] != '\0'
                          ? why.msg
                          : "it names a device; use a policy's (SharedAccessKeyName=)");
        ih_connstr_free(&cs);
        return -1;
    }
    svc->host = strdup(cs.host_name);
    svc->policy = strdup(cs.shared_access_key_name);
    svc->key = strdup(cs.shared_access_key);
    ih_connstr_free(&cs);
    if (svc->host == NULL || svc->policy == NULL || svc->key == NULL) {
        svc_set_error(err, 0, "out of memory");
        return -1;
    }
    return 0;
}

int iothub_service_new(const struct iothub_service_options *o, struct iothub_service **out,
                       struct iothub_error *err)
{
    struct iothub_service *svc = calloc(1, sizeof *svc);
    char why[256];
    if (svc == NULL) {
        svc_set_error(err, 0, "out of memory");
        return -1;
    }
    svc->port = o->port > 0 ? o->port : DEFAULT_PORT;
    svc->sas_ttl_s = o->sas_ttl_s > 0 ? o->sas_ttl_s : DEFAULT_SAS_TTL_S;
    int rc = read_connection_string(svc, o->connection_string, err);
    if (rc == 0 && o->ca_file != NULL && access(o->ca_file, R_OK) != 0) {
        svc_set_error(err, 0, "cannot read the CA file %s", o->ca_file);
        rc = -1;
    }
    if (rc == 0 && ih_client_loop_new(o->ca_file, &svc->loop, why, sizeof why) != 0) {
        svc_set_error(err, 0, "%s", why);
        rc = -1;
    }
    snprintf(svc->base_url, sizeof svc->base_url, "https://%s:%d",
             svc->host != NULL ? svc->host : "", svc->port);
    if (rc != 0) {
        iothub_service_free(svc);
        return -1;
    }
    *out = svc;
    return 0;
}

void iothub_service_free(struct iothub_service *svc)
{
    if (svc == NULL)
        return;
    ih_loop_free(svc->loop);
    free(svc->host);
    free(svc->policy);
    free(svc->key);
    free(svc);
}

const char *iothub_service_host(const struct iothub_service *svc)
{
    return svc->host;
}

/* A fresh policy token for the hub (sr = the host name, docs/protocol.md §4.2). */
static char *make_token(struct iothub_service *svc)
{
    char *token = NULL;
    long long expiry = (long long)time(NULL) + svc->sas_ttl_s;
    return ih_sas_create(svc->host, svc->key, svc->policy, expiry, &token) == IH_OK ? token : NULL;
}

/* The hub's error from a non-2xx answer: the iothub-errorcode header and the body's
 * errorCode and message (docs/protocol.md §6). */
static void hub_error(const struct ih_http_response *res, const char *error_name,
                      struct iothub_error *err)
{
    struct ih_error_detail d;
    if (err == NULL)
        return;
    ih_error_parse(res->body, res->body_len, &d);
    svc_set_error(err, res->status, "%s",
                  d.message[0] != '\0' ? d.message
                                       : "the hub answered with an error and no message");
    err->code = d.code;
    snprintf(err->name, sizeof err->name, "%s", error_name != NULL ? error_name : "");
}

int svc_call_hub(struct iothub_service *svc, const struct hub_call *call,
                 struct ih_http_response *res, struct iothub_error *err)
{
    char url[2048], why[300];
    char *token = make_token(svc);
    if (token == NULL) {
        svc_set_error(err, 0, "could not make a SAS token from the connection string's key");
        return -1;
    }
    snprintf(url, sizeof url, "%s%s", svc->base_url, call->path);
    struct ih_http_request req = {
        .method = call->method,
        .url = url,
        .headers = {{"authorization", token},
                    {"user-agent", USER_AGENT},
                    {"accept", "application/json"}},
        .body = call->body,
        .body_len = call->body != NULL ? strlen(call->body) : 0,
        .content_type = "application/json; charset=utf-8",
        .keep = {"iothub-errorcode"},
        .timeout_ms = call->timeout_ms,
    };
    for (int i = 0; i < 3 && call->extra[i].name != NULL; i++)
        req.headers[3 + i] = call->extra[i];
    for (int i = 0; i < IH_HTTP_MAX_HEADERS - 1 && call->keep[i] != NULL; i++)
        req.keep[1 + i] = call->keep[i];
    int rc = ih_http_call(svc->loop, &req, res, why, sizeof why);
    free(token);
    if (rc != 0) {
        svc_set_error(err, 0, "no answer from the hub at %s: %s", svc->base_url, why);
        return -1;
    }
    if (res->status < 200 || res->status > 299) {
        hub_error(res, res->values[0], err);
        ih_http_response_free(res);
        return -1;
    }
    return 0;
}

char *svc_encode(const char *segment)
{
    char *out = NULL;
    return ih_pct_encode(segment, strlen(segment), &out) == IH_OK ? out : NULL;
}

/* The name and the module id travel raw (docs/protocol.md §1.1), so they must be valid as they
 * are. */
static int check_target(const struct iothub_stream_request *r, struct iothub_error *err)
{
    struct ih_diag why = {{0}};
    if (r->device_id == NULL || r->name == NULL) {
        svc_set_error(err, 0, "a stream needs a device id and a name");
        return -1;
    }
    if (ih_id_check(r->device_id, strlen(r->device_id), "device id", &why) != IH_OK ||
        (r->module_id != NULL &&
         ih_id_check(r->module_id, strlen(r->module_id), "module id", &why) != IH_OK) ||
        ih_stream_name_check(r->name, strlen(r->name), &why) != IH_OK) {
        svc_set_error(err, 0, "%s", why.msg);
        return -1;
    }
    if (r->module_id != NULL && strspn(r->module_id, IH_RAW_SAFE) != strlen(r->module_id)) {
        svc_set_error(err, 0, "module id '%s' has characters that cannot go raw in a URL path",
                      r->module_id);
        return -1;
    }
    if (strspn(r->name, IH_RAW_SAFE) != strlen(r->name)) {
        svc_set_error(err, 0, "stream name '%s' has characters that cannot go raw in a URL path",
                      r->name);
        return -1;
    }
    return 0;
}

static int stream_path(const struct iothub_stream_request *r, char *out, size_t cap)
{
    char *device = svc_encode(r->device_id);
    if (device == NULL)
        return -1;
    ih_result rc;
    /* The module id and the stream name go raw, as the SDKs send them (docs/protocol.md §1.1). */
    if (r->module_id != NULL)
        rc = ih_format(out, cap, "/twins/%s/modules/%s/streams/%s?api-version=" API_VERSION, device,
                       r->module_id, r->name);
    else
        rc = ih_format(out, cap, "/twins/%s/streams/%s?api-version=" API_VERSION, device, r->name);
    free(device);
    return rc == IH_OK ? 0 : -1;
}

static int read_stream_answer(const struct ih_http_response *res, struct iothub_stream_result *out,
                              struct iothub_error *err)
{
    const char *accepted = res->values[1], *url = res->values[2], *token = res->values[3];
    if (accepted == NULL || (strcmp(accepted, "True") != 0 && strcmp(accepted, "False") != 0)) {
        svc_set_error(err, res->status,
                      "the hub's answer has no iothub-streaming-is-accepted: True|False");
        return -1;
    }
    out->accepted = strcmp(accepted, "True") == 0;
    if (!out->accepted)
        return 0;
    if (url == NULL || token == NULL || strlen(url) >= sizeof out->url ||
        strlen(token) >= sizeof out->token) {
        svc_set_error(err, res->status,
                      "the hub accepted the stream but sent no usable iothub-streaming-url and "
                      "iothub-streaming-auth-token");
        return -1;
    }
    snprintf(out->url, sizeof out->url, "%s", url);
    snprintf(out->token, sizeof out->token, "%s", token);
    return 0;
}

int iothub_stream_initiate(struct iothub_service *svc, const struct iothub_stream_request *req,
                           struct iothub_stream_result *out, struct iothub_error *err)
{
    char path[1024], connect[16], response[16];
    memset(out, 0, sizeof *out);
    if (check_target(req, err) != 0)
        return -1;
    if (stream_path(req, path, sizeof path) != 0) {
        svc_set_error(err, 0, "the device id, module id or stream name is too long");
        return -1;
    }
    snprintf(connect, sizeof connect, "%d", req->connect_timeout_s);
    snprintf(response, sizeof response, "%d", req->response_timeout_s);
    struct hub_call call = {
        .method = "POST",
        .path = path,
        .keep = {"iothub-streaming-is-accepted", "iothub-streaming-url",
                 "iothub-streaming-auth-token"},
    };
    int i = 0;
    /* Sent only when greater than 0, like C# (docs/protocol.md §1.1). */
    if (req->connect_timeout_s > 0)
        call.extra[i++] =
            (struct ih_http_header){"iothub-streaming-connect-timeout-in-seconds", connect};
    if (req->response_timeout_s > 0)
        call.extra[i++] =
            (struct ih_http_header){"iothub-streaming-response-timeout-in-seconds", response};
    int waits = (req->response_timeout_s > 0 ? req->response_timeout_s : STREAM_DEFAULT_TIMEOUT_S) +
                (req->connect_timeout_s > 0 ? req->connect_timeout_s : STREAM_DEFAULT_TIMEOUT_S);
    call.timeout_ms = (waits + STREAM_CALL_MARGIN_S) * 1000;
    struct ih_http_response res;
    if (svc_call_hub(svc, &call, &res, err) != 0)
        return -1;
    int rc = read_stream_answer(&res, out, err);
    ih_http_response_free(&res);
    return rc;
}

int iothub_stream_open(struct iothub_service *svc, const struct iothub_stream_result *accepted,
                       const char *subprotocol, struct iothub_stream **out,
                       struct iothub_error *err)
{
    char why[300];
    struct iothub_stream *s = calloc(1, sizeof *s);
    if (s == NULL) {
        svc_set_error(err, 0, "out of memory");
        return -1;
    }
    struct ih_wsock_options o = {accepted->url, accepted->token, subprotocol, WS_OPEN_TIMEOUT_MS};
    if (!accepted->accepted || ih_wsock_open(svc->loop, &o, &s->ws, why, sizeof why) != 0) {
        svc_set_error(err, 0, "cannot open the stream's WebSocket %s: %s", accepted->url,
                      accepted->accepted ? why : "the stream was not accepted");
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

ssize_t iothub_stream_read(struct iothub_stream *s, void *buf, size_t cap)
{
    return ih_wsock_read(s->ws, buf, cap);
}

int iothub_stream_write(struct iothub_stream *s, const void *buf, size_t len)
{
    return ih_wsock_write(s->ws, buf, len);
}

void iothub_stream_close(struct iothub_stream *s, int code, const char *reason)
{
    ih_wsock_close(s->ws, code, reason);
}

int iothub_stream_close_code(struct iothub_stream *s, char *reason, size_t reason_len)
{
    return ih_wsock_close_code(s->ws, reason, reason_len);
}

void iothub_stream_free(struct iothub_stream *s)
{
    if (s == NULL)
        return;
    ih_wsock_free(s->ws);
    free(s);
}

/* ---- direct methods ---- */

/* What the service SDKs send today, for methods and twins; the hub takes any api-version
 * (docs/protocol.md rules D1 and D9). */
#define METHODS_API_VERSION "2021-04-12"
/* The hub's default response timeout (rule D1); Node waits response + connect seconds for the
 * answer, C# 15 s more, as we do. */
#define METHOD_DEFAULT_RESPONSE_S 30
#define METHOD_CALL_MARGIN_S 15
#define JSON_SPACE " \t\r\n"

/* The ids of a twin, or of a method's target: the hub decodes them (docs/protocol.md rule 1), so
 * any valid id can go. */
int svc_check_ids(const char *device_id, const char *module_id, struct iothub_error *err)
{
    struct ih_diag why = {{0}};
    if (ih_id_check(device_id, strlen(device_id), "device id", &why) != IH_OK ||
        (module_id != NULL &&
         ih_id_check(module_id, strlen(module_id), "module id", &why) != IH_OK)) {
        svc_set_error(err, 0, "%s", why.msg);
        return -1;
    }
    return 0;
}

static int check_method_target(const struct iothub_method_request *r, struct iothub_error *err)
{
    if (r->device_id == NULL || r->name == NULL) {
        svc_set_error(err, 0, "a method call needs a device id and a method name");
        return -1;
    }
    /* The name travels in the body, so any string can go; the hub refuses the ones that cannot
     * be one topic level (rule D1), and says so. */
    return svc_check_ids(r->device_id, r->module_id, err);
}

/* /twins/{id}[/modules/{m}]{tail}?api-version=..., both ids percent-encoded, as Node's
 * encodeURIComponent; the hub decodes each segment (docs/protocol.md rule 1). */
static int twins_path(const char *device_id, const char *module_id, const char *tail, char *out,
                      size_t cap)
{
    char *device = svc_encode(device_id);
    char *module = module_id != NULL ? svc_encode(module_id) : NULL;
    ih_result rc = IH_ERR_NOMEM;
    if (device != NULL && module != NULL)
        rc = ih_format(out, cap, "/twins/%s/modules/%s%s?api-version=" METHODS_API_VERSION, device,
                       module, tail);
    else if (device != NULL && module_id == NULL)
        rc = ih_format(out, cap, "/twins/%s%s?api-version=" METHODS_API_VERSION, device, tail);
    free(device);
    free(module);
    return rc == IH_OK ? 0 : -1;
}

/* The payload is checked with jansson but goes as its own text, so numbers keep their digits. */
static int check_payload(const char *payload, struct iothub_error *err)
{
    json_error_t why;
    json_t *v = json_loads(payload, JSON_DECODE_ANY, &why);
    if (v == NULL) {
        svc_set_error(err, 0, "the payload is not JSON: %s (line %d, column %d)", why.text,
                      why.line, why.column);
        return -1;
    }
    json_decref(v);
    return 0;
}

/* {"methodName":..,"payload":..} and each timeout only when > 0, as C# sends them: the hub's
 * defaults apply to the others (rule D1). *out: a new string. */
static int method_body(const struct iothub_method_request *r, char **out, struct iothub_error *err)
{
    const char *payload = r->payload != NULL ? r->payload : "null";
    if (check_payload(payload, err) != 0)
        return -1;
    json_t *name = json_string(r->name);
    if (name == NULL) {
        svc_set_error(err, 0, "the method name is not UTF-8");
        return -1;
    }
    char *name_json = json_dumps(name, JSON_ENCODE_ANY);
    json_decref(name);
    char timeouts[96] = "";
    if (r->response_timeout_s > 0)
        snprintf(timeouts, sizeof timeouts, ",\"responseTimeoutInSeconds\":%d",
                 r->response_timeout_s);
    if (r->connect_timeout_s > 0)
        snprintf(timeouts + strlen(timeouts), sizeof timeouts - strlen(timeouts),
                 ",\"connectTimeoutInSeconds\":%d", r->connect_timeout_s);
    size_t n = name_json != NULL ? strlen(name_json) + strlen(payload) + strlen(timeouts) + 32 : 0;
    *out = n > 0 ? malloc(n) : NULL;
    if (*out != NULL)
        snprintf(*out, n, "{\"methodName\":%s,\"payload\":%s%s}", name_json, payload, timeouts);
    else
        svc_set_error(err, 0, "out of memory");
    free(name_json);
    return *out != NULL ? 0 : -1;
}

/* Past the JSON value at p, in text jansson has checked: a string, an object or an array up to
 * its end, anything else up to the next delimiter. */
static const char *skip_value(const char *p)
{
    if (*p != '"' && *p != '{' && *p != '[')
        return p + strcspn(p, ",}]" JSON_SPACE);
    int depth = 0, in_string = 0;
    do {
        if (in_string && *p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '"')
            in_string = !in_string;
        else if (!in_string && (*p == '{' || *p == '['))
            depth++;
        else if (!in_string && (*p == '}' || *p == ']'))
            depth--;
        p++;
    } while (*p != '\0' && (in_string || depth > 0));
    return p;
}

/* The text of the object's last member named key, as the hub wrote it; NULL when there is none
 * or its key is written with escapes. object: a JSON object jansson has checked. */
static char *member_text(const char *object, const char *key)
{
    const char *p = object + strspn(object, JSON_SPACE) + 1, *value = NULL, *end = NULL;
    size_t key_len = strlen(key);
    for (;;) {
        p += strspn(p, JSON_SPACE);
        if (*p != '"')
            break; /* the object's '}' */
        const char *name = p + 1;
        p = skip_value(p);
        int match = (size_t)(p - name - 1) == key_len && memcmp(name, key, key_len) == 0;
        p += strspn(p, JSON_SPACE) + 1; /* past the ':' */
        p += strspn(p, JSON_SPACE);
        const char *v = p;
        p = skip_value(p);
        if (match) {
            value = v;
            end = p;
        }
        p += strspn(p, JSON_SPACE);
        if (*p++ != ',')
            break;
    }
    return value != NULL ? strndup(value, (size_t)(end - value)) : NULL;
}

/* The device's payload: the hub's own text of it, else jansson's ("null" when absent). */
static char *payload_text(const char *body, json_t *answer)
{
    json_t *payload = json_object_get(answer, "payload");
    if (payload == NULL)
        return strdup("null");
    char *text = member_text(body, "payload");
    return text != NULL ? text : json_dumps(payload, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Rule D4: 200 with {"status":<int>,"payload":<JSON or null>}. */
static int read_method_answer(const struct ih_http_response *res, struct iothub_method_result *out,
                              struct iothub_error *err)
{
    json_t *answer = res->body != NULL ? json_loadb(res->body, res->body_len, 0, NULL) : NULL;
    json_t *status = json_object_get(answer, "status");
    json_int_t value = json_is_integer(status) ? json_integer_value(status) : 0;
    int rc = -1;
    if (!json_is_integer(status) || value < INT_MIN || value > INT_MAX)
        svc_set_error(err, res->status,
                      "the hub's answer is not {\"status\":<32-bit integer>,\"payload\":...}");
    else if ((out->payload = payload_text(res->body, answer)) == NULL)
        svc_set_error(err, 0, "out of memory");
    else
        rc = 0;
    out->http_status = res->status;
    out->status = (int)value;
    json_decref(answer);
    return rc;
}

int iothub_method_invoke(struct iothub_service *svc, const struct iothub_method_request *req,
                         struct iothub_method_result *out, struct iothub_error *err)
{
    char path[1024];
    char *body = NULL;
    memset(out, 0, sizeof *out);
    if (check_method_target(req, err) != 0 || method_body(req, &body, err) != 0)
        return -1;
    if (twins_path(req->device_id, req->module_id, "/methods", path, sizeof path) != 0) {
        svc_set_error(err, 0, "the device id or module id is too long");
        free(body);
        return -1;
    }
    int waits =
        (req->response_timeout_s > 0 ? req->response_timeout_s : METHOD_DEFAULT_RESPONSE_S) +
        (req->connect_timeout_s > 0 ? req->connect_timeout_s : 0);
    struct hub_call call = {.method = "POST",
                            .path = path,
                            .body = body,
                            .timeout_ms = (waits + METHOD_CALL_MARGIN_S) * 1000};
    struct ih_http_response res;
    int rc = svc_call_hub(svc, &call, &res, err);
    free(body);
    if (rc != 0)
        return -1;
    rc = read_method_answer(&res, out, err);
    ih_http_response_free(&res);
    return rc;
}

/* ---- device twins ---- */

/* The etag without its one pair of quotes (the ETag header's form, docs/protocol.md rule D9). */
static void copy_etag(char *out, size_t cap, const char *etag)
{
    size_t len = strlen(etag);
    if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
        etag++;
        len -= 2;
    }
    snprintf(out, cap, "%.*s", (int)len, etag);
}

/* Rule D9: 200 with the whole twin, its etag in the ETag header too. */
static int read_twin_answer(struct ih_http_response *res, struct iothub_twin_result *out,
                            struct iothub_error *err)
{
    json_t *twin = res->body != NULL ? json_loadb(res->body, res->body_len, 0, NULL) : NULL;
    const char *etag = json_string_value(json_object_get(twin, "etag"));
    int rc = -1;
    if (!json_is_object(twin)) {
        svc_set_error(err, res->status, "the hub's answer is not a twin (a JSON object)");
    } else {
        copy_etag(out->etag, sizeof out->etag,
                  res->values[1] != NULL ? res->values[1]
                  : etag != NULL         ? etag
                                         : "");
        out->json = res->body;
        res->body = NULL;
        rc = 0;
    }
    out->http_status = res->status;
    json_decref(twin);
    return rc;
}

/* One twin call: GET when body is NULL. */
static int twin_call(struct iothub_service *svc, struct hub_call *call, const char *device_id,
                     const char *module_id, struct iothub_twin_result *out,
                     struct iothub_error *err)
{
    char path[1024];
    memset(out, 0, sizeof *out);
    if (device_id == NULL) {
        svc_set_error(err, 0, "a twin needs a device id");
        return -1;
    }
    if (svc_check_ids(device_id, module_id, err) != 0)
        return -1;
    if (twins_path(device_id, module_id, "", path, sizeof path) != 0) {
        svc_set_error(err, 0, "the device id or module id is too long");
        return -1;
    }
    call->path = path;
    call->keep[0] = "etag";
    call->timeout_ms = IH_SVC_REGISTRY_TIMEOUT_MS;
    struct ih_http_response res;
    if (svc_call_hub(svc, call, &res, err) != 0)
        return -1;
    int rc = read_twin_answer(&res, out, err);
    ih_http_response_free(&res);
    return rc;
}

int iothub_twin_get(struct iothub_service *svc, const char *device_id, const char *module_id,
                    struct iothub_twin_result *out, struct iothub_error *err)
{
    struct hub_call call = {.method = "GET"};
    return twin_call(svc, &call, device_id, module_id, out, err);
}

int iothub_twin_update(struct iothub_service *svc, const char *device_id, const char *module_id,
                       const char *patch_json, const char *if_match, int replace,
                       struct iothub_twin_result *out, struct iothub_error *err)
{
    char quoted[IH_HTTP_HEADER_VALUE_MAX];
    json_error_t why;
    memset(out, 0, sizeof *out);
    json_t *patch = patch_json != NULL ? json_loads(patch_json, 0, &why) : NULL;
    int parsed = patch != NULL, is_object = json_is_object(patch);
    json_decref(patch);
    if (!is_object) {
        svc_set_error(err, 0,
                      "the twin patch must be a JSON object, {\"tags\":{..},\"properties\":"
                      "{\"desired\":{..}}}%s%s",
                      patch_json != NULL && !parsed ? ": " : "",
                      patch_json != NULL && !parsed ? why.text : "");
        return -1;
    }
    struct hub_call call = {.method = replace ? "PUT" : "PATCH", .body = patch_json};
    if (if_match != NULL) {
        /* Quoted as the SDKs send it; `*` matches any etag. The hub drops one pair of quotes. */
        size_t len = strlen(if_match);
        int bare = strcmp(if_match, "*") != 0 &&
                   !(len >= 2 && if_match[0] == '"' && if_match[len - 1] == '"');
        if (len + 3 > sizeof quoted || strpbrk(if_match, "\r\n") != NULL) {
            svc_set_error(err, 0, "the etag to match is too long, or has a line break");
            return -1;
        }
        snprintf(quoted, sizeof quoted, bare ? "\"%s\"" : "%s", if_match);
        call.extra[0] = (struct ih_http_header){"if-match", quoted};
    }
    return twin_call(svc, &call, device_id, module_id, out, err);
}

/* ---- telemetry ---- */

/* The hub's default page of GET /emulator/telemetry (docs/protocol.md §12.3). */
#define TELEMETRY_DEFAULT_TOP 1000

/* The page's count and its highest sequence number (after when empty). -1 when the answer is
 * not an array of messages that each have an integer sequenceNumber. */
static int read_telemetry_answer(const struct ih_http_response *res, long long after,
                                 struct iothub_telemetry_result *out, struct iothub_error *err)
{
    /* A UTF-8 body may hold NUL characters (\u0000 in JSON). */
    json_t *list =
        res->body != NULL ? json_loadb(res->body, res->body_len, JSON_ALLOW_NUL, NULL) : NULL;
    long long last = after;
    int rc = json_is_array(list) ? 0 : -1;
    size_t i;
    json_t *message;
    json_array_foreach(list, i, message)
    {
        json_t *seq = json_object_get(message, "sequenceNumber");
        if (!json_is_integer(seq))
            rc = -1;
        else if (json_integer_value(seq) > last)
            last = json_integer_value(seq);
    }
    if (rc != 0)
        svc_set_error(err, res->status,
                      "the hub's answer is not a JSON array of messages, each with its "
                      "sequenceNumber");
    out->http_status = res->status;
    out->count = rc == 0 ? json_array_size(list) : 0;
    out->last_sequence = last;
    json_decref(list);
    return rc;
}

/* /emulator/telemetry?deviceId=..&moduleId=..&since=N&top=N, the ids percent-encoded (the hub
 * decodes query values). */
static int telemetry_path(const char *device_id, const char *module_id, long long after, size_t top,
                          char *out, size_t cap)
{
    char *device = device_id != NULL ? svc_encode(device_id) : NULL;
    char *module = module_id != NULL ? svc_encode(module_id) : NULL;
    ih_result rc = IH_ERR_NOMEM;
    if ((device != NULL || device_id == NULL) && (module != NULL || module_id == NULL))
        rc = ih_format(out, cap, "/emulator/telemetry?since=%lld%s%s%s%s&top=%zu", after,
                       device != NULL ? "&deviceId=" : "", device != NULL ? device : "",
                       module != NULL ? "&moduleId=" : "", module != NULL ? module : "", top);
    free(device);
    free(module);
    return rc == IH_OK ? 0 : -1;
}

int iothub_telemetry_read(struct iothub_service *svc, const char *device_id, const char *module_id,
                          long long after_sequence, size_t top, struct iothub_telemetry_result *out,
                          struct iothub_error *err)
{
    char path[1024];
    struct ih_diag why = {{0}};
    memset(out, 0, sizeof *out);
    out->last_sequence = after_sequence;
    if (after_sequence < 0) {
        svc_set_error(err, 0, "after_sequence must be 0 or more, not %lld", after_sequence);
        return -1;
    }
    if ((device_id != NULL &&
         ih_id_check(device_id, strlen(device_id), "device id", &why) != IH_OK) ||
        (module_id != NULL &&
         ih_id_check(module_id, strlen(module_id), "module id", &why) != IH_OK)) {
        svc_set_error(err, 0, "%s", why.msg);
        return -1;
    }
    struct ih_http_response res;
    struct iothub_error failed;
    /* A page too large for one answer is asked for again, half as large, down to one message
     * (which always fits). */
    for (size_t page = top > 0 ? top : TELEMETRY_DEFAULT_TOP;; page /= 2) {
        if (telemetry_path(device_id, module_id, after_sequence, page, path, sizeof path) != 0) {
            svc_set_error(err, 0, "the device id or module id is too long");
            return -1;
        }
        struct hub_call call = {
            .method = "GET", .path = path, .timeout_ms = IH_SVC_REGISTRY_TIMEOUT_MS};
        if (svc_call_hub(svc, &call, &res, &failed) == 0)
            break;
        if (page <= 1 || failed.status != 0 || strstr(failed.message, IH_HTTP_TOO_LARGE) == NULL) {
            if (err != NULL)
                *err = failed;
            return -1;
        }
    }
    int rc = read_telemetry_answer(&res, after_sequence, out, err);
    if (rc == 0) {
        out->json = res.body;
        res.body = NULL;
    }
    ih_http_response_free(&res);
    return rc;
}

/* ---- registry ---- */

static int device_path(const char *device_id, char *out, size_t cap)
{
    char *device = device_id != NULL && device_id[0] != '\0' ? svc_encode(device_id) : NULL;
    if (device == NULL)
        return -1;
    ih_result rc = ih_format(out, cap, "/devices/%s?api-version=" API_VERSION, device);
    free(device);
    return rc == IH_OK ? 0 : -1;
}

/* A registry call whose answer body is the result. */
static int registry_call(struct iothub_service *svc, struct hub_call *call, char **json,
                         struct iothub_error *err)
{
    struct ih_http_response res;
    call->timeout_ms = IH_SVC_REGISTRY_TIMEOUT_MS;
    if (svc_call_hub(svc, call, &res, err) != 0)
        return -1;
    if (json != NULL) {
        *json = res.body != NULL ? res.body : strdup("");
        res.body = NULL;
    }
    ih_http_response_free(&res);
    return json == NULL || *json != NULL ? 0 : -1;
}

int iothub_device_get(struct iothub_service *svc, const char *device_id, char **json,
                      struct iothub_error *err)
{
    char path[512];
    if (device_path(device_id, path, sizeof path) != 0) {
        svc_set_error(err, 0, "a device id is needed");
        return -1;
    }
    struct hub_call call = {.method = "GET", .path = path};
    return registry_call(svc, &call, json, err);
}

int iothub_device_create(struct iothub_service *svc, const char *device_id, char **json,
                         struct iothub_error *err)
{
    char path[512];
    if (device_path(device_id, path, sizeof path) != 0) {
        svc_set_error(err, 0, "a device id is needed");
        return -1;
    }
    /* Empty keys: the hub generates them (docs/protocol.md §5, as Node sends a create). */
    json_t *device =
        json_pack("{s:s, s:{s:s, s:{s:s, s:s}}}", "deviceId", device_id, "authentication", "type",
                  "sas", "symmetricKey", "primaryKey", "", "secondaryKey", "");
    char *body = device != NULL ? json_dumps(device, JSON_COMPACT) : NULL;
    json_decref(device);
    if (body == NULL) {
        svc_set_error(err, 0, "out of memory");
        return -1;
    }
    struct hub_call call = {.method = "PUT", .path = path, .body = body};
    int rc = registry_call(svc, &call, json, err);
    free(body);
    return rc;
}

int iothub_device_list(struct iothub_service *svc, int top, char **json, struct iothub_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "/devices?top=%d&api-version=" API_VERSION, top > 0 ? top : 1000);
    struct hub_call call = {.method = "GET", .path = path};
    return registry_call(svc, &call, json, err);
}

int iothub_device_delete(struct iothub_service *svc, const char *device_id,
                         struct iothub_error *err)
{
    char path[512];
    if (device_path(device_id, path, sizeof path) != 0) {
        svc_set_error(err, 0, "a device id is needed");
        return -1;
    }
    struct hub_call call = {.method = "DELETE", .path = path, .extra = {{"if-match", "*"}}};
    return registry_call(svc, &call, NULL, err);
}

int iothub_device_connection_string(struct iothub_service *svc, const char *device_id, char **out,
                                    struct iothub_error *err)
{
    char *json = NULL;
    if (iothub_device_get(svc, device_id, &json, err) != 0)
        return -1;
    json_t *device = json_loads(json, 0, NULL);
    free(json);
    const char *key = NULL;
    json_unpack(device, "{s:{s:{s:s}}}", "authentication", "symmetricKey", "primaryKey", &key);
    struct ih_connstr cs = {
        .host_name = svc->host, .device_id = (char *)device_id, .shared_access_key = (char *)key};
    int rc = -1;
    if (key == NULL || key[0] == '\0')
        svc_set_error(err, 0, "device '%s' has no SAS primary key in the registry", device_id);
    else if (ih_connstr_format(&cs, out) != IH_OK)
        svc_set_error(err, 0, "cannot write a connection string for device '%s' on host '%s'",
                      device_id, svc->host != NULL ? svc->host : "");
    else
        rc = 0;
    json_decref(device);
    return rc;
}
