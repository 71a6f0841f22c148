/* service_calls: libiothub-service driven line by line from stdin, for the keep-alive tests of
 * test_clients.py. One client serves every command, as in a program that makes many calls. Its
 * settings come from IOTHUB_CONNECTION_STRING, IOTHUB_CA_FILE and IOTHUB_HTTPS_PORT.
 *
 *   get DEVICE | create DEVICE | delete DEVICE
 *   stream DEVICE NAME [RESPONSE_TIMEOUT_S]
 *   method DEVICE NAME   a direct method with a null payload (connect timeout 10 s)
 *   twin DEVICE | twin-update DEVICE JSON   GET, or PATCH with JSON (no spaces), the twin
 *   telemetry DEVICE AFTER   the device's stored messages after sequence number AFTER
 *   & COMMAND     runs COMMAND on a thread of its own and reads the next line at once
 *   wait          waits for every & command, then prints "0 waited"
 *
 * Commands are numbered from 1 (& ones too, wait not). Each prints one line when it is done:
 * "N ok", "N accepted", "N rejected", "N status DEVICE_STATUS" (a method's answer), "N etag ETAG"
 * (the twin's, after a twin call), "N messages COUNT last SEQUENCE" (a telemetry read's), or
 * "N error STATUS MESSAGE". At the end of the input it waits
 * for the & commands and frees the client.
 */
#include "iothub_service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 64
#define LINE_MAX_LEN 512
#define WORDS 4
/* A method call's connect timeout: the agent may be listening before the hub knows it. */
#define METHOD_CONNECT_TIMEOUT_S 10

struct command {
    struct iothub_service *svc;
    int number;
    char line[LINE_MAX_LEN];
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void report(int number, const char *result, const struct iothub_error *err)
{
    pthread_mutex_lock(&out_lock);
    if (err != NULL)
        printf("%d error %d %s\n", number, err->status, err->message);
    else
        printf("%d %s\n", number, result);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static int split(char *line, char *words[WORDS])
{
    int n = 0;
    char *save = NULL; /* commands run on threads of their own at once: strtok_r */
    for (char *w = strtok_r(line, " \t\n", &save); w != NULL && n < WORDS;
         w = strtok_r(NULL, " \t\n", &save))
        words[n++] = w;
    return n;
}

static int registry(struct iothub_service *svc, const char *verb, const char *device,
                    struct iothub_error *err)
{
    char *json = NULL;
    int rc;
    if (strcmp(verb, "get") == 0)
        rc = iothub_device_get(svc, device, &json, err);
    else if (strcmp(verb, "create") == 0)
        rc = iothub_device_create(svc, device, &json, err);
    else
        rc = iothub_device_delete(svc, device, err);
    free(json);
    return rc;
}

static void method(struct command *cmd, const char *device, const char *name)
{
    struct iothub_error err = {0};
    struct iothub_method_request req = {
        .device_id = device, .name = name, .connect_timeout_s = METHOD_CONNECT_TIMEOUT_S};
    struct iothub_method_result res;
    char result[32];
    if (iothub_method_invoke(cmd->svc, &req, &res, &err) != 0) {
        report(cmd->number, NULL, &err);
        return;
    }
    snprintf(result, sizeof result, "status %d", res.status);
    report(cmd->number, result, NULL);
    free(res.payload);
}

static void twin(struct command *cmd, const char *device, const char *patch)
{
    struct iothub_error err = {0};
    struct iothub_twin_result res;
    char result[160];
    int rc = patch != NULL ? iothub_twin_update(cmd->svc, device, NULL, patch, NULL, 0, &res, &err)
                           : iothub_twin_get(cmd->svc, device, NULL, &res, &err);
    if (rc != 0) {
        report(cmd->number, NULL, &err);
        return;
    }
    snprintf(result, sizeof result, "etag %s", res.etag);
    report(cmd->number, result, NULL);
    free(res.json);
}

static void telemetry(struct command *cmd, const char *device, const char *after)
{
    struct iothub_error err = {0};
    struct iothub_telemetry_result res;
    char result[96];
    if (iothub_telemetry_read(cmd->svc, device, NULL, atoll(after), 0, &res, &err) != 0) {
        report(cmd->number, NULL, &err);
        return;
    }
    snprintf(result, sizeof result, "messages %zu last %lld", res.count, res.last_sequence);
    report(cmd->number, result, NULL);
    free(res.json);
}

static void run(struct command *cmd)
{
    char *w[WORDS] = {NULL};
    struct iothub_error err = {0};
    int n = split(cmd->line, w);
    if ((n == 3 || n == 4) && strcmp(w[0], "stream") == 0) {
        struct iothub_stream_request req = {
            .device_id = w[1], .name = w[2], .response_timeout_s = n == 4 ? atoi(w[3]) : 0};
        struct iothub_stream_result res;
        if (iothub_stream_initiate(cmd->svc, &req, &res, &err) != 0)
            report(cmd->number, NULL, &err);
        else
            report(cmd->number, res.accepted ? "accepted" : "rejected", NULL);
    } else if (n == 3 && strcmp(w[0], "method") == 0) {
        method(cmd, w[1], w[2]);
    } else if (n == 2 && strcmp(w[0], "twin") == 0) {
        twin(cmd, w[1], NULL);
    } else if (n == 3 && strcmp(w[0], "twin-update") == 0) {
        twin(cmd, w[1], w[2]);
    } else if (n == 3 && strcmp(w[0], "telemetry") == 0) {
        telemetry(cmd, w[1], w[2]);
    } else if (n == 2 && (strcmp(w[0], "get") == 0 || strcmp(w[0], "create") == 0 ||
                          strcmp(w[0], "delete") == 0)) {
        int rc = registry(cmd->svc, w[0], w[1], &err);
        report(cmd->number, "ok", rc == 0 ? NULL : &err);
    } else {
        snprintf(err.message, sizeof err.message, "unknown command");
        report(cmd->number, NULL, &err);
    }
}

static void *run_thread(void *arg)
{
    run(arg);
    free(arg);
    return NULL;
}

static struct iothub_service *service_from_env(void)
{
    const char *port = getenv("IOTHUB_HTTPS_PORT");
    struct iothub_service_options o = {getenv("IOTHUB_CONNECTION_STRING"), getenv("IOTHUB_CA_FILE"),
                                       port != NULL ? atoi(port) : 0, 0};
    struct iothub_service *svc = NULL;
    struct iothub_error err;
    if (iothub_service_new(&o, &svc, &err) != 0)
        fprintf(stderr, "service_calls: %s\n", err.message);
    return svc;
}

static void wait_all(pthread_t *threads, int *count)
{
    for (int i = 0; i < *count; i++)
        pthread_join(threads[i], NULL);
    *count = 0;
}

/* One line: runs it here or on a new thread. Returns 0, or -1 when a thread cannot start. */
static int dispatch(struct iothub_service *svc, const char *line, int number, pthread_t *threads,
                    int *count)
{
    int background = line[0] == '&';
    struct command *cmd = calloc(1, sizeof *cmd);
    if (cmd == NULL)
        return -1;
    cmd->svc = svc;
    cmd->number = number;
    snprintf(cmd->line, sizeof cmd->line, "%s", background ? line + 1 : line);
    if (!background) {
        run(cmd);
        free(cmd);
        return 0;
    }
    if (*count < MAX_THREADS && pthread_create(&threads[*count], NULL, run_thread, cmd) == 0) {
        (*count)++;
        return 0;
    }
    free(cmd);
    return -1;
}

int main(void)
{
    struct iothub_service *svc = service_from_env();
    if (svc == NULL)
        return 1;
    pthread_t threads[MAX_THREADS];
    int count = 0, number = 0, rc = 0;
    char line[LINE_MAX_LEN];
    while (rc == 0 && fgets(line, sizeof line, stdin) != NULL) {
        if (strncmp(line, "wait", 4) == 0) {
            wait_all(threads, &count);
            report(0, "waited", NULL);
        } else if (dispatch(svc, line, ++number, threads, &count) != 0) {
            fprintf(stderr, "service_calls: cannot run command %d\n", number);
            rc = 1;
        }
    }
    wait_all(threads, &count);
    iothub_service_free(svc);
    return rc;
}
