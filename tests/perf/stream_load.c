/* stream_load: load for the device-streams benchmarks (tests/perf/README.md). Its
 * settings come from IOTHUB_CONNECTION_STRING, IOTHUB_CA_FILE and IOTHUB_HTTPS_PORT.
 *
 *   stream_load setup COUNT DEVICE
 *     COUNT streams one after another with libiothub-service, to an iothub-device echo agent:
 *     POST -> 200, the service's WebSocket up, the first echo back. One line per stream:
 *     "answered_us websocket_us echo_us" (each since the POST).
 *   stream_load get COUNT DEVICE
 *     The baseline of setup: COUNT registry reads of DEVICE through the same library, each on
 *     its kept-alive connection as each POST. One line each: "us".
 *   stream_load rate SECONDS THREADS DEVICE...
 *     THREADS keep-alive HTTPS connections POST stream requests round-robin over DEVICE... for
 *     SECONDS, as fast as the answers come (the SDKs keep their connections alive too). Prints
 *     "initiated N accepted A rejected R errors E seconds S".
 *   stream_load health-rate SECONDS THREADS
 *     The baseline of rate: GET /health over the same keep-alive connections.
 *   stream_load concurrent STREAMS SECONDS DEVICE...
 *     STREAMS streams round-robin over DEVICE... (echo agents), then each sends 32 bytes a second
 *     and waits for them back, for SECONDS. Prints "streams N echoes E errors X late L
 *     max_rtt_us M" (late: an echo that took over a second).
 */
#include "iothub_service.h"

#include "protocol/connstr.h"
#include "protocol/sas.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ECHO_SIZE 32
#define THREAD_STACK (256 * 1024)
#define RESPONSE_MAX 8192

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "stream_load: %s: %s\n", what, why);
    exit(1);
}

static struct iothub_service *service_from_env(void)
{
    const char *port = getenv("IOTHUB_HTTPS_PORT");
    struct iothub_service_options o = {getenv("IOTHUB_CONNECTION_STRING"), getenv("IOTHUB_CA_FILE"),
                                       port != NULL ? atoi(port) : 0, 0};
    struct iothub_service *svc;
    struct iothub_error err;
    if (iothub_service_new(&o, &svc, &err) != 0)
        die("connecting", err.message);
    return svc;
}

/* ---- setup ---- */

static int run_setup(int count, const char *device)
{
    struct iothub_service *svc = service_from_env();
    for (int i = 0; i < count; i++) {
        struct iothub_stream_request req = {.device_id = device, .name = "setup"};
        struct iothub_stream_result res;
        struct iothub_stream *s;
        struct iothub_error err;
        char buf[ECHO_SIZE];
        int64_t start = now_us();
        if (iothub_stream_initiate(svc, &req, &res, &err) != 0 || !res.accepted)
            die("initiating", err.message);
        int64_t answered = now_us();
        if (iothub_stream_open(svc, &res, NULL, &s, &err) != 0)
            die("opening", err.message);
        int64_t up = now_us();
        memset(buf, 'e', sizeof buf);
        if (iothub_stream_write(s, buf, sizeof buf) != 0)
            die("writing", "the stream closed");
        size_t got = 0;
        while (got < sizeof buf) {
            ssize_t n = iothub_stream_read(s, buf, sizeof buf - got);
            if (n <= 0)
                die("reading", "the stream closed before the echo");
            got += (size_t)n;
        }
        int64_t echoed = now_us();
        iothub_stream_free(s);
        printf("%lld %lld %lld\n", (long long)(answered - start), (long long)(up - start),
               (long long)(echoed - start));
    }
    iothub_service_free(svc);
    return 0;
}

static int run_get(int count, const char *device)
{
    struct iothub_service *svc = service_from_env();
    for (int i = 0; i < count; i++) {
        char *json = NULL;
        struct iothub_error err;
        int64_t start = now_us();
        if (iothub_device_get(svc, device, &json, &err) != 0)
            die("reading the device", err.message);
        printf("%lld\n", (long long)(now_us() - start));
        free(json);
    }
    iothub_service_free(svc);
    return 0;
}

/* ---- rate: keep-alive POSTs over OpenSSL ---- */

struct target {
    char host[256], port[16], token[1024];
    SSL_CTX *ctx;
};

struct poster {
    const struct target *t;
    char *const *devices;
    int device_count, index;
    int64_t until;
    int health; /* GET /health instead of stream POSTs: the baseline */
    uint64_t accepted, rejected, errors;
};

static int tls_connect(const struct target *t, SSL **out, int *fd_out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(t->host, t->port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, 0);
    int one = 1;
    int ok = fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    freeaddrinfo(ai);
    if (!ok) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(t->ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, t->host);
    SSL_set1_host(ssl, t->host);
    if (SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        close(fd);
        return -1;
    }
    *out = ssl;
    *fd_out = fd;
    return 0;
}

/* One response: its status, and whether the device accepted. */
static int read_response(SSL *ssl, int *status, int *accepted)
{
    char buf[RESPONSE_MAX];
    size_t len = 0;
    char *end = NULL;
    while (end == NULL) {
        if (len == sizeof buf - 1)
            return -1;
        int n = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len));
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *status = atoi(buf + 9);
    *accepted = strstr(buf, "iothub-streaming-is-accepted: True") != NULL;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    long body = cl != NULL ? strtol(cl + 17, NULL, 10) : 0;
    long have = (long)(len - (size_t)(end + 4 - buf));
    while (have < body) {
        int n = SSL_read(
            ssl, buf,
            (int)(sizeof buf < (size_t)(body - have) ? sizeof buf : (size_t)(body - have)));
        if (n <= 0)
            return -1;
        have += n;
    }
    return 0;
}

static void *post_loop(void *arg)
{
    struct poster *p = arg;
    SSL *ssl = NULL;
    int fd = -1;
    char request[2048];
    while (now_us() < p->until) {
        if (ssl == NULL && tls_connect(p->t, &ssl, &fd) != 0) {
            p->errors++;
            continue;
        }
        const char *device = p->device_count > 0 ? p->devices[p->index++ % p->device_count] : "";
        int n = p->health
                    ? snprintf(request, sizeof request, "GET /health HTTP/1.1\r\nHost: %s\r\n\r\n",
                               p->t->host)
                    : snprintf(request, sizeof request,
                               "POST /twins/%s/streams/rate?api-version=2020-09-30 HTTP/1.1\r\n"
                               "Host: %s\r\nAuthorization: %s\r\n"
                               "iothub-streaming-response-timeout-in-seconds: 10\r\n"
                               "iothub-streaming-connect-timeout-in-seconds: 1\r\n"
                               "Content-Length: 0\r\n\r\n",
                               device, p->t->host, p->t->token);
        int status = 0, accepted = 0;
        if (SSL_write(ssl, request, n) != n || read_response(ssl, &status, &accepted) != 0) {
            p->errors++;
            SSL_free(ssl);
            close(fd);
            ssl = NULL;
            continue;
        }
        if (status != 200)
            p->errors++;
        else if (accepted || p->health)
            p->accepted++;
        else
            p->rejected++;
    }
    if (ssl != NULL) {
        SSL_free(ssl);
        close(fd);
    }
    return NULL;
}

static void target_from_env(struct target *t)
{
    const char *cs = getenv("IOTHUB_CONNECTION_STRING");
    struct ih_connstr c;
    struct ih_diag why;
    char *token = NULL;
    if (cs == NULL || ih_connstr_parse(cs, strlen(cs), &c, &why) != IH_OK)
        die("IOTHUB_CONNECTION_STRING", "missing or not a connection string");
    if (ih_sas_create(c.host_name, c.shared_access_key, c.shared_access_key_name,
                      (long long)time(NULL) + 3600, &token) != IH_OK)
        die("the SAS token", "cannot be made");
    snprintf(t->host, sizeof t->host, "%s", c.host_name);
    snprintf(t->port, sizeof t->port, "%s",
             getenv("IOTHUB_HTTPS_PORT") != NULL ? getenv("IOTHUB_HTTPS_PORT") : "443");
    snprintf(t->token, sizeof t->token, "%s", token);
    free(token);
    ih_connstr_free(&c);
    t->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    const char *ca = getenv("IOTHUB_CA_FILE");
    if (ca == NULL || SSL_CTX_load_verify_locations(t->ctx, ca, NULL) != 1)
        die("IOTHUB_CA_FILE", "missing or not a PEM CA");
}

static int run_rate(int seconds, int threads, char *const *devices, int device_count, int health)
{
    struct target t;
    target_from_env(&t);
    struct poster *p = calloc((size_t)threads, sizeof *p);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    int64_t start = now_us();
    for (int i = 0; i < threads; i++) {
        p[i] = (struct poster){.t = &t,
                               .devices = devices,
                               .device_count = device_count,
                               .index = i,
                               .until = start + seconds * 1000000LL,
                               .health = health};
        pthread_create(&ids[i], NULL, post_loop, &p[i]);
    }
    uint64_t accepted = 0, rejected = 0, errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        accepted += p[i].accepted;
        rejected += p[i].rejected;
        errors += p[i].errors;
    }
    double elapsed = (double)(now_us() - start) / 1e6;
    printf("initiated %llu accepted %llu rejected %llu errors %llu seconds %.3f\n",
           (unsigned long long)(accepted + rejected), (unsigned long long)accepted,
           (unsigned long long)rejected, (unsigned long long)errors, elapsed);
    free(p);
    free(ids);
    SSL_CTX_free(t.ctx);
    return errors == 0 ? 0 : 1;
}

/* ---- concurrent ---- */

struct echoer {
    struct iothub_stream *s;
    int64_t until;
    uint64_t echoes, errors, late;
    int64_t max_rtt;
};

static atomic_int stopping;

static int echo_once(struct echoer *e)
{
    char buf[ECHO_SIZE];
    memset(buf, 'c', sizeof buf);
    int64_t start = now_us();
    if (iothub_stream_write(e->s, buf, sizeof buf) != 0)
        return -1;
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = iothub_stream_read(e->s, buf, sizeof buf - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    int64_t rtt = now_us() - start;
    e->max_rtt = rtt > e->max_rtt ? rtt : e->max_rtt;
    e->late += rtt > 1000000;
    e->echoes++;
    return 0;
}

static void *echo_loop(void *arg)
{
    struct echoer *e = arg;
    int64_t next = now_us();
    while (next < e->until && !atomic_load(&stopping)) {
        if (echo_once(e) != 0) {
            e->errors++;
            return NULL;
        }
        next += 1000000;
        int64_t wait = next - now_us();
        if (wait > 0)
            usleep((useconds_t)wait);
    }
    return NULL;
}

static int run_concurrent(int count, int seconds, char *const *devices, int device_count)
{
    struct iothub_service *svc = service_from_env();
    struct echoer *e = calloc((size_t)count, sizeof *e);
    pthread_t *ids = calloc((size_t)count, sizeof *ids);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    int64_t opened = now_us();
    for (int i = 0; i < count; i++) {
        struct iothub_stream_request req = {.device_id = devices[i % device_count],
                                            .name = "concurrent"};
        struct iothub_stream_result res;
        struct iothub_error err;
        if (iothub_stream_initiate(svc, &req, &res, &err) != 0 || !res.accepted ||
            iothub_stream_open(svc, &res, NULL, &e[i].s, &err) != 0)
            die("opening a stream", err.message);
    }
    fprintf(stderr, "stream_load: %d streams open in %.1f s\n", count,
            (double)(now_us() - opened) / 1e6);
    int64_t until = now_us() + seconds * 1000000LL;
    for (int i = 0; i < count; i++) {
        e[i].until = until;
        pthread_create(&ids[i], &attr, echo_loop, &e[i]);
    }
    /* One line once every stream echoes: the driver samples RSS and CPU from here. */
    printf("running\n");
    fflush(stdout);
    uint64_t echoes = 0, errors = 0, late = 0;
    int64_t max_rtt = 0;
    for (int i = 0; i < count; i++) {
        pthread_join(ids[i], NULL);
        echoes += e[i].echoes;
        errors += e[i].errors;
        late += e[i].late;
        max_rtt = e[i].max_rtt > max_rtt ? e[i].max_rtt : max_rtt;
        iothub_stream_free(e[i].s);
    }
    printf("streams %d echoes %llu errors %llu late %llu max_rtt_us %lld\n", count,
           (unsigned long long)echoes, (unsigned long long)errors, (unsigned long long)late,
           (long long)max_rtt);
    free(e);
    free(ids);
    iothub_service_free(svc);
    return errors == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "setup") == 0)
        return run_setup(atoi(argv[2]), argv[3]);
    if (argc >= 4 && strcmp(argv[1], "get") == 0)
        return run_get(atoi(argv[2]), argv[3]);
    if (argc >= 5 && strcmp(argv[1], "rate") == 0)
        return run_rate(atoi(argv[2]), atoi(argv[3]), argv + 4, argc - 4, 0);
    if (argc >= 4 && strcmp(argv[1], "health-rate") == 0)
        return run_rate(atoi(argv[2]), atoi(argv[3]), NULL, 0, 1);
    if (argc >= 5 && strcmp(argv[1], "concurrent") == 0)
        return run_concurrent(atoi(argv[2]), atoi(argv[3]), argv + 4, argc - 4);
    fprintf(stderr, "usage: stream_load setup COUNT DEVICE\n"
                    "       stream_load get COUNT DEVICE\n"
                    "       stream_load rate SECONDS THREADS DEVICE...\n"
                    "       stream_load health-rate SECONDS THREADS\n"
                    "       stream_load concurrent STREAMS SECONDS DEVICE...\n");
    return 2;
}
