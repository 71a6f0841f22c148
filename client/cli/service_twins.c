/* The twin commands of iothub-service: twin show|update, the twin of a device or module
 * (docs/protocol.md §12.2, rule D9). */
#include "cli_common.h"
#include "service_cli.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checked before the call, so that a typo is a usage error that points at it. */
static int check_object(const char *text, const char *flag)
{
    json_error_t why;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &why);
    int parsed = v != NULL, is_object = json_is_object(v);
    json_decref(v);
    if (!parsed)
        cli_error("%s must be a JSON object, e.g. %s '{\"fan\":\"on\"}': %s at line %d, column %d",
                  flag, flag, why.text, why.line, why.column);
    else if (!is_object)
        cli_error("%s must be a JSON object, e.g. %s '{\"fan\":\"on\"}', not '%s'", flag, flag,
                  text);
    return is_object ? 0 : -1;
}

/* {"tags":..,"properties":{"desired":..}} of the parts given, each as its own text: through
 * jansson, numbers could change digits. NULL when out of memory. */
static char *patch_body(const char *tags, const char *desired)
{
    size_t n = (tags != NULL ? strlen(tags) : 0) + (desired != NULL ? strlen(desired) : 0) + 64;
    char *body = malloc(n);
    if (body == NULL)
        return NULL;
    int len = snprintf(body, n, "{");
    if (tags != NULL)
        len += snprintf(body + len, n - (size_t)len, "\"tags\":%s", tags);
    if (desired != NULL)
        len += snprintf(body + len, n - (size_t)len, "%s\"properties\":{\"desired\":%s}",
                        tags != NULL ? "," : "", desired);
    snprintf(body + len, n - (size_t)len, "}");
    return body;
}

static int show(struct service_cli *cli, const char *doing)
{
    struct iothub_twin_result res;
    struct iothub_error err;
    if (iothub_twin_get(cli->svc, cli->args[2], cli->module, &res, &err) != 0)
        return service_cli_report(cli, doing, &err);
    service_cli_print_json(res.json);
    free(res.json);
    return CLI_OK;
}

static int update(struct service_cli *cli, const char *doing)
{
    if (cli->desired == NULL && cli->tags == NULL && !cli->replace) {
        cli_error("twin update needs --desired JSON or --tags JSON (or --replace, which empties "
                  "both)");
        return CLI_USAGE;
    }
    if ((cli->desired != NULL && check_object(cli->desired, "--desired") != 0) ||
        (cli->tags != NULL && check_object(cli->tags, "--tags") != 0))
        return CLI_USAGE;
    char *body = patch_body(cli->tags, cli->desired);
    if (body == NULL) {
        cli_error("out of memory");
        return CLI_FAILED;
    }
    struct iothub_twin_result res;
    struct iothub_error err;
    int rc = iothub_twin_update(cli->svc, cli->args[2], cli->module, body, cli->etag, cli->replace,
                                &res, &err);
    free(body);
    if (rc != 0)
        return service_cli_report(cli, doing, &err);
    service_cli_print_json(res.json);
    free(res.json);
    return CLI_OK;
}

int cmd_twin(struct service_cli *cli)
{
    const char *verb = cli->arg_count >= 2 ? cli->args[1] : "";
    int is_show = strcmp(verb, "show") == 0, is_update = strcmp(verb, "update") == 0;
    if (!is_show && !is_update) {
        cli_error("twin takes show or update, not '%s': iothub-service twin show DEVICE, "
                  "iothub-service twin update DEVICE --desired JSON",
                  verb);
        return CLI_USAGE;
    }
    if (cli->arg_count != 3) {
        cli_error("twin %s takes one device id (its module with --module)", verb);
        return CLI_USAGE;
    }
    if (is_show &&
        (cli->desired != NULL || cli->tags != NULL || cli->etag != NULL || cli->replace)) {
        cli_error("--desired, --tags, --etag and --replace go with twin update, not twin show");
        return CLI_USAGE;
    }
    char doing[600];
    snprintf(doing, sizeof doing, "twin %s %s%s%s", verb, cli->args[2],
             cli->module != NULL ? " --module " : "", cli->module != NULL ? cli->module : "");
    return is_show ? show(cli, doing) : update(cli, doing);
}
