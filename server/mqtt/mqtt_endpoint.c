#include "mqtt_endpoint.h"

#include "broker.h"
#include "broker_config.h"
#include "daily_quota.h"
#include "fsutil.h"
#include "hub_client.h"
#include "keys.h"
#include "listen_socket.h"
#include "locate.h"
#include "log.h"
#include "telemetry_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* A free port picked for mosquitto can be taken by someone else before mosquitto binds it. */
#define START_ATTEMPTS 3

struct mqtt_endpoint {
    struct emulator *emu;
    struct broker *broker;
    struct hub_client *hub;
    struct presence *presence;
    struct mqtt_handler handlers[MQTT_MAX_HANDLERS];
    size_t handler_count;
    struct mqtt_ports ports;
    char *broker_dir;
    char *socket_dir; /* a temporary directory when broker_dir is too long for a socket path */
    char *socket_path;
    char *conf_path;
    char secret[65];
};

/* A connected device that the registry no longer allows (deleted or disabled while the kick
 * could not reach the broker) is disconnected now. */
static void enforce_registry(struct mqtt_endpoint *m, const char *cid)
{
    char device_id[IH_ID_MAX_LEN + 1];
    size_t n = strcspn(cid, "/");
    struct device d;
    if (n >= sizeof device_id)
        return;
    memcpy(device_id, cid, n);
    device_id[n] = '\0';
    enum registry_result r = registry_device_get(m->emu->registry, device_id, &d);
    if (r == REGISTRY_NOT_FOUND || (r == REGISTRY_OK && !d.enabled)) {
        log_info("mqtt", "disconnecting '%s': device '%s' is %s", cid, device_id,
                 r == REGISTRY_NOT_FOUND ? "deleted" : "disabled");
        hub_client_kick(m->hub, device_id);
    }
}

static void on_event(void *ctx, enum hub_bus_kind kind, const char *cid, const char *payload)
{
    struct mqtt_endpoint *m = ctx;
    if (kind == HUB_BUS_REFUSED) {
        log_info_limited("mqtt", "refused '%s': %s", cid, payload);
        return;
    }
    presence_apply(m->presence, kind, cid, payload);
    if (kind == HUB_BUS_CONNECTED)
        enforce_registry(m, cid);
}

static void on_publish(void *ctx, const char *cid, const char *topic, const void *payload,
                       size_t len)
{
    struct mqtt_endpoint *m = ctx;
    log_trace("mqtt", "'%s' published %.200s (%zu bytes)", cid, topic, len);
    for (size_t i = 0; i < m->handler_count; i++) {
        const struct mqtt_handler *h = &m->handlers[i];
        if (h->topic_prefix != NULL &&
            strncmp(topic, h->topic_prefix, strlen(h->topic_prefix)) == 0) {
            h->on_publish(h->ctx, cid, topic, payload, len);
            break;
        }
    }
    presence_touch(m->presence, cid);
}

static void notify_presence(void *ctx, const char *cid, struct presence_view view)
{
    struct mqtt_endpoint *m = ctx;
    for (size_t i = 0; i < m->handler_count; i++)
        if (m->handlers[i].on_presence != NULL)
            m->handlers[i].on_presence(m->handlers[i].ctx, cid, view);
}

/* Up or down, the table starts over: the plugin re-sends who is connected after a reconnect,
 * and a new broker starts with nobody. */
static void on_link(void *ctx, int up)
{
    struct mqtt_endpoint *m = ctx;
    (void)up;
    presence_reset(m->presence);
}

/* The resolved port of one listener: checked free now (so a taken port fails with its fix), or
 * picked free when 0 was asked. */
static int reserve(const struct config *cfg, int requested, const char *what, const char *flag,
                   int *port)
{
    char reason[400];
    *port = CONFIG_PORT_OFF;
    if (requested == CONFIG_PORT_OFF)
        return 0;
    if (listen_socket_reserve(cfg->listen, requested, what, flag, port, reason, sizeof reason) == 0)
        return 0;
    log_error("main", "%s", reason);
    return -1;
}

static int reserve_ports(struct mqtt_endpoint *m)
{
    const struct config *cfg = m->emu->cfg;
    return reserve(cfg, cfg->mqtts_port, "MQTTS", "--mqtts-port", &m->ports.mqtts) == 0 &&
                   reserve(cfg, cfg->mqtt_port, "MQTT", "--mqtt-port", &m->ports.mqtt) == 0 &&
                   reserve(cfg, cfg->mqtt_ws_port, "MQTT over WebSockets", "--mqtt-ws-port",
                           &m->ports.mqtt_ws) == 0
               ? 0
               : -1;
}

/* The hub's socket lives in the private state directory, unless that path is too long for a
 * Unix socket; then in a new private temporary directory. */
static int prepare_paths(struct mqtt_endpoint *m)
{
    struct sockaddr_un sun;
    m->broker_dir = fs_join(m->emu->state_dir, "broker");
    if (m->broker_dir == NULL || fs_ensure_dir(m->broker_dir) != FS_OK)
        return -1;
    m->conf_path = fs_join(m->broker_dir, "mosquitto.conf");
    m->socket_path = fs_join(m->broker_dir, "hub.sock");
    if (m->conf_path == NULL || m->socket_path == NULL)
        return -1;
    if (strlen(m->socket_path) < sizeof sun.sun_path)
        return 0;
    free(m->socket_path);
    m->socket_path = NULL;
    if (fs_make_temp_dir("iothub-broker-", &m->socket_dir) != FS_OK)
        return -1;
    m->socket_path = fs_join(m->socket_dir, "hub.sock");
    return m->socket_path != NULL ? 0 : -1;
}

static int write_config(struct mqtt_endpoint *m, const char *plugin)
{
    const struct emulator *emu = m->emu;
    char *registry = fs_join(emu->state_dir, "registry.db");
    char *telemetry = fs_join(emu->state_dir, TELEMETRY_STORE_FILE);
    char *quota = fs_join(emu->state_dir, DAILY_QUOTA_FILE);
    long long limits[QUOTA_KIND_COUNT];
    config_quota_limits(emu->cfg, limits);
    struct broker_settings s = {
        .listen = emu->cfg->listen,
        .mqtts_port = m->ports.mqtts,
        .mqtt_port = m->ports.mqtt,
        .mqtt_ws_port = m->ports.mqtt_ws,
        .hub_socket = m->socket_path,
        .cert_path = emu->tls.cert_path,
        .key_path = emu->tls.key_path,
        .plugin_path = plugin,
        .registry_path = registry,
        .telemetry_path = telemetry,
        .telemetry_keep = emu->cfg->telemetry_keep,
        .d2c_per_minute = limits[QUOTA_D2C],
        .daily_quota = limits[QUOTA_DAILY],
        .quota_path = quota,
        .hub_secret = m->secret,
        .hosts = emu->audience_hosts,
        .host_count = emu->audience_host_count,
        .keep_root = geteuid() == 0,
    };
    char *text = NULL;
    int rc = -1;
    if (registry == NULL || telemetry == NULL || quota == NULL ||
        broker_config_text(&s, &text) != 0)
        log_error("main", "cannot make the broker configuration: out of memory");
    else if (fs_write_atomic(m->conf_path, text, strlen(text), 0600) != FS_OK)
        log_error("main",
                  "cannot write the broker configuration %s: check the state directory's disk "
                  "and permissions",
                  m->conf_path);
    else
        rc = 0;
    if (text != NULL)
        memset(text, 0, strlen(text)); /* it holds the secret */
    free(text);
    free(registry);
    free(telemetry);
    free(quota);
    return rc;
}

/* Writes the config and runs mosquitto; ports picked free are picked again if it fails. */
static int run_broker(struct mqtt_endpoint *m, const char *mosquitto, const char *plugin)
{
    char err[512] = "";
    for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
        unlink(m->socket_path); /* left over by a broker that was killed */
        if (reserve_ports(m) != 0 || write_config(m, plugin) != 0)
            return -1;
        if (broker_start(mosquitto, m->conf_path, &m->broker, err, sizeof err) == 0)
            return 0;
        const struct config *cfg = m->emu->cfg;
        if (cfg->mqtts_port != 0 && cfg->mqtt_port != 0 && cfg->mqtt_ws_port != 0)
            break;
    }
    log_error("main", "%s", err);
    return -1;
}

static int connect_hub(struct mqtt_endpoint *m)
{
    struct hub_client_handlers h = {on_event, on_publish, on_link, m};
    char err[512];
    if (hub_client_start(m->socket_path, m->secret, &h, &m->hub, err, sizeof err) == 0)
        return 0;
    log_error("main", "%s", err);
    return -1;
}

int mqtt_endpoint_start(struct emulator *emu, const struct mqtt_handler *handlers, size_t count,
                        struct mqtt_endpoint **out)
{
    if (count > MQTT_MAX_HANDLERS)
        fatal("%zu MQTT handlers, more than MQTT_MAX_HANDLERS", count);
    struct mqtt_endpoint *m = calloc(1, sizeof *m);
    char *mosquitto = NULL, *plugin = NULL, err[512];
    if (m == NULL)
        return -1;
    m->emu = emu;
    memcpy(m->handlers, handlers, count * sizeof *handlers);
    m->handler_count = count;
    int rc = -1;
    if (locate_mosquitto(emu->cfg->mosquitto, &mosquitto, err, sizeof err) != 0 ||
        locate_plugin(emu->cfg->broker_plugin, &plugin, err, sizeof err) != 0)
        log_error("main", "%s", err);
    else if (prepare_paths(m) != 0 || keys_random_hex(m->secret, 32) != 0)
        log_error("main", "cannot prepare the broker's directory under %s", emu->state_dir);
    else if ((m->presence = presence_new(emu->registry, notify_presence, m)) != NULL &&
             run_broker(m, mosquitto, plugin) == 0)
        rc = connect_hub(m);
    free(mosquitto);
    free(plugin);
    if (rc != 0) {
        mqtt_endpoint_stop(m);
        return -1;
    }
    *out = m;
    return 0;
}

void mqtt_endpoint_stop(struct mqtt_endpoint *m)
{
    if (m == NULL)
        return;
    hub_client_stop(m->hub);
    broker_stop(m->broker);
    presence_free(m->presence);
    if (m->socket_dir != NULL)
        fs_remove_tree(m->socket_dir);
    memset(m->secret, 0, sizeof m->secret);
    free(m->broker_dir);
    free(m->socket_dir);
    free(m->socket_path);
    free(m->conf_path);
    free(m);
}

struct mqtt_ports mqtt_endpoint_ports(const struct mqtt_endpoint *m)
{
    return m->ports;
}

size_t mqtt_endpoint_connected_count(struct mqtt_endpoint *m)
{
    return m != NULL ? presence_count(m->presence) : 0;
}

enum presence_state mqtt_endpoint_presence(struct mqtt_endpoint *m, const char *cid,
                                           unsigned feature)
{
    return m != NULL ? presence_get(m->presence, cid, feature) : PRESENCE_OFFLINE;
}

struct presence_view mqtt_endpoint_view(struct mqtt_endpoint *m, const char *cid)
{
    return m != NULL ? presence_view(m->presence, cid) : (struct presence_view){0, 0};
}

int mqtt_endpoint_send(struct mqtt_endpoint *m, const char *cid, const char *topic,
                       const void *payload, size_t len)
{
    return m != NULL && hub_client_send(m->hub, cid, topic, payload, len) == 0 ? 0 : -1;
}

int mqtt_endpoint_deliver(struct mqtt_endpoint *m, const char *cid, const char *topic,
                          const void *payload, size_t len)
{
    return m != NULL && hub_client_deliver(m->hub, cid, topic, payload, len) == 0 ? 0 : -1;
}

void mqtt_endpoint_kick(struct mqtt_endpoint *m, const char *device_id)
{
    if (m != NULL && hub_client_kick(m->hub, device_id) != 0)
        log_warn("mqtt", "could not ask the broker to disconnect '%s'", device_id);
}

int mqtt_endpoint_link_up(struct mqtt_endpoint *m)
{
    return m != NULL && hub_client_is_up(m->hub);
}

unsigned mqtt_endpoint_restarts(struct mqtt_endpoint *m)
{
    return m != NULL ? broker_restart_count(m->broker) : 0;
}

int mqtt_endpoint_broker_pid(struct mqtt_endpoint *m)
{
    return m != NULL ? broker_pid(m->broker) : -1;
}
