#include "loop.h"

#include "url.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long enough for a stream POST (response plus connect timeout, both up to 60 s); the callers
 * keep their own, shorter deadlines. */
#define LWS_TIMEOUT_SECONDS 300
/* Debian's bundle of the system's trusted CAs. */
#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

struct job {
    struct job *next;
    void (*fn)(void *ctx);
    void *ctx;
};

struct ih_loop {
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    pthread_t thread;
    atomic_int stopping;
    atomic_int dead; /* the service thread ended on its own: posting fails */
    pthread_mutex_t lock;
    struct job *head, *tail;
    struct ih_loop_keepalive keepalive; /* the loop's thread only */
    /* The loop's own protocol, then the options' ones, then the NULL end. */
    struct lws_protocols protocols[IH_LOOP_MAX_PROTOCOLS + 2];
};

/* Jobs run in order, outside the lock (a job may post another). */
static void run_jobs(struct ih_loop *loop)
{
    pthread_mutex_lock(&loop->lock);
    struct job *j = loop->head;
    loop->head = loop->tail = NULL;
    pthread_mutex_unlock(&loop->lock);
    while (j != NULL) {
        struct job *next = j->next;
        j->fn(j->ctx);
        free(j);
        j = next;
    }
}

static int loop_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        struct ih_loop *loop = lws_context_user(lws_get_context(wsi));
        run_jobs(loop);
        return 0;
    }
    if (reason == LWS_CALLBACK_WSI_DESTROY && user != NULL) {
        struct ih_loop_conn *conn = user;
        conn->destroyed(user);
        return 0;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The loop's protocol comes first: it gets the wake-ups (lws calls every protocol with them;
 * only this one acts). Returns -1 when the options give too many. */
static int list_protocols(struct ih_loop *loop, const struct lws_protocols *theirs)
{
    const struct lws_protocols own = {"ih-loop", loop_callback, 0, 0, 0, NULL, 0};
    size_t n = 0;
    loop->protocols[n++] = own;
    for (; theirs != NULL && theirs->name != NULL; theirs++) {
        if (n > IH_LOOP_MAX_PROTOCOLS)
            return -1;
        loop->protocols[n++] = *theirs;
    }
    memset(&loop->protocols[n], 0, sizeof loop->protocols[n]);
    return 0;
}

/* lws's own error lines (a certificate that does not verify says why only there): kept, not
 * printed, so a failed connection can tell the user. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_error[256];

static void keep_log_line(int level, const char *line)
{
    (void)level;
    const char *text = strstr(line, "E: ");
    text = text != NULL ? text + 3 : line;
    pthread_mutex_lock(&log_lock);
    snprintf(last_error, sizeof last_error, "%s", text);
    size_t n = strlen(last_error);
    while (n > 0 && (last_error[n - 1] == '\n' || last_error[n - 1] == '\r'))
        last_error[--n] = '\0';
    pthread_mutex_unlock(&log_lock);
}

void ih_loop_take_error(char *out, size_t cap)
{
    pthread_mutex_lock(&log_lock);
    snprintf(out, cap, "%s", last_error);
    last_error[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

static void *service_loop(void *arg)
{
    struct ih_loop *loop = arg;
    while (!atomic_load(&loop->stopping)) {
        if (lws_service(loop->ctx, 0) < 0) {
            atomic_store(&loop->dead, 1);
            fprintf(stderr, "libwebsockets stopped serving: connections will fail\n");
            break;
        }
    }
    return NULL;
}

static int create_context(struct ih_loop *loop, const struct ih_loop_options *o, char *err,
                          size_t err_len)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.user = loop;
    info.count_threads = 1;
    /* lws times client connections out by the context's setting too (5 s by default), which
     * would cut a held stream POST short of the hub's own response timeout. */
    info.timeout_secs = LWS_TIMEOUT_SECONDS;
    lws_set_log_level(LLL_ERR, keep_log_line);
    if ((loop->ctx = lws_create_context(&info)) == NULL) {
        snprintf(err, err_len, "libwebsockets could not start");
        return -1;
    }
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = loop->protocols;
    info.timeout_secs = LWS_TIMEOUT_SECONDS;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = o != NULL && o->ca_file != NULL ? o->ca_file : SYSTEM_CA_FILE;
    if ((loop->vhost = lws_create_vhost(loop->ctx, &info)) == NULL) {
        snprintf(err, err_len, "cannot load the CA file %s (is it a PEM certificate?)",
                 info.client_ssl_ca_filepath);
        return -1;
    }
    return 0;
}

int ih_loop_new(const struct ih_loop_options *o, struct ih_loop **out, char *err, size_t err_len)
{
    struct ih_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    pthread_mutex_init(&loop->lock, NULL);
    int rc = 0;
    if (list_protocols(loop, o->protocols) != 0) {
        snprintf(err, err_len, "too many kinds of connection for one loop");
        rc = -1;
    }
    if (rc == 0)
        rc = create_context(loop, o, err, err_len);
    if (rc == 0 && pthread_create(&loop->thread, NULL, service_loop, loop) != 0) {
        snprintf(err, err_len, "cannot start a thread");
        rc = -1;
    }
    if (rc != 0) {
        if (loop->ctx != NULL)
            lws_context_destroy(loop->ctx);
        pthread_mutex_destroy(&loop->lock);
        free(loop);
        return -1;
    }
    *out = loop;
    return 0;
}

void ih_loop_free(struct ih_loop *loop)
{
    if (loop == NULL)
        return;
    atomic_store(&loop->stopping, 1);
    lws_cancel_service(loop->ctx);
    pthread_join(loop->thread, NULL);
    lws_context_destroy(loop->ctx);
    /* None should be left (the connections were gone first); they cannot run now. */
    for (struct job *j = loop->head, *next; j != NULL; j = next) {
        next = j->next;
        free(j);
    }
    pthread_mutex_destroy(&loop->lock);
    free(loop);
}

int ih_loop_post(struct ih_loop *loop, void (*fn)(void *ctx), void *ctx)
{
    if (atomic_load(&loop->dead))
        return -1;
    struct job *j = malloc(sizeof *j);
    if (j == NULL)
        return -1;
    j->next = NULL;
    j->fn = fn;
    j->ctx = ctx;
    pthread_mutex_lock(&loop->lock);
    if (loop->tail != NULL)
        loop->tail->next = j;
    else
        loop->head = j;
    loop->tail = j;
    pthread_mutex_unlock(&loop->lock);
    lws_cancel_service(loop->ctx);
    return 0;
}

struct ih_loop_keepalive *ih_loop_keepalive(struct ih_loop *loop)
{
    return &loop->keepalive;
}

void ih_loop_connect_info(struct ih_loop *loop, const struct ih_url *url, const char *host_header,
                          struct lws_client_connect_info *out)
{
    memset(out, 0, sizeof *out);
    out->context = loop->ctx;
    out->vhost = loop->vhost;
    out->address = url->host;
    out->port = url->port;
    out->path = url->path;
    out->host = host_header;
    out->ssl_connection = (url->tls ? LCCSCF_USE_SSL : 0) | LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
    out->alpn = "http/1.1";
}
