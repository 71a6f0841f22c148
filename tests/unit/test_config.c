/* Unit tests of server/config.[ch]: the emulator's flags and environment variables.
 *
 * config_parse reads a getenv-like function, so the environment here is a small static table set
 * by each test; argv arrays are built in the test. */
#include "config.h"

#include "unit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* printf '0123456789abcdef0123456789abcdef' | base64: a valid 32-byte key. */
#define K1 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
/* printf 'secondary-key-secondary-key-32b!' | base64 */
#define K2 "c2Vjb25kYXJ5LWtleS1zZWNvbmRhcnkta2V5LTMyYiE="

#define MAX_ENV 8
#define MAX_ARGS 32

struct env_entry {
    const char *name, *value;
};

static struct env_entry env_table[MAX_ENV];
static size_t env_count;

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < env_count; i++) {
        if (strcmp(env_table[i].name, name) == 0)
            return env_table[i].value;
    }
    return NULL;
}

static void env_clear(void)
{
    env_count = 0;
}

static void env_set(const char *name, const char *value)
{
    ck_assert_uint_lt(env_count, MAX_ENV);
    env_table[env_count].name = name;
    env_table[env_count].value = value;
    env_count++;
}

/* config_parse with argv = {"iothub-emulator", args..., NULL}; the list of args ends with NULL. */
static ih_result parse(struct config *cfg, struct ih_diag *diag, ...)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)"iothub-emulator";
    va_list ap;
    va_start(ap, diag);
    for (const char *arg = va_arg(ap, const char *); arg != NULL; arg = va_arg(ap, const char *)) {
        ck_assert_int_lt(argc, MAX_ARGS);
        argv[argc++] = (char *)arg;
    }
    va_end(ap);
    argv[argc] = NULL;
    memset(diag->msg, 0, sizeof diag->msg);
    return config_parse(argc, argv, fake_getenv, cfg, diag);
}

/* Asserts the parse fails with r and its diag contains needle; the config comes back freed. */
#define ck_assert_refused(r, needle, ...)                                                          \
    do {                                                                                           \
        struct config cfg_;                                                                        \
        struct ih_diag diag_;                                                                      \
        ih_result r_ = parse(&cfg_, &diag_, __VA_ARGS__, NULL);                                    \
        ck_assert_msg(r_ == (r), "got %s, expected %s (diag '%s')", ih_result_name(r_),            \
                      ih_result_name(r), diag_.msg);                                               \
        ck_assert_msg(strstr(diag_.msg, (needle)) != NULL, "diag '%s' lacks '%s'", diag_.msg,      \
                      (needle));                                                                   \
        ck_assert_ptr_null(cfg_.state_dir);                                                        \
        ck_assert_ptr_null(cfg_.listen);                                                           \
        ck_assert_uint_eq(cfg_.host_name_count, 0);                                                \
    } while (0)

static void parse_ok(struct config *cfg, ...)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)"iothub-emulator";
    va_list ap;
    va_start(ap, cfg);
    for (const char *arg = va_arg(ap, const char *); arg != NULL; arg = va_arg(ap, const char *)) {
        ck_assert_int_lt(argc, MAX_ARGS);
        argv[argc++] = (char *)arg;
    }
    va_end(ap);
    argv[argc] = NULL;
    struct ih_diag diag = {{0}};
    ih_result r = config_parse(argc, argv, fake_getenv, cfg, &diag);
    ck_assert_msg(r == IH_OK, "config_parse: %s (%s)", ih_result_name(r), diag.msg);
}

static void setup(void)
{
    env_clear();
}

/* Rule D19: --quota and --fidelity strict's S1 values, each NAME overriding its own. */
START_TEST(quota_limits)
{
    struct config cfg;
    long long q[QUOTA_KIND_COUNT];
    parse_ok(&cfg, NULL);
    config_quota_limits(&cfg, q);
    for (int k = 0; k < QUOTA_KIND_COUNT; k++)
        ck_assert_int_eq(q[k], 0);
    config_free(&cfg);
    parse_ok(&cfg, "--fidelity", "strict", NULL);
    config_quota_limits(&cfg, q);
    ck_assert_int_eq(q[QUOTA_METHODS], 2400);
    ck_assert_int_eq(q[QUOTA_TWIN_READS], 6000);
    ck_assert_int_eq(q[QUOTA_TWIN_UPDATES], 3000);
    ck_assert_int_eq(q[QUOTA_C2D], 100);
    ck_assert_int_eq(q[QUOTA_D2C], 6000);
    ck_assert_int_eq(q[QUOTA_DAILY], 400000);
    config_free(&cfg);
    env_set("IOTHUB_EMULATOR_QUOTAS", "c2d=7,daily=0");
    parse_ok(&cfg, "--fidelity=strict", "--quota", "methods=1,twin-reads=2", "--quota=d2c=3", NULL);
    config_quota_limits(&cfg, q);
    ck_assert_int_eq(q[QUOTA_METHODS], 1);
    ck_assert_int_eq(q[QUOTA_TWIN_READS], 2);
    ck_assert_int_eq(q[QUOTA_TWIN_UPDATES], 3000);
    ck_assert_int_eq(q[QUOTA_C2D], 7);
    ck_assert_int_eq(q[QUOTA_D2C], 3);
    ck_assert_int_eq(q[QUOTA_DAILY], 0);
    ck_assert_str_eq(config_quota_name(QUOTA_TWIN_UPDATES), "twin-updates");
    config_free(&cfg);
    env_clear();
    ck_assert_refused(IH_ERR_SYNTAX, "NAME=N with NAME one of", "--quota", "methods");
    ck_assert_refused(IH_ERR_SYNTAX, "NAME=N with NAME one of", "--quota", "minutes=3");
    ck_assert_refused(IH_ERR_SYNTAX, "--quota c2d needs a whole number", "--quota", "c2d=-1");
    ck_assert_refused(IH_ERR_SYNTAX, "--quota daily needs a whole number", "--quota", "daily=");
}
END_TEST

/* --fidelity's limits, each flag overriding its own. */
START_TEST(stream_limits)
{
    struct config cfg;
    struct stream_limits l;
    parse_ok(&cfg, NULL);
    config_stream_limits(&cfg, &l);
    ck_assert_int_eq(l.max_streams, 10000);
    ck_assert_int_eq(l.max_pending, 1000);
    ck_assert_int_eq(l.rate_per_s, 0);
    ck_assert_uint_eq(l.max_message, 0);
    ck_assert_uint_eq(l.connection_memory, 524288);
    config_free(&cfg);
    parse_ok(&cfg, "--fidelity", "strict", NULL);
    config_stream_limits(&cfg, &l);
    ck_assert_int_eq(l.max_streams, 50);
    ck_assert_int_eq(l.rate_per_s, 5);
    ck_assert_uint_eq(l.max_message, 65536);
    config_free(&cfg);
    env_set("IOTHUB_EMULATOR_FIDELITY", "strict");
    parse_ok(&cfg, "--stream-rate", "0", "--max-streams", "7", "--max-message-bytes", "100",
             "--max-connection-memory", "65536", "--max-pending-handshakes", "3", NULL);
    config_stream_limits(&cfg, &l);
    ck_assert_int_eq(l.max_streams, 7);
    ck_assert_int_eq(l.max_pending, 3);
    ck_assert_int_eq(l.rate_per_s, 0);
    ck_assert_uint_eq(l.max_message, 100);
    ck_assert_uint_eq(l.connection_memory, 65536);
    config_free(&cfg);
    env_clear();
    ck_assert_refused(IH_ERR_SYNTAX, "relaxed or strict", "--fidelity", "exact");
    ck_assert_refused(IH_ERR_SYNTAX, "whole number", "--max-streams", "-1");
    ck_assert_refused(IH_ERR_SYNTAX, "whole number", "--stream-rate", "5000000000");
    ck_assert_refused(IH_ERR_SYNTAX, "at least 65536", "--max-connection-memory", "1000");
}
END_TEST

START_TEST(defaults)
{
    struct config cfg;
    parse_ok(&cfg, NULL);
    ck_assert_int_eq(cfg.https_port, 443);
    ck_assert_int_eq(cfg.http_port, CONFIG_PORT_OFF);
    ck_assert_int_eq(cfg.mqtts_port, 8883);
    ck_assert_int_eq(cfg.mqtt_port, CONFIG_PORT_OFF);
    ck_assert_int_eq(cfg.streams_port, 9443);
    ck_assert_int_eq(cfg.streams_plain_port, CONFIG_PORT_OFF);
    ck_assert_str_eq(cfg.listen, "127.0.0.1");
    ck_assert_str_eq(cfg.state_dir, "iothub-emulator-state");
    ck_assert_uint_eq(cfg.host_name_count, 1);
    ck_assert_str_eq(cfg.host_names[0], "127.0.0.1");
    ck_assert_uint_eq(cfg.device_count, 0);
    ck_assert_uint_eq(cfg.policy_key_count, 0);
    ck_assert_int_eq(cfg.ephemeral, 0);
    ck_assert_int_eq(cfg.trace, 0);
    ck_assert_ptr_null(cfg.ready_file);
    ck_assert_ptr_null(cfg.tls_cert);
    ck_assert_ptr_null(cfg.tls_key);
    ck_assert_ptr_null(cfg.tls_ca);
    ck_assert_int_eq(cfg.show_help, 0);
    ck_assert_int_eq(cfg.show_version, 0);
    ck_assert_uint_eq(cfg.warning_count, 0);
    config_free(&cfg);
    ck_assert_ptr_null(cfg.state_dir);
    ck_assert_uint_eq(cfg.host_name_count, 0);
}
END_TEST

START_TEST(flag_value_forms)
{
    struct config cfg;
    parse_ok(&cfg, "--https-port", "8443", "--http-port=8080", "--state-dir", "/tmp/s",
             "--ready-file=/tmp/ready.json", "--listen=0.0.0.0", "--mqtts-port", "18883",
             "--mqtt-port=1883", "--streams-port", "19443", "--streams-plain-port=9080", NULL);
    ck_assert_int_eq(cfg.https_port, 8443);
    ck_assert_int_eq(cfg.http_port, 8080);
    ck_assert_int_eq(cfg.mqtts_port, 18883);
    ck_assert_int_eq(cfg.mqtt_port, 1883);
    ck_assert_int_eq(cfg.streams_port, 19443);
    ck_assert_int_eq(cfg.streams_plain_port, 9080);
    ck_assert_str_eq(cfg.state_dir, "/tmp/s");
    ck_assert_str_eq(cfg.ready_file, "/tmp/ready.json");
    ck_assert_str_eq(cfg.listen, "0.0.0.0");
    config_free(&cfg);
    /* A value that itself holds '=' keeps everything after the first one. */
    parse_ok(&cfg, "--state-dir=/tmp/a=b", NULL);
    ck_assert_str_eq(cfg.state_dir, "/tmp/a=b");
    config_free(&cfg);
    /* The last of a repeated single-value flag wins. */
    parse_ok(&cfg, "--state-dir", "one", "--state-dir", "two", NULL);
    ck_assert_str_eq(cfg.state_dir, "two");
    config_free(&cfg);
}
END_TEST

START_TEST(port_values)
{
    struct config cfg;
    parse_ok(&cfg, "--https-port", "0", "--mqtts-port", "off", "--http-port", "65535",
             "--streams-port=1", NULL);
    ck_assert_int_eq(cfg.https_port, 0);
    ck_assert_int_eq(cfg.mqtts_port, CONFIG_PORT_OFF);
    ck_assert_int_eq(cfg.http_port, 65535);
    ck_assert_int_eq(cfg.streams_port, 1);
    config_free(&cfg);
    parse_ok(&cfg, "--https-port", "off", "--http-port", "8080", NULL);
    ck_assert_int_eq(cfg.https_port, CONFIG_PORT_OFF);
    ck_assert_int_eq(cfg.http_port, 8080);
    config_free(&cfg);
}
END_TEST

START_TEST(port_errors)
{
    ck_assert_refused(IH_ERR_SYNTAX, "--https-port", "--https-port", "65536");
    ck_assert_refused(IH_ERR_SYNTAX, "--https-port", "--https-port", "-1");
    ck_assert_refused(IH_ERR_SYNTAX, "--https-port", "--https-port", "abc");
    ck_assert_refused(IH_ERR_SYNTAX, "--https-port", "--https-port", "");
    ck_assert_refused(IH_ERR_SYNTAX, "--https-port", "--https-port=");
    ck_assert_refused(IH_ERR_SYNTAX, "--mqtt-port", "--mqtt-port", "123456");
    ck_assert_refused(IH_ERR_SYNTAX, "--streams-port", "--streams-port", "80x");
    ck_assert_refused(IH_ERR_SYNTAX, "'65536'", "--http-port=65536");
    /* The environment's errors name the variable. */
    env_set("IOTHUB_EMULATOR_MQTTS_PORT", "99999");
    ck_assert_refused(IH_ERR_SYNTAX, "IOTHUB_EMULATOR_MQTTS_PORT", "--trace");
    env_clear();
    env_set("IOTHUB_EMULATOR_HTTPS_PORT", "");
    ck_assert_refused(IH_ERR_SYNTAX, "IOTHUB_EMULATOR_HTTPS_PORT", "--trace");
}
END_TEST

START_TEST(environment_values)
{
    env_set("IOTHUB_EMULATOR_HTTPS_PORT", "1111");
    env_set("IOTHUB_EMULATOR_HTTP_PORT", "off");
    env_set("IOTHUB_EMULATOR_STATE_DIR", "/env/state");
    env_set("IOTHUB_EMULATOR_LISTEN", "::");
    env_set("IOTHUB_EMULATOR_READY_FILE", "/env/ready");
    env_set("IOTHUB_EMULATOR_STREAMS_PLAIN_PORT", "0");
    struct config cfg;
    parse_ok(&cfg, NULL);
    ck_assert_int_eq(cfg.https_port, 1111);
    ck_assert_int_eq(cfg.http_port, CONFIG_PORT_OFF);
    ck_assert_int_eq(cfg.streams_plain_port, 0);
    ck_assert_str_eq(cfg.state_dir, "/env/state");
    ck_assert_str_eq(cfg.listen, "::");
    ck_assert_str_eq(cfg.ready_file, "/env/ready");
    config_free(&cfg);
}
END_TEST

START_TEST(flag_beats_environment)
{
    env_set("IOTHUB_EMULATOR_HTTPS_PORT", "1111");
    env_set("IOTHUB_EMULATOR_STATE_DIR", "/env/state");
    env_set("IOTHUB_EMULATOR_TRACE", "1");
    env_set("IOTHUB_EMULATOR_LISTEN", "not an address");
    struct config cfg;
    parse_ok(&cfg, "--https-port", "2222", "--state-dir=/flag/state", "--trace=0", "--listen",
             "::1", NULL);
    ck_assert_int_eq(cfg.https_port, 2222);
    ck_assert_str_eq(cfg.state_dir, "/flag/state");
    ck_assert_int_eq(cfg.trace, 0);
    ck_assert_str_eq(cfg.listen, "::1");
    config_free(&cfg);
}
END_TEST

START_TEST(host_names_from_environment_and_flags)
{
    env_set("IOTHUB_EMULATOR_HOST_NAMES", "hub.example,,10.0.0.5");
    struct config cfg;
    parse_ok(&cfg, "--host-name", "other.example", "--host-name=third.example", NULL);
    ck_assert_uint_eq(cfg.host_name_count, 4);
    ck_assert_str_eq(cfg.host_names[0], "hub.example");
    ck_assert_str_eq(cfg.host_names[1], "10.0.0.5");
    ck_assert_str_eq(cfg.host_names[2], "other.example");
    ck_assert_str_eq(cfg.host_names[3], "third.example");
    ck_assert_uint_eq(cfg.warning_count, 0);
    config_free(&cfg);
    /* Names given: the default 127.0.0.1 is not added. */
    env_clear();
    parse_ok(&cfg, "--host-name", "hub.example", NULL);
    ck_assert_uint_eq(cfg.host_name_count, 1);
    ck_assert_str_eq(cfg.host_names[0], "hub.example");
    config_free(&cfg);
}
END_TEST

START_TEST(host_names_collapse_case_insensitively)
{
    env_set("IOTHUB_EMULATOR_HOST_NAMES", "Hub.Example,hub.example");
    struct config cfg;
    parse_ok(&cfg, "--host-name", "HUB.EXAMPLE", "--host-name", "127.0.0.1", "--host-name",
             "127.0.0.1", NULL);
    ck_assert_uint_eq(cfg.host_name_count, 2);
    ck_assert_str_eq(cfg.host_names[0], "Hub.Example");
    ck_assert_str_eq(cfg.host_names[1], "127.0.0.1");
    config_free(&cfg);
}
END_TEST

START_TEST(host_name_errors)
{
    ck_assert_refused(IH_ERR_SYNTAX, "bad_name", "--host-name", "bad_name");
    ck_assert_refused(IH_ERR_SYNTAX, "host name", "--host-name", "");
    ck_assert_refused(IH_ERR_SYNTAX, "host name", "--host-name", "a b");
    env_set("IOTHUB_EMULATOR_HOST_NAMES", "ok.example, spaced.example");
    ck_assert_refused(IH_ERR_SYNTAX, "spaced.example", "--trace");
}
END_TEST

START_TEST(first_host_name_without_dot_warns_once)
{
    struct config cfg;
    parse_ok(&cfg, "--host-name", "localhost", "--host-name", "127.0.0.1", NULL);
    ck_assert_uint_eq(cfg.warning_count, 1);
    ck_assert_ptr_nonnull(strstr(cfg.warnings[0], "--host-name"));
    config_free(&cfg);
    parse_ok(&cfg, "--host-name", "127.0.0.1", "--host-name", "localhost", NULL);
    ck_assert_uint_eq(cfg.warning_count, 0);
    config_free(&cfg);
}
END_TEST

START_TEST(device_seeds)
{
    env_set("IOTHUB_EMULATOR_DEVICES", "env1,env2:" K2);
    struct config cfg;
    parse_ok(&cfg, "--device", "dev1", "--device=dev2:" K1, "--device", "a:b", "--device",
             "x:y:" K1, NULL);
    ck_assert_uint_eq(cfg.device_count, 6);
    ck_assert_str_eq(cfg.devices[0].id, "env1");
    ck_assert_ptr_null(cfg.devices[0].key);
    ck_assert_str_eq(cfg.devices[1].id, "env2");
    ck_assert_str_eq(cfg.devices[1].key, K2);
    ck_assert_str_eq(cfg.devices[2].id, "dev1");
    ck_assert_ptr_null(cfg.devices[2].key);
    ck_assert_str_eq(cfg.devices[3].id, "dev2");
    ck_assert_str_eq(cfg.devices[3].key, K1);
    /* "b" is not a key, so the whole text is the id (ids may contain ':'). */
    ck_assert_str_eq(cfg.devices[4].id, "a:b");
    ck_assert_ptr_null(cfg.devices[4].key);
    /* Only the text after the last ':' can be the key. */
    ck_assert_str_eq(cfg.devices[5].id, "x:y");
    ck_assert_str_eq(cfg.devices[5].key, K1);
    config_free(&cfg);
}
END_TEST

START_TEST(device_errors)
{
    ck_assert_refused(IH_ERR_SYNTAX, "--device", "--device", "bad id");
    ck_assert_refused(IH_ERR_SYNTAX, "--device", "--device", "a/b");
    ck_assert_refused(IH_ERR_SYNTAX, "--device", "--device", "..");
    /* A key with no id before it. */
    ck_assert_refused(IH_ERR_SYNTAX, "--device", "--device", ":" K1);
    ck_assert_refused(IH_ERR_MISSING, "--device", "--device");
}
END_TEST

START_TEST(policy_keys)
{
    env_set("IOTHUB_EMULATOR_POLICY_KEYS", "service=" K1 ",registryRead=" K2);
    struct config cfg;
    parse_ok(&cfg, "--policy-key", "iothubowner=" K2, NULL);
    ck_assert_uint_eq(cfg.policy_key_count, 3);
    ck_assert_str_eq(cfg.policy_keys[0].policy, "service");
    ck_assert_str_eq(cfg.policy_keys[0].key, K1);
    ck_assert_str_eq(cfg.policy_keys[1].policy, "registryRead");
    ck_assert_str_eq(cfg.policy_keys[1].key, K2);
    ck_assert_str_eq(cfg.policy_keys[2].policy, "iothubowner");
    ck_assert_str_eq(cfg.policy_keys[2].key, K2);
    config_free(&cfg);
}
END_TEST

START_TEST(policy_key_errors)
{
    ck_assert_refused(IH_ERR_SYNTAX, "--policy-key", "--policy-key", "service");
    ck_assert_refused(IH_ERR_SYNTAX, "--policy-key", "--policy-key", "=" K1);
    ck_assert_refused(IH_ERR_KEY, "--policy-key service", "--policy-key", "service=notakey!");
    ck_assert_refused(IH_ERR_KEY, "--policy-key", "--policy-key", "service=");
    /* base64 of 8 bytes: too short for a key. */
    ck_assert_refused(IH_ERR_KEY, "--policy-key", "--policy-key", "service=MDEyMzQ1Njc=");
    env_set("IOTHUB_EMULATOR_POLICY_KEYS", "service=" K1 ",broken");
    ck_assert_refused(IH_ERR_SYNTAX, "POLICY=KEY", "--trace");
    env_clear();
    /* A value without '=' may be a bare key: the message never quotes it. */
    struct config cfg;
    struct ih_diag diag = {{0}};
    char *argv[] = {"iothub-emulator", "--policy-key", K1, NULL};
    ck_assert_int_ne(config_parse(3, argv, fake_getenv, &cfg, &diag), IH_OK);
    ck_assert_ptr_null(strstr(diag.msg, K1));
    /* A secondary key may follow the primary after ':'; it is checked too. */
    ck_assert_refused(IH_ERR_KEY, "--policy-key service", "--policy-key",
                      "service=" K1 ":notakey!");
}
END_TEST

START_TEST(boolean_flags)
{
    struct config cfg;
    parse_ok(&cfg, "--ephemeral", "--trace", NULL);
    ck_assert_int_eq(cfg.ephemeral, 1);
    ck_assert_int_eq(cfg.trace, 1);
    config_free(&cfg);
    parse_ok(&cfg, "--ephemeral=true", "--trace=1", NULL);
    ck_assert_int_eq(cfg.ephemeral, 1);
    ck_assert_int_eq(cfg.trace, 1);
    config_free(&cfg);
    parse_ok(&cfg, "--ephemeral=0", "--trace=false", NULL);
    ck_assert_int_eq(cfg.ephemeral, 0);
    ck_assert_int_eq(cfg.trace, 0);
    config_free(&cfg);
}
END_TEST

START_TEST(boolean_environment)
{
    static const char *const on[] = {"1", "true"};
    static const char *const off[] = {"0", "false"};
    struct config cfg;
    for (size_t i = 0; i < 2; i++) {
        env_clear();
        env_set("IOTHUB_EMULATOR_EPHEMERAL", on[i]);
        env_set("IOTHUB_EMULATOR_TRACE", on[i]);
        parse_ok(&cfg, NULL);
        ck_assert_int_eq(cfg.ephemeral, 1);
        ck_assert_int_eq(cfg.trace, 1);
        config_free(&cfg);
        env_clear();
        env_set("IOTHUB_EMULATOR_EPHEMERAL", off[i]);
        env_set("IOTHUB_EMULATOR_TRACE", off[i]);
        parse_ok(&cfg, NULL);
        ck_assert_int_eq(cfg.ephemeral, 0);
        ck_assert_int_eq(cfg.trace, 0);
        config_free(&cfg);
    }
    /* The flag turns on what the environment turned off. */
    env_clear();
    env_set("IOTHUB_EMULATOR_TRACE", "0");
    parse_ok(&cfg, "--trace", NULL);
    ck_assert_int_eq(cfg.trace, 1);
    config_free(&cfg);
}
END_TEST

START_TEST(boolean_errors)
{
    ck_assert_refused(IH_ERR_SYNTAX, "--trace", "--trace=maybe");
    ck_assert_refused(IH_ERR_SYNTAX, "--ephemeral", "--ephemeral=2");
    env_set("IOTHUB_EMULATOR_TRACE", "on");
    ck_assert_refused(IH_ERR_SYNTAX, "IOTHUB_EMULATOR_TRACE", "--ephemeral");
    env_clear();
    env_set("IOTHUB_EMULATOR_EPHEMERAL", "TRUE!");
    ck_assert_refused(IH_ERR_SYNTAX, "IOTHUB_EMULATOR_EPHEMERAL", "--trace");
}
END_TEST

START_TEST(tls_files_go_together)
{
    ck_assert_refused(IH_ERR_MISSING, "--tls-key", "--tls-cert", "cert.pem");
    ck_assert_refused(IH_ERR_MISSING, "--tls-cert", "--tls-key", "key.pem");
    ck_assert_refused(IH_ERR_MISSING, "--tls-ca", "--tls-ca", "ca.pem");
    struct config cfg;
    parse_ok(&cfg, "--tls-cert", "cert.pem", "--tls-key=key.pem", NULL);
    ck_assert_str_eq(cfg.tls_cert, "cert.pem");
    ck_assert_str_eq(cfg.tls_key, "key.pem");
    ck_assert_ptr_null(cfg.tls_ca);
    config_free(&cfg);
    env_set("IOTHUB_EMULATOR_TLS_CA", "ca.pem");
    parse_ok(&cfg, "--tls-cert", "cert.pem", "--tls-key=key.pem", NULL);
    ck_assert_str_eq(cfg.tls_ca, "ca.pem");
    config_free(&cfg);
}
END_TEST

START_TEST(listen_must_be_an_ip_literal)
{
    static const char *const good[] = {"::1", "0.0.0.0", "::", "10.1.2.3", "fe80::1"};
    struct config cfg;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        parse_ok(&cfg, "--listen", good[i], NULL);
        ck_assert_str_eq(cfg.listen, good[i]);
        config_free(&cfg);
    }
    ck_assert_refused(IH_ERR_SYNTAX, "--listen", "--listen", "localhost");
    ck_assert_refused(IH_ERR_SYNTAX, "--listen", "--listen", "");
    ck_assert_refused(IH_ERR_SYNTAX, "--listen", "--listen", "256.0.0.1");
    ck_assert_refused(IH_ERR_SYNTAX, "--listen", "--listen", "[::1]");
}
END_TEST

START_TEST(main_endpoint_needs_a_port)
{
    ck_assert_refused(IH_ERR_MISSING, "--https-port", "--https-port", "off");
    ck_assert_refused(IH_ERR_MISSING, "--http-port", "--https-port", "off", "--http-port", "off");
    env_set("IOTHUB_EMULATOR_HTTPS_PORT", "off");
    ck_assert_refused(IH_ERR_MISSING, "--https-port", "--trace");
}
END_TEST

START_TEST(help_and_version_skip_validation)
{
    struct config cfg;
    parse_ok(&cfg, "--help", "--listen", "localhost", "--https-port", "off", NULL);
    ck_assert_int_eq(cfg.show_help, 1);
    ck_assert_int_eq(cfg.show_version, 0);
    config_free(&cfg);
    parse_ok(&cfg, "--tls-cert", "only.pem", "--version", NULL);
    ck_assert_int_eq(cfg.show_help, 0);
    ck_assert_int_eq(cfg.show_version, 1);
    config_free(&cfg);
    /* Help answers whatever else is wrong: an unknown option, a bad environment value. */
    parse_ok(&cfg, "--help", "--nope", NULL);
    ck_assert_int_eq(cfg.show_help, 1);
    config_free(&cfg);
    env_set("IOTHUB_EMULATOR_HTTPS_PORT", "abc");
    parse_ok(&cfg, "--version", NULL);
    ck_assert_int_eq(cfg.show_version, 1);
    config_free(&cfg);
}
END_TEST

START_TEST(unknown_options_refused)
{
    ck_assert_refused(IH_ERR_SYNTAX, "--nope", "--nope");
    ck_assert_refused(IH_ERR_SYNTAX, "--https", "--https=443");
    ck_assert_refused(IH_ERR_SYNTAX, "--https-portx", "--https-portx", "1");
    ck_assert_refused(IH_ERR_SYNTAX, "-h", "-h");
    ck_assert_refused(IH_ERR_SYNTAX, "stray", "stray");
    /* A boolean flag takes no separate value: the next word is an argument of its own. */
    ck_assert_refused(IH_ERR_SYNTAX, "'0'", "--trace", "0");
}
END_TEST

START_TEST(missing_value_refused)
{
    ck_assert_refused(IH_ERR_MISSING, "--state-dir", "--state-dir");
    ck_assert_refused(IH_ERR_MISSING, "--https-port", "--trace", "--https-port");
    ck_assert_refused(IH_ERR_MISSING, "--policy-key", "--policy-key");
    ck_assert_refused(IH_ERR_MISSING, "--host-name", "--host-name");
}
END_TEST

START_TEST(usage_mentions_every_flag_and_variable)
{
    static const char *const names[] = {
        "--state-dir",
        "IOTHUB_EMULATOR_STATE_DIR",
        "--ephemeral",
        "IOTHUB_EMULATOR_EPHEMERAL",
        "--listen",
        "IOTHUB_EMULATOR_LISTEN",
        "--host-name",
        "IOTHUB_EMULATOR_HOST_NAMES",
        "--https-port",
        "IOTHUB_EMULATOR_HTTPS_PORT",
        "--http-port",
        "IOTHUB_EMULATOR_HTTP_PORT",
        "--mqtts-port",
        "IOTHUB_EMULATOR_MQTTS_PORT",
        "--mqtt-port",
        "IOTHUB_EMULATOR_MQTT_PORT",
        "--streams-port",
        "IOTHUB_EMULATOR_STREAMS_PORT",
        "--streams-plain-port",
        "IOTHUB_EMULATOR_STREAMS_PLAIN_PORT",
        "--device",
        "IOTHUB_EMULATOR_DEVICES",
        "--policy-key",
        "IOTHUB_EMULATOR_POLICY_KEYS",
        "--trace",
        "IOTHUB_EMULATOR_TRACE",
        "--ready-file",
        "IOTHUB_EMULATOR_READY_FILE",
        "--tls-cert",
        "IOTHUB_EMULATOR_TLS_CERT",
        "--tls-key",
        "IOTHUB_EMULATOR_TLS_KEY",
        "--tls-ca",
        "IOTHUB_EMULATOR_TLS_CA",
        "--help",
        "--version",
    };
    const char *usage = config_usage();
    ck_assert_ptr_nonnull(usage);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(strstr(usage, names[i]) != NULL, "usage lacks %s", names[i]);
    /* The defaults are stated. */
    ck_assert_ptr_nonnull(strstr(usage, "443"));
    ck_assert_ptr_nonnull(strstr(usage, "8883"));
    ck_assert_ptr_nonnull(strstr(usage, "9443"));
    /* The whole text fits (it ends with its last paragraph). */
    ck_assert_ptr_nonnull(strstr(usage, "PORT is a number"));
    /* Cached: the same text twice. */
    ck_assert_ptr_eq(config_usage(), usage);
}
END_TEST

START_TEST(port_text)
{
    char buf[16];
    ck_assert_str_eq(config_port_text(CONFIG_PORT_OFF, buf), "off");
    ck_assert_str_eq(config_port_text(0, buf), "any free port");
    ck_assert_str_eq(config_port_text(443, buf), "443");
    ck_assert_str_eq(config_port_text(65535, buf), "65535");
}
END_TEST

/* Everything a config can own, freed by config_free (the ASan run checks for leaks). */
START_TEST(free_everything)
{
    env_set("IOTHUB_EMULATOR_DEVICES", "e1:" K1 ",e2");
    env_set("IOTHUB_EMULATOR_POLICY_KEYS", "service=" K1);
    env_set("IOTHUB_EMULATOR_HOST_NAMES", "a.example,b.example");
    struct config cfg;
    parse_ok(&cfg, "--state-dir", "s", "--listen", "::1", "--ready-file", "r", "--tls-cert", "c",
             "--tls-key", "k", "--tls-ca", "ca", "--device", "d:" K2, "--policy-key", "device=" K2,
             "--host-name", "c.example", NULL);
    ck_assert_uint_eq(cfg.device_count, 3);
    ck_assert_uint_eq(cfg.policy_key_count, 2);
    ck_assert_uint_eq(cfg.host_name_count, 3);
    config_free(&cfg);
    ck_assert_ptr_null(cfg.tls_ca);
    ck_assert_uint_eq(cfg.device_count, 0);
    /* A failure after lists were filled frees them too. */
    ck_assert_refused(IH_ERR_SYNTAX, "--nope", "--device", "d2", "--host-name", "x.example",
                      "--nope");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, stream_limits);
    tcase_add_test(tc, quota_limits);
    tcase_add_test(tc, flag_value_forms);
    tcase_add_test(tc, port_values);
    tcase_add_test(tc, port_errors);
    tcase_add_test(tc, environment_values);
    tcase_add_test(tc, flag_beats_environment);
    tcase_add_test(tc, host_names_from_environment_and_flags);
    tcase_add_test(tc, host_names_collapse_case_insensitively);
    tcase_add_test(tc, host_name_errors);
    tcase_add_test(tc, first_host_name_without_dot_warns_once);
    tcase_add_test(tc, device_seeds);
    tcase_add_test(tc, device_errors);
    tcase_add_test(tc, policy_keys);
    tcase_add_test(tc, policy_key_errors);
    tcase_add_test(tc, boolean_flags);
    tcase_add_test(tc, boolean_environment);
    tcase_add_test(tc, boolean_errors);
    tcase_add_test(tc, tls_files_go_together);
    tcase_add_test(tc, listen_must_be_an_ip_literal);
    tcase_add_test(tc, main_endpoint_needs_a_port);
    tcase_add_test(tc, help_and_version_skip_validation);
    tcase_add_test(tc, unknown_options_refused);
    tcase_add_test(tc, missing_value_refused);
    tcase_add_test(tc, usage_mentions_every_flag_and_variable);
    tcase_add_test(tc, port_text);
    tcase_add_test(tc, free_everything);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(config_suite());
}
