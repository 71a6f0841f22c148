/* iothub-service: start device streams, run the service side of the echo sample and of the
 * local proxy, call direct methods, read and change twins, read the telemetry devices sent, send
 * cloud-to-device messages, and manage the device registry. */
#include "cli_common.h"
#include "service_cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define ENV_CONNECTION_STRING "IOTHUB_CONNECTION_STRING"
#define ENV_CA_FILE "IOTHUB_CA_FILE"
#define ENV_HTTPS_PORT "IOTHUB_HTTPS_PORT"

static const char usage[] =
    "usage: iothub-service [options] COMMAND ...\n"
    "\n"
    "Commands:\n"
    "  stream DEVICE            start a stream and print the device's answer (--json for JSON);\n"
    "                           exits 0 when accepted, 3 when the device said no\n"
    "  echo DEVICE              send stdin's lines through a stream and print what comes back\n"
    "  proxy DEVICE --local-port PORT\n"
    "                           service local proxy: each connection to PORT gets its own stream\n"
    "  proxy DEVICE --stdio     one stream on stdin/stdout, for ssh -o ProxyCommand\n"
    "  method DEVICE NAME [--payload JSON]\n"
    "                           call a direct method and print the device's answer as JSON,\n"
    "                           {\"status\":..,\"payload\":..}; exits 0 whenever it answered\n"
    "  twin show DEVICE         print the twin of a device (of its module with --module)\n"
    "  twin update DEVICE [--desired JSON] [--tags JSON] [--etag ETAG] [--replace]\n"
    "                           change its desired properties and tags, print the twin after\n"
    "  telemetry [DEVICE] [--module MODULE] [--since SEQ] [--follow]\n"
    "                           print the messages devices sent (every device's when no\n"
    "                           DEVICE), oldest first, one line of JSON each as the emulator\n"
    "                           keeps them (GET /emulator/telemetry): deviceId, moduleId,\n"
    "                           enqueuedTimeUtc, sequenceNumber, properties, systemProperties,\n"
    "                           body (when UTF-8), bodyBase64; exits 0 once all are printed\n"
    "  c2d send DEVICE TEXT [--property NAME=VALUE]... [--message-id ID] [--correlation-id ID]\n"
    "                           queue a cloud-to-device message for the device (delivered now\n"
    "                           or once it connects) and print its message id\n"
    "  c2d list DEVICE          print the device's cloud-to-device messages, oldest first, one\n"
    "                           a line: sequence number, state (Enqueued, Completed, Expired,\n"
    "                           Purged), message id, body (--json for the emulator's JSON)\n"
    "  c2d purge DEVICE         drop the messages queued for the device, print how many\n"
    "  device create|show|delete|connection-string ID\n"
    "  device list [--top N]    the device registry\n"
    "\n"
    "Options:\n"
    "  --connection-string CS   a policy's connection string (or $IOTHUB_CONNECTION_STRING);\n"
    "                           streams, methods and c2d need ServiceConnect, the registry\n"
    "                           RegistryRead/Write, twins either, telemetry RegistryRead\n"
    "  --ca FILE                the CA of the hub's certificate, e.g. the emulator's ca.pem\n"
    "                           (or $IOTHUB_CA_FILE; default: the system's CAs)\n"
    "  --https-port PORT        the hub's HTTPS port (or $IOTHUB_HTTPS_PORT; default 443)\n"
    "  --name NAME              the stream name (default: the command's name)\n"
    "  --module MODULE          a module of the device: stream to it, call its methods, its\n"
    "                           twin, its telemetry (default: the device's and its modules')\n"
    "  --response-timeout S     how long the hub waits for the device's answer (default 60)\n"
    "  --connect-timeout S      how long both sides have to connect (default 60); method: how\n"
    "                           long the hub waits for the device to come online (default 0)\n"
    "  --payload JSON           method: the request's payload (default null)\n"
    "  --timeout S              method: how long the hub waits for the device's answer\n"
    "                           (default 30; the hub takes 5 to 300)\n"
    "  --desired JSON           twin update: desired properties to merge, a JSON object (a null\n"
    "                           member removes that key); devices that listen get the change\n"
    "  --tags JSON              twin update: tags to merge, a JSON object likewise\n"
    "  --etag ETAG              twin update: only if the twin's etag is still ETAG (else the\n"
    "                           hub answers 412001); default: whatever it is\n"
    "  --replace                twin update: replace the tags and the desired properties\n"
    "                           (PUT) instead of merging; a part not given is emptied\n"
    "  --since SEQ              telemetry: only the messages after sequence number SEQ\n"
    "  --follow                 telemetry: keep printing new messages as they arrive, until\n"
    "                           Ctrl-C or SIGTERM (exit 0); without --since it starts after the\n"
    "                           newest stored message, so it prints only new ones, like az iot\n"
    "                           hub monitor-events\n"
    "  --property NAME=VALUE    c2d send: an application property of the message (repeatable)\n"
    "  --message-id ID          c2d send: the message's id (default: the hub makes one)\n"
    "  --correlation-id ID      c2d send: the message's correlation id\n"
    "  --listen ADDRESS         where --local-port listens (default 127.0.0.1)\n"
    "  --ws-protocol VALUE      ask for this Sec-WebSocket-Protocol on the stream\n"
    "  --json                   stream: print the result as JSON; device list, c2d list: the\n"
    "                           hub's JSON instead of a table\n"
    "  --help, --version\n";

enum option_id {
    OPT_CONNECTION_STRING = 256,
    OPT_CA,
    OPT_HTTPS_PORT,
    OPT_NAME,
    OPT_MODULE,
    OPT_RESPONSE_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_PAYLOAD,
    OPT_TIMEOUT,
    OPT_DESIRED,
    OPT_TAGS,
    OPT_ETAG,
    OPT_REPLACE,
    OPT_SINCE,
    OPT_FOLLOW,
    OPT_PROPERTY,
    OPT_MESSAGE_ID,
    OPT_CORRELATION_ID,
    OPT_LOCAL_PORT,
    OPT_LISTEN,
    OPT_WS_PROTOCOL,
    OPT_TOP,
    OPT_JSON,
    OPT_STDIO,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option options[] = {
    {"connection-string", required_argument, NULL, OPT_CONNECTION_STRING},
    {"ca", required_argument, NULL, OPT_CA},
    {"https-port", required_argument, NULL, OPT_HTTPS_PORT},
    {"name", required_argument, NULL, OPT_NAME},
    {"module", required_argument, NULL, OPT_MODULE},
    {"response-timeout", required_argument, NULL, OPT_RESPONSE_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"payload", required_argument, NULL, OPT_PAYLOAD},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"desired", required_argument, NULL, OPT_DESIRED},
    {"tags", required_argument, NULL, OPT_TAGS},
    {"etag", required_argument, NULL, OPT_ETAG},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"since", required_argument, NULL, OPT_SINCE},
    {"follow", no_argument, NULL, OPT_FOLLOW},
    {"property", required_argument, NULL, OPT_PROPERTY},
    {"message-id", required_argument, NULL, OPT_MESSAGE_ID},
    {"correlation-id", required_argument, NULL, OPT_CORRELATION_ID},
    {"local-port", required_argument, NULL, OPT_LOCAL_PORT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"ws-protocol", required_argument, NULL, OPT_WS_PROTOCOL},
    {"top", required_argument, NULL, OPT_TOP},
    {"json", no_argument, NULL, OPT_JSON},
    {"stdio", no_argument, NULL, OPT_STDIO},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* One option; returns 0, 1 to stop with success (help, version), or -1. */
static int take_option(struct service_cli *cli, int id, const char *arg, const char **port)
{
    switch (id) {
    case OPT_CONNECTION_STRING:
        cli->connection_string = arg;
        return 0;
    case OPT_CA:
        cli->ca_file = arg;
        return 0;
    case OPT_HTTPS_PORT:
        *port = arg;
        return 0;
    case OPT_NAME:
        cli->name = arg;
        return 0;
    case OPT_MODULE:
        cli->module = arg;
        return 0;
    case OPT_RESPONSE_TIMEOUT:
        return cli_parse_int(arg, "--response-timeout", 1, 3600, &cli->response_timeout_s);
    case OPT_CONNECT_TIMEOUT:
        return cli_parse_int(arg, "--connect-timeout", 1, 3600, &cli->connect_timeout_s);
    case OPT_PAYLOAD:
        cli->payload = arg;
        return 0;
    case OPT_TIMEOUT:
        /* The hub checks its range (docs/protocol.md rule D1) and says so. */
        return cli_parse_int(arg, "--timeout", 1, 3600, &cli->method_timeout_s);
    case OPT_DESIRED:
        cli->desired = arg;
        return 0;
    case OPT_TAGS:
        cli->tags = arg;
        return 0;
    case OPT_ETAG:
        cli->etag = arg;
        return 0;
    case OPT_REPLACE:
        cli->replace = 1;
        return 0;
    case OPT_SINCE:
        cli->since = arg;
        return 0;
    case OPT_FOLLOW:
        cli->follow = 1;
        return 0;
    case OPT_PROPERTY:
        if (cli->property_count == SERVICE_CLI_PROPERTY_MAX) {
            cli_error("at most %d --property flags", SERVICE_CLI_PROPERTY_MAX);
            return -1;
        }
        cli->properties[cli->property_count++] = arg;
        return 0;
    case OPT_MESSAGE_ID:
        cli->message_id = arg;
        return 0;
    case OPT_CORRELATION_ID:
        cli->correlation_id = arg;
        return 0;
    case OPT_LOCAL_PORT:
        return cli_parse_int(arg, "--local-port", 0, 65535, &cli->local_port);
    case OPT_LISTEN:
        cli->listen = arg;
        return 0;
    case OPT_WS_PROTOCOL:
        cli->ws_protocol = arg;
        return 0;
    case OPT_TOP:
        return cli_parse_int(arg, "--top", 1, 1000, &cli->top);
    case OPT_JSON:
        cli->json = 1;
        return 0;
    case OPT_STDIO:
        cli->stdio = 1;
        return 0;
    case OPT_HELP:
        fputs(usage, stdout);
        return 1;
    case OPT_VERSION:
        printf("iothub-service %s\n", IOTHUB_VERSION);
        return 1;
    default:
        fputs(usage, stderr);
        return -1;
    }
}

static int parse(int argc, char **argv, struct service_cli *cli)
{
    const char *port = NULL;
    cli->local_port = -1;
    cli->listen = "127.0.0.1";
    int id, rc = 0;
    while (rc == 0 && (id = getopt_long(argc, argv, "", options, NULL)) != -1)
        rc = take_option(cli, id, optarg, &port);
    if (rc != 0)
        return rc;
    cli->connection_string = cli_flag_or_env(cli->connection_string, ENV_CONNECTION_STRING);
    cli->ca_file = cli_flag_or_env(cli->ca_file, ENV_CA_FILE);
    port = cli_flag_or_env(port, ENV_HTTPS_PORT);
    if (port != NULL && cli_parse_int(port, "the HTTPS port", 1, 65535, &cli->https_port) != 0)
        return -1;
    cli->args = argv + optind;
    cli->arg_count = argc - optind;
    if (cli->arg_count == 0) {
        fputs(usage, stderr);
        return -1;
    }
    return 0;
}

static int connect_client(struct service_cli *cli)
{
    struct iothub_service_options o = {cli->connection_string, cli->ca_file, cli->https_port, 0};
    struct iothub_error err;
    if (cli->connection_string == NULL) {
        cli_error("no connection string: pass --connection-string or set %s (the emulator "
                  "prints the iothubowner one in its ready line)",
                  ENV_CONNECTION_STRING);
        return -1;
    }
    if (iothub_service_new(&o, &cli->svc, &err) != 0) {
        cli_error("%s", err.message);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct service_cli cli;
    memset(&cli, 0, sizeof cli);
    cli_set_program("iothub-service");
    cli_ignore_sigpipe();
    int rc = parse(argc, argv, &cli);
    if (rc != 0)
        return rc > 0 ? CLI_OK : CLI_USAGE;
    static const struct {
        const char *name;
        int (*run)(struct service_cli *cli);
    } commands[] = {{"stream", cmd_stream}, {"echo", cmd_echo},    {"proxy", cmd_proxy},
                    {"method", cmd_method}, {"twin", cmd_twin},    {"telemetry", cmd_telemetry},
                    {"c2d", cmd_c2d},       {"device", cmd_device}};
    int (*run)(struct service_cli *) = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cli.args[0], commands[i].name) == 0)
            run = commands[i].run;
    }
    if (run == NULL) {
        cli_error("unknown command '%s' (try --help)", cli.args[0]);
        return CLI_USAGE;
    }
    if (connect_client(&cli) != 0)
        return CLI_FAILED;
    rc = run(&cli);
    iothub_service_free(cli.svc);
    return rc;
}
