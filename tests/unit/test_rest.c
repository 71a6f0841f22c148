/* Unit tests of the main endpoint's request handling (server/rest.h, rest_router.c,
 * rest_devices.c, rest_emulator.c), without sockets: requests are built by hand and handed to
 * rest_handle with a real registry in a mkdtemp directory (docs/protocol.md §4, §5 and §6). */
#include "hub_routes.h"
#include "metrics.h"
#include "rest.h"

#include "log.h"
#include "registry.h"

#include "protocol/sas.h"

#include "unit.h"

#include <jansson.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define HOST "127.0.0.1"
#define CA_PEM "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
/* printf '0123456789abcdef0123456789abcdef' | base64 */
#define K1 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define JSON_TYPE "application/json; charset=utf-8"

static char dir[64];
static struct config cfg;
static struct emulator emu;

/* ---- fixture: an emulator with a real registry, built by hand ---- */

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_rest.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128], err[256] = "";
    snprintf(path, sizeof path, "%s/registry.db", dir);
    memset(&cfg, 0, sizeof cfg);
    cfg.host_names[0] = (char *)HOST;
    cfg.host_name_count = 1;
    cfg.https_port = 443;
    cfg.http_port = CONFIG_PORT_OFF;
    memset(&emu, 0, sizeof emu);
    emu.cfg = &cfg;
    ck_assert_msg(registry_open(path, &emu.registry, err, sizeof err) == REGISTRY_OK, "%s", err);
    emu.tls.ca_pem = (char *)CA_PEM;
    emu.host_name = HOST;
    emu.audience_hosts[0] = "127.0.0.1";
    emu.audience_hosts[1] = "localhost";
    emu.audience_host_count = 2;
    clock_gettime(CLOCK_MONOTONIC, &emu.started);
    emu.https_port = 443;
    emu.http_port = CONFIG_PORT_OFF;
    emu.metrics = metrics_new();
}

static void teardown(void)
{
    metrics_free(emu.metrics);
    registry_close(emu.registry);
    emu.registry = NULL;
    unit_remove_dir(dir);
}

/* ---- requests: fake header and query look-ups over small tables ---- */

struct table {
    const char *names[4];
    const char *values[4];
    size_t count;
};

struct fake_ctx {
    struct table headers, query;
};

static const char *table_get(const struct table *t, const char *name, int nocase)
{
    for (size_t i = 0; i < t->count; i++) {
        if ((nocase ? strcasecmp(t->names[i], name) : strcmp(t->names[i], name)) == 0)
            return t->values[i];
    }
    return NULL;
}

static const char *fake_header(void *ctx, const char *name)
{
    return table_get(&((struct fake_ctx *)ctx)->headers, name, 1);
}

static const char *fake_query(void *ctx, const char *name)
{
    return table_get(&((struct fake_ctx *)ctx)->query, name, 0);
}

static void table_add(struct table *t, const char *name, const char *value)
{
    if (value == NULL)
        return;
    ck_assert_uint_lt(t->count, 4);
    t->names[t->count] = name;
    t->values[t->count] = value;
    t->count++;
}

struct call {
    const char *method, *path;
    const char *authorization, *if_match;
    const char *body;
    const char *top;
    const char *token_query; /* ?token= */
    const char *host;
    int body_too_large;
    int peer_loopback;
};

static void handle(const struct call *c, struct rest_response *res)
{
    struct fake_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    table_add(&ctx.headers, "Authorization", c->authorization);
    table_add(&ctx.headers, "If-Match", c->if_match);
    table_add(&ctx.headers, "Host", c->host);
    table_add(&ctx.query, "api-version", "2020-09-30");
    table_add(&ctx.query, "top", c->top);
    table_add(&ctx.query, "token", c->token_query);
    struct rest_request req = {
        .method = c->method,
        .path = c->path,
        .header = fake_header,
        .query = fake_query,
        .ctx = &ctx,
        .body = c->body,
        .body_len = c->body != NULL ? strlen(c->body) : 0,
        .body_too_large = c->body_too_large,
        .peer_loopback = c->peer_loopback,
    };
    struct rest_router router;
    hub_routes(&router);
    rest_handle(&router, &emu, &req, res);
}

/* A policy token for resource (the hub, or hub/devices/id), signed with key, valid for an hour
 * unless expiry says otherwise. Caller frees. */
static char *token_with(const char *resource, const char *policy, const char *key, long long expiry)
{
    char *t = NULL;
    ck_assert_int_eq(ih_sas_create(resource, key, policy, expiry, &t), IH_OK);
    return t;
}

static char *token(const char *policy)
{
    char key[KEY_TEXT_SIZE];
    registry_default_policy_key(policy, key);
    return token_with(HOST, policy, key, (long long)time(NULL) + 3600);
}

static const char *header_value(const struct rest_response *res, const char *name)
{
    for (size_t i = 0; i < res->header_count; i++) {
        if (strcasecmp(res->headers[i].name, name) == 0)
            return res->headers[i].value;
    }
    return NULL;
}

/* Parses a JSON body; caller decrefs. */
static json_t *body_json(const struct rest_response *res)
{
    ck_assert_ptr_nonnull(res->body);
    ck_assert_uint_eq(res->body_len, strlen(res->body));
    json_error_t err;
    json_t *j = json_loadb(res->body, res->body_len, 0, &err);
    ck_assert_msg(j != NULL, "body is not JSON (%s): %s", err.text, res->body);
    return j;
}

/* The flat form's Message, "ErrorCode:<name>;<text>": checks the name and the tracking id, and
 * returns the text. */
static const char *check_flat(json_t *outer, const char *name)
{
    const char *message = json_string_value(json_object_get(outer, "Message"));
    const char *exception = json_string_value(json_object_get(outer, "ExceptionMessage"));
    ck_assert_ptr_nonnull(exception);
    ck_assert_msg(strncmp(exception, "Tracking ID:", 12) == 0, "ExceptionMessage %s", exception);
    ck_assert_msg(strstr(exception, "-G:0-TimeStamp:") != NULL, "ExceptionMessage %s", exception);
    char prefix[80];
    snprintf(prefix, sizeof prefix, "ErrorCode:%s;", name);
    ck_assert_msg(strncmp(message, prefix, strlen(prefix)) == 0, "Message %s", message);
    const char *text = message + strlen(prefix);
    ck_assert_msg(text[0] != '\0' && strchr(text, ';') == NULL, "Message %s", message);
    return text;
}

/* The nested form's inner object: checks the code; returns the message (inner is kept). */
static const char *check_nested(json_t *outer, long long code, json_t **inner)
{
    const char *message = json_string_value(json_object_get(outer, "Message"));
    ck_assert_str_eq(json_string_value(json_object_get(outer, "ExceptionMessage")), "");
    json_error_t err;
    *inner = json_loads(message, 0, &err);
    ck_assert_msg(*inner != NULL, "Message is not JSON: %s", message);
    json_t *error_code = json_object_get(*inner, "errorCode");
    ck_assert(json_is_integer(error_code));
    ck_assert_int_eq(json_integer_value(error_code), code);
    ck_assert(json_is_string(json_object_get(*inner, "trackingId")));
    ck_assert(json_is_string(json_object_get(*inner, "timestampUtc")));
    return json_string_value(json_object_get(*inner, "message"));
}

/* Whether an error body is in the flat form (the registry's). */
static int is_flat(const struct rest_response *res)
{
    json_t *outer = body_json(res);
    const char *exception = json_string_value(json_object_get(outer, "ExceptionMessage"));
    int flat = exception != NULL && exception[0] != '\0';
    json_decref(outer);
    return flat;
}

/* Checks an error response: status, iothub-errorcode, JSON content type, and a body in either
 * of the hub's forms (hub_error.h), whose message contains needle (when not NULL). Which form
 * each endpoint uses is checked by error_forms_per_endpoint. */
static void check_error(const struct rest_response *res, int status, long long code,
                        const char *name, const char *needle)
{
    ck_assert_msg(res->status == status, "status %d, expected %d: %s", res->status, status,
                  res->body != NULL ? res->body : "(no body)");
    const char *h = header_value(res, "iothub-errorcode");
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(h, name);
    ck_assert_ptr_nonnull(res->content_type);
    ck_assert_str_eq(res->content_type, JSON_TYPE);
    json_t *outer = body_json(res), *inner = NULL;
    ck_assert(json_is_object(outer));
    ck_assert_msg(json_is_string(json_object_get(outer, "Message")), "Message is not a string: %s",
                  res->body);
    ck_assert_int_eq(json_object_size(outer), 2);
    const char *text;
    if (is_flat(res)) {
        text = check_flat(outer, name);
        ck_assert_int_eq(ih_error_code_of(name, strlen(name)), code);
    } else {
        text = check_nested(outer, code, &inner);
    }
    ck_assert_ptr_nonnull(text);
    if (needle != NULL)
        ck_assert_msg(strstr(text, needle) != NULL, "message '%s' lacks '%s'", text, needle);
    json_decref(inner);
    json_decref(outer);
}

/* Runs a call that must fail as described, and frees its response. */
static void expect_error(const struct call *c, int status, long long code, const char *name,
                         const char *needle)
{
    struct rest_response res;
    handle(c, &res);
    check_error(&res, status, code, name, needle);
    rest_response_free(&res);
}

/* Checks a 200 device response with an ETag header that quotes the body's etag; returns the
 * body (caller decrefs). */
static json_t *check_device(const struct rest_response *res, const char *id)
{
    ck_assert_msg(res->status == 200, "status %d: %s", res->status,
                  res->body != NULL ? res->body : "(no body)");
    ck_assert_str_eq(res->content_type, JSON_TYPE);
    json_t *j = body_json(res);
    ck_assert_str_eq(json_string_value(json_object_get(j, "deviceId")), id);
    const char *etag = json_string_value(json_object_get(j, "etag"));
    ck_assert_ptr_nonnull(etag);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", etag);
    const char *h = header_value(res, "ETag");
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(h, quoted);
    return j;
}

/* PUT /devices/{id} with body, as registryReadWrite; must succeed. Returns the device JSON. */
static json_t *put_device(const char *id, const char *body, const char *if_match)
{
    char path[200];
    snprintf(path, sizeof path, "/devices/%s", id);
    char *t = token("registryReadWrite");
    struct call c = {
        .method = "PUT", .path = path, .authorization = t, .if_match = if_match, .body = body};
    struct rest_response res;
    handle(&c, &res);
    json_t *j = check_device(&res, id);
    rest_response_free(&res);
    free(t);
    return j;
}

/* ---- rest_path_parse ---- */

static void path_ok(const char *path, size_t count, const char *s0, const char *s1)
{
    struct rest_path p;
    ck_assert_msg(rest_path_parse(path, &p) == REST_PATH_OK, "'%s' refused", path);
    ck_assert_uint_eq(p.count, count);
    if (count > 0)
        ck_assert_str_eq(p.segments[0], s0);
    if (count > 1)
        ck_assert_str_eq(p.segments[1], s1);
    rest_path_free(&p);
    ck_assert_uint_eq(p.count, 0);
}

static void path_bad(const char *path)
{
    struct rest_path p;
    enum rest_path_result r = rest_path_parse(path, &p);
    ck_assert_msg(r == REST_PATH_BAD || r == REST_PATH_BAD_ESCAPE, "'%s' accepted",
                  path != NULL ? path : "(null)");
    /* Escapes are told apart from the path's shape. */
    ck_assert_int_eq(r == REST_PATH_BAD_ESCAPE, path != NULL && strchr(path, '%') != NULL);
    ck_assert_uint_eq(p.count, 0);
    ck_assert_ptr_null(p.segments[0]);
}

START_TEST(path_parse)
{
    path_ok("/devices/a%2Fb/", 2, "devices", "a/b");
    path_ok("/devices/a%2fb", 2, "devices", "a/b");
    path_ok("/devices/dev1", 2, "devices", "dev1");
    path_ok("/health", 1, "health", NULL);
    path_ok("/devices/", 1, "devices", NULL);
    path_ok("/", 0, NULL, NULL);
    /* '+' stays '+' (a space is never valid in an id); %2B is '+' too. */
    path_ok("/devices/a+b", 2, "devices", "a+b");
    path_ok("/devices/a%2Bb", 2, "devices", "a+b");
    path_ok("/devices/a%20b", 2, "devices", "a b");
    path_ok("/devices/%2F", 2, "devices", "/");
    path_ok("/1/2/3/4/5/6/7/8", 8, "1", "2");
    path_ok("/1/2/3/4/5/6/7/8/", 8, "1", "2");
    path_bad("//x");
    path_bad("/a//b");
    path_bad("/a//");
    path_bad("//");
    path_bad("/%zz");
    path_bad("/a/%2");
    path_bad("/a/%");
    path_bad("/%00");
    path_bad("/a%00b/c");
    path_bad("devices/d1");
    path_bad("");
    path_bad(NULL);
    path_bad("/1/2/3/4/5/6/7/8/9");
    path_bad("/1/2/3/4/5/6/7/8/9/");
}
END_TEST

/* ---- unauthenticated endpoints ---- */

START_TEST(health)
{
    struct call c = {.method = "GET", .path = "/health"};
    struct rest_response res;
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.content_type, JSON_TYPE);
    json_t *j = body_json(&res);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "healthy");
    ck_assert_str_eq(json_string_value(json_object_get(j, "version")), IOTHUB_VERSION);
    ck_assert(json_is_integer(json_object_get(j, "uptimeSeconds")));
    json_t *components = json_object_get(j, "components");
    ck_assert_str_eq(json_string_value(json_object_get(components, "registry")), "up");
    ck_assert_str_eq(json_string_value(json_object_get(components, "https")), "up");
    ck_assert_str_eq(json_string_value(json_object_get(components, "http")), "off");
    json_decref(j);
    rest_response_free(&res);
    ck_assert_ptr_null(res.body);
    /* A token is not needed, and a bad one is not looked at. */
    c.authorization = "garbage";
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    rest_response_free(&res);
}
END_TEST

START_TEST(ca_certificate)
{
    struct call c = {.method = "GET", .path = "/emulator/ca.pem"};
    struct rest_response res;
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.body, CA_PEM);
    ck_assert_uint_eq(res.body_len, strlen(CA_PEM));
    ck_assert_str_eq(res.content_type, "application/x-pem-file");
    rest_response_free(&res);
    /* --tls-cert without --tls-ca: nothing to serve. */
    emu.tls.ca_pem = NULL;
    expect_error(&c, 404, 404000, "ResourceNotFound", "--tls-ca");
}
END_TEST

START_TEST(unknown_path)
{
    struct call c = {.method = "GET", .path = "/nope"};
    expect_error(&c, 404, 404000, "ResourceNotFound", NULL);
    c.path = "/devices/d1/extra";
    expect_error(&c, 404, 404000, "ResourceNotFound", NULL);
    /* A path that does not parse. */
    c.path = "/devices//d1";
    expect_error(&c, 404, 404000, "ResourceNotFound", "segment");
    /* A bad escape is a bad id: 400 that says so. */
    c.path = "/devices/%zz";
    expect_error(&c, 400, 400004, "ArgumentInvalid", "escape");
    c.path = "/devices/a%00b";
    expect_error(&c, 400, 400004, "ArgumentInvalid", "escape");
    /* Segments are matched exactly. */
    c.path = "/Health";
    expect_error(&c, 404, 404000, "ResourceNotFound", NULL);
}
END_TEST

/* The web page and /metrics: a loopback client, or a RegistryRead token in the header or in
 * ?token=. */
START_TEST(ui_pages_loopback_or_token)
{
    struct call c = {.method = "GET", .path = "/", .host = "127.0.0.1:8443"};
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", "--ui-access open");
    c.peer_loopback = 1;
    struct rest_response res;
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(header_value(&res, "X-Content-Type-Options"), "nosniff");
    rest_response_free(&res);
    /* A loopback client naming another host (DNS rebinding) is not local. */
    c.host = "evil.example:8443";
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", NULL);
    c.host = NULL;
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", NULL);
    c.host = "LOCALHOST";
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.content_type, "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(res.body, "<title>IoT Hub device streams emulator</title>"));
    rest_response_free(&res);

    char *reader = token("registryRead"), *service = token("service");
    struct call with_header = {.method = "GET", .path = "/metrics", .authorization = reader};
    handle(&with_header, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_ptr_nonnull(strstr(res.body, "iothub_streams_initiated_total"));
    rest_response_free(&res);
    struct call with_query = {.method = "GET", .path = "/metrics", .token_query = reader};
    handle(&with_query, &res);
    ck_assert_int_eq(res.status, 200);
    rest_response_free(&res);
    struct call wrong_policy = {.method = "GET", .path = "/metrics", .token_query = service};
    expect_error(&wrong_policy, 401, 401002, "IotHubUnauthorizedAccess", "?token= value");
    free(reader);
    free(service);
}
END_TEST

START_TEST(host_header_names)
{
    static const char *const names[] = {"hub.example", "localhost", "127.0.0.1"};
    static const char *const ours[] = {"hub.example", "HUB.example:443", "localhost:8443",
                                       "127.0.0.1",   "[::1]",           "[::1]:443"};
    static const char *const others[] = {NULL,          "",     "evil.example", "hub.example.",
                                         "localhost:x", "[::1", "[::2]:443",    "127.0.0.2",
                                         "hub.exampl",  "::1"};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        ck_assert_msg(rest_host_is_ours(ours[i], names, 3), "refused %s", ours[i]);
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        ck_assert_msg(!rest_host_is_ours(others[i], names, 3), "accepted %s",
                      others[i] != NULL ? others[i] : "NULL");
}
END_TEST

START_TEST(wrong_method_lists_the_allowed_ones)
{
    char *t = token("iothubowner");
    struct call c = {.method = "POST", .path = "/devices/d1", .authorization = t, .body = "{}"};
    expect_error(&c, 404, 404000, "ResourceNotFound", "GET, PUT, DELETE");
    c.method = "PATCH";
    expect_error(&c, 404, 404000, "ResourceNotFound", "PATCH");
    c.method = "DELETE";
    c.path = "/health";
    expect_error(&c, 404, 404000, "ResourceNotFound", "use GET");
    free(t);
}
END_TEST

START_TEST(body_too_large)
{
    char *t = token("registryReadWrite");
    struct call c = {
        .method = "PUT", .path = "/devices/d1", .authorization = t, .body_too_large = 1};
    expect_error(&c, 413, 413001, "MessageTooLarge", NULL);
    /* Refused before anything else: no token needed to learn that. */
    c.authorization = NULL;
    expect_error(&c, 413, 413001, "MessageTooLarge", NULL);
    /* And nothing was created. */
    struct device d;
    ck_assert_int_eq(registry_device_get(emu.registry, "d1", &d), REGISTRY_NOT_FOUND);
    free(t);
}
END_TEST

/* ---- the registry API ---- */

START_TEST(device_life_cycle)
{
    const char *body = "{\"deviceId\":\"d1\",\"authentication\":{\"type\":\"sas\","
                       "\"symmetricKey\":{\"primaryKey\":\"\",\"secondaryKey\":\"\"}}}";
    /* No token. */
    struct call put = {.method = "PUT", .path = "/devices/d1", .body = body};
    expect_error(&put, 401, 401002, "IotHubUnauthorizedAccess", "Authorization");

    /* Create with registryReadWrite: 200, generated keys, ETag = "\"" + etag + "\"". */
    char *rw = token("registryReadWrite");
    put.authorization = rw;
    struct rest_response res;
    handle(&put, &res);
    json_t *j = check_device(&res, "d1");
    rest_response_free(&res);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "enabled");
    ck_assert_str_eq(json_string_value(json_object_get(j, "connectionState")), "Disconnected");
    json_t *sym = json_object_get(json_object_get(j, "authentication"), "symmetricKey");
    const char *primary = json_string_value(json_object_get(sym, "primaryKey"));
    const char *secondary = json_string_value(json_object_get(sym, "secondaryKey"));
    ck_assert_int_eq(ih_key_check(primary, NULL), IH_OK);
    ck_assert_int_eq(ih_key_check(secondary, NULL), IH_OK);
    ck_assert_str_ne(primary, secondary);
    /* The etag is the stored one. */
    struct device d;
    ck_assert_int_eq(registry_device_get(emu.registry, "d1", &d), REGISTRY_OK);
    char etag[32];
    registry_etag_text(d.etag, etag);
    ck_assert_str_eq(json_string_value(json_object_get(j, "etag")), etag);
    ck_assert_str_eq(d.primary_key, primary);
    json_decref(j);

    /* Again, without If-Match: it exists. */
    expect_error(&put, 409, 409001, "DeviceAlreadyExists", "d1");

    /* GET with registryRead. */
    char *r = token("registryRead");
    struct call get = {.method = "GET", .path = "/devices/d1", .authorization = r};
    handle(&get, &res);
    j = check_device(&res, "d1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "etag")), etag);
    json_decref(j);
    rest_response_free(&res);

    /* DELETE with service (ServiceConnect only): 401 naming the permission it lacks. */
    char *s = token("service");
    struct call del = {.method = "DELETE", .path = "/devices/d1", .authorization = s};
    expect_error(&del, 401, 401002, "IotHubUnauthorizedAccess", "RegistryWrite");
    /* PUT with registryRead: the same. */
    put.authorization = r;
    expect_error(&put, 401, 401002, "IotHubUnauthorizedAccess", "RegistryWrite");
    /* GET with service: lacks RegistryRead. */
    get.authorization = s;
    expect_error(&get, 401, 401002, "IotHubUnauthorizedAccess", "RegistryRead");
    ck_assert_int_eq(registry_device_get(emu.registry, "d1", &d), REGISTRY_OK);

    /* DELETE with registryReadWrite: 204, no body. */
    del.authorization = rw;
    handle(&del, &res);
    ck_assert_int_eq(res.status, 204);
    ck_assert_ptr_null(res.body);
    ck_assert_ptr_null(res.content_type);
    rest_response_free(&res);
    get.authorization = r;
    expect_error(&get, 404, 404001, "DeviceNotFound", "d1");
    expect_error(&del, 404, 404001, "DeviceNotFound", "d1");
    free(rw);
    free(r);
    free(s);
}
END_TEST

START_TEST(iothubowner_can_do_everything)
{
    json_t *j = put_device("d1", "{}", NULL);
    json_decref(j);
    char *t = token("iothubowner");
    struct call c = {.method = "GET", .path = "/devices/d1", .authorization = t};
    struct rest_response res;
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    rest_response_free(&res);
    c.method = "DELETE";
    handle(&c, &res);
    ck_assert_int_eq(res.status, 204);
    rest_response_free(&res);
    free(t);
}
END_TEST

START_TEST(update_with_if_match)
{
    json_t *created = put_device("d1", "{\"deviceId\":\"d1\"}", NULL);
    char old_etag[40];
    snprintf(old_etag, sizeof old_etag, "\"%s\"",
             json_string_value(json_object_get(created, "etag")));
    const char *key = json_string_value(json_object_get(
        json_object_get(json_object_get(created, "authentication"), "symmetricKey"), "primaryKey"));

    /* Node: If-Match: * (unquoted); only status changes, the keys stay. */
    json_t *updated = put_device("d1", "{\"status\":\"disabled\",\"statusReason\":\"off\"}", "*");
    ck_assert_str_eq(json_string_value(json_object_get(updated, "status")), "disabled");
    ck_assert_str_eq(json_string_value(json_object_get(updated, "statusReason")), "off");
    ck_assert_str_ne(json_string_value(json_object_get(updated, "etag")),
                     json_string_value(json_object_get(created, "etag")));
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(updated, "authentication"), "symmetricKey"),
            "primaryKey")),
        key);
    ck_assert_str_eq(json_string_value(json_object_get(updated, "generationId")),
                     json_string_value(json_object_get(created, "generationId")));

    /* C#: the quoted current etag. */
    char current[40];
    snprintf(current, sizeof current, "\"%s\"",
             json_string_value(json_object_get(updated, "etag")));
    json_t *again = put_device("d1", "{\"status\":\"enabled\"}", current);
    ck_assert_str_eq(json_string_value(json_object_get(again, "status")), "enabled");

    /* A stale etag. */
    char *t = token("registryReadWrite");
    struct call c = {.method = "PUT",
                     .path = "/devices/d1",
                     .authorization = t,
                     .if_match = old_etag,
                     .body = "{}"};
    expect_error(&c, 412, 412001, "PreconditionFailed", "d1");
    c.method = "DELETE";
    expect_error(&c, 412, 412001, "PreconditionFailed", "d1");
    /* If-Match on a device that does not exist: 404, not a create. */
    c.method = "PUT";
    c.path = "/devices/ghost";
    c.if_match = "*";
    expect_error(&c, 404, 404001, "DeviceNotFound", "ghost");
    struct device d;
    ck_assert_int_eq(registry_device_get(emu.registry, "ghost", &d), REGISTRY_NOT_FOUND);
    /* Delete with the current etag. */
    c.method = "DELETE";
    c.path = "/devices/d1";
    c.if_match = "\"*\"";
    struct rest_response res;
    handle(&c, &res);
    ck_assert_int_eq(res.status, 204);
    rest_response_free(&res);
    free(t);
    json_decref(created);
    json_decref(updated);
    json_decref(again);
}
END_TEST

START_TEST(bad_bodies_and_ids)
{
    char *t = token("registryReadWrite");
    struct call c = {.method = "PUT", .path = "/devices/d1", .authorization = t, .body = "{"};
    expect_error(&c, 400, 400006, "IotHubFormatError", "JSON");
    c.body = "[]";
    expect_error(&c, 400, 400006, "IotHubFormatError", NULL);
    c.body = NULL;
    expect_error(&c, 400, 400006, "IotHubFormatError", NULL);
    c.body = "{\"deviceId\":\"d2\"}";
    expect_error(&c, 400, 400004, "ArgumentInvalid", "deviceId");
    c.body = "{\"authentication\":{\"type\":\"selfSigned\"}}";
    expect_error(&c, 400, 400004, "ArgumentInvalid", "X.509");
    /* Ids the hub refuses: a space, an encoded '/', "..", 129 characters. */
    c.body = "{}";
    c.path = "/devices/a%20b";
    expect_error(&c, 400, 400004, "ArgumentInvalid", "device id");
    c.path = "/devices/a%2Fb";
    expect_error(&c, 400, 400004, "ArgumentInvalid", "device id");
    c.path = "/devices/..";
    expect_error(&c, 400, 400004, "ArgumentInvalid", "device id");
    char path[200] = "/devices/";
    memset(path + 9, 'x', 129);
    path[9 + 129] = '\0';
    c.path = path;
    expect_error(&c, 400, 400004, "ArgumentInvalid", "128");
    c.method = "GET";
    expect_error(&c, 400, 400004, "ArgumentInvalid", "128");
    c.method = "DELETE";
    expect_error(&c, 400, 400004, "ArgumentInvalid", "128");
    struct device *list = NULL;
    size_t count = 0;
    ck_assert_int_eq(registry_device_list(emu.registry, 10, &list, &count), REGISTRY_OK);
    ck_assert_uint_eq(count, 0);
    free(list);
    free(t);
}
END_TEST

START_TEST(encoded_ids)
{
    /* %-escapes in the id are decoded: "a+b" and "a%2Bb" are the same device. */
    char *t = token("registryReadWrite");
    struct call c = {.method = "PUT",
                     .path = "/devices/a%2Bb%3A1",
                     .authorization = t,
                     .body = "{\"deviceId\":\"a+b:1\"}"};
    struct rest_response res;
    handle(&c, &res);
    json_t *j = check_device(&res, "a+b:1");
    json_decref(j);
    rest_response_free(&res);
    c.method = "GET";
    c.path = "/devices/a+b:1";
    handle(&c, &res);
    j = check_device(&res, "a+b:1");
    json_decref(j);
    rest_response_free(&res);
    free(t);
}
END_TEST

START_TEST(list_devices)
{
    json_decref(put_device("c", "{}", NULL));
    json_decref(put_device("a", "{}", NULL));
    json_decref(put_device("b", "{}", NULL));
    char *t = token("registryRead");
    /* C# lists /devices/?top=n, Node /devices/ with no top. */
    struct call c = {.method = "GET", .path = "/devices/", .authorization = t};
    struct rest_response res;
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    json_t *j = body_json(&res);
    ck_assert(json_is_array(j));
    ck_assert_uint_eq(json_array_size(j), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "deviceId")), "a");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 2), "deviceId")), "c");
    json_decref(j);
    rest_response_free(&res);

    c.path = "/devices";
    c.top = "2";
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    j = body_json(&res);
    ck_assert_uint_eq(json_array_size(j), 2);
    json_decref(j);
    rest_response_free(&res);

    c.top = "1000";
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    rest_response_free(&res);

    static const char *const bad[] = {"0", "1001", "abc", "-1", "+1", "1e3", "99999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c.top = bad[i];
        expect_error(&c, 400, 400004, "ArgumentInvalid", "top");
    }
    /* Without a token. */
    c.top = NULL;
    c.authorization = NULL;
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", NULL);
    free(t);
}
END_TEST

START_TEST(list_empty)
{
    char *t = token("registryRead");
    struct call c = {.method = "GET", .path = "/devices", .authorization = t};
    struct rest_response res;
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.body, "[]");
    rest_response_free(&res);
    free(t);
}
END_TEST

/* ---- tokens ---- */

START_TEST(bad_tokens)
{
    char key[KEY_TEXT_SIZE];
    registry_default_policy_key("registryRead", key);
    long long later = (long long)time(NULL) + 3600;
    struct call c = {.method = "GET", .path = "/devices/d1"};
    char *t;

    c.authorization = "";
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", "Authorization");
    c.authorization = "Bearer abc";
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", "SAS");

    /* Expired past the 5 minutes of skew. */
    t = token_with(HOST, "registryRead", key, (long long)time(NULL) - 400);
    c.authorization = t;
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", "expired");
    free(t);

    /* Signed with another key. */
    t = token_with(HOST, "registryRead", K1, later);
    c.authorization = t;
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", "signature");
    free(t);

    /* For another hub. */
    t = token_with("otherhub.example", "registryRead", key, later);
    c.authorization = t;
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", "otherhub.example");
    free(t);

    /* For another device. */
    t = token_with(HOST "/devices/d2", "registryRead", key, later);
    c.authorization = t;
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", NULL);
    free(t);

    /* A device token (no skn). */
    t = token_with(HOST "/devices/d1", NULL, key, later);
    c.authorization = t;
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", "skn");
    free(t);

    /* A policy that does not exist. */
    t = token_with(HOST, "nobody", key, later);
    c.authorization = t;
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", "nobody");
    free(t);
}
END_TEST

START_TEST(good_token_variants)
{
    json_decref(put_device("d1", "{}", NULL));
    char key[KEY_TEXT_SIZE];
    registry_default_policy_key("registryRead", key);
    long long later = (long long)time(NULL) + 3600;
    static const char *const resources[] = {HOST, "localhost", HOST "/devices/d1",
                                            "LOCALHOST/devices/d1"};
    for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++) {
        char *t = token_with(resources[i], "registryRead", key, later);
        struct call c = {.method = "GET", .path = "/devices/d1", .authorization = t};
        struct rest_response res;
        handle(&c, &res);
        ck_assert_msg(res.status == 200, "sr %s: %d %s", resources[i], res.status, res.reason);
        rest_response_free(&res);
        free(t);
    }
    /* The secondary key signs too. */
    struct policy p;
    ck_assert_int_eq(registry_policy_get(emu.registry, "registryRead", &p), REGISTRY_OK);
    char *t = token_with(HOST, "registryRead", p.secondary_key, later);
    struct call c = {.method = "GET", .path = "/devices/d1", .authorization = t};
    struct rest_response res;
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    rest_response_free(&res);
    free(t);
    /* Replaced keys take effect at once, and the old ones stop working. */
    ck_assert_int_eq(registry_policy_set_keys(emu.registry, "registryRead", K1, K1), REGISTRY_OK);
    t = token_with(HOST, "registryRead", K1, later);
    c.authorization = t;
    handle(&c, &res);
    ck_assert_int_eq(res.status, 200);
    rest_response_free(&res);
    free(t);
    t = token_with(HOST, "registryRead", key, later);
    c.authorization = t;
    expect_error(&c, 401, 401002, "IotHubUnauthorizedAccess", "signature");
    free(t);
}
END_TEST

/* rest_error fills a response on its own; a second error replaces the first without leaks. */
START_TEST(error_helpers)
{
    struct rest_response res;
    memset(&res, 0, sizeof res);
    rest_error(&res, IH_E_DEVICE_NOT_FOUND, "device '%s' is not registered", "x");
    rest_error(&res, IH_E_THROTTLED, "slow down");
    check_error(&res, 429, 429001, "ThrottlingException", "slow down");
    ck_assert_uint_eq(res.header_count, 1);
    ck_assert_str_eq(res.reason, "slow down");
    rest_response_free(&res);
    ck_assert_ptr_null(res.body);
    ck_assert_uint_eq(res.header_count, 0);
    rest_json(&res, 201, json_pack("{s:i}", "a", 1));
    ck_assert_int_eq(res.status, 201);
    ck_assert_str_eq(res.body, "{\"a\":1}");
    rest_response_free(&res);
    rest_response_free(&res);
}
END_TEST

/* The registry answers its own errors in the flat form (Node's Registry then raises
 * DeviceNotFoundError and the like); a refused token, an unknown path and the streams answer
 * nested. */
START_TEST(error_forms_per_endpoint)
{
    char *rw = token("registryReadWrite"), *svc = token("service");
    struct rest_response res;
    struct call missing = {.method = "GET", .path = "/devices/ghost", .authorization = rw};
    handle(&missing, &res);
    check_error(&res, 404, 404001, "DeviceNotFound", "ghost");
    ck_assert(is_flat(&res));
    json_t *outer = body_json(&res);
    ck_assert_str_eq(json_string_value(json_object_get(outer, "Message")),
                     "ErrorCode:DeviceNotFound;device 'ghost' is not registered");
    json_decref(outer);
    rest_response_free(&res);
    struct call flat[] = {
        {.method = "DELETE", .path = "/devices/ghost", .authorization = rw},
        {.method = "PUT", .path = "/devices/d9", .authorization = rw, .body = "{"},
        {.method = "GET", .path = "/devices", .authorization = rw, .top = "0"},
    };
    struct call nested[] = {
        {.method = "GET", .path = "/devices/ghost"},                        /* no token: 401 */
        {.method = "GET", .path = "/devices/ghost", .authorization = svc},  /* no permission */
        {.method = "PATCH", .path = "/devices/ghost", .authorization = rw}, /* no such route */
        {.method = "POST", .path = "/twins/ghost/streams/s", .authorization = svc},
    };
    for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++) {
        handle(&flat[i], &res);
        ck_assert_msg(res.status >= 400 && is_flat(&res), "%s %s: %s", flat[i].method, flat[i].path,
                      res.body);
        rest_response_free(&res);
    }
    for (size_t i = 0; i < sizeof nested / sizeof nested[0]; i++) {
        handle(&nested[i], &res);
        ck_assert_msg(res.status >= 400 && !is_flat(&res), "%s %s: %s", nested[i].method,
                      nested[i].path, res.body);
        rest_response_free(&res);
    }
    free(rw);
    free(svc);
}
END_TEST

static Suite *rest_suite(void)
{
    Suite *s = suite_create("rest");
    TCase *tc = tcase_create("path");
    tcase_add_test(tc, path_parse);
    suite_add_tcase(s, tc);
    tc = tcase_create("handle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, health);
    tcase_add_test(tc, ca_certificate);
    tcase_add_test(tc, unknown_path);
    tcase_add_test(tc, ui_pages_loopback_or_token);
    tcase_add_test(tc, host_header_names);
    tcase_add_test(tc, wrong_method_lists_the_allowed_ones);
    tcase_add_test(tc, body_too_large);
    tcase_add_test(tc, device_life_cycle);
    tcase_add_test(tc, iothubowner_can_do_everything);
    tcase_add_test(tc, update_with_if_match);
    tcase_add_test(tc, bad_bodies_and_ids);
    tcase_add_test(tc, encoded_ids);
    tcase_add_test(tc, list_devices);
    tcase_add_test(tc, list_empty);
    tcase_add_test(tc, bad_tokens);
    tcase_add_test(tc, good_token_variants);
    tcase_add_test(tc, error_helpers);
    tcase_add_test(tc, error_forms_per_endpoint);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Every refused request logs one INFO line; keep the test output to failures. */
    log_set_level(LOG_ERROR);
    return unit_run(rest_suite());
}
