#include "hub_client.h"

#include "util/deadline.h"
#include "log.h"

#include <mosquitto.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEEPALIVE_SECONDS 30
#define READY_TIMEOUT_SECONDS 10

static const char *const subscriptions[] = {"$hub/from/#", "$hub/evt/#"};
#define SUBSCRIPTION_COUNT 2

struct hub_client {
    struct mosquitto *mosq;
    struct hub_client_handlers h;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int up;
    int subscribe_mid;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

static void set_up(struct hub_client *hc, int up)
{
    pthread_mutex_lock(&hc->lock);
    hc->up = up;
    pthread_cond_broadcast(&hc->changed);
    pthread_mutex_unlock(&hc->lock);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct hub_client *hc = obj;
    if (rc != 0) {
        log_error("mqtt", "the broker refused the hub's connection: %s",
                  mosquitto_connack_string(rc));
        return;
    }
    int mid = 0;
    if (mosquitto_subscribe_multiple(mosq, &mid, SUBSCRIPTION_COUNT, (char *const *)subscriptions,
                                     0, 0, NULL) != MOSQ_ERR_SUCCESS) {
        log_error("mqtt", "the hub could not subscribe to its topics");
        return;
    }
    pthread_mutex_lock(&hc->lock);
    hc->subscribe_mid = mid;
    pthread_mutex_unlock(&hc->lock);
}

/* Subscribed: from here on every event reaches the hub, so it starts from a clean table and
 * asks the plugin for who is connected now. */
static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
                         const int *granted)
{
    struct hub_client *hc = obj;
    (void)qos_count;
    (void)granted;
    pthread_mutex_lock(&hc->lock);
    int ours = mid == hc->subscribe_mid;
    pthread_mutex_unlock(&hc->lock);
    if (!ours)
        return;
    hc->h.on_link(hc->h.ctx, 1);
    char *sync = NULL;
    if (hub_bus_format(HUB_BUS_SYNC, NULL, NULL, &sync) == IH_OK)
        mosquitto_publish(mosq, NULL, sync, 0, NULL, 0, false);
    free(sync);
    set_up(hc, 1);
    log_info("mqtt", "the hub is connected to its broker");
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    struct hub_client *hc = obj;
    set_up(hc, 0);
    hc->h.on_link(hc->h.ctx, 0);
    if (rc != 0)
        log_warn("mqtt", "the hub lost its broker connection (%s); reconnecting",
                 mosquitto_strerror(rc));
}

/* The payload as a NUL-terminated string (events carry short text). */
static void dispatch_event(struct hub_client *hc, const struct hub_bus_topic *t,
                           const struct mosquitto_message *msg)
{
    char text[512];
    size_t n =
        (size_t)msg->payloadlen < sizeof text - 1 ? (size_t)msg->payloadlen : sizeof text - 1;
    memcpy(text, msg->payload != NULL ? msg->payload : "", n);
    text[n] = '\0';
    hc->h.on_event(hc->h.ctx, t->kind, t->cid, text);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    (void)mosq;
    struct hub_client *hc = obj;
    struct hub_bus_topic t;
    if (hub_bus_parse(msg->topic, &t) != IH_OK) {
        log_warn("mqtt", "the hub got an unexpected topic %.200s", msg->topic);
        return;
    }
    if (t.kind == HUB_BUS_FROM)
        hc->h.on_publish(hc->h.ctx, t.cid, t.inner, msg->payload, (size_t)msg->payloadlen);
    else
        dispatch_event(hc, &t, msg);
    hub_bus_topic_free(&t);
}

static struct mosquitto *new_client(struct hub_client *hc, const char *secret)
{
    struct mosquitto *mosq = mosquitto_new(HUB_BUS_CLIENT_ID, true, hc);
    if (mosq == NULL)
        return NULL;
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_username_pw_set(mosq, HUB_BUS_CLIENT_ID, secret);
    mosquitto_reconnect_delay_set(mosq, 1, 2, false);
    mosquitto_connect_callback_set(mosq, on_connect);
    mosquitto_subscribe_callback_set(mosq, on_subscribe);
    mosquitto_disconnect_callback_set(mosq, on_disconnect);
    mosquitto_message_callback_set(mosq, on_message);
    return mosq;
}

static int wait_up(struct hub_client *hc)
{
    struct timespec until = deadline_after_ms(READY_TIMEOUT_SECONDS * 1000L);
    pthread_mutex_lock(&hc->lock);
    while (!hc->up && pthread_cond_timedwait(&hc->changed, &hc->lock, &until) == 0)
        ;
    int up = hc->up;
    pthread_mutex_unlock(&hc->lock);
    return up;
}

static void hub_client_free(struct hub_client *hc)
{
    mosquitto_destroy(hc->mosq);
    pthread_mutex_destroy(&hc->lock);
    pthread_cond_destroy(&hc->changed);
    free(hc);
}

int hub_client_start(const char *socket_path, const char *secret,
                     const struct hub_client_handlers *h, struct hub_client **out, char *err,
                     size_t err_len)
{
    pthread_once(&lib_once, lib_init);
    struct hub_client *hc = calloc(1, sizeof *hc);
    if (hc == NULL)
        return -1;
    hc->h = *h;
    pthread_mutex_init(&hc->lock, NULL);
    deadline_cond_init(&hc->changed);
    int rc = (hc->mosq = new_client(hc, secret)) != NULL ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
    /* Port 0 with a path: libmosquitto connects to the Unix socket. */
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_connect(hc->mosq, socket_path, 0, KEEPALIVE_SECONDS);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_loop_start(hc->mosq);
    if (rc != MOSQ_ERR_SUCCESS || !wait_up(hc)) {
        snprintf(err, err_len, "the hub could not connect to its broker at %s: %s", socket_path,
                 rc != MOSQ_ERR_SUCCESS ? mosquitto_strerror(rc) : "no answer within 10 s");
        hub_client_stop(hc);
        return -1;
    }
    *out = hc;
    return 0;
}

void hub_client_stop(struct hub_client *hc)
{
    if (hc == NULL)
        return;
    if (hc->mosq != NULL) {
        /* Not forced: a cancelled loop thread could die holding the presence or registry lock;
         * after the disconnect it ends on its own. */
        mosquitto_disconnect(hc->mosq);
        mosquitto_loop_stop(hc->mosq, false);
    }
    hub_client_free(hc);
}

int hub_client_is_up(struct hub_client *hc)
{
    pthread_mutex_lock(&hc->lock);
    int up = hc->up;
    pthread_mutex_unlock(&hc->lock);
    return up;
}

static int publish_bus(struct hub_client *hc, enum hub_bus_kind kind, const char *cid,
                       const char *inner, const void *payload, size_t len, int qos)
{
    char *topic = NULL;
    if (hub_bus_format(kind, cid, inner, &topic) != IH_OK)
        return -1;
    int rc = mosquitto_publish(hc->mosq, NULL, topic, (int)len, payload, qos, false);
    free(topic);
    return rc == MOSQ_ERR_SUCCESS ? 0 : -1;
}

int hub_client_send(struct hub_client *hc, const char *cid, const char *topic, const void *payload,
                    size_t len)
{
    return publish_bus(hc, HUB_BUS_TO, cid, topic, payload, len, 0);
}

int hub_client_deliver(struct hub_client *hc, const char *cid, const char *topic,
                       const void *payload, size_t len)
{
    return publish_bus(hc, HUB_BUS_TO, cid, topic, payload, len, 1);
}

int hub_client_kick(struct hub_client *hc, const char *device_id)
{
    return publish_bus(hc, HUB_BUS_KICK, device_id, NULL, NULL, 0, 0);
}
