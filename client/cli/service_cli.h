/* iothub-service, the command-line service client: its options and commands. */
#ifndef IH_SERVICE_CLI_H
#define IH_SERVICE_CLI_H

#include "iothub_service.h"

/* --property flags of one command, at most. */
#define SERVICE_CLI_PROPERTY_MAX 64

struct service_cli {
    /* From flags and the environment. */
    const char *connection_string, *ca_file;
    int https_port;
    const char *name, *module, *ws_protocol, *listen, *payload;
    const char *desired, *tags, *etag; /* twin update */
    const char *since;                 /* telemetry: a sequence number, checked by the command */
    const char *message_id, *correlation_id;          /* c2d send */
    const char *properties[SERVICE_CLI_PROPERTY_MAX]; /* c2d send: each --property NAME=VALUE */
    int property_count;
    int response_timeout_s, connect_timeout_s, method_timeout_s, local_port, top;
    int json, stdio, replace, follow;
    /* The positional arguments after the command. */
    char **args;
    int arg_count;
    struct iothub_service *svc;
};

/* Says what went wrong with a call, and what to do about it; returns CLI_FAILED. */
int service_cli_report(const struct service_cli *cli, const char *doing,
                       const struct iothub_error *err);

int cmd_stream(struct service_cli *cli);
int cmd_echo(struct service_cli *cli);
int cmd_proxy(struct service_cli *cli);
int cmd_device(struct service_cli *cli);
int cmd_method(struct service_cli *cli);
int cmd_twin(struct service_cli *cli);
int cmd_telemetry(struct service_cli *cli);
int cmd_c2d(struct service_cli *cli);

/* Pretty JSON for people; the hub's text as is when it is not JSON. */
void service_cli_print_json(const char *text);

/* Initiates a stream to the command's device and opens it; on failure says why and returns
 * CLI_FAILED or CLI_REJECTED. */
int service_cli_open_stream(struct service_cli *cli, struct iothub_stream **out);

#endif
