/* The stream commands of iothub-service: stream, echo and proxy. */
#include "cli_common.h"
#include "service_cli.h"

#include "transport/pump.h"
#include "transport/tcp.h"
#include "util/deadline.h"

#include <jansson.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long echo waits for the last echoes once stdin has ended. */
#define ECHO_DRAIN_MS 10000

static int need_device(const struct service_cli *cli, const char *command)
{
    if (cli->arg_count >= 2)
        return 0;
    cli_error("%s needs a device id: iothub-service %s DEVICE", command, command);
    return -1;
}

static struct iothub_stream_request request_of(const struct service_cli *cli,
                                               const char *default_name)
{
    struct iothub_stream_request req = {cli->args[1], cli->module,
                                        cli->name != NULL ? cli->name : default_name,
                                        cli->response_timeout_s, cli->connect_timeout_s};
    return req;
}

static int initiate(struct service_cli *cli, const struct iothub_stream_request *req,
                    struct iothub_stream_result *res)
{
    struct iothub_error err;
    char doing[600];
    snprintf(doing, sizeof doing, "stream '%s' to '%s%s%s'", req->name, req->device_id,
             req->module_id != NULL ? "/" : "", req->module_id != NULL ? req->module_id : "");
    if (iothub_stream_initiate(cli->svc, req, res, &err) != 0)
        return service_cli_report(cli, doing, &err);
    if (!res->accepted) {
        cli_error("%s: the device rejected it (its agent may not accept this name, or its "
                  "proxy target may be down)",
                  doing);
        return CLI_REJECTED;
    }
    return CLI_OK;
}

int cmd_stream(struct service_cli *cli)
{
    if (need_device(cli, "stream") != 0)
        return CLI_USAGE;
    struct iothub_stream_request req = request_of(cli, "stream");
    struct iothub_stream_result res;
    int rc = initiate(cli, &req, &res);
    if (rc == CLI_FAILED)
        return rc;
    if (cli->json) {
        /* The fields of the Node SDK's StreamInitiationResult. */
        json_t *out = res.accepted ? json_pack("{s:b, s:s, s:s}", "isAccepted", 1, "uri", res.url,
                                               "authorizationToken", res.token)
                                   : json_pack("{s:b}", "isAccepted", 0);
        char *text = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
        printf("%s\n", text != NULL ? text : "{}");
        free(text);
        json_decref(out);
    } else if (res.accepted) {
        printf("accepted\nurl: %s\ntoken: %s\n", res.url, res.token);
    } else {
        printf("rejected\n");
    }
    return rc;
}

int service_cli_open_stream(struct service_cli *cli, struct iothub_stream **out)
{
    struct iothub_stream_request req = request_of(cli, "proxy");
    struct iothub_stream_result res;
    int rc = initiate(cli, &req, &res);
    if (rc != CLI_OK)
        return rc;
    struct iothub_error err;
    if (iothub_stream_open(cli->svc, &res, cli->ws_protocol, out, &err) != 0)
        return service_cli_report(cli, "opening the stream", &err);
    return CLI_OK;
}

/* ---- echo ---- */

struct echo {
    struct iothub_stream *s;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    size_t received;
    int closed;
};

/* Prints what comes back, as it comes. */
static void *print_echoes(void *arg)
{
    struct echo *e = arg;
    char buf[4096];
    ssize_t n;
    while ((n = iothub_stream_read(e->s, buf, sizeof buf)) > 0) {
        fwrite(buf, 1, (size_t)n, stdout);
        fflush(stdout);
        pthread_mutex_lock(&e->lock);
        e->received += (size_t)n;
        pthread_cond_broadcast(&e->changed);
        pthread_mutex_unlock(&e->lock);
    }
    pthread_mutex_lock(&e->lock);
    e->closed = 1;
    pthread_cond_broadcast(&e->changed);
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* Waits until sent bytes came back, the stream closed, or the drain time passed; says what is
 * missing. */
static int wait_echoed(struct echo *e, size_t sent)
{
    struct timespec until = deadline_after_ms(ECHO_DRAIN_MS);
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    while (e->received < sent && !e->closed && rc == 0)
        rc = pthread_cond_timedwait(&e->changed, &e->lock, &until);
    size_t received = e->received;
    int closed = e->closed;
    pthread_mutex_unlock(&e->lock);
    if (received >= sent)
        return 0;
    cli_error("only %zu of %zu bytes came back before the stream %s", received, sent,
              closed ? "closed" : "went quiet");
    return -1;
}

int cmd_echo(struct service_cli *cli)
{
    if (need_device(cli, "echo") != 0)
        return CLI_USAGE;
    if (cli->name == NULL)
        cli->name = "echo";
    struct echo e = {.received = 0};
    int rc = service_cli_open_stream(cli, &e.s);
    if (rc != CLI_OK)
        return rc;
    pthread_mutex_init(&e.lock, NULL);
    deadline_cond_init(&e.changed);
    pthread_t printer;
    if (pthread_create(&printer, NULL, print_echoes, &e) != 0) {
        cli_error("cannot start a thread");
        iothub_stream_free(e.s);
        return CLI_FAILED;
    }
    char *line = NULL;
    size_t cap = 0, sent = 0;
    ssize_t n;
    while (rc == CLI_OK && (n = getline(&line, &cap, stdin)) > 0) {
        if (iothub_stream_write(e.s, line, (size_t)n) != 0) {
            cli_error("the stream closed before everything was sent");
            rc = CLI_FAILED;
        }
        sent += (size_t)n;
    }
    free(line);
    if (rc == CLI_OK && wait_echoed(&e, sent) != 0)
        rc = CLI_FAILED;
    iothub_stream_close(e.s, 1000, "done");
    pthread_join(printer, NULL);
    iothub_stream_free(e.s);
    pthread_cond_destroy(&e.changed);
    pthread_mutex_destroy(&e.lock);
    return rc;
}

/* ---- proxy ---- */

static ssize_t stream_read(void *ctx, void *buf, size_t cap)
{
    return iothub_stream_read(ctx, buf, cap);
}

static int stream_write(void *ctx, const void *buf, size_t len)
{
    return iothub_stream_write(ctx, buf, len);
}

static void stream_close(void *ctx, int code, const char *reason)
{
    iothub_stream_close(ctx, code, reason);
}

/* One local connection (or stdin/stdout) through its own stream. */
static int relay_local(struct service_cli *cli, int in_fd, int out_fd)
{
    struct iothub_stream *s = NULL;
    int rc = service_cli_open_stream(cli, &s);
    if (rc != CLI_OK)
        return rc;
    struct ih_pump_stream ps = {stream_read, stream_write, stream_close, s};
    struct ih_pump_totals totals;
    if (ih_pump_run(&ps, in_fd, out_fd, &totals) != 0) {
        cli_error("cannot start a thread");
        rc = CLI_FAILED;
    }
    char reason[128] = "";
    int code = iothub_stream_close_code(s, reason, sizeof reason);
    if (!totals.local_ended_first && code != 1000)
        cli_info("the stream closed with code %d%s%s", code, reason[0] ? ": " : "", reason);
    iothub_stream_free(s);
    return rc;
}

/* Local connections served at once, at most; more are closed at once, with a message. */
#define CONNECTIONS_MAX 256

static atomic_int connections;

struct connection {
    struct service_cli *cli;
    int fd;
};

static void *serve_connection(void *arg)
{
    struct connection *c = arg;
    relay_local(c->cli, c->fd, c->fd);
    close(c->fd);
    free(c);
    atomic_fetch_sub(&connections, 1);
    return NULL;
}

/* Takes the next connection; keeps going through errors that pass (too many files open, a
 * connection reset before it was taken). Returns -1 only when the listener itself failed. */
static int next_connection(int listener)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
            cli_error("cannot take a connection (%s); waiting", strerror(errno));
            poll(NULL, 0, 100); /* back off instead of spinning on the same error */
        } else if (errno != EINTR && errno != ECONNABORTED && errno != EPROTO) {
            cli_error("the listener failed: %s", strerror(errno));
            return -1;
        }
    }
}

static void start_connection(struct service_cli *cli, int fd)
{
    struct connection *c = malloc(sizeof *c);
    pthread_t t;
    if (c == NULL || atomic_fetch_add(&connections, 1) >= CONNECTIONS_MAX) {
        cli_error("%d connections are open already: closing a new one", CONNECTIONS_MAX);
        atomic_fetch_sub(&connections, c != NULL ? 1 : 0);
        free(c);
        close(fd);
        return;
    }
    c->cli = cli;
    c->fd = fd;
    if (pthread_create(&t, NULL, serve_connection, c) != 0) {
        cli_error("cannot start a thread for a connection");
        atomic_fetch_sub(&connections, 1);
        close(fd);
        free(c);
        return;
    }
    pthread_detach(t);
}

static int serve_local_port(struct service_cli *cli)
{
    char err[300];
    int listener = ih_tcp_listen(cli->listen, cli->local_port, err, sizeof err);
    if (listener < 0) {
        cli_error("%s", err);
        return CLI_FAILED;
    }
    /* One line once connections are taken: the port, even when 0 picked it. */
    printf("iothub-service: listening on %s:%d, each connection a stream to '%s'\n", cli->listen,
           ih_tcp_local_port(listener), cli->args[1]);
    fflush(stdout);
    int fd;
    while ((fd = next_connection(listener)) >= 0)
        start_connection(cli, fd);
    close(listener);
    return CLI_FAILED;
}

int cmd_proxy(struct service_cli *cli)
{
    if (need_device(cli, "proxy") != 0)
        return CLI_USAGE;
    if (cli->stdio == (cli->local_port >= 0)) {
        cli_error("proxy needs one of --local-port PORT or --stdio");
        return CLI_USAGE;
    }
    return cli->stdio ? relay_local(cli, 0, 1) : serve_local_port(cli);
}
