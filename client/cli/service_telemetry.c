/* The telemetry command of iothub-service: prints the device-to-cloud messages the hub stored
 * (docs/protocol.md §12.3, the emulator's GET /emulator/telemetry), one line of JSON each, oldest
 * first; with --follow, the new ones as they arrive, like az iot hub monitor-events. */
#include "cli_common.h"
#include "service_cli.h"

#include "protocol/number.h"

#include <jansson.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Messages asked for in one call: the hub's default page. */
#define PAGE 1000
/* How long --follow waits before it asks again, once it has printed everything stored. */
#define POLL_INTERVAL_MS 200

/* --follow ends on SIGINT or SIGTERM. Between calls the loop sees the flag and returns; during a
 * call (which may wait for its timeout when the hub went away) the handler ends the process at
 * once, with everything read before already printed and flushed. The handler may run on the
 * client's I/O thread, so both flags are atomics (lock-free: safe in a handler). */
static atomic_int stopping, in_call;

static void on_stop(int sig)
{
    (void)sig;
    atomic_store(&stopping, 1);
    if (atomic_load(&in_call))
        _exit(CLI_OK);
}

static void catch_stop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int parse_since(const char *text, long long *out)
{
    uint64_t v = 0;
    if (ih_parse_uint(text, INT64_MAX, &v) != IH_OK) {
        cli_error("--since must be a sequence number (a whole number; the messages after it are "
                  "printed), not '%s'",
                  text);
        return -1;
    }
    *out = (long long)v;
    return 0;
}

/* Each message of the page on a line of its own, compact: the hub's own text of it, since the hub
 * writes compact JSON and a message holds no numbers but integers. Returns 0, or -1 when stdout
 * is gone (a closed pipe). */
static int print_page(const char *json)
{
    /* A UTF-8 body may hold NUL characters (\u0000 in JSON). */
    json_t *list = json_loads(json, JSON_ALLOW_NUL, NULL);
    size_t i;
    json_t *message;
    int rc = 0;
    json_array_foreach(list, i, message)
    {
        char *line = json_dumps(message, JSON_COMPACT);
        if (line == NULL) {
            cli_error("out of memory");
            rc = -1;
            break;
        }
        printf("%s\n", line);
        free(line);
    }
    json_decref(list);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the messages to stdout");
        rc = -1;
    }
    return rc;
}

/* One page after *after (printed when print is set); *after moves to its last message. Returns
 * the page's count, or -1 after saying what went wrong. */
static long long read_page(struct service_cli *cli, const char *doing, long long *after, int print)
{
    struct iothub_telemetry_result res;
    struct iothub_error err;
    atomic_store(&in_call, 1);
    if (atomic_load(&stopping)) {
        atomic_store(&in_call, 0);
        return 0; /* the caller's loop sees the flag */
    }
    int rc = iothub_telemetry_read(cli->svc, cli->arg_count >= 2 ? cli->args[1] : NULL, cli->module,
                                   *after, PAGE, &res, &err);
    atomic_store(&in_call, 0);
    if (rc != 0) {
        service_cli_report(cli, doing, &err);
        return -1;
    }
    rc = print ? print_page(res.json) : 0;
    free(res.json);
    *after = res.last_sequence;
    return rc == 0 ? (long long)res.count : -1;
}

static void wait_poll_interval(void)
{
    struct timespec t = {0, POLL_INTERVAL_MS * 1000000L};
    /* A signal cuts it short (EINTR): the loop then sees the flag. */
    nanosleep(&t, NULL);
}

int cmd_telemetry(struct service_cli *cli)
{
    long long after = 0;
    if (cli->arg_count > 2) {
        cli_error("telemetry takes at most one device id (its module with --module): "
                  "iothub-service telemetry [DEVICE] [--since SEQ] [--follow]");
        return CLI_USAGE;
    }
    if (cli->since != NULL && parse_since(cli->since, &after) != 0)
        return CLI_USAGE;
    char doing[600];
    snprintf(doing, sizeof doing, "telemetry%s%s%s%s", cli->arg_count >= 2 ? " of " : "",
             cli->arg_count >= 2 ? cli->args[1] : "", cli->module != NULL ? " --module " : "",
             cli->module != NULL ? cli->module : "");
    long long n;
    if (!cli->follow) {
        /* Page after page until an empty one: everything stored when the last call ran. */
        while ((n = read_page(cli, doing, &after, 1)) > 0)
            continue;
        return n == 0 ? CLI_OK : CLI_FAILED;
    }
    catch_stop();
    /* Like az iot hub monitor-events: only what arrives from now on, unless --since says. */
    if (cli->since == NULL) {
        while ((n = read_page(cli, doing, &after, 0)) > 0)
            continue;
        if (n < 0)
            return CLI_FAILED;
    }
    while (!atomic_load(&stopping)) {
        if ((n = read_page(cli, doing, &after, 1)) < 0)
            return CLI_FAILED;
        /* More may be stored behind a page: ask again at once, wait only once caught up. */
        if (n == 0 && !atomic_load(&stopping))
            wait_poll_interval();
    }
    return CLI_OK;
}
