/* The registry commands of iothub-service: device create|show|list|delete|connection-string. */
#include "cli_common.h"
#include "service_cli.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void service_cli_print_json(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    char *pretty = v != NULL ? json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY) : NULL;
    printf("%s\n", pretty != NULL ? pretty : text);
    free(pretty);
    json_decref(v);
}

/* One device a line: id, status, connection state. */
static void print_table(const char *text)
{
    json_t *list = json_loads(text, 0, NULL);
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        const char *id = "", *status = "", *state = "";
        json_unpack(d, "{s?s, s?s, s?s}", "deviceId", &id, "status", &status, "connectionState",
                    &state);
        printf("%-40s %-9s %s\n", id, status, state);
    }
    json_decref(list);
}

static int run(struct service_cli *cli, const char *verb, const char *id)
{
    struct iothub_error err;
    char *out = NULL, doing[400];
    int rc;
    snprintf(doing, sizeof doing, "device %s%s%s", verb, id != NULL ? " " : "",
             id != NULL ? id : "");
    if (strcmp(verb, "create") == 0)
        rc = iothub_device_create(cli->svc, id, &out, &err);
    else if (strcmp(verb, "show") == 0)
        rc = iothub_device_get(cli->svc, id, &out, &err);
    else if (strcmp(verb, "delete") == 0)
        rc = iothub_device_delete(cli->svc, id, &err);
    else if (strcmp(verb, "connection-string") == 0)
        rc = iothub_device_connection_string(cli->svc, id, &out, &err);
    else
        rc = iothub_device_list(cli->svc, cli->top, &out, &err);
    if (rc != 0)
        return service_cli_report(cli, doing, &err);
    if (strcmp(verb, "connection-string") == 0)
        printf("%s\n", out);
    else if (strcmp(verb, "delete") == 0)
        printf("deleted %s\n", id);
    else if (strcmp(verb, "list") == 0 && !cli->json)
        print_table(out);
    else
        service_cli_print_json(out);
    free(out);
    return CLI_OK;
}

int cmd_device(struct service_cli *cli)
{
    static const char *const with_id[] = {"create", "show", "delete", "connection-string"};
    const char *verb = cli->arg_count >= 2 ? cli->args[1] : "";
    if (strcmp(verb, "list") == 0)
        return run(cli, verb, NULL);
    for (size_t i = 0; i < sizeof with_id / sizeof with_id[0]; i++) {
        if (strcmp(verb, with_id[i]) != 0)
            continue;
        if (cli->arg_count < 3) {
            cli_error("device %s needs a device id", verb);
            return CLI_USAGE;
        }
        return run(cli, verb, cli->args[2]);
    }
    cli_error("device takes create, show, list, delete or connection-string, not '%s'", verb);
    return CLI_USAGE;
}
