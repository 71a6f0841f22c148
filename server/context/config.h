/* The emulator's settings, from command-line flags and environment variables.
 *
 * Parsing is sans-I/O (it reads argv and a getenv-like function only), so it is unit-tested and
 * fuzzed. A flag wins over its environment variable; list flags (--host-name, --device,
 * --policy-key) add to what the environment gave. */
#ifndef CONFIG_H
#define CONFIG_H

#include "protocol/result.h"

#include <stddef.h>

#define CONFIG_PORT_OFF (-1)
#define CONFIG_MAX_HOST_NAMES 16
#define CONFIG_MAX_DEVICES 1024
#define CONFIG_MAX_POLICY_KEYS 8
#define CONFIG_MAX_WARNINGS 4

struct device_seed {
    char *id;
    char *key; /* NULL: the registry generates one (or keeps the device's current key) */
};

struct policy_key {
    char *policy;
    char *key;
    char *secondary_key; /* NULL: a random one, so the well-known secondary stops working */
};

/* Who may open the web page, its event stream and /metrics without a token. */
enum ui_access {
    UI_ACCESS_LOCAL, /* clients at 127.0.0.1 or ::1; others need a RegistryRead token */
    UI_ACCESS_OPEN,  /* everyone (a container whose browser is outside) */
    UI_ACCESS_TOKEN, /* a RegistryRead token always */
};

/* How closely the emulator keeps the real hub's quotas. */
enum fidelity {
    FIDELITY_RELAXED, /* generous limits, for tests that want speed and room */
    FIDELITY_STRICT,  /* the real hub's: 5 new streams a second, 50 at once, 64 KiB messages */
};

/* The limits of device streams in effect: --fidelity's, each flag overriding its own. */
struct stream_limits {
    int max_streams;          /* requested and not over yet; 0: no limit (403 403002) */
    int max_pending;          /* requested or accepted, not yet connected; 0: none (429 429001) */
    int rate_per_s;           /* new streams a second; 0: no limit (429 429001) */
    size_t max_message;       /* bytes of one WebSocket message; 0: no limit (close 1009) */
    size_t connection_memory; /* bytes the relay holds for one connection, at most */
};

/* The hub's operation throttles and daily message quota (docs/protocol.md rule D19), each set
 * by `--quota NAME=N` or, under --fidelity strict, by the S1 tier. */
enum quota_kind {
    QUOTA_METHODS,      /* direct method calls, in 4 KB meter units a minute */
    QUOTA_TWIN_READS,   /* twin reads, device and service, a minute */
    QUOTA_TWIN_UPDATES, /* twin updates: reported PATCHes, service PATCH and PUT, a minute */
    QUOTA_C2D,          /* cloud-to-device sends a minute */
    QUOTA_D2C,          /* device-to-cloud (telemetry) sends a minute */
    QUOTA_DAILY,        /* messages, in 4 KB blocks, a UTC day */
    QUOTA_KIND_COUNT
};

struct config {
    char *state_dir;
    int ephemeral;
    char *listen; /* an IPv4 or IPv6 literal */
    char *host_names[CONFIG_MAX_HOST_NAMES];
    size_t host_name_count;
    /* CONFIG_PORT_OFF, 0 for a free port chosen at start, or the port */
    int https_port, http_port, mqtts_port, mqtt_port, mqtt_ws_port, streams_port,
        streams_plain_port;
    struct device_seed devices[CONFIG_MAX_DEVICES];
    size_t device_count;
    struct policy_key policy_keys[CONFIG_MAX_POLICY_KEYS];
    size_t policy_key_count;
    int trace;
    int ui_access; /* enum ui_access: who may open the web page, its events and /metrics */
    int fidelity;  /* enum fidelity */
    /* -1 where --fidelity decides: see config_stream_limits. */
    int max_streams, max_pending, stream_rate, max_message_bytes, max_connection_memory;
    /* -1 where --fidelity decides: see config_quota_limits. */
    long long quota[QUOTA_KIND_COUNT];
    /* Telemetry messages kept, the newest (docs/protocol.md rule D11); 0: no limit. */
    int telemetry_keep;
    int handshake_timeout_s; /* the whole stream handshake, and the default of its two waits */
    char *ready_file;
    char *tls_cert, *tls_key, *tls_ca;
    char *mosquitto;     /* --mosquitto: the broker binary, NULL to search */
    char *broker_plugin; /* --broker-plugin: NULL for the one next to the executable */
    int show_help, show_version;
    char warnings[CONFIG_MAX_WARNINGS][200];
    size_t warning_count;
};

typedef const char *(*config_getenv_fn)(const char *name);

/* Fills out from env then argv (argv[0] is skipped). On failure diag says which flag or variable
 * is wrong and why; out is freed. */
ih_result config_parse(int argc, char *const *argv, config_getenv_fn getenv_fn, struct config *out,
                       struct ih_diag *diag);
void config_free(struct config *cfg);

/* The stream limits in effect for cfg. */
void config_stream_limits(const struct config *cfg, struct stream_limits *out);

/* The quotas in effect for cfg, indexed by enum quota_kind; 0: no limit. */
void config_quota_limits(const struct config *cfg, long long out[QUOTA_KIND_COUNT]);

/* The quota's NAME in `--quota NAME=N`, for messages. */
const char *config_quota_name(enum quota_kind kind);

/* The --help text: every flag, its environment variable and its default. */
const char *config_usage(void);

/* "443", "off" or "any free port", for messages. */
const char *config_port_text(int port, char buf[16]);

#endif
