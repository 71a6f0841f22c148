/* The c2d commands of iothub-service: c2d send|list|purge, a device's cloud-to-device messages
 * (docs/protocol.md §12.4). */
#include "cli_common.h"
#include "service_cli.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each --property NAME=VALUE split at its first '=' (names copied into names[]). Returns 0, or -1
 * after saying what is wrong. */
static int read_properties(const struct service_cli *cli, struct iothub_c2d_property *props,
                           char **names)
{
    for (int i = 0; i < cli->property_count; i++) {
        const char *arg = cli->properties[i], *eq = strchr(arg, '=');
        if (eq == NULL || eq == arg) {
            cli_error("--property takes NAME=VALUE, e.g. --property color=red, not '%s'", arg);
            return -1;
        }
        names[i] = strndup(arg, (size_t)(eq - arg));
        if (names[i] == NULL) {
            cli_error("out of memory");
            return -1;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(names[j], names[i]) == 0) {
                cli_error("--property %s is given twice", names[i]);
                return -1;
            }
        }
        props[i] = (struct iothub_c2d_property){names[i], eq + 1};
    }
    return 0;
}

static int send_message(struct service_cli *cli, const char *doing)
{
    struct iothub_c2d_property props[SERVICE_CLI_PROPERTY_MAX];
    char *names[SERVICE_CLI_PROPERTY_MAX] = {NULL};
    int rc = CLI_USAGE;
    if (read_properties(cli, props, names) == 0) {
        const char *text = cli->args[3];
        struct iothub_c2d_message m = {
            .device_id = cli->args[2],
            .body = text,
            .body_len = strlen(text),
            .properties = props,
            .property_count = (size_t)cli->property_count,
            .message_id = cli->message_id,
            .correlation_id = cli->correlation_id,
        };
        struct iothub_c2d_result res;
        struct iothub_error err;
        if (iothub_c2d_send(cli->svc, &m, &res, &err) != 0) {
            rc = service_cli_report(cli, doing, &err);
        } else {
            printf("%s\n", res.message_id);
            rc = CLI_OK;
        }
    }
    for (int i = 0; i < cli->property_count; i++)
        free(names[i]);
    return rc;
}

/* The most of a body a line of the table shows, in bytes. */
#define TABLE_BODY_MAX 1000

/* The body as a JSON string, or base64: and the bytes when they are not UTF-8; its first
 * TABLE_BODY_MAX bytes (cut between two characters), with "... (N bytes)" when it is longer. */
static void print_body(json_t *body, const char *base64)
{
    const char *text = json_string_value(body);
    size_t len = text != NULL ? json_string_length(body) : base64 != NULL ? strlen(base64) : 0;
    size_t shown = len > TABLE_BODY_MAX ? TABLE_BODY_MAX : len;
    if (text == NULL) {
        printf("base64:%.*s", (int)shown, base64 != NULL ? base64 : "");
    } else {
        while (shown < len && ((unsigned char)text[shown] & 0xc0) == 0x80)
            shown--; /* not inside a character */
        json_t *cut = json_stringn(text, shown);
        char *quoted = cut != NULL ? json_dumps(cut, JSON_ENCODE_ANY) : NULL;
        fputs(quoted != NULL ? quoted : "\"\"", stdout);
        free(quoted);
        json_decref(cut);
    }
    if (shown < len)
        printf("... (%zu %s)", len, text != NULL ? "bytes" : "base64 characters");
}

/* One message a line: sequence number, state, message id, body. */
static void print_table(const char *json)
{
    /* A UTF-8 body may hold NUL characters (\u0000 in JSON). */
    json_t *list = json_loads(json, JSON_ALLOW_NUL, NULL);
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        json_t *seq = json_object_get(m, "sequenceNumber");
        const char *state = json_string_value(json_object_get(m, "state"));
        const char *id = json_string_value(json_object_get(m, "messageId"));
        printf("%-8lld %-9s %-36s ",
               json_is_integer(seq) ? (long long)json_integer_value(seq) : -1LL,
               state != NULL ? state : "?", id != NULL ? id : "?");
        print_body(json_object_get(m, "body"), json_string_value(json_object_get(m, "bodyBase64")));
        putchar('\n');
    }
    json_decref(list);
}

static int list_messages(struct service_cli *cli, const char *doing)
{
    struct iothub_c2d_queue q;
    struct iothub_error err;
    if (iothub_c2d_list(cli->svc, cli->args[2], &q, &err) != 0)
        return service_cli_report(cli, doing, &err);
    if (cli->json)
        service_cli_print_json(q.json);
    else
        print_table(q.json);
    free(q.json);
    return CLI_OK;
}

static int purge_messages(struct service_cli *cli, const char *doing)
{
    long long purged = 0;
    struct iothub_error err;
    if (iothub_c2d_purge(cli->svc, cli->args[2], &purged, &err) != 0)
        return service_cli_report(cli, doing, &err);
    printf("%lld\n", purged);
    return CLI_OK;
}

int cmd_c2d(struct service_cli *cli)
{
    const char *verb = cli->arg_count >= 2 ? cli->args[1] : "";
    int is_send = strcmp(verb, "send") == 0, is_list = strcmp(verb, "list") == 0;
    if (!is_send && !is_list && strcmp(verb, "purge") != 0) {
        cli_error("c2d takes send, list or purge, not '%s': iothub-service c2d send DEVICE TEXT, "
                  "iothub-service c2d list DEVICE, iothub-service c2d purge DEVICE",
                  verb);
        return CLI_USAGE;
    }
    if (is_send && cli->arg_count != 4) {
        cli_error("c2d send takes a device id and the message's text: iothub-service c2d send "
                  "DEVICE TEXT [--property NAME=VALUE]... [--message-id ID] "
                  "[--correlation-id ID]");
        return CLI_USAGE;
    }
    if (!is_send && cli->arg_count != 3) {
        cli_error("c2d %s takes one device id", verb);
        return CLI_USAGE;
    }
    if (!is_send &&
        (cli->property_count > 0 || cli->message_id != NULL || cli->correlation_id != NULL)) {
        cli_error("--property, --message-id and --correlation-id go with c2d send, not c2d %s",
                  verb);
        return CLI_USAGE;
    }
    if (cli->module != NULL) {
        cli_error("c2d is for devices: a module gets no cloud-to-device messages (leave --module "
                  "out)");
        return CLI_USAGE;
    }
    char doing[600];
    snprintf(doing, sizeof doing, "c2d %s %s", verb, cli->args[2]);
    return is_send   ? send_message(cli, doing)
           : is_list ? list_messages(cli, doing)
                     : purge_messages(cli, doing);
}
