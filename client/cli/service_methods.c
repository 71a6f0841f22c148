/* The method command of iothub-service: calls a direct method of a device or module and prints
 * the device's answer (docs/protocol.md §12.1). */
#include "cli_common.h"
#include "service_cli.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>

/* Checked before the call, so that a typo is a usage error that points at it. */
static int check_payload(const char *payload)
{
    json_error_t why;
    json_t *v = json_loads(payload, JSON_DECODE_ANY, &why);
    if (v == NULL) {
        cli_error("--payload must be JSON (an object, array, string in quotes, number, true, "
                  "false or null): %s at line %d, column %d",
                  why.text, why.line, why.column);
        return -1;
    }
    json_decref(v);
    return 0;
}

int cmd_method(struct service_cli *cli)
{
    if (cli->arg_count != 3) {
        cli_error("method takes a device id and a method name, its payload with --payload: "
                  "iothub-service method DEVICE NAME [--payload JSON]");
        return CLI_USAGE;
    }
    if (cli->payload != NULL && check_payload(cli->payload) != 0)
        return CLI_USAGE;
    struct iothub_method_request req = {
        .device_id = cli->args[1],
        .module_id = cli->module,
        .name = cli->args[2],
        .payload = cli->payload,
        .response_timeout_s = cli->method_timeout_s,
        .connect_timeout_s = cli->connect_timeout_s,
    };
    struct iothub_method_result res;
    struct iothub_error err;
    char doing[600];
    snprintf(doing, sizeof doing, "method '%s' of '%s%s%s'", req.name, req.device_id,
             req.module_id != NULL ? "/" : "", req.module_id != NULL ? req.module_id : "");
    if (iothub_method_invoke(cli->svc, &req, &res, &err) != 0)
        return service_cli_report(cli, doing, &err);
    /* The payload as the hub wrote it: through jansson, its numbers could change digits. */
    printf("{\"status\":%d,\"payload\":%s}\n", res.status, res.payload);
    free(res.payload);
    return CLI_OK;
}
