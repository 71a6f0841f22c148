/* The mosquitto.conf the emulator writes for its broker child: no anonymous clients, no
 * persistence, TCP_NODELAY (Nagle would add some 88 ms to a QoS 1 round trip), and the emulator's
 * plugin with the run's secret. Pure: settings in, text out. */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H

#include <stddef.h>

/* The hub's limit on one device-to-cloud message: body and properties (docs/differences.md). */
#define BROKER_MESSAGE_MAX (256 * 1024)
/* The largest MQTT packet the broker reads: a message at the hub's limit, plus the longest
 * topic MQTT carries (its 2-byte length and 65,535 bytes: a device's properties travel in the
 * topic), a packet id, 1 KiB of MQTT 5 properties and the fixed header. A longer packet closes
 * its connection as soon as its declared length has been read, before any of it is kept, so a
 * stranger's CONNECT costs the broker at most this much memory. */
#define BROKER_MAX_PACKET (BROKER_MESSAGE_MAX + 2 + 65535 + 2 + 1024 + 5)

struct broker_settings {
    const char *listen; /* address of the device listeners */
    int mqtts_port;     /* each a bound-checked port, or CONFIG_PORT_OFF */
    int mqtt_port;
    int mqtt_ws_port;       /* MQTT over WebSockets (with TLS), path /$iothub/websocket */
    const char *hub_socket; /* Unix socket of the hub's own connection */
    const char *cert_path, *key_path;
    const char *plugin_path;
    const char *registry_path;
    const char *telemetry_path; /* where the plugin stores telemetry */
    long long telemetry_keep;   /* the newest kept; 0: all */
    /* Rule D19: telemetry sends a minute (0: no limit), and the daily message quota with the
     * file of its count (0 and NULL: none). */
    long long d2c_per_minute, daily_quota;
    const char *quota_path;
    const char *hub_secret;
    const char *const *hosts; /* accepted SAS audiences */
    size_t host_count;
    int keep_root; /* started as root: tell mosquitto to stay root, or it cannot read the state */
};

/* *out: a new string. Returns 0, or -1 when out of memory or a value holds a newline. */
int broker_config_text(const struct broker_settings *s, char **out);

#endif
