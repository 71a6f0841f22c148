#include "broker_config.h"

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct text {
    char *buf;
    size_t len, cap;
    int failed;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->failed || n < 0)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *grown = realloc(t->buf, cap);
        if (grown == NULL) {
            t->failed = 1;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A devices' listener. docs/protocol.md rule D15: SUBACK grants at most QoS 1 (a listener's
 * setting in mosquitto), and a QoS 2 PUBLISH closes the connection (rule D11). */
static void add_listener(struct text *t, const struct broker_settings *s, int port)
{
    add(t, "\nlistener %d %s\nmax_qos 1\n", port, s->listen);
}

static void add_tls_listener(struct text *t, const struct broker_settings *s, int port,
                             int websockets)
{
    add_listener(t, s, port);
    if (websockets) /* mosquitto ignores the path; clients use /$iothub/websocket */
        add(t, "protocol websockets\n");
    add(t, "certfile %s\nkeyfile %s\n", s->cert_path, s->key_path);
}

static int has_newline(const struct broker_settings *s)
{
    const char *values[] = {s->listen,         s->hub_socket,  s->cert_path,
                            s->key_path,       s->plugin_path, s->registry_path,
                            s->telemetry_path, s->hub_secret,  s->quota_path};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        if (values[i] != NULL && strpbrk(values[i], "\r\n") != NULL)
            return 1;
    }
    for (size_t i = 0; i < s->host_count; i++) {
        if (strpbrk(s->hosts[i], "\r\n,") != NULL)
            return 1;
    }
    return 0;
}

int broker_config_text(const struct broker_settings *s, char **out)
{
    if (has_newline(s))
        return -1;
    struct text t = {0};
    add(&t,
        "# Written by iothub-emulator at every start; edits are lost.\n"
        "per_listener_settings false\nset_tcp_nodelay true\npersistence false\n"
        "allow_anonymous false\nmax_packet_size %d\n"
        /* information carries "mosquitto version ... running", which broker.c waits for */
        "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
        "log_type information\nlog_timestamp false\n",
        BROKER_MAX_PACKET);
    if (s->keep_root)
        add(&t, "user root\n");
    /* The hub's own connection: a Unix socket in the private state directory. It is also the
     * plain listener mosquitto needs before it accepts a WebSockets one (with a WebSockets listener
     * alone, mosquitto 2.0.11 exits: "Unable to start any listening sockets"). */
    add(&t, "\nlistener 0 %s\n", s->hub_socket);
    if (s->mqtts_port != CONFIG_PORT_OFF)
        add_tls_listener(&t, s, s->mqtts_port, 0);
    if (s->mqtt_ws_port != CONFIG_PORT_OFF)
        add_tls_listener(&t, s, s->mqtt_ws_port, 1);
    if (s->mqtt_port != CONFIG_PORT_OFF)
        add_listener(&t, s, s->mqtt_port);
    add(&t,
        "\nplugin %s\nplugin_opt_registry %s\nplugin_opt_telemetry %s\n"
        "plugin_opt_telemetry_keep %lld\nplugin_opt_hub_secret %s\nplugin_opt_hosts ",
        s->plugin_path, s->registry_path, s->telemetry_path, s->telemetry_keep, s->hub_secret);
    for (size_t i = 0; i < s->host_count; i++)
        add(&t, "%s%s", i > 0 ? "," : "", s->hosts[i]);
    add(&t, "\n");
    if (s->d2c_per_minute > 0)
        add(&t, "plugin_opt_d2c_per_minute %lld\n", s->d2c_per_minute);
    if (s->daily_quota > 0 && s->quota_path != NULL)
        add(&t, "plugin_opt_daily_quota %lld\nplugin_opt_quota %s\n", s->daily_quota,
            s->quota_path);
    if (t.failed) {
        free(t.buf);
        return -1;
    }
    *out = t.buf;
    return 0;
}
