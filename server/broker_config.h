/* The mosquitto.conf the emulator writes for its broker child (issue 3, prototypes.md §5 A).
 * Pure: settings in, text out. */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H

#include <stddef.h>

struct broker_settings {
    const char *listen; /* address of the device listeners */
    int mqtts_port;     /* each a bound-checked port, or CONFIG_PORT_OFF */
    int mqtt_port;
    int mqtt_ws_port;       /* MQTT over WebSockets (with TLS), path /$iothub/websocket */
    const char *hub_socket; /* Unix socket of the hub's own connection */
    const char *cert_path, *key_path;
    const char *plugin_path;
    const char *registry_path;
    const char *hub_secret;
    const char *const *hosts; /* accepted SAS audiences */
    size_t host_count;
    int keep_root; /* started as root: tell mosquitto to stay root, or it cannot read the state */
};

/* *out: a new string. Returns 0, or -1 when out of memory or a value holds a newline. */
int broker_config_text(const struct broker_settings *s, char **out);

#endif
