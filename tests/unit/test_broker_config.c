/* Unit tests of server/broker_config.[ch]: the mosquitto.conf the emulator writes for its broker
 * child, which loads the emulator's plugin and always has a plain listener (mosquitto will not
 * start with a WebSockets listener alone). */
#include "broker_config.h"

#include "config.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const two_hosts[] = {"emuhub.azure-devices.net", "127.0.0.1"};

/* Every port on, every path set. */
static struct broker_settings full_settings(void)
{
    struct broker_settings s = {
        .listen = "127.0.0.1",
        .mqtts_port = 8883,
        .mqtt_port = 1883,
        .mqtt_ws_port = 8443,
        .hub_socket = "/state/broker.sock",
        .cert_path = "/state/cert.pem",
        .key_path = "/state/key.pem",
        .plugin_path = "/usr/lib/iothub-emulator/iothub_mosquitto_plugin.so",
        .registry_path = "/state/registry.db",
        .telemetry_path = "/state/telemetry.db",
        .telemetry_keep = 100000,
        .hub_secret = "0123456789abcdef",
        .hosts = two_hosts,
        .host_count = 2,
        .keep_root = 0,
    };
    return s;
}

static char *text_of(const struct broker_settings *s)
{
    char *text = NULL;
    ck_assert_int_eq(broker_config_text(s, &text), 0);
    ck_assert_ptr_nonnull(text);
    return text;
}

/* The line as a whole line of text, or NULL. */
static const char *find_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '\n');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == len && memcmp(p, line, len) == 0)
            return p;
        p = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

static void check_has_line(const char *text, const char *line)
{
    ck_assert_msg(find_line(text, line) != NULL, "no line '%s' in:\n%s", line, text);
}

static void check_lacks_line(const char *text, const char *line)
{
    ck_assert_msg(find_line(text, line) == NULL, "unexpected line '%s' in:\n%s", line, text);
}

/* Lines starting with prefix. */
static int count_lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, prefix, len) == 0)
            n++;
        const char *end = strchr(p, '\n');
        p = end != NULL ? end + 1 : NULL;
    }
    return n;
}

/* The block that follows the "listener ..." line up to the next blank line or listener, copied
 * into out (without the listener line). */
static void listener_block(const char *text, const char *listener_line, char *out, size_t cap)
{
    const char *p = find_line(text, listener_line);
    ck_assert_msg(p != NULL, "no line '%s' in:\n%s", listener_line, text);
    p = strchr(p, '\n');
    ck_assert_ptr_nonnull(p);
    p++;
    size_t n = 0;
    while (*p != '\0' && *p != '\n' && strncmp(p, "listener ", 9) != 0 &&
           strncmp(p, "plugin", 6) != 0) {
        const char *end = strchr(p, '\n');
        size_t len = end != NULL ? (size_t)(end - p) + 1 : strlen(p);
        ck_assert_uint_lt(n + len, cap);
        memcpy(out + n, p, len);
        n += len;
        p += len;
    }
    out[n] = '\0';
}

START_TEST(global_settings)
{
    struct broker_settings s = full_settings();
    char *text = text_of(&s);
    check_has_line(text, "per_listener_settings false");
    check_has_line(text, "set_tcp_nodelay true");
    check_has_line(text, "persistence false");
    check_has_line(text, "allow_anonymous false");
    /* 256 KiB of message, the longest topic, a packet id, MQTT 5 properties, the fixed header. */
    check_has_line(text, "max_packet_size 328712");
    check_has_line(text, "log_type information");
    check_has_line(text, "listener 0 /state/broker.sock");
    check_has_line(text, "plugin /usr/lib/iothub-emulator/iothub_mosquitto_plugin.so");
    check_has_line(text, "plugin_opt_registry /state/registry.db");
    check_has_line(text, "plugin_opt_telemetry /state/telemetry.db");
    check_has_line(text, "plugin_opt_telemetry_keep 100000");
    check_has_line(text, "plugin_opt_hub_secret 0123456789abcdef");
    check_has_line(text, "plugin_opt_hosts emuhub.azure-devices.net,127.0.0.1");
    /* Rule D19: no quota options unless a quota is set. */
    ck_assert_int_eq(count_lines_starting(text, "plugin_opt_d2c_per_minute "), 0);
    ck_assert_int_eq(count_lines_starting(text, "plugin_opt_daily_quota "), 0);
    ck_assert_int_eq(count_lines_starting(text, "plugin_opt_quota "), 0);
    check_lacks_line(text, "allow_anonymous true");
    check_lacks_line(text, "persistence true");
    /* Each setting appears once. */
    ck_assert_int_eq(count_lines_starting(text, "allow_anonymous "), 1);
    ck_assert_int_eq(count_lines_starting(text, "per_listener_settings "), 1);
    ck_assert_int_eq(count_lines_starting(text, "plugin "), 1);
    ck_assert_int_eq(count_lines_starting(text, "plugin_opt_hosts "), 1);
    /* The global settings precede every listener (per_listener_settings must come first). */
    ck_assert(find_line(text, "per_listener_settings false") < strstr(text, "listener "));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    free(text);
}
END_TEST

/* Rule D19: the telemetry throttle and the daily quota reach the plugin. */
START_TEST(quotas_for_the_plugin)
{
    struct broker_settings s = full_settings();
    s.d2c_per_minute = 6000;
    s.daily_quota = 400000;
    s.quota_path = "/state/quota.db";
    char *text = text_of(&s);
    check_has_line(text, "plugin_opt_d2c_per_minute 6000");
    check_has_line(text, "plugin_opt_daily_quota 400000");
    check_has_line(text, "plugin_opt_quota /state/quota.db");
    free(text);
    s.quota_path = "/state/quota\n.db";
    char *bad = NULL;
    ck_assert_int_eq(broker_config_text(&s, &bad), -1);
}
END_TEST

START_TEST(user_root_only_when_keep_root)
{
    struct broker_settings s = full_settings();
    char *text = text_of(&s);
    ck_assert_int_eq(count_lines_starting(text, "user "), 0);
    free(text);
    s.keep_root = 1;
    text = text_of(&s);
    check_has_line(text, "user root");
    ck_assert_int_eq(count_lines_starting(text, "user "), 1);
    free(text);
}
END_TEST

START_TEST(listeners_for_every_port)
{
    struct broker_settings s = full_settings();
    char *text = text_of(&s);
    char block[512];
    ck_assert_int_eq(count_lines_starting(text, "listener "), 4);

    /* Devices' listeners grant at most QoS 1 (docs/protocol.md rule D15); the hub's does not
     * need to. */
    listener_block(text, "listener 8883 127.0.0.1", block, sizeof block);
    ck_assert_str_eq(block, "max_qos 1\ncertfile /state/cert.pem\nkeyfile /state/key.pem\n");

    listener_block(text, "listener 8443 127.0.0.1", block, sizeof block);
    ck_assert_str_eq(block, "max_qos 1\nprotocol websockets\ncertfile /state/cert.pem\nkeyfile "
                            "/state/key.pem\n");

    listener_block(text, "listener 1883 127.0.0.1", block, sizeof block);
    ck_assert_str_eq(block, "max_qos 1\n");

    listener_block(text, "listener 0 /state/broker.sock", block, sizeof block);
    ck_assert_str_eq(block, "");
    ck_assert_int_eq(count_lines_starting(text, "protocol "), 1);
    ck_assert_int_eq(count_lines_starting(text, "certfile "), 2);
    ck_assert_int_eq(count_lines_starting(text, "keyfile "), 2);
    free(text);
}
END_TEST

START_TEST(listen_address_used)
{
    struct broker_settings s = full_settings();
    s.listen = "0.0.0.0";
    char *text = text_of(&s);
    check_has_line(text, "listener 8883 0.0.0.0");
    check_has_line(text, "listener 8443 0.0.0.0");
    check_has_line(text, "listener 1883 0.0.0.0");
    /* The hub's socket is not on the device address. */
    check_has_line(text, "listener 0 /state/broker.sock");
    free(text);
}
END_TEST

START_TEST(ports_off_give_no_listener)
{
    struct broker_settings s = full_settings();
    s.mqtt_port = CONFIG_PORT_OFF;
    s.mqtt_ws_port = CONFIG_PORT_OFF;
    char *text = text_of(&s);
    ck_assert_int_eq(count_lines_starting(text, "listener "), 2);
    check_has_line(text, "listener 8883 127.0.0.1");
    ck_assert_int_eq(count_lines_starting(text, "protocol "), 0);
    free(text);

    s = full_settings();
    s.mqtts_port = CONFIG_PORT_OFF;
    text = text_of(&s);
    ck_assert_int_eq(count_lines_starting(text, "listener "), 3);
    check_lacks_line(text, "listener 8883 127.0.0.1");
    char block[512];
    listener_block(text, "listener 8443 127.0.0.1", block, sizeof block);
    ck_assert_str_eq(block, "max_qos 1\nprotocol websockets\ncertfile /state/cert.pem\nkeyfile "
                            "/state/key.pem\n");
    free(text);

    /* Everything off: only the hub's own listener, and no TLS files. */
    s.mqtt_port = CONFIG_PORT_OFF;
    s.mqtt_ws_port = CONFIG_PORT_OFF;
    text = text_of(&s);
    ck_assert_int_eq(count_lines_starting(text, "listener "), 1);
    check_has_line(text, "listener 0 /state/broker.sock");
    ck_assert_int_eq(count_lines_starting(text, "certfile "), 0);
    ck_assert_int_eq(count_lines_starting(text, "keyfile "), 0);
    ck_assert_ptr_null(strstr(text, "-1"));
    free(text);
}
END_TEST

START_TEST(hosts_comma_joined)
{
    static const char *const one[] = {"emuhub.azure-devices.net"};
    static const char *const three[] = {"a.b", "localhost", "10.0.0.1"};
    struct broker_settings s = full_settings();
    s.hosts = one;
    s.host_count = 1;
    char *text = text_of(&s);
    check_has_line(text, "plugin_opt_hosts emuhub.azure-devices.net");
    free(text);
    s.hosts = three;
    s.host_count = 3;
    text = text_of(&s);
    check_has_line(text, "plugin_opt_hosts a.b,localhost,10.0.0.1");
    free(text);
}
END_TEST

/* Sets one string field of a full settings to value and expects a refusal. */
static void check_refused(size_t field, const char *value)
{
    struct broker_settings s = full_settings();
    const char **fields[] = {&s.listen,      &s.hub_socket,    &s.cert_path, &s.key_path,
                             &s.plugin_path, &s.registry_path, &s.hub_secret};
    ck_assert_uint_lt(field, sizeof fields / sizeof fields[0]);
    *fields[field] = value;
    char *text = NULL;
    int r = broker_config_text(&s, &text);
    ck_assert_msg(r == -1, "field %zu = '%s': got %d, expected -1", field, value, r);
    ck_assert_ptr_null(text);
}

START_TEST(newline_refused)
{
    for (size_t field = 0; field < 7; field++) {
        check_refused(field, "a\nuser root");
        check_refused(field, "a\n");
        check_refused(field, "\n");
        check_refused(field, "a\rb");
    }
}
END_TEST

START_TEST(newline_in_a_host_refused)
{
    static const char *const injected[] = {"emuhub.azure-devices.net", "x\nallow_anonymous true"};
    struct broker_settings s = full_settings();
    s.hosts = injected;
    s.host_count = 2;
    char *text = NULL;
    int r = broker_config_text(&s, &text);
    /* Freed before the assertion, which does not return under CK_FORK=no. */
    int injected_line = text != NULL && find_line(text, "allow_anonymous true") != NULL;
    free(text);
    ck_assert_msg(r == -1, "a host with a newline: got %d, expected -1 (%s)", r,
                  injected_line ? "the text holds the injected line 'allow_anonymous true'"
                                : "no injected line");
}
END_TEST

static Suite *broker_config_suite(void)
{
    Suite *s = suite_create("broker_config");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, global_settings);
    tcase_add_test(tc, quotas_for_the_plugin);
    tcase_add_test(tc, user_root_only_when_keep_root);
    tcase_add_test(tc, listeners_for_every_port);
    tcase_add_test(tc, listen_address_used);
    tcase_add_test(tc, ports_off_give_no_listener);
    tcase_add_test(tc, hosts_comma_joined);
    tcase_add_test(tc, newline_refused);
    tcase_add_test(tc, newline_in_a_host_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(broker_config_suite());
}
