#include "ready.h"

#include "fsutil.h"
#include "log.h"
#include "mqtt_endpoint.h"

#include "protocol/connstr.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *service_connection_string(const struct emulator *emu)
{
    struct policy owner;
    if (registry_policy_get(emu->registry, "iothubowner", &owner) != REGISTRY_OK)
        return NULL;
    struct ih_connstr cs = {.host_name = (char *)emu->host_name,
                            .shared_access_key_name = owner.name,
                            .shared_access_key = owner.primary_key};
    char *text = NULL;
    return ih_connstr_format(&cs, &text) == IH_OK ? text : NULL;
}

static char *device_connection_string(const struct emulator *emu, const char *id)
{
    struct device d;
    if (registry_device_get(emu->registry, id, &d) != REGISTRY_OK)
        return NULL;
    struct ih_connstr cs = {
        .host_name = (char *)emu->host_name, .device_id = d.id, .shared_access_key = d.primary_key};
    char *text = NULL;
    return ih_connstr_format(&cs, &text) == IH_OK ? text : NULL;
}

static json_t *port_value(int port)
{
    return port == CONFIG_PORT_OFF ? json_null() : json_integer(port);
}

/* The seeded devices' connection strings, so a fixture needs no extra call. */
static json_t *seeded_devices(const struct emulator *emu)
{
    json_t *devices = json_object();
    for (size_t i = 0; devices != NULL && i < emu->cfg->device_count; i++) {
        const char *id = emu->cfg->devices[i].id;
        char *cs = device_connection_string(emu, id);
        if (cs != NULL)
            json_object_set_new(devices, id, json_string(cs));
        free(cs);
    }
    return devices;
}

static int write_ready_file(const struct emulator *emu, const char *service_cs)
{
    struct mqtt_ports mqtt = mqtt_endpoint_ports(emu->mqtt);
    json_t *ports = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "https", port_value(emu->https_port), "http",
        port_value(emu->http_port), "mqtts", port_value(mqtt.mqtts), "mqtt", port_value(mqtt.mqtt),
        "mqttWs", port_value(mqtt.mqtt_ws), "streams", port_value(emu->streams_port),
        "streamsPlain", port_value(emu->streams_plain_port));
    json_t *doc =
        json_pack("{s:s, s:o, s:s, s:s?, s:s, s:i, s:o}", "hostName", emu->host_name, "ports",
                  ports, "serviceConnectionString", service_cs, "caFile", emu->tls.ca_path,
                  "stateDir", emu->state_dir, "pid", (int)getpid(), "devices", seeded_devices(emu));
    char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    int ok =
        text != NULL && fs_write_atomic(emu->cfg->ready_file, text, strlen(text), 0600) == FS_OK;
    free(text);
    if (!ok)
        log_error("main", "cannot write the ready file %s", emu->cfg->ready_file);
    return ok ? 0 : -1;
}

int ready_announce(const struct emulator *emu)
{
    char *service_cs = service_connection_string(emu);
    if (service_cs == NULL) {
        log_error("main", "cannot read the iothubowner policy for the ready line");
        return -1;
    }
    int rc = emu->cfg->ready_file != NULL ? write_ready_file(emu, service_cs) : 0;
    if (rc == 0) {
        char endpoint[128];
        if (emu->https_port != CONFIG_PORT_OFF)
            snprintf(endpoint, sizeof endpoint, "https://%s:%d", emu->host_name, emu->https_port);
        else
            snprintf(endpoint, sizeof endpoint, "http://%s:%d", emu->host_name, emu->http_port);
        struct mqtt_ports mqtt = mqtt_endpoint_ports(emu->mqtt);
        char mqtts[32] = "off";
        if (mqtt.mqtts != CONFIG_PORT_OFF)
            snprintf(mqtts, sizeof mqtts, "port %d", mqtt.mqtts);
        char streams[32] = "off";
        if (emu->streams_port != CONFIG_PORT_OFF)
            snprintf(streams, sizeof streams, "port %d", emu->streams_port);
        printf("iothub-emulator ready: %s (main endpoint %s, MQTTS %s, streams %s, CA %s)\n",
               service_cs, endpoint, mqtts, streams,
               emu->tls.ca_path != NULL ? emu->tls.ca_path : "none");
        fflush(stdout);
    }
    free(service_cs);
    return rc;
}
