/* Endpoints of the emulator itself, open without a token: /health for fixtures and container
 * health checks, /emulator/ca.pem so clients can trust the dev CA. */
#include "rest_emulator.h"

#include "mqtt_endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *endpoint_state(int port)
{
    return port == CONFIG_PORT_OFF ? "off" : "up";
}

/* "up"; "degraded" while writes fail (it still answers reads); "down" when it cannot even
 * read. */
static const char *registry_state(struct registry *reg)
{
    if (registry_ping(reg) != REGISTRY_OK)
        return "down";
    return registry_writes_failing(reg) ? "degraded" : "up";
}

/* Cheap: one SQLite no-op and the state already in memory. One field per component; "mqtt" is
 * the hub's link to its broker ("down" for a moment while a dead broker is restarted). Healthy
 * only when every component is up (or off): a registry that fails its writes would lose what
 * it acknowledges. */
static void rest_health(struct rest_call *call)
{
    struct emulator *emu = call->emu;
    const char *registry = registry_state(emu->registry);
    const char *mqtt = emu->mqtt == NULL ? "off" : mqtt_endpoint_link_up(emu->mqtt) ? "up" : "down";
    int healthy = strcmp(registry, "up") == 0 && strcmp(mqtt, "down") != 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    json_t *body = json_pack(
        "{s:s, s:s, s:I, s:{s:s, s:s, s:s, s:s}, s:i}", "status", healthy ? "healthy" : "unhealthy",
        "version", IOTHUB_VERSION, "uptimeSeconds", (json_int_t)(now.tv_sec - emu->started.tv_sec),
        "components", "registry", registry, "https", endpoint_state(emu->https_port), "http",
        endpoint_state(emu->http_port), "mqtt", mqtt, "brokerRestarts",
        (int)mqtt_endpoint_restarts(emu->mqtt));
    if (!healthy) /* the one log line says why */
        snprintf(call->res->reason, sizeof call->res->reason, "registry %s, mqtt %s", registry,
                 mqtt);
    rest_json(call->res, healthy ? 200 : 503, body);
}

static void rest_ca_certificate(struct rest_call *call)
{
    const char *pem = call->emu->tls.ca_pem;
    if (pem == NULL) {
        rest_error(call->res, IH_E_NOT_FOUND,
                   "no CA certificate: the emulator runs with --tls-cert and no --tls-ca");
        return;
    }
    char *copy = strdup(pem);
    if (copy == NULL) {
        rest_error(call->res, IH_E_SERVER_ERROR, "out of memory");
        return;
    }
    call->res->status = 200;
    call->res->body = copy;
    call->res->body_len = strlen(copy);
    call->res->content_type = "application/x-pem-file";
}

static const struct rest_route routes[] = {
    {"GET", {"health"}, 1, 0, rest_health, REST_ERROR_NESTED},
    {"GET", {"emulator", "ca.pem"}, 2, 0, rest_ca_certificate, REST_ERROR_NESTED},
};

const struct rest_route_table rest_emulator_routes = {routes, sizeof routes / sizeof routes[0]};
