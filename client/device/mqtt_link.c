#include "mqtt_link.h"

#include "protocol/c2d_bag.h"
#include "protocol/format.h"
#include "protocol/methods_topic.h"
#include "protocol/sas.h"
#include "protocol/streams_topic.h"
#include "protocol/twin_topic.h"

#include "cli_common.h"

#include <mosquitto.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What the Azure SDKs send (docs/protocol.md §2.1); the hub ignores DeviceClientType. */
#define API_VERSION "2020-09-30"
#define CLIENT_TYPE "iothub-device%%2F0.1" /* a format: %%2F is a percent-encoded / */
#define KEEPALIVE_S 60
#define BACKOFF_MAX_S 30
/* A token made from the key is replaced at this share of its lifetime, as the C SDK does. */
#define RENEW_PERCENT 80
#define LOOP_WAIT_MS 250
#define POST_FILTER "$iothub/streams/POST/#"
#define RES_FILTER "$iothub/streams/res/#"
#define FILTERS_MAX 6
/* Answers waiting for a connection, at most: more are dropped (the hub times them out). */
#define PENDING_MAX 256

/* An answer waiting for the connection. */
struct answer {
    char *topic;
    char *body; /* NULL when empty */
    size_t len;
};

struct mqtt_link {
    struct mqtt_link_options o;
    struct mosquitto *mosq;
    pthread_t thread;
    char client_id[2 * 128 + 2];
    char username[512];
    char resource[512];
    pthread_mutex_t lock;
    pthread_cond_t fatal_changed;
    int fatal;
    char fatal_reason[400];
    /* What every connection subscribes to, at QoS 0 as the C SDK does: rule 7's two filters,
     * then rule D3's when the device takes method calls, and rules D5-D8's two when it keeps its
     * twin; rule D13's at QoS 1 when it takes cloud-to-device messages. */
    const char *filters[FILTERS_MAX];
    int filter_qos[FILTERS_MAX];
    int filter_count;
    char c2d_filter[sizeof IH_C2D_BAG_PREFIX + 128 + sizeof IH_C2D_BAG_LEVELS + 2];
    int sub_mid[FILTERS_MAX], granted;
    int connected_once; /* for the backoff: reset after every accepted connection */
    /* Answers wait here while the connection is not up: a PUBLISH must not go out ahead of a
     * new connection's CONNECT. Under lock. */
    int up;
    struct answer *pending;
    size_t pending_count;
};

static void set_fatal(struct mqtt_link *l, const char *reason)
{
    pthread_mutex_lock(&l->lock);
    l->fatal = 1;
    snprintf(l->fatal_reason, sizeof l->fatal_reason, "%s", reason);
    pthread_cond_broadcast(&l->fatal_changed);
    pthread_mutex_unlock(&l->lock);
}

static int is_fatal(struct mqtt_link *l)
{
    pthread_mutex_lock(&l->lock);
    int fatal = l->fatal;
    pthread_mutex_unlock(&l->lock);
    return fatal;
}

/* Callers hold the lock. */
static void send_pending(struct mqtt_link *l)
{
    for (size_t i = 0; i < l->pending_count; i++) {
        struct answer *a = &l->pending[i];
        mosquitto_publish(l->mosq, NULL, a->topic, (int)a->len, a->body, 0, false);
        free(a->topic);
        free(a->body);
    }
    free(l->pending);
    l->pending = NULL;
    l->pending_count = 0;
}

static void set_up(struct mqtt_link *l, int up)
{
    pthread_mutex_lock(&l->lock);
    l->up = up;
    if (up)
        send_pending(l);
    pthread_mutex_unlock(&l->lock);
}

/* The filter a SUBSCRIBE of this connection asked for, by its message id; NULL when none. */
static const char *filter_of(const struct mqtt_link *l, int mid)
{
    for (int i = 0; i < l->filter_count; i++) {
        if (mid == l->sub_mid[i])
            return l->filters[i];
    }
    return NULL;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct mqtt_link *l = obj;
    if (rc == 4 || rc == 5) {
        char reason[400];
        snprintf(reason, sizeof reason,
                 "the hub refused '%s' (CONNACK %d, %s): check the connection string's key, and "
                 "that the device exists and is enabled (iothub-service device show %s)",
                 l->client_id, rc, mosquitto_connack_string(rc), l->o.device_id);
        set_fatal(l, reason);
        return;
    }
    if (rc != 0) {
        cli_info("the hub refused the connection (CONNACK %d, %s); retrying", rc,
                 mosquitto_connack_string(rc));
        return;
    }
    l->connected_once = 1;
    l->granted = 0;
    set_up(l, 1);
    for (int i = 0; i < l->filter_count; i++) {
        if (mosquitto_subscribe(mosq, &l->sub_mid[i], l->filters[i], l->filter_qos[i]) !=
            MOSQ_ERR_SUCCESS) {
            cli_info("could not subscribe to %s; reconnecting", l->filters[i]);
            mosquitto_disconnect(mosq);
            return;
        }
    }
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int count, const int *qos)
{
    struct mqtt_link *l = obj;
    const char *filter = filter_of(l, mid);
    if (count < 1 || qos[0] == 0x80) {
        /* Connected but deaf is worse than retrying: reconnect, with the backoff. */
        cli_error("the hub refused the subscription %s; reconnecting",
                  filter != NULL ? filter : "(unknown)");
        mosquitto_disconnect(mosq);
        return;
    }
    if (filter != NULL)
        l->granted++;
    if (l->granted == l->filter_count && l->o.on_listening != NULL)
        l->o.on_listening(l->o.ctx);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    (void)mosq;
    struct mqtt_link *l = obj;
    if (strncmp(m->topic, "$iothub/streams/POST/", 21) == 0)
        l->o.on_request(l->o.ctx, m->topic);
    else if (l->o.on_method != NULL &&
             strncmp(m->topic, IH_METHODS_POST_PREFIX, strlen(IH_METHODS_POST_PREFIX)) == 0)
        l->o.on_method(l->o.ctx, m->topic, m->payload, (size_t)m->payloadlen);
    else if (l->o.on_twin != NULL && strncmp(m->topic, IH_TWIN_PREFIX, strlen(IH_TWIN_PREFIX)) == 0)
        l->o.on_twin(l->o.ctx, m->topic, m->payload, (size_t)m->payloadlen);
    else if (l->o.on_c2d != NULL &&
             strncmp(m->topic, IH_C2D_BAG_PREFIX, strlen(IH_C2D_BAG_PREFIX)) == 0)
        l->o.on_c2d(l->o.ctx, m->topic, m->payload, (size_t)m->payloadlen);
}

/* A fresh password: the fixed token, or one made from the key. Returns its renewal time. */
static long long set_credentials(struct mqtt_link *l)
{
    long long now = (long long)time(NULL);
    if (l->o.key == NULL) {
        mosquitto_username_pw_set(l->mosq, l->username, l->o.fixed_token);
        return -1;
    }
    char *token = NULL;
    if (ih_sas_create(l->resource, l->o.key, NULL, now + l->o.sas_ttl_s, &token) != IH_OK) {
        set_fatal(l, "cannot make a SAS token from the connection string's key");
        return -1;
    }
    mosquitto_username_pw_set(l->mosq, l->username, token);
    free(token);
    return now + (long long)l->o.sas_ttl_s * RENEW_PERCENT / 100;
}

/* Serves one connection until it drops, the token is due, or a fatal refusal. Returns 1 when
 * it ended for a renewal. */
static int serve_connection(struct mqtt_link *l, long long renew_at)
{
    for (;;) {
        int rc = mosquitto_loop(l->mosq, LOOP_WAIT_MS, 1);
        if (is_fatal(l) || rc != MOSQ_ERR_SUCCESS)
            return 0;
        if (renew_at > 0 && (long long)time(NULL) >= renew_at) {
            cli_info("renewing the SAS token: reconnecting");
            set_up(l, 0);
            mosquitto_disconnect(l->mosq);
            mosquitto_loop(l->mosq, LOOP_WAIT_MS, 1);
            return 1;
        }
    }
}

static void *run(void *arg)
{
    struct mqtt_link *l = arg;
    int backoff = 1;
    while (!is_fatal(l)) {
        long long renew_at = set_credentials(l);
        if (is_fatal(l))
            break;
        l->connected_once = 0;
        set_up(l, 0);
        int rc = mosquitto_connect(l->mosq, l->o.connect_host, l->o.port, KEEPALIVE_S);
        int renewed = rc == MOSQ_ERR_SUCCESS && serve_connection(l, renew_at);
        set_up(l, 0); /* answers wait for the next connection */
        if (rc != MOSQ_ERR_SUCCESS) {
            cli_info("cannot connect to %s:%d (%s)%s; retrying in %d s", l->o.connect_host,
                     l->o.port, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc),
                     rc == MOSQ_ERR_TLS ? ": is the CA right? Pass the emulator's ca.pem with "
                                          "--ca or IOTHUB_CA_FILE"
                                        : "",
                     backoff);
        } else if (renewed) {
            continue; /* at once */
        } else if (!is_fatal(l)) {
            cli_info("the connection to the hub was lost; reconnecting in %d s", backoff);
        }
        if (l->connected_once)
            backoff = 1;
        if (!is_fatal(l))
            sleep((unsigned)backoff);
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
    }
    return NULL;
}

static void add_filter(struct mqtt_link *l, const char *filter, int qos)
{
    l->filter_qos[l->filter_count] = qos;
    l->filters[l->filter_count++] = filter;
}

static void choose_filters(struct mqtt_link *l)
{
    add_filter(l, POST_FILTER, 0);
    add_filter(l, RES_FILTER, 0);
    if (l->o.on_method != NULL)
        add_filter(l, IH_METHODS_FILTER, 0);
    if (l->o.on_twin != NULL) {
        add_filter(l, IH_TWIN_RES_FILTER, 0);
        add_filter(l, IH_TWIN_DESIRED_FILTER, 0);
    }
    /* The device id raw, as the hub's delivery topics have it. */
    if (l->o.on_c2d != NULL && l->o.module_id == NULL &&
        ih_format(l->c2d_filter, sizeof l->c2d_filter,
                  IH_C2D_BAG_PREFIX "%s/" IH_C2D_BAG_LEVELS "/#", l->o.device_id) == IH_OK)
        add_filter(l, l->c2d_filter, 1);
}

static int configure(struct mqtt_link *l, char *err, size_t err_len)
{
    const struct mqtt_link_options *o = &l->o;
    int module = o->module_id != NULL;
    choose_filters(l);
    snprintf(l->client_id, sizeof l->client_id, "%s%s%s", o->device_id, module ? "/" : "",
             module ? o->module_id : "");
    snprintf(l->username, sizeof l->username,
             "%s/%s/?api-version=" API_VERSION "&DeviceClientType=" CLIENT_TYPE, o->host,
             l->client_id);
    snprintf(l->resource, sizeof l->resource, "%s/devices/%s%s%s", o->host, o->device_id,
             module ? "/modules/" : "", module ? o->module_id : "");
    l->mosq = mosquitto_new(l->client_id, false, l);
    if (l->mosq == NULL) {
        snprintf(err, err_len, "libmosquitto could not start");
        return -1;
    }
    mosquitto_int_option(l->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(l->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_threaded_set(l->mosq, true); /* answers are published from other threads */
    if (o->ca_file == NULL)
        mosquitto_int_option(l->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    int rc = mosquitto_tls_set(l->mosq, o->ca_file, o->ca_file == NULL ? "/etc/ssl/certs" : NULL,
                               NULL, NULL, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, err_len, "cannot use the CA file %s: %s",
                 o->ca_file != NULL ? o->ca_file : "", mosquitto_strerror(rc));
        return -1;
    }
    mosquitto_connect_callback_set(l->mosq, on_connect);
    mosquitto_subscribe_callback_set(l->mosq, on_subscribe);
    mosquitto_message_callback_set(l->mosq, on_message);
    return 0;
}

int mqtt_link_start(const struct mqtt_link_options *o, struct mqtt_link **out, char *err,
                    size_t err_len)
{
    struct mqtt_link *l = calloc(1, sizeof *l);
    if (l == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    l->o = *o;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->fatal_changed, NULL);
    mosquitto_lib_init();
    if (configure(l, err, err_len) != 0 || pthread_create(&l->thread, NULL, run, l) != 0) {
        if (err[0] == '\0')
            snprintf(err, err_len, "cannot start a thread");
        mosquitto_destroy(l->mosq);
        free(l);
        return -1;
    }
    *out = l;
    return 0;
}

/* Queues an answer until the connection is up; callers hold the lock. Takes topic on success. */
static int queue_answer(struct mqtt_link *l, char *topic, const char *body, size_t len)
{
    char *copy = len > 0 ? malloc(len) : NULL;
    struct answer *grown = NULL;
    if (l->pending_count < PENDING_MAX && (len == 0 || copy != NULL))
        grown = realloc(l->pending, (l->pending_count + 1) * sizeof *grown);
    if (grown == NULL) {
        free(copy);
        return -1;
    }
    if (len > 0)
        memcpy(copy, body, len);
    l->pending = grown;
    l->pending[l->pending_count++] = (struct answer){topic, copy, len};
    return 0;
}

/* Publishes at QoS 0 now, or once the connection is up. Takes topic. */
static int publish(struct mqtt_link *l, char *topic, const char *body, size_t len)
{
    int rc;
    pthread_mutex_lock(&l->lock);
    if (l->up) {
        int sent = mosquitto_publish(l->mosq, NULL, topic, (int)len, body, 0, false);
        rc = sent == MOSQ_ERR_SUCCESS ? 0 : -1;
    } else {
        rc = queue_answer(l, topic, body, len);
        if (rc == 0)
            topic = NULL; /* the queue has it */
    }
    pthread_mutex_unlock(&l->lock);
    free(topic);
    return rc;
}

int mqtt_link_answer(struct mqtt_link *l, const char *rid, int status)
{
    char *topic = NULL;
    if (ih_topic_format_stream_response(status, rid, &topic) != IH_OK)
        return -1;
    return publish(l, topic, NULL, 0);
}

int mqtt_link_answer_method(struct mqtt_link *l, const char *rid, int status, const char *body,
                            size_t len)
{
    char *topic = NULL;
    if (len > (size_t)INT_MAX || ih_topic_format_method_response(status, rid, &topic) != IH_OK)
        return -1;
    return publish(l, topic, body, len);
}

int mqtt_link_twin_request(struct mqtt_link *l, enum ih_twin_op op, const char *rid,
                           const char *body, size_t len)
{
    char *topic = NULL;
    if (len > (size_t)INT_MAX || ih_topic_format_twin_request(op, rid, &topic, NULL) != IH_OK)
        return -1;
    /* Not queued: an answer to a request sent before the SUBSCRIBE would be lost. */
    pthread_mutex_lock(&l->lock);
    int rc = l->up && mosquitto_publish(l->mosq, NULL, topic, (int)len, body, 0, false) ==
                          MOSQ_ERR_SUCCESS
                 ? 0
                 : -1;
    pthread_mutex_unlock(&l->lock);
    free(topic);
    return rc;
}

void mqtt_link_wait_fatal(struct mqtt_link *l, char *err, size_t err_len)
{
    pthread_mutex_lock(&l->lock);
    while (!l->fatal)
        pthread_cond_wait(&l->fatal_changed, &l->lock);
    snprintf(err, err_len, "%s", l->fatal_reason);
    pthread_mutex_unlock(&l->lock);
}
