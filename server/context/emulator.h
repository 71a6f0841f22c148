/* The running emulator: what every endpoint handler needs to reach. */
#ifndef EMULATOR_H
#define EMULATOR_H

#include "certs.h"
#include "config.h"
#include "registry.h"

#include <time.h>

/* Audiences a SAS token may name: every --host-name plus localhost and 127.0.0.1. */
#define EMULATOR_MAX_AUDIENCE_HOSTS (CONFIG_MAX_HOST_NAMES + 2)

struct mqtt_endpoint;
struct stream_service;
struct method_service;
struct twin_service;
struct telemetry_service;
struct metrics;
struct ui_feed;
struct hub_quotas;

struct emulator {
    const struct config *cfg;
    struct registry *registry;
    struct tls_material tls;
    const char *host_name; /* the hub's HostName: cfg->host_names[0] */
    const char *audience_hosts[EMULATOR_MAX_AUDIENCE_HOSTS];
    size_t audience_host_count;
    struct timespec started; /* CLOCK_MONOTONIC */
    /* The ports actually bound, or CONFIG_PORT_OFF. */
    int https_port, http_port;
    char *state_dir;
    struct mqtt_endpoint *mqtt;          /* NULL until started (and in unit tests) */
    struct stream_service *streams;      /* device streams; NULL in unit tests */
    struct method_service *methods;      /* direct methods; NULL in unit tests */
    struct twin_service *twins;          /* twins; NULL in unit tests */
    struct telemetry_service *telemetry; /* stored telemetry; NULL in unit tests */
    struct c2d_service *c2d;             /* cloud-to-device queues; NULL in unit tests */
    /* The streaming endpoint's bound ports, or CONFIG_PORT_OFF. */
    int streams_port, streams_plain_port;
    /* The connections each endpoint holds at most (conn_table_share of the descriptors). */
    size_t conn_limit;
    struct metrics *metrics;   /* /metrics; NULL in unit tests */
    struct ui_feed *ui;        /* the web page's events; NULL in unit tests */
    struct hub_quotas *quotas; /* throttles and the daily quota (rule D19); NULL: no limits */
};

#endif
