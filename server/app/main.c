/* iothub-emulator: a local Azure IoT Hub with device streams (docs/architecture.md).
 *
 * Start-up order: settings, state directory, registry, certificates, the main endpoint's
 * listening sockets (so a port that cannot be bound fails before anything runs), the MQTT
 * endpoint (the broker and the hub's connection to it), the streaming endpoint, the HTTP daemons,
 * then the ready line. */
#include "certs.h"
#include "config.h"
#include "conn_table.h"
#include "emulator.h"
#include "fsutil.h"
#include "http_endpoint.h"
#include "hub_quotas.h"
#include "hub_routes.h"
#include "listen_socket.h"
#include "log.h"
#include "c2d_service.h"
#include "method_service.h"
#include "telemetry_service.h"
#include "twin_service.h"
#include "metrics.h"
#include "mqtt_endpoint.h"
#include "stream_service.h"
#include "streams_endpoint.h"
#include "ready.h"
#include "registry.h"
#include "seed.h"
#include "state_lock.h"
#include "ui_feed.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <pthread.h>

struct listener {
    const char *what; /* "HTTPS", "HTTP" */
    const char *flag; /* "--https-port" */
    int requested;
    int fd;
    int port;
};

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

/* The state directory, created if needed; with --ephemeral a new temporary one. */
static int prepare_state_dir(const struct config *cfg, char **out)
{
    char *dir = NULL;
    if (cfg->ephemeral) {
        if (fs_make_temp_dir("iothub-emulator-", &dir) != FS_OK) {
            log_error("main", "cannot create a temporary state directory: %s", strerror(errno));
            return -1;
        }
    } else if (fs_ensure_dir(cfg->state_dir) != FS_OK) {
        log_error("main", "cannot create the state directory %s: %s (does its parent exist?)",
                  cfg->state_dir, strerror(errno));
        return -1;
    }
    *out = realpath(dir != NULL ? dir : cfg->state_dir, NULL);
    free(dir);
    return *out != NULL ? 0 : -1;
}

/* Held for the process's life: one emulator per state directory. */
static int lock_state_dir(const char *dir, struct state_lock *lock)
{
    pid_t holder = 0;
    switch (state_lock_take(dir, lock, &holder)) {
    case STATE_LOCK_OK:
        return 0;
    case STATE_LOCK_HELD:
        if (holder > 0)
            log_error("main",
                      "the state directory %s is in use by another emulator (pid %ld): stop it, "
                      "or give this one its own with --state-dir DIR, or run it with --ephemeral",
                      dir, (long)holder);
        else
            log_error("main",
                      "the state directory %s is in use by another emulator: stop it, or give "
                      "this one its own with --state-dir DIR, or run it with --ephemeral",
                      dir);
        return -1;
    case STATE_LOCK_IO:
        break;
    }
    log_error("main", "cannot lock the state directory %s (%s/%s): %s", dir, dir, STATE_LOCK_FILE,
              strerror(errno));
    return -1;
}

static void add_audience(struct emulator *emu, const char *host)
{
    for (size_t i = 0; i < emu->audience_host_count; i++) {
        if (strcasecmp(emu->audience_hosts[i], host) == 0)
            return;
    }
    if (emu->audience_host_count < EMULATOR_MAX_AUDIENCE_HOSTS)
        emu->audience_hosts[emu->audience_host_count++] = host;
}

static void build_audiences(struct emulator *emu)
{
    for (size_t i = 0; i < emu->cfg->host_name_count; i++)
        add_audience(emu, emu->cfg->host_names[i]);
    add_audience(emu, "localhost");
    add_audience(emu, "127.0.0.1");
}

static int open_listeners(const struct config *cfg, struct listener *ls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ls[i].fd = -1;
        ls[i].port = CONFIG_PORT_OFF;
        if (ls[i].requested == CONFIG_PORT_OFF)
            continue;
        int err_no = 0;
        enum listen_result r =
            listen_socket_open(cfg->listen, ls[i].requested, &ls[i].fd, &ls[i].port, &err_no);
        if (r != LISTEN_OK) {
            char reason[400];
            listen_socket_describe(r, err_no, ls[i].what, ls[i].flag, ls[i].requested, cfg->listen,
                                   reason, sizeof reason);
            log_error("main", "%s", reason);
            return -1;
        }
    }
    return 0;
}

static int prepare_tls(struct emulator *emu)
{
    char err[512];
    const struct config *cfg = emu->cfg;
    char *tls_dir = fs_join(emu->state_dir, "tls");
    if (tls_dir == NULL) {
        log_error("main", "TLS: out of memory");
        return -1;
    }
    int rc = 0;
    if (certs_prepare(tls_dir, (const char *const *)cfg->host_names, cfg->host_name_count,
                      cfg->tls_cert, cfg->tls_key, cfg->tls_ca, &emu->tls, err,
                      sizeof err) != CERTS_OK) {
        log_error("main", "TLS: %s", err);
        rc = -1;
    }
    free(tls_dir);
    return rc;
}

static int open_registry(struct emulator *emu)
{
    char err[512];
    char *path = fs_join(emu->state_dir, "registry.db");
    if (path == NULL) {
        log_error("main", "opening the registry: out of memory");
        return -1;
    }
    int rc = 0;
    if (registry_open(path, &emu->registry, err, sizeof err) != REGISTRY_OK) {
        log_error("main", "%s", err);
        rc = -1;
    }
    free(path);
    return rc == 0 ? seed_registry(emu->registry, emu->cfg) : -1;
}

/* Blocks until SIGINT or SIGTERM; they are blocked in every thread (see block_signals). */
static void wait_for_stop(const sigset_t *set)
{
    int sig = 0;
    while (sigwait(set, &sig) != 0)
        ;
    log_info("main", "%s received: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Before any thread starts, so every thread inherits the mask and only sigwait sees them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Past a file-size limit a write fails (EFBIG) rather than kill the process: the registry
     * reports the failure and turns degraded, as on a full disk. */
    signal(SIGXFSZ, SIG_IGN);
}

static void kick_device(void *ctx, const char *device_id, int disabled)
{
    (void)disabled;
    mqtt_endpoint_kick(ctx, device_id);
}

static void end_streams(void *ctx, const char *device_id, int disabled)
{
    stream_service_end_device(ctx, device_id, disabled);
}

#define COUNT(a) (sizeof(a) / sizeof(a)[0])

/* The features' services, each observed by the metrics and the web page's feed. */
static int start_features(struct emulator *emu)
{
    const struct stream_observer streams[] = {
        {metrics_on_stream_event, emu->metrics},
        {ui_feed_on_stream_event, emu->ui},
    };
    const struct method_observer methods[] = {
        {metrics_on_method_event, emu->metrics},
        {ui_feed_on_method_event, emu->ui},
    };
    const struct twin_observer twins[] = {
        {metrics_on_twin_event, emu->metrics},
        {ui_feed_on_twin_event, emu->ui},
    };
    const struct telemetry_observer telemetry[] = {
        {metrics_on_telemetry, emu->metrics},
        {ui_feed_on_telemetry, emu->ui},
    };
    const struct c2d_observer c2d[] = {
        {metrics_on_c2d_event, emu->metrics},
    };
    emu->streams = stream_service_new(emu, streams, COUNT(streams));
    emu->methods = emu->streams != NULL ? method_service_new(emu, methods, COUNT(methods)) : NULL;
    emu->twins = emu->methods != NULL ? twin_service_new(emu, twins, COUNT(twins)) : NULL;
    emu->c2d = emu->twins != NULL ? c2d_service_new(emu, c2d, COUNT(c2d)) : NULL;
    if (emu->c2d == NULL) {
        log_error("main", "out of memory");
        return -1;
    }
    /* Before the broker: its plugin opens the store this creates. */
    emu->telemetry = telemetry_service_new(emu, telemetry, COUNT(telemetry));
    return emu->telemetry != NULL ? 0 : -1;
}

/* The device-facing endpoints: the broker (MQTT) and the streaming endpoint, with the stream
 * service between them. */
static int start_device_side(struct emulator *emu, struct streams_endpoint **streams)
{
    /* What observes the device side comes first: the metrics and the web page's feed. */
    if ((emu->metrics = metrics_new()) == NULL || (emu->ui = ui_feed_start(emu)) == NULL) {
        log_error("main", "out of memory");
        return -1;
    }
    if (start_features(emu) != 0)
        return -1;
    /* The features' parts of the device side (docs/protocol.md §2, §12). */
    const struct mqtt_handler handlers[] = {
        stream_service_mqtt_handler(emu->streams),
        method_service_mqtt_handler(emu->methods),
        twin_service_mqtt_handler(emu->twins),
        telemetry_service_mqtt_handler(emu->telemetry),
        c2d_service_mqtt_handler(emu->c2d),
        {.on_presence = ui_feed_on_presence, .ctx = emu->ui},
    };
    if (mqtt_endpoint_start(emu, handlers, sizeof handlers / sizeof handlers[0], &emu->mqtt) != 0)
        return -1;
    /* A deleted or disabled device is disconnected and its streams end. */
    const struct registry_watcher watchers[] = {{kick_device, emu->mqtt},
                                                {end_streams, emu->streams}};
    registry_set_watchers(emu->registry, watchers, sizeof watchers / sizeof watchers[0]);
    return streams_endpoint_start(emu, streams);
}

static void stop_device_side(struct emulator *emu, struct streams_endpoint *streams)
{
    registry_set_watchers(emu->registry, NULL, 0);
    mqtt_endpoint_stop(emu->mqtt);
    emu->mqtt = NULL;
    streams_endpoint_stop(streams);
    stream_service_free(emu->streams);
    emu->streams = NULL;
    method_service_free(emu->methods);
    emu->methods = NULL;
    twin_service_free(emu->twins);
    emu->twins = NULL;
    c2d_service_free(emu->c2d);
    emu->c2d = NULL;
    telemetry_service_free(emu->telemetry);
    emu->telemetry = NULL;
    ui_feed_free(emu->ui);
    emu->ui = NULL;
    metrics_free(emu->metrics);
    emu->metrics = NULL;
}

static int serve(struct emulator *emu, const sigset_t *stop_signals)
{
    struct listener ls[] = {
        {"HTTPS", "--https-port", emu->cfg->https_port, -1, CONFIG_PORT_OFF},
        {"HTTP", "--http-port", emu->cfg->http_port, -1, CONFIG_PORT_OFF},
    };
    struct http_endpoint *endpoints[2] = {NULL, NULL};
    struct rest_router router;
    hub_routes(&router);
    struct streams_endpoint *streams = NULL;
    int rc = open_listeners(emu->cfg, ls, 2);
    emu->https_port = ls[0].port;
    emu->http_port = ls[1].port;
    if (rc == 0)
        rc = start_device_side(emu, &streams);
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        char err[256];
        if (ls[i].fd < 0)
            continue;
        rc = http_endpoint_start(emu, &router, ls[i].fd, i == 0, &endpoints[i], err, sizeof err);
        if (rc == 0)
            ls[i].fd = -1; /* the daemon owns it */
        else
            log_error("main", "%s", err);
    }
    if (rc == 0)
        rc = ready_announce(emu);
    if (rc == 0)
        wait_for_stop(stop_signals);
    /* Waiting POSTs are answered and the pages' event streams ended first: libmicrohttpd may
     * not stop with suspended requests. */
    stream_service_shutdown(emu->streams);
    method_service_shutdown(emu->methods);
    ui_feed_close(emu->ui);
    for (size_t i = 0; i < 2; i++) {
        http_endpoint_stop(endpoints[i]);
        if (ls[i].fd >= 0)
            close(ls[i].fd);
    }
    stop_device_side(emu, streams);
    return rc;
}

/* The main endpoint's HTTPS and HTTP daemons and the streaming endpoint. */
#define ENDPOINTS_SHARING_FDS 3

static unsigned long long fd_limit(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        return 1024;
    return r.rlim_cur == RLIM_INFINITY ? 1ULL << 20 : (unsigned long long)r.rlim_cur;
}

/* Every idle connection a client leaves open costs a descriptor: with the soft limit often at
 * 1024, a thousand idle sockets would lock everyone else out. The hard limit is ours to take. */
static void raise_fd_limit(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &r) != 0)
            log_warn("main", "could not raise the open-file limit: %s", strerror(errno));
    }
}

static int run(const struct config *cfg)
{
    sigset_t stop_signals;
    block_signals(&stop_signals);
    struct emulator emu = {.cfg = cfg,
                           .host_name = cfg->host_names[0],
                           .streams_port = CONFIG_PORT_OFF,
                           .streams_plain_port = CONFIG_PORT_OFF};
    clock_gettime(CLOCK_MONOTONIC, &emu.started);
    build_audiences(&emu);
    emu.conn_limit = conn_table_share(fd_limit(), ENDPOINTS_SHARING_FDS);
    struct state_lock lock = {-1};
    int rc = prepare_state_dir(cfg, &emu.state_dir);
    if (rc == 0)
        rc = lock_state_dir(emu.state_dir, &lock);
    if (rc == 0)
        rc = open_registry(&emu);
    if (rc == 0)
        rc = prepare_tls(&emu);
    if (rc == 0 && (emu.quotas = hub_quotas_new(cfg, emu.state_dir)) == NULL)
        rc = -1;
    if (rc == 0)
        rc = serve(&emu, &stop_signals);
    hub_quotas_free(emu.quotas);
    registry_close(emu.registry);
    certs_free(&emu.tls);
    if (cfg->ephemeral && emu.state_dir != NULL)
        fs_remove_tree(emu.state_dir);
    state_lock_release(&lock);
    free(emu.state_dir);
    return rc == 0 ? 0 : 1;
}

/* The relay allocates and frees a frame-sized block for every frame it passes on (up to
 * RELAY_FRAME_MAX). With glibc's defaults its thread's heap shrinks and grows back around them,
 * an madvise and a page fault per page each time: measured, 6,000 faults in 2 s of a stream
 * at full speed, a quarter more CPU per GB. Freed memory is kept for reuse up to 64 MiB, and
 * blocks below 1 MiB come from the heap, not from a mapping each. */
static void tune_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct ih_diag diag = {{0}};
    if (config_parse(argc, argv, env_lookup, &cfg, &diag) != IH_OK) {
        fprintf(stderr, "iothub-emulator: %s\n", diag.msg);
        return 2;
    }
    int rc = 0;
    if (cfg.show_help) {
        fputs(config_usage(), stdout);
    } else if (cfg.show_version) {
        printf("iothub-emulator %s\n", IOTHUB_VERSION);
    } else {
        /* Keys live in the state directory: everything the emulator creates is private. */
        umask(077);
        raise_fd_limit();
        tune_malloc();
        log_set_level(cfg.trace ? LOG_TRACE : LOG_INFO);
        for (size_t i = 0; i < cfg.warning_count; i++)
            log_warn("main", "%s", cfg.warnings[i]);
        rc = run(&cfg);
        log_flush_limited();
    }
    config_free(&cfg);
    return rc;
}
