#include "config.h"

#include "protocol/identity.h"
#include "protocol/number.h"
#include "protocol/sas.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_STATE_DIR "iothub-emulator-state"
#define DEFAULT_LISTEN "127.0.0.1"
/* The C device SDK needs a dot in HostName (docs/protocol.md rule 10), and an IP literal needs no
 * name resolution; the certificate carries it as an IP and as a DNS name. */
#define DEFAULT_HOST_NAME "127.0.0.1"

enum option_kind {
    OPT_STRING,
    OPT_FLAG,
    OPT_PORT,
    OPT_SECONDS,
    OPT_UI_ACCESS,
    OPT_FIDELITY,
    OPT_COUNT,
    OPT_HOST,
    OPT_DEVICE,
    OPT_POLICY_KEY,
    OPT_QUOTA,
    OPT_HELP,
    OPT_VERSION
};

struct option_spec {
    const char *flag;
    const char *env; /* NULL: no environment variable */
    enum option_kind kind;
    size_t offset; /* of the field in struct config, for OPT_STRING, OPT_FLAG, OPT_PORT */
    const char *arg;
    const char *help;
};

#define AT(member) offsetof(struct config, member)

static const struct option_spec options[] = {
    {"--state-dir", "IOTHUB_EMULATOR_STATE_DIR", OPT_STRING, AT(state_dir), "DIR",
     "where the registry, logs and dev certificates live (default ./" DEFAULT_STATE_DIR ")"},
    {"--ephemeral", "IOTHUB_EMULATOR_EPHEMERAL", OPT_FLAG, AT(ephemeral), NULL,
     "keep state in a temporary directory deleted at exit"},
    {"--listen", "IOTHUB_EMULATOR_LISTEN", OPT_STRING, AT(listen), "ADDR",
     "IP address every endpoint binds (default " DEFAULT_LISTEN "; 0.0.0.0 for all)"},
    {"--host-name", "IOTHUB_EMULATOR_HOST_NAMES", OPT_HOST, 0, "NAME",
     "repeatable; the first is the hub's HostName in connection strings and URLs, every one is "
     "accepted as a SAS audience and put in the certificate (default " DEFAULT_HOST_NAME ")"},
    {"--https-port", "IOTHUB_EMULATOR_HTTPS_PORT", OPT_PORT, AT(https_port), "PORT",
     "main endpoint over HTTPS (default 443)"},
    {"--http-port", "IOTHUB_EMULATOR_HTTP_PORT", OPT_PORT, AT(http_port), "PORT",
     "main endpoint over plain HTTP, for debugging (default off)"},
    {"--mqtts-port", "IOTHUB_EMULATOR_MQTTS_PORT", OPT_PORT, AT(mqtts_port), "PORT",
     "MQTT over TLS for devices (default 8883)"},
    {"--mqtt-port", "IOTHUB_EMULATOR_MQTT_PORT", OPT_PORT, AT(mqtt_port), "PORT",
     "plain MQTT, for debugging (default off)"},
    {"--mqtt-ws-port", "IOTHUB_EMULATOR_MQTT_WS_PORT", OPT_PORT, AT(mqtt_ws_port), "PORT",
     "MQTT over secure WebSockets, path /$iothub/websocket (default off)"},
    {"--streams-port", "IOTHUB_EMULATOR_STREAMS_PORT", OPT_PORT, AT(streams_port), "PORT",
     "streaming endpoint over WSS (default 9443)"},
    {"--streams-plain-port", "IOTHUB_EMULATOR_STREAMS_PLAIN_PORT", OPT_PORT, AT(streams_plain_port),
     "PORT", "streaming endpoint over plain WS (default off)"},
    {"--device", "IOTHUB_EMULATOR_DEVICES", OPT_DEVICE, 0, "ID[:KEY]",
     "repeatable; make sure device ID exists, with primary key KEY when given (base64)"},
    {"--policy-key", "IOTHUB_EMULATOR_POLICY_KEYS", OPT_POLICY_KEY, 0, "POLICY=KEY[:KEY2]",
     "repeatable; replace the well-known dev keys of a shared access policy (the secondary key "
     "is random unless KEY2 is given)"},
    {"--handshake-timeout", "IOTHUB_EMULATOR_HANDSHAKE_TIMEOUT", OPT_SECONDS,
     AT(handshake_timeout_s), "SECONDS",
     "a stream's handshake, POST to both sides connected, must finish within this (default 60, "
     "as on the hub); it also caps and defaults the two timeouts a POST may give"},
    {"--ui-access", "IOTHUB_EMULATOR_UI_ACCESS", OPT_UI_ACCESS, AT(ui_access), "local|open|token",
     "who may open the web page at / and /metrics without a token: local (127.0.0.1 and ::1, "
     "the default), open (everyone) or token (nobody; a RegistryRead token is needed)"},
    {"--fidelity", "IOTHUB_EMULATOR_FIDELITY", OPT_FIDELITY, AT(fidelity), "relaxed|strict",
     "relaxed (the default): generous limits; strict: the real hub's (one S1 unit's) quotas, 5 "
     "new streams a second, 50 streams at once, 64 KiB WebSocket messages, and --quota's"},
    {"--max-streams", "IOTHUB_EMULATOR_MAX_STREAMS", OPT_COUNT, AT(max_streams), "N",
     "streams at once, requested and not over (default 10000, strict 50; 0: no limit); past it "
     "a POST gets 403 403002"},
    {"--max-pending-handshakes", "IOTHUB_EMULATOR_MAX_PENDING_HANDSHAKES", OPT_COUNT,
     AT(max_pending), "N",
     "streams requested or accepted but not yet connected (default 1000; 0: no limit); past it "
     "a POST gets 429 429001"},
    {"--stream-rate", "IOTHUB_EMULATOR_STREAM_RATE", OPT_COUNT, AT(stream_rate), "N",
     "new streams a second (default no limit, strict 5; 0: no limit); past it a POST gets 429 "
     "429001"},
    {"--max-message-bytes", "IOTHUB_EMULATOR_MAX_MESSAGE_BYTES", OPT_COUNT, AT(max_message_bytes),
     "N",
     "bytes of one WebSocket message through a stream (default no limit, strict 65536; 0: no "
     "limit); a larger one closes the stream with 1009"},
    {"--quota", "IOTHUB_EMULATOR_QUOTAS", OPT_QUOTA, 0, "NAME=N[,...]",
     "repeatable; an operation throttle or the daily quota (default none, strict the S1 "
     "tier's): methods (4 KB units a minute, strict 2400), twin-reads (a minute, 6000), "
     "twin-updates (3000), c2d (100), d2c (6000), daily (messages of 4 KB a UTC day, 400000); "
     "0: no limit; past a throttle 429 429001, past the daily quota 403 403002"},
    {"--telemetry-keep", "IOTHUB_EMULATOR_TELEMETRY_KEEP", OPT_COUNT, AT(telemetry_keep), "N",
     "telemetry messages kept for GET /emulator/telemetry, the newest (default 100000; 0: no "
     "limit)"},
    {"--max-connection-memory", "IOTHUB_EMULATOR_MAX_CONNECTION_MEMORY", OPT_COUNT,
     AT(max_connection_memory), "BYTES",
     "bytes the relay holds for one WebSocket at most, at least 65536 (default 524288); a "
     "sender is paused at half of it"},
    {"--trace", "IOTHUB_EMULATOR_TRACE", OPT_FLAG, AT(trace), NULL,
     "log every handshake step and every request"},
    {"--ready-file", "IOTHUB_EMULATOR_READY_FILE", OPT_STRING, AT(ready_file), "PATH",
     "write ports and connection strings as JSON here once every endpoint accepts connections"},
    {"--tls-cert", "IOTHUB_EMULATOR_TLS_CERT", OPT_STRING, AT(tls_cert), "PEM",
     "server certificate (default: a dev certificate generated into the state directory)"},
    {"--tls-key", "IOTHUB_EMULATOR_TLS_KEY", OPT_STRING, AT(tls_key), "PEM",
     "private key of --tls-cert"},
    {"--tls-ca", "IOTHUB_EMULATOR_TLS_CA", OPT_STRING, AT(tls_ca), "PEM",
     "CA certificate served at /emulator/ca.pem with --tls-cert"},
    {"--mosquitto", "IOTHUB_EMULATOR_MOSQUITTO", OPT_STRING, AT(mosquitto), "PATH",
     "the mosquitto broker to run (default: mosquitto on PATH, or /usr/sbin/mosquitto)"},
    {"--broker-plugin", "IOTHUB_EMULATOR_BROKER_PLUGIN", OPT_STRING, AT(broker_plugin), "PATH",
     "the emulator's mosquitto plugin (default: iothub_mosquitto_plugin.so next to this program)"},
    {"--help", NULL, OPT_HELP, 0, NULL, "print this help and exit"},
    {"--version", NULL, OPT_VERSION, 0, NULL, "print the version and exit"},
};
#define OPTION_COUNT (sizeof options / sizeof options[0])

static char **string_field(struct config *cfg, const struct option_spec *o)
{
    return (char **)((char *)cfg + o->offset);
}

static int *int_field(struct config *cfg, const struct option_spec *o)
{
    return (int *)((char *)cfg + o->offset);
}

static void add_warning(struct config *cfg, const char *text)
{
    if (cfg->warning_count < CONFIG_MAX_WARNINGS)
        snprintf(cfg->warnings[cfg->warning_count++], sizeof cfg->warnings[0], "%s", text);
}

static ih_result parse_port(const char *text, int *port)
{
    if (strcmp(text, "off") == 0) {
        *port = CONFIG_PORT_OFF;
        return IH_OK;
    }
    uint64_t v = 0;
    if (ih_parse_uint(text, 65535, &v) != IH_OK)
        return IH_ERR_SYNTAX;
    *port = (int)v;
    return IH_OK;
}

static ih_result parse_seconds(const char *text, int *seconds)
{
    uint64_t v = 0;
    if (ih_parse_uint(text, 3600, &v) != IH_OK || v < 1)
        return IH_ERR_SYNTAX;
    *seconds = (int)v;
    return IH_OK;
}

/* 0 to 1,000,000,000. */
static ih_result parse_count(const char *text, int *count)
{
    uint64_t v = 0;
    if (ih_parse_uint(text, 1000000000, &v) != IH_OK)
        return IH_ERR_SYNTAX;
    *count = (int)v;
    return IH_OK;
}

static ih_result parse_flag_value(const char *text, int *flag)
{
    if (strcmp(text, "1") == 0 || strcmp(text, "true") == 0 || strcmp(text, "yes") == 0)
        *flag = 1;
    else if (strcmp(text, "0") == 0 || strcmp(text, "false") == 0 || strcmp(text, "no") == 0 ||
             text[0] == '\0')
        *flag = 0;
    else
        return IH_ERR_SYNTAX;
    return IH_OK;
}

/* A DNS name or an IPv4 literal: 1..253 characters of letters, digits, '-' and '.'. */
static ih_result check_host_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 253 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-.") != len)
        return IH_ERR_SYNTAX;
    return IH_OK;
}

static ih_result add_host(struct config *cfg, const char *name, struct ih_diag *diag)
{
    if (check_host_name(name) != IH_OK)
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "host name '%.80s' must be 1 to 253 letters, digits, '-' and '.'", name);
    for (size_t i = 0; i < cfg->host_name_count; i++) {
        if (strcasecmp(cfg->host_names[i], name) == 0)
            return IH_OK;
    }
    if (cfg->host_name_count == CONFIG_MAX_HOST_NAMES)
        return ih_fail(diag, IH_ERR_TOO_LONG, "more than %d host names", CONFIG_MAX_HOST_NAMES);
    char *copy = strdup(name);
    if (copy == NULL)
        return IH_ERR_NOMEM;
    cfg->host_names[cfg->host_name_count++] = copy;
    return IH_OK;
}

/* "ID" or "ID:KEY". Ids may contain ':', so the text after the last ':' is a key only when it is
 * a valid key (base64 of 16 to 64 bytes); otherwise the whole text is the id. Messages quote the
 * id only: the key is a secret. */
static ih_result add_device(struct config *cfg, const char *text, struct ih_diag *diag)
{
    const char *colon = strrchr(text, ':');
    size_t id_len = strlen(text);
    const char *key = NULL;
    if (colon != NULL && ih_key_check(colon + 1, NULL) == IH_OK) {
        id_len = (size_t)(colon - text);
        key = colon + 1;
    }
    struct ih_diag why;
    if (ih_id_check(text, id_len, "device id", &why) != IH_OK)
        return ih_fail(diag, IH_ERR_SYNTAX, "--device '%.*s': %s", (int)(id_len > 80 ? 80 : id_len),
                       text, why.msg);
    if (cfg->device_count == CONFIG_MAX_DEVICES)
        return ih_fail(diag, IH_ERR_TOO_LONG, "more than %d --device seeds", CONFIG_MAX_DEVICES);
    struct device_seed *seed = &cfg->devices[cfg->device_count];
    seed->id = strndup(text, id_len);
    seed->key = key != NULL ? strdup(key) : NULL;
    if (seed->id == NULL || (key != NULL && seed->key == NULL)) {
        free(seed->id);
        free(seed->key);
        return IH_ERR_NOMEM;
    }
    cfg->device_count++;
    return IH_OK;
}

static void free_policy_key(struct policy_key *pk)
{
    free(pk->policy);
    free(pk->key);
    free(pk->secondary_key);
    memset(pk, 0, sizeof *pk);
}

/* "POLICY=PRIMARY[:SECONDARY]"; base64 has no ':'. Messages never quote a key. */
static ih_result add_policy_key(struct config *cfg, const char *text, struct ih_diag *diag)
{
    const char *eq = strchr(text, '=');
    if (eq == NULL || eq == text)
        return ih_fail(diag, IH_ERR_SYNTAX, "--policy-key needs POLICY=KEY[:SECONDARY_KEY]");
    if (cfg->policy_key_count == CONFIG_MAX_POLICY_KEYS)
        return ih_fail(diag, IH_ERR_TOO_LONG, "more than %d --policy-key values",
                       CONFIG_MAX_POLICY_KEYS);
    struct policy_key *pk = &cfg->policy_keys[cfg->policy_key_count];
    const char *colon = strchr(eq + 1, ':');
    pk->policy = strndup(text, (size_t)(eq - text));
    pk->key = colon != NULL ? strndup(eq + 1, (size_t)(colon - eq - 1)) : strdup(eq + 1);
    pk->secondary_key = colon != NULL ? strdup(colon + 1) : NULL;
    if (pk->policy == NULL || pk->key == NULL || (colon != NULL && pk->secondary_key == NULL)) {
        free_policy_key(pk);
        return IH_ERR_NOMEM;
    }
    struct ih_diag why;
    if (ih_key_check(pk->key, &why) != IH_OK ||
        (pk->secondary_key != NULL && ih_key_check(pk->secondary_key, &why) != IH_OK)) {
        ih_fail(diag, IH_ERR_KEY, "--policy-key %.*s: %s", (int)(eq - text > 64 ? 64 : eq - text),
                text, why.msg);
        free_policy_key(pk);
        return IH_ERR_KEY;
    }
    cfg->policy_key_count++;
    return IH_OK;
}

/* The names of enum quota_kind, in its order, and the S1 tier's values (docs/protocol.md rule
 * D19: per second times 60, since the hub applies its throttles in minute ranges). */
static const struct {
    const char *name;
    long long strict;
} quota_kinds[QUOTA_KIND_COUNT] = {
    [QUOTA_METHODS] = {"methods", 2400},           /* 160 KB/s with a 4 KB meter */
    [QUOTA_TWIN_READS] = {"twin-reads", 6000},     /* 100/s */
    [QUOTA_TWIN_UPDATES] = {"twin-updates", 3000}, /* 50/s */
    [QUOTA_C2D] = {"c2d", 100},                    /* 100/min */
    [QUOTA_D2C] = {"d2c", 6000},                   /* 100/s */
    [QUOTA_DAILY] = {"daily", 400000},             /* one S1 unit */
};

const char *config_quota_name(enum quota_kind kind)
{
    return kind < QUOTA_KIND_COUNT ? quota_kinds[kind].name : "?";
}

/* "NAME=N". */
static ih_result set_quota(struct config *cfg, const char *text, struct ih_diag *diag)
{
    const char *eq = strchr(text, '=');
    size_t name_len = eq != NULL ? (size_t)(eq - text) : 0;
    for (int k = 0; eq != NULL && k < QUOTA_KIND_COUNT; k++) {
        uint64_t v = 0;
        if (strlen(quota_kinds[k].name) != name_len ||
            strncmp(quota_kinds[k].name, text, name_len) != 0)
            continue;
        if (ih_parse_uint(eq + 1, 1000000000000ULL, &v) != IH_OK)
            return ih_fail(diag, IH_ERR_SYNTAX,
                           "--quota %s needs a whole number from 0 to 1000000000000, not '%.40s'",
                           quota_kinds[k].name, eq + 1);
        cfg->quota[k] = (long long)v;
        return IH_OK;
    }
    return ih_fail(diag, IH_ERR_SYNTAX,
                   "--quota '%.60s' must be NAME=N with NAME one of methods, twin-reads, "
                   "twin-updates, c2d, d2c, daily",
                   text);
}

/* The names of enum ui_access, in its order. */
static ih_result parse_ui_access(const char *value, int *out)
{
    static const char *const names[] = {"local", "open", "token"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(value, names[i]) == 0) {
            *out = i;
            return IH_OK;
        }
    }
    return IH_ERR_SYNTAX;
}

typedef ih_result (*list_adder)(struct config *, const char *, struct ih_diag *);

/* Environment lists are comma-separated; blanks around items are not allowed to hide typos, so
 * only empty items (",,") are skipped. An id holding ',' can be seeded with the flag only. */
static ih_result add_list(struct config *cfg, list_adder add, const char *text,
                          struct ih_diag *diag)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return IH_ERR_NOMEM;
    ih_result r = IH_OK;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item != NULL && r == IH_OK;
         item = strtok_r(NULL, ",", &save))
        r = add(cfg, item, diag);
    free(copy);
    return r;
}

static ih_result parse_fidelity(const char *value, int *out)
{
    if (strcmp(value, "relaxed") != 0 && strcmp(value, "strict") != 0)
        return IH_ERR_SYNTAX;
    *out = strcmp(value, "strict") == 0 ? FIDELITY_STRICT : FIDELITY_RELAXED;
    return IH_OK;
}

/* The options whose value is one number or choice: how each is read, and what it must be. */
struct int_kind {
    ih_result (*parse)(const char *value, int *out);
    const char *expected; /* with its punctuation, before "not '<value>'" */
};

static const struct int_kind int_kinds[] = {
    [OPT_FLAG] = {parse_flag_value, "1 or 0,"},
    [OPT_PORT] = {parse_port, "a port number 1-65535, 0 for any free port, or off;"},
    [OPT_SECONDS] = {parse_seconds, "a number of seconds from 1 to 3600,"},
    [OPT_FIDELITY] = {parse_fidelity, "relaxed or strict,"},
    [OPT_COUNT] = {parse_count, "a whole number from 0 to 1000000000,"},
    [OPT_UI_ACCESS] = {parse_ui_access, "local, open or token,"},
};

static ih_result set_string(struct config *cfg, const struct option_spec *o, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return IH_ERR_NOMEM;
    free(*string_field(cfg, o));
    *string_field(cfg, o) = copy;
    return IH_OK;
}

static ih_result apply_value(struct config *cfg, const struct option_spec *o, const char *value,
                             int from_env, struct ih_diag *diag)
{
    const char *source = from_env ? o->env : o->flag;
    switch (o->kind) {
    case OPT_STRING:
        return set_string(cfg, o, value);
    case OPT_FLAG:
    case OPT_PORT:
    case OPT_SECONDS:
    case OPT_FIDELITY:
    case OPT_COUNT:
    case OPT_UI_ACCESS: {
        const struct int_kind *k = &int_kinds[o->kind];
        if (k->parse(value, int_field(cfg, o)) != IH_OK)
            return ih_fail(diag, IH_ERR_SYNTAX, "%s must be %s not '%.40s'", source, k->expected,
                           value);
        return IH_OK;
    }
    case OPT_HOST:
        return from_env ? add_list(cfg, add_host, value, diag) : add_host(cfg, value, diag);
    case OPT_DEVICE:
        return from_env ? add_list(cfg, add_device, value, diag) : add_device(cfg, value, diag);
    case OPT_POLICY_KEY:
        return from_env ? add_list(cfg, add_policy_key, value, diag)
                        : add_policy_key(cfg, value, diag);
    case OPT_QUOTA:
        return add_list(cfg, set_quota, value, diag); /* NAME=N[,NAME=N]... */
    case OPT_HELP:
    case OPT_VERSION:
        break;
    }
    return IH_OK;
}

static ih_result set_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->https_port = 443;
    cfg->http_port = CONFIG_PORT_OFF;
    cfg->mqtts_port = 8883;
    cfg->mqtt_port = CONFIG_PORT_OFF;
    cfg->mqtt_ws_port = CONFIG_PORT_OFF;
    cfg->streams_port = 9443;
    cfg->streams_plain_port = CONFIG_PORT_OFF;
    cfg->handshake_timeout_s = 60;
    cfg->max_streams = cfg->max_pending = cfg->stream_rate = -1;
    cfg->max_message_bytes = cfg->max_connection_memory = -1;
    for (int k = 0; k < QUOTA_KIND_COUNT; k++)
        cfg->quota[k] = -1;
    cfg->telemetry_keep = 100000;
    cfg->state_dir = strdup(DEFAULT_STATE_DIR);
    cfg->listen = strdup(DEFAULT_LISTEN);
    return cfg->state_dir != NULL && cfg->listen != NULL ? IH_OK : IH_ERR_NOMEM;
}

static ih_result apply_environment(struct config *cfg, config_getenv_fn getenv_fn,
                                   struct ih_diag *diag)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *value = options[i].env != NULL ? getenv_fn(options[i].env) : NULL;
        if (value == NULL)
            continue;
        ih_result r = apply_value(cfg, &options[i], value, 1, diag);
        if (r != IH_OK)
            return r;
    }
    return IH_OK;
}

static const struct option_spec *find_option(const char *arg, size_t name_len)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (strlen(options[i].flag) == name_len && strncmp(options[i].flag, arg, name_len) == 0)
            return &options[i];
    }
    return NULL;
}

/* Handles argv[*i], in the forms `--flag`, `--flag VALUE` and `--flag=VALUE`. */
static ih_result apply_argument(struct config *cfg, int argc, char *const *argv, int *i,
                                struct ih_diag *diag)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    const struct option_spec *o = find_option(arg, name_len);
    if (o == NULL)
        return ih_fail(diag, IH_ERR_SYNTAX, "unknown option '%.60s' (see --help)", arg);
    if (o->kind == OPT_HELP || o->kind == OPT_VERSION) {
        *(o->kind == OPT_HELP ? &cfg->show_help : &cfg->show_version) = 1;
        return IH_OK;
    }
    if (o->kind == OPT_FLAG && eq == NULL)
        return apply_value(cfg, o, "1", 0, diag);
    const char *value = eq != NULL ? eq + 1 : NULL;
    if (value == NULL) {
        if (*i + 1 >= argc)
            return ih_fail(diag, IH_ERR_MISSING, "%s needs a value: %s %s", o->flag, o->flag,
                           o->arg);
        value = argv[++*i];
    }
    return apply_value(cfg, o, value, 0, diag);
}

static ih_result validate(struct config *cfg, struct ih_diag *diag)
{
    unsigned char addr[16];
    if (inet_pton(AF_INET, cfg->listen, addr) != 1 && inet_pton(AF_INET6, cfg->listen, addr) != 1)
        return ih_fail(diag, IH_ERR_SYNTAX, "--listen '%.60s' is not an IPv4 or IPv6 address",
                       cfg->listen);
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
        return ih_fail(diag, IH_ERR_MISSING, "--tls-cert and --tls-key go together");
    if (cfg->tls_ca != NULL && cfg->tls_cert == NULL)
        return ih_fail(diag, IH_ERR_MISSING, "--tls-ca needs --tls-cert and --tls-key");
    if (cfg->https_port == CONFIG_PORT_OFF && cfg->http_port == CONFIG_PORT_OFF)
        return ih_fail(diag, IH_ERR_MISSING,
                       "--https-port and --http-port are both off: the main endpoint needs one");
    if (cfg->host_name_count == 0) {
        ih_result r = add_host(cfg, DEFAULT_HOST_NAME, diag);
        if (r != IH_OK)
            return r;
    }
    if (cfg->max_connection_memory >= 0 && cfg->max_connection_memory < 65536)
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "--max-connection-memory must be at least 65536 (a whole 64 KiB frame)");
    if (strchr(cfg->host_names[0], '.') == NULL)
        add_warning(cfg, "the first --host-name has no '.': the Azure IoT C device SDK needs one "
                         "(docs/protocol.md rule 10); try 127.0.0.1 or a dotted name");
    return IH_OK;
}

/* --help and --version answer even when the environment holds a bad value. */
static int asks_for_help(int argc, char *const *argv, struct config *cfg)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0)
            cfg->show_help = 1;
        else if (strcmp(argv[i], "--version") == 0)
            cfg->show_version = 1;
    }
    return cfg->show_help || cfg->show_version;
}

ih_result config_parse(int argc, char *const *argv, config_getenv_fn getenv_fn, struct config *out,
                       struct ih_diag *diag)
{
    ih_result r = set_defaults(out);
    if (r == IH_OK && asks_for_help(argc, argv, out))
        return IH_OK;
    if (r == IH_OK)
        r = apply_environment(out, getenv_fn, diag);
    for (int i = 1; i < argc && r == IH_OK; i++)
        r = apply_argument(out, argc, argv, &i, diag);
    if (r == IH_OK && !out->show_help && !out->show_version)
        r = validate(out, diag);
    if (r != IH_OK)
        config_free(out);
    return r;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (options[i].kind == OPT_STRING)
            free(*string_field(cfg, &options[i]));
    }
    for (size_t i = 0; i < cfg->host_name_count; i++)
        free(cfg->host_names[i]);
    for (size_t i = 0; i < cfg->device_count; i++) {
        free(cfg->devices[i].id);
        free(cfg->devices[i].key);
    }
    for (size_t i = 0; i < cfg->policy_key_count; i++)
        free_policy_key(&cfg->policy_keys[i]);
    memset(cfg, 0, sizeof *cfg);
}

const char *config_usage(void)
{
    static char text[8192];
    if (text[0] != '\0')
        return text;
    size_t n = (size_t)snprintf(text, sizeof text,
                                "Usage: iothub-emulator [OPTION]...\n"
                                "A local Azure IoT Hub with device streams. Every option can also "
                                "be set by the environment variable shown.\n\n");
    for (size_t i = 0; i < OPTION_COUNT && n < sizeof text; i++) {
        const struct option_spec *o = &options[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->flag, o->arg != NULL ? " " : "",
                 o->arg != NULL ? o->arg : "");
        n += (size_t)snprintf(text + n, sizeof text - n, "  %-28s %s\n", left, o->help);
        if (o->env != NULL && n < sizeof text)
            n += (size_t)snprintf(text + n, sizeof text - n, "  %-28s [env %s%s]\n", "", o->env,
                                  o->kind >= OPT_HOST && o->kind <= OPT_QUOTA ? ", comma-separated"
                                                                              : "");
    }
    if (n < sizeof text)
        snprintf(text + n, sizeof text - n,
                 "\nPORT is a number, 0 for a free port chosen at start, or off.\n");
    return text;
}

const char *config_port_text(int port, char buf[16])
{
    if (port == CONFIG_PORT_OFF)
        return "off";
    if (port == 0)
        return "any free port";
    snprintf(buf, 16, "%d", port);
    return buf;
}

void config_quota_limits(const struct config *cfg, long long out[QUOTA_KIND_COUNT])
{
    int strict = cfg->fidelity == FIDELITY_STRICT;
    for (int k = 0; k < QUOTA_KIND_COUNT; k++)
        out[k] = cfg->quota[k] >= 0 ? cfg->quota[k] : strict ? quota_kinds[k].strict : 0;
}

/* --fidelity's limits; a flag given overrides its own. */
void config_stream_limits(const struct config *cfg, struct stream_limits *out)
{
    int strict = cfg->fidelity == FIDELITY_STRICT;
    out->max_streams = cfg->max_streams >= 0 ? cfg->max_streams : strict ? 50 : 10000;
    out->max_pending = cfg->max_pending >= 0 ? cfg->max_pending : 1000;
    out->rate_per_s = cfg->stream_rate >= 0 ? cfg->stream_rate : strict ? 5 : 0;
    out->max_message = cfg->max_message_bytes >= 0 ? (size_t)cfg->max_message_bytes
                       : strict                    ? 65536
                                                   : 0;
    out->connection_memory =
        cfg->max_connection_memory >= 0 ? (size_t)cfg->max_connection_memory : 524288;
}
