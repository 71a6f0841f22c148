/* iothub-device: a device that takes stream requests and echoes them or bridges them to a
 * local TCP target, the device local proxy of the product page, answers direct methods with
 * canned answers, keeps its twin, and logs the cloud-to-device messages it gets. */
#include "agent.h"
#include "cli_common.h"
#include "mqtt_link.h"

#include "protocol/connstr.h"
#include "protocol/methods_topic.h"
#include "protocol/sas.h"
#include "transport/client_loop.h"
#include "transport/tcp.h"

#include <jansson.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_CONNECTION_STRING "IOTHUB_DEVICE_CONNECTION_STRING"
#define ENV_CA_FILE "IOTHUB_CA_FILE"
#define ENV_MQTTS_PORT "IOTHUB_MQTTS_PORT"
#define DEFAULT_MQTTS_PORT 8883
#define DEFAULT_SAS_TTL_S 3600
#define ACCEPT_MAX 32
#define METHOD_MAX 32
#define REPORT_MAX 32

static const char usage[] =
    "usage: iothub-device [options] echo\n"
    "       iothub-device [options] proxy --target HOST:PORT\n"
    "\n"
    "Connects to the hub as a device over MQTT/TLS and answers its stream requests:\n"
    "  echo                     sends every byte of a stream back\n"
    "  proxy --target HOST:PORT the device local proxy: each stream is bridged to a new\n"
    "                           connection to HOST:PORT (sshd, say); when the target is down\n"
    "                           the stream is refused\n"
    "\n"
    "A device (not a module) also takes its cloud-to-device messages and logs each on stderr:\n"
    "  c2d message 'ID': \"BODY\" NAME=VALUE...  (its properties, system ones as $.cid=...)\n"
    "\n"
    "Options:\n"
    "  --connection-string CS   the device's connection string (or\n"
    "                           $IOTHUB_DEVICE_CONNECTION_STRING); get one with\n"
    "                           iothub-service device connection-string ID\n"
    "  --ca FILE                the CA of the hub's certificate, e.g. the emulator's ca.pem\n"
    "                           (or $IOTHUB_CA_FILE; default: the system's CAs)\n"
    "  --mqtts-port PORT        the hub's MQTTS port (or $IOTHUB_MQTTS_PORT; default 8883)\n"
    "  --accept NAME            accept only streams of this name (repeatable; default: all)\n"
    "  --method NAME=JSON       also take direct method calls, and answer NAME with status 200\n"
    "                           and this JSON (NAME= for an empty body); other methods get 501\n"
    "                           (repeatable)\n"
    "  --twin                   also keep the device's twin: read it on every connection, log\n"
    "                           each desired properties change and acknowledge it by reporting\n"
    "                           {\"lastDesiredVersion\":N}\n"
    "  --report JSON            report these properties (a JSON object) once connected\n"
    "                           (repeatable; implies --twin)\n"
    "  --ws-protocol VALUE      send Sec-WebSocket-Protocol: VALUE on the stream's WebSocket,\n"
    "                           as the C SDK does (MQTT, AMQP or HTTP)\n"
    "  --sas-ttl SECONDS        lifetime of each SAS token; it is renewed at 80% (default 3600)\n"
    "  --help, --version\n";

struct device_cli {
    const char *connection_string, *ca_file, *port_text, *target, *ws_protocol;
    const char *accept[ACCEPT_MAX];
    struct agent_method methods[METHOD_MAX];
    const char *reports[REPORT_MAX];
    int accept_count, method_count, report_count, twin, sas_ttl_s;
    const char *mode;
};

enum {
    OPT_CS = 256,
    OPT_CA,
    OPT_PORT,
    OPT_ACCEPT,
    OPT_METHOD,
    OPT_TWIN,
    OPT_REPORT,
    OPT_WS,
    OPT_TTL,
    OPT_TARGET,
    OPT_HELP,
    OPT_VER
};

static const struct option options[] = {
    {"connection-string", required_argument, NULL, OPT_CS},
    {"ca", required_argument, NULL, OPT_CA},
    {"mqtts-port", required_argument, NULL, OPT_PORT},
    {"accept", required_argument, NULL, OPT_ACCEPT},
    {"method", required_argument, NULL, OPT_METHOD},
    {"twin", no_argument, NULL, OPT_TWIN},
    {"report", required_argument, NULL, OPT_REPORT},
    {"ws-protocol", required_argument, NULL, OPT_WS},
    {"sas-ttl", required_argument, NULL, OPT_TTL},
    {"target", required_argument, NULL, OPT_TARGET},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VER},
    {NULL, 0, NULL, 0},
};

/* --method NAME=JSON (eq: its '='): the name as rule D1 takes it, the answer JSON or nothing.
 * Returns 0, or -1 after saying what is wrong. */
static int check_method(const char *arg, const char *eq)
{
    struct ih_diag why = {{0}};
    json_error_t bad;
    json_t *answer = NULL;
    if (ih_method_name_check(arg, (size_t)(eq - arg), &why) != IH_OK) {
        cli_error("--method %s: %s", arg, why.msg);
        return -1;
    }
    if (eq[1] != '\0' && (answer = json_loads(eq + 1, JSON_DECODE_ANY, &bad)) == NULL) {
        cli_error("--method %.*s: the answer must be JSON (or nothing): %s at column %d",
                  (int)(eq - arg), arg, bad.text, bad.column);
        return -1;
    }
    json_decref(answer);
    return 0;
}

/* Returns 0, or -1 after saying what is wrong. */
static int add_method(struct device_cli *c, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL) {
        cli_error("--method takes NAME=JSON, e.g. --method 'reboot={\"ok\":true}', not '%s'", arg);
        return -1;
    }
    if (check_method(arg, eq) != 0)
        return -1;
    size_t len = (size_t)(eq - arg);
    for (int i = 0; i < c->method_count; i++) {
        if (strncmp(c->methods[i].name, arg, len) == 0 && c->methods[i].name[len] == '\0') {
            cli_error("--method %.*s is given twice", (int)len, arg);
            return -1;
        }
    }
    if (c->method_count == METHOD_MAX) {
        cli_error("at most %d --method answers", METHOD_MAX);
        return -1;
    }
    char *name = strndup(arg, len);
    if (name == NULL) {
        cli_error("out of memory");
        return -1;
    }
    c->methods[c->method_count++] = (struct agent_method){name, eq + 1};
    return 0;
}

/* --report JSON: a JSON object, as rule D6 takes. Returns 0, or -1 after saying what is wrong. */
static int add_report(struct device_cli *c, const char *arg)
{
    json_error_t bad;
    json_t *patch = json_loads(arg, JSON_DECODE_ANY, &bad);
    int parsed = patch != NULL, is_object = json_is_object(patch);
    json_decref(patch);
    if (!parsed)
        cli_error("--report must be a JSON object, e.g. --report '{\"firmware\":\"1.2\"}': %s at "
                  "column %d",
                  bad.text, bad.column);
    else if (!is_object)
        cli_error(
            "--report must be a JSON object, e.g. --report '{\"firmware\":\"1.2\"}', not '%s'",
            arg);
    else if (c->report_count == REPORT_MAX)
        cli_error("at most %d --report patches", REPORT_MAX);
    else {
        c->reports[c->report_count++] = arg;
        c->twin = 1;
        return 0;
    }
    return -1;
}

/* Returns 0, 1 to stop with success, or -1. */
static int take_option(struct device_cli *c, int id, const char *arg)
{
    switch (id) {
    case OPT_CS:
        c->connection_string = arg;
        return 0;
    case OPT_CA:
        c->ca_file = arg;
        return 0;
    case OPT_PORT:
        c->port_text = arg;
        return 0;
    case OPT_ACCEPT:
        if (c->accept_count == ACCEPT_MAX) {
            cli_error("at most %d --accept names", ACCEPT_MAX);
            return -1;
        }
        c->accept[c->accept_count++] = arg;
        return 0;
    case OPT_METHOD:
        return add_method(c, arg);
    case OPT_TWIN:
        c->twin = 1;
        return 0;
    case OPT_REPORT:
        return add_report(c, arg);
    case OPT_WS:
        c->ws_protocol = arg;
        return 0;
    case OPT_TTL:
        return cli_parse_int(arg, "--sas-ttl", 5, 365 * 24 * 3600, &c->sas_ttl_s);
    case OPT_TARGET:
        c->target = arg;
        return 0;
    case OPT_HELP:
        fputs(usage, stdout);
        return 1;
    case OPT_VER:
        printf("iothub-device %s\n", IOTHUB_VERSION);
        return 1;
    default:
        fputs(usage, stderr);
        return -1;
    }
}

static int parse(int argc, char **argv, struct device_cli *c)
{
    int id, rc = 0;
    c->sas_ttl_s = DEFAULT_SAS_TTL_S;
    while (rc == 0 && (id = getopt_long(argc, argv, "", options, NULL)) != -1)
        rc = take_option(c, id, optarg);
    if (rc != 0)
        return rc;
    if (optind != argc - 1 ||
        (strcmp(argv[optind], "echo") != 0 && strcmp(argv[optind], "proxy") != 0)) {
        fputs(usage, stderr);
        return -1;
    }
    c->mode = argv[optind];
    c->connection_string = cli_flag_or_env(c->connection_string, ENV_CONNECTION_STRING);
    c->ca_file = cli_flag_or_env(c->ca_file, ENV_CA_FILE);
    c->port_text = cli_flag_or_env(c->port_text, ENV_MQTTS_PORT);
    return 0;
}

static int read_connection_string(const char *text, struct ih_connstr *cs)
{
    struct ih_diag why = {{0}};
    enum ih_connstr_kind kind;
    if (text == NULL) {
        cli_error("no connection string: pass --connection-string or set %s (iothub-service "
                  "device connection-string ID prints one)",
                  ENV_CONNECTION_STRING);
        return -1;
    }
    if (ih_connstr_parse(text, strlen(text), cs, &why) != IH_OK ||
        ih_connstr_classify(cs, &kind, &why) != IH_OK || kind == IH_CONNSTR_SERVICE) {
        cli_error("not a device connection string (HostName=...;DeviceId=...;SharedAccessKey=...)"
                  ": %s",
                  why.msg[0] ? why.msg : "it names a policy, not a device");
        return -1;
    }
    if (cs->shared_access_key != NULL && ih_key_check(cs->shared_access_key, &why) != IH_OK) {
        cli_error("the connection string's SharedAccessKey is not usable: %s", why.msg);
        return -1;
    }
    return 0;
}

static int set_mode(const struct device_cli *c, struct agent *a)
{
    a->mode = strcmp(c->mode, "echo") == 0 ? AGENT_ECHO : AGENT_PROXY;
    if (a->mode == AGENT_PROXY &&
        (c->target == NULL || ih_tcp_split_target(c->target, a->target_host, sizeof a->target_host,
                                                  &a->target_port) != 0)) {
        cli_error("proxy needs --target HOST:PORT (the local service to reach, e.g. "
                  "127.0.0.1:22)");
        return -1;
    }
    a->accept = c->accept_count > 0 ? c->accept : NULL;
    a->accept_count = c->accept_count;
    a->ws_protocol = c->ws_protocol;
    a->methods = c->methods;
    a->method_count = c->method_count;
    a->twin = c->twin;
    a->reports = c->reports;
    a->report_count = c->report_count;
    return 0;
}

static int run(const struct device_cli *c, struct ih_connstr *cs, struct agent *a)
{
    char err[400] = "";
    int port = DEFAULT_MQTTS_PORT;
    if (c->port_text != NULL && cli_parse_int(c->port_text, "the MQTTS port", 1, 65535, &port) != 0)
        return CLI_USAGE;
    if (ih_client_loop_new(c->ca_file, &a->loop, err, sizeof err) != 0) {
        cli_error("%s", err);
        return CLI_FAILED;
    }
    a->c2d = cs->module_id == NULL; /* a module has no cloud-to-device messages (rule D17) */
    struct mqtt_link_options mo = {
        .host = cs->host_name,
        .connect_host = cs->gateway_host_name != NULL ? cs->gateway_host_name : cs->host_name,
        .port = port,
        .device_id = cs->device_id,
        .module_id = cs->module_id,
        .key = cs->shared_access_key,
        .fixed_token = cs->shared_access_signature,
        .ca_file = c->ca_file,
        .sas_ttl_s = c->sas_ttl_s,
        .on_request = agent_on_request,
        .on_method = a->method_count > 0 ? agent_on_method : NULL,
        .on_twin = a->twin ? agent_on_twin : NULL,
        .on_c2d = a->c2d ? agent_on_c2d : NULL,
        .on_listening = agent_on_listening,
        .ctx = a,
    };
    if (mqtt_link_start(&mo, &a->link, err, sizeof err) != 0) {
        cli_error("%s", err);
        return CLI_FAILED;
    }
    cli_info("connecting to %s:%d as '%s%s%s'", mo.connect_host, port, cs->device_id,
             cs->module_id != NULL ? "/" : "", cs->module_id != NULL ? cs->module_id : "");
    /* Runs until a signal ends the process, or the hub refuses the credentials. */
    mqtt_link_wait_fatal(a->link, err, sizeof err);
    cli_error("%s", err);
    return CLI_FAILED;
}

static void free_methods(struct device_cli *c)
{
    for (int i = 0; i < c->method_count; i++)
        free(c->methods[i].name);
}

int main(int argc, char **argv)
{
    struct device_cli c;
    struct agent a;
    struct ih_connstr cs;
    memset(&c, 0, sizeof c);
    memset(&a, 0, sizeof a);
    memset(&cs, 0, sizeof cs);
    cli_set_program("iothub-device");
    cli_ignore_sigpipe();
    int rc = parse(argc, argv, &c);
    if (rc != 0)
        rc = rc > 0 ? CLI_OK : CLI_USAGE;
    else if (read_connection_string(c.connection_string, &cs) != 0 || set_mode(&c, &a) != 0)
        rc = CLI_USAGE;
    else
        rc = run(&c, &cs, &a);
    ih_connstr_free(&cs);
    free_methods(&c);
    return rc;
}
