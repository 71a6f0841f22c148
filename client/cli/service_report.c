/* Turning a failed call into one line that says what happened and what to do. */
#include "cli_common.h"
#include "service_cli.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int mentions(const char *text, const char *word)
{
    return strcasestr(text, word) != NULL;
}

/* What to do, for the failures people meet first. command: the failed command ("method"...). */
static const char *fix_for(const struct iothub_error *err, const char *device, const char *command,
                           char *buf, size_t cap)
{
    int method = strcmp(command, "method") == 0, twin = strcmp(command, "twin") == 0;
    int telemetry = strcmp(command, "telemetry") == 0, c2d = strcmp(command, "c2d") == 0;
    if (err->status == 0 &&
        (mentions(err->message, "certificate") || mentions(err->message, "verify")))
        return "pass --ca with the emulator's ca.pem (its path is in the ready line) or set "
               "IOTHUB_CA_FILE";
    if (err->status == 0 && mentions(err->message, "SSL"))
        return "is that port the hub's HTTPS port? Pass it with --https-port or "
               "IOTHUB_HTTPS_PORT (default 443)";
    if (err->status == 0 && mentions(err->message, "no answer from the hub"))
        return "is the hub running? Pass its HTTPS port with --https-port or IOTHUB_HTTPS_PORT "
               "(default 443)";
    switch (err->code) {
    case 401002:
        if (telemetry)
            return "the connection string's policy or key is not accepted; telemetry needs a "
                   "policy with RegistryRead (registryRead, iothubowner)";
        return twin ? "the connection string's policy or key is not accepted; twins need a policy "
                      "with RegistryRead (show), RegistryWrite (update) or ServiceConnect"
                    : "the connection string's policy or key is not accepted; streams, methods and "
                      "c2d need a policy with ServiceConnect (service, iothubowner)";
    case 404001:
        snprintf(buf, cap, "register it first: iothub-service device create %s", device);
        return buf;
    case 404103:
        return method ? "start the device so that it listens for method calls (iothub-device "
                        "--method NAME=JSON with its connection string), or give it time to "
                        "connect with --connect-timeout"
                      : "start the device (iothub-device with its connection string) so that it "
                        "listens for stream requests";
    case 504101:
        return method ? "the device got the call but did not answer in time (--timeout)"
                      : "the device got the request but did not answer in time";
    case 409001:
        snprintf(buf, cap, "it exists already: iothub-service device show %s", device);
        return buf;
    case 403004:
        if (!c2d)
            return NULL;
        snprintf(buf, cap,
                 "the device's queue is full: start the device (iothub-device) so that it takes "
                 "its messages, or drop them with iothub-service c2d purge %s",
                 device);
        return buf;
    case 412001:
        snprintf(buf, cap,
                 "the twin changed since you read that etag: read it again with iothub-service "
                 "twin show %s, or leave --etag out",
                 device);
        return buf;
    default:
        return NULL;
    }
}

int service_cli_report(const struct service_cli *cli, const char *doing,
                       const struct iothub_error *err)
{
    char buf[400];
    const char *command = cli->arg_count >= 1 ? cli->args[0] : "";
    /* The device id: after "stream" or "echo"..., or after "device VERB", "twin VERB" and
     * "c2d VERB". */
    int has_verb = strcmp(command, "device") == 0 || strcmp(command, "twin") == 0 ||
                   strcmp(command, "c2d") == 0;
    const char *device = cli->arg_count >= 3 && has_verb ? cli->args[2]
                         : cli->arg_count >= 2           ? cli->args[1]
                                                         : "ID";
    const char *fix = fix_for(err, device, command, buf, sizeof buf);
    char code[24] = "";
    if (err->code != 0)
        snprintf(code, sizeof code, " (%ld)", err->code);
    if (err->status != 0)
        cli_error("%s: HTTP %d%s%s%s: %s%s%s", doing, err->status, err->name[0] ? " " : "",
                  err->name, code, err->message, fix != NULL ? "; " : "", fix != NULL ? fix : "");
    else
        cli_error("%s: %s%s%s", doing, err->message, fix != NULL ? "; " : "",
                  fix != NULL ? fix : "");
    return CLI_FAILED;
}
