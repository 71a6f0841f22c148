/* The emulator's mosquitto plugin: makes mosquitto behave like IoT Hub's MQTT front door
 * (docs/architecture.md says how the broker, its plugin and the emulator fit together).
 *
 * - BASIC_AUTH: devices authenticate with a SAS token checked against the registry (device_auth);
 *   the hub's own client with the run's secret.
 * - ACL_CHECK: devices stay on the hub's topics (mqtt_acl), and the hub hears when they start or
 *   stop listening for a feature's requests. A publish or subscribe outside closes the device's
 *   connection, as the hub does (docs/protocol.md rules D11 and D15): a publish is never
 *   acknowledged, a subscribe never answered.
 * - MESSAGE: the hub's $hub/to/{cid}/... is delivered to that one client; a device's telemetry
 *   is stored before mosquitto acknowledges it (telemetry_ingest), and the hub hears its sequence
 *   number; any other publish is re-tagged $hub/from/{cid}/... for the hub (hub_bus).
 * - DISCONNECT: reported to the hub unless the connection was taken over (client_map).
 *
 * Every callback runs on mosquitto's main thread, so the plugin needs no locks. */
#include "client_map.h"
#include "daily_quota.h"
#include "hub_bus.h"
#include "mqtt_acl.h"
#include "rate_window.h"
#include "registry_reader.h"
#include "telemetry_ingest.h"
#include "throttle.h"

#include "protocol/identity.h"
#include "protocol/percent.h"
#include "protocol/telemetry_topic.h"

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HOSTS 20
#define CLIENT_BUCKETS 4096
/* A topic's length is a 16-bit field (MQTT 3.1.1 §1.5.3). */
#define MQTT_TOPIC_MAX 65535
/* Refusals reported to the hub one by one, per window; the rest are counted and reported as
 * one sum with the next refusal after the window (a reconnecting client can refuse itself
 * thousands of times a second, and each report is a message to the hub). */
#define REFUSALS_BURST 100
#define REFUSALS_WINDOW_MS 10000
/* What mosquitto is told when a device publishes where it may not: anything but "denied" (which
 * it acknowledges and drops) makes it close the connection, and MOSQ_ERR_AUTH logs it as "not
 * authorised". */
#define CLOSE_THE_CONNECTION MOSQ_ERR_AUTH

struct plugin {
    mosquitto_plugin_id_t *id;
    char *hub_secret;
    char *hosts_text;
    const char *hosts[MAX_HOSTS];
    size_t host_count;
    struct registry_reader *registry;
    struct telemetry_store *telemetry;
    long long telemetry_keep;
    struct throttle d2c;       /* rule D19: telemetry sends a minute */
    struct daily_quota *daily; /* rule D19: NULL without a daily quota */
    long long daily_limit;
    struct strmap clients;
    const struct mosquitto *hub; /* the hub's current connection, NULL when it is away */
    struct rate_window refusals;
};

static int is_hub(const char *cid)
{
    return cid != NULL && strcmp(cid, HUB_BUS_CLIENT_ID) == 0;
}

/* Events go straight to the hub's client id; when the hub is away they are dropped, and it asks
 * for a $hub/sync when it is back. */
static void send_event(struct plugin *p, enum hub_bus_kind kind, const char *cid,
                       const char *payload)
{
    char *topic = NULL;
    if (p->hub == NULL || hub_bus_format(kind, cid, NULL, &topic) != IH_OK)
        return;
    mosquitto_broker_publish_copy(HUB_BUS_CLIENT_ID, topic, (int)strlen(payload), payload, 0, false,
                                  NULL);
    free(topic);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void send_refusal(struct plugin *p, const char *cid, const char *text)
{
    if (p->hub != NULL && cid != NULL)
        send_event(p, HUB_BUS_REFUSED, cid, text);
    else
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: refused client '%s': %s",
                             cid != NULL ? cid : "", text);
}

/* Reported once: to the hub's log when it is there, else to mosquitto's; past the burst of a
 * window only counted, and the count reported with the next one after the window. */
static void report_refusal(struct plugin *p, const struct mosquitto *client, const char *cid,
                           const char *reason)
{
    struct rate_held held;
    int pass = rate_window_take(&p->refusals, now_ms(), REFUSALS_BURST, REFUSALS_WINDOW_MS, &held);
    char text[400];
    if (held.count > 0) {
        snprintf(text, sizeof text,
                 "…and %u more refusals in the %d s before this one, not reported one by one",
                 held.count, REFUSALS_WINDOW_MS / 1000);
        send_refusal(p, cid, text);
    }
    if (!pass)
        return;
    const char *address = mosquitto_client_address(client);
    snprintf(text, sizeof text, "%s (from %s)", reason, address != NULL ? address : "?");
    send_refusal(p, cid, text);
}

/* The hub connects over the broker's private Unix socket only (mosquitto gives a socket path as
 * the address of such a client), so the secret alone never opens the hub's role on a network
 * listener. */
static int authenticate_hub(struct plugin *p, struct mosquitto_evt_basic_auth *ev)
{
    size_t len = strlen(p->hub_secret);
    const char *address = mosquitto_client_address(ev->client);
    int ok = address != NULL && address[0] == '/' && ev->username != NULL &&
             strcmp(ev->username, HUB_BUS_CLIENT_ID) == 0 && ev->password != NULL &&
             strlen(ev->password) == len && CRYPTO_memcmp(ev->password, p->hub_secret, len) == 0;
    if (!ok) {
        mosquitto_log_printf(MOSQ_LOG_WARNING,
                             "iothub: refused the hub's client id: wrong secret, or not on the "
                             "hub's socket");
        return MOSQ_ERR_AUTH;
    }
    p->hub = ev->client;
    return MOSQ_ERR_SUCCESS;
}

/* CONNECTED or LISTENS, with what the session listens for. */
static void send_listens(struct plugin *p, enum hub_bus_kind kind, const char *cid,
                         const struct client_state *s)
{
    char text[HUB_LISTENS_TEXT_SIZE];
    hub_bus_listens_text(client_listens(s, cid), text);
    send_event(p, kind, cid, text);
}

/* `model-id` of the user name's query ({host}/{id}/?api-version=...&model-id=...), decoded. */
static void model_id_of(const char *username, char *out, size_t cap)
{
    const char *query = username != NULL ? strchr(username, '?') : NULL;
    const char *key = query != NULL ? strstr(query, "model-id=") : NULL;
    char *decoded = NULL;
    out[0] = '\0';
    if (key == NULL || (key[-1] != '?' && key[-1] != '&'))
        return;
    key += strlen("model-id=");
    if (ih_pct_decode(key, strcspn(key, "&"), IH_PCT_STRICT, &decoded, NULL) == IH_OK)
        snprintf(out, cap, "%s", decoded);
    free(decoded);
}

/* What the identity's telemetry is stamped with (docs/protocol.md rule D12). */
static void note_identity(struct plugin *p, struct client_state *e, const char *cid,
                          const char *username)
{
    char device_id[IH_ID_MAX_LEN + 1];
    struct device_keys keys;
    snprintf(device_id, sizeof device_id, "%.*s", (int)strcspn(cid, "/"), cid);
    e->generation_id[0] = '\0';
    if (registry_reader_device(p->registry, device_id, &keys) == LOOKUP_FOUND)
        snprintf(e->generation_id, sizeof e->generation_id, "%s", keys.generation_id);
    model_id_of(username, e->model_id, sizeof e->model_id);
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
    (void)event;
    struct plugin *p = userdata;
    struct mosquitto_evt_basic_auth *ev = event_data;
    const char *cid = mosquitto_client_id(ev->client);
    if (is_hub(cid))
        return authenticate_hub(p, ev);
    struct device_auth_request req = {cid,      ev->username,  ev->password,
                                      p->hosts, p->host_count, (long long)time(NULL)};
    struct device_auth_lookups lookups = {registry_reader_device, registry_reader_policy,
                                          p->registry};
    char reason[300] = "";
    enum device_auth_result r = device_auth_check(&req, &lookups, reason, sizeof reason);
    if (r == DEVICE_AUTH_ERROR)
        snprintf(reason, sizeof reason, "the registry could not be read");
    struct client_state *e = r == DEVICE_AUTH_OK
                                 ? client_map_connect(&p->clients, cid, ev->client,
                                                      mosquitto_client_clean_session(ev->client))
                                 : NULL;
    if (e == NULL) {
        report_refusal(p, ev->client, cid, r == DEVICE_AUTH_OK ? "out of memory" : reason);
        return MOSQ_ERR_AUTH;
    }
    note_identity(p, e, cid, ev->username);
    send_listens(p, HUB_BUS_CONNECTED, cid, e);
    return MOSQ_ERR_SUCCESS;
}

/* A (un)subscription that covers a feature's requests can change what the hub may send the
 * device; the hub hears of it when it does. */
static void note_subscription(struct plugin *p, const char *cid, int access, const char *filter)
{
    struct client_state *e = client_map_find(&p->clients, cid);
    if (e == NULL || mqtt_filter_listens(filter, cid) == 0)
        return;
    unsigned listened = client_listens(e, cid);
    if (client_note_filter(e, filter, access == MQTT_ACCESS_SUBSCRIBE) != 0)
        mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: out of memory noting a subscription");
    if (client_listens(e, cid) != listened)
        send_listens(p, HUB_BUS_LISTENS, cid, e);
}

/* Rules D11 and D15: a publish or subscribe the identity may not make closes its connection, and
 * is logged once; an unsubscribe from such a filter is acknowledged and changes nothing. A
 * delivery (READ) is refused quietly. */
static int refuse_access(struct plugin *p, struct mosquitto_evt_acl_check *ev, const char *cid)
{
    const char *what = ev->access == MQTT_ACCESS_SUBSCRIBE     ? "subscribe to"
                       : ev->access == MQTT_ACCESS_WRITE       ? "publish to"
                       : ev->access == MQTT_ACCESS_UNSUBSCRIBE ? "unsubscribe from"
                                                               : "receive";
    int closes = ev->access == MQTT_ACCESS_SUBSCRIBE || ev->access == MQTT_ACCESS_WRITE;
    char reason[400];
    snprintf(reason, sizeof reason,
             "may not %s '%.200s': devices use only the hub's topics (docs/protocol.md §12.5)%s",
             what, ev->topic != NULL ? ev->topic : "",
             ev->access == MQTT_ACCESS_WRITE
                 ? "; the connection is closed and the message dropped, unacknowledged"
             : closes ? "; the connection is closed, the subscription unanswered"
                      : "");
    if (ev->access != MQTT_ACCESS_READ)
        report_refusal(p, ev->client, cid, reason);
    return closes ? CLOSE_THE_CONNECTION : MOSQ_ERR_ACL_DENIED;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
    (void)event;
    struct plugin *p = userdata;
    struct mosquitto_evt_acl_check *ev = event_data;
    const char *cid = mosquitto_client_id(ev->client);
    if (is_hub(cid) && ev->client == p->hub)
        return MOSQ_ERR_SUCCESS;
    if (cid == NULL || !mqtt_acl_client_allows(ev->access, ev->topic, cid))
        return refuse_access(p, ev, cid);
    if (ev->access == MQTT_ACCESS_SUBSCRIBE || ev->access == MQTT_ACCESS_UNSUBSCRIBE)
        note_subscription(p, cid, ev->access, ev->topic);
    return MOSQ_ERR_SUCCESS;
}

static void send_connected(const char *cid, struct client_state *s, void *arg)
{
    send_listens(arg, HUB_BUS_CONNECTED, cid, s);
}

struct kick_list {
    const char *device_id;
    char **cids;
    size_t count;
};

/* The device itself and its modules ("device/module"). */
static void collect_kick(const char *cid, struct client_state *s, void *arg)
{
    (void)s;
    struct kick_list *k = arg;
    size_t n = strlen(k->device_id);
    if (strncmp(cid, k->device_id, n) != 0 || (cid[n] != '\0' && cid[n] != '/'))
        return;
    char **grown = realloc(k->cids, (k->count + 1) * sizeof *grown);
    if (grown == NULL)
        return;
    k->cids = grown;
    if ((k->cids[k->count] = strdup(cid)) != NULL)
        k->count++;
}

/* Kicking re-enters on_disconnect, which changes the map: collect first, then kick. */
static void kick_device(struct plugin *p, const char *device_id)
{
    struct kick_list k = {device_id, NULL, 0};
    client_map_each_connected(&p->clients, collect_kick, &k);
    for (size_t i = 0; i < k.count; i++) {
        mosquitto_kick_client_by_clientid(k.cids[i], false);
        free(k.cids[i]);
    }
    free(k.cids);
}

/* The hub sends devices only its own kinds of topics: $iothub/... and cloud-to-device messages
 * (docs/protocol.md rule D13), at the QoS it publishes them with (1 for C2D, rule D15). */
static int hub_may_send(const char *topic)
{
    return strncmp(topic, "$iothub/", 8) == 0 ||
           (strncmp(topic, "devices/", 8) == 0 && strstr(topic, "/messages/devicebound/") != NULL);
}

static void handle_hub_message(struct plugin *p, struct mosquitto_evt_message *ev)
{
    struct hub_bus_topic t;
    if (hub_bus_parse(ev->topic, &t) != IH_OK) {
        mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: the hub sent an unknown topic %.200s",
                             ev->topic);
        return;
    }
    if (t.kind == HUB_BUS_TO && hub_may_send(t.inner))
        mosquitto_broker_publish_copy(t.cid, t.inner, (int)ev->payloadlen, ev->payload, ev->qos,
                                      false, NULL);
    else if (t.kind == HUB_BUS_KICK)
        kick_device(p, t.cid);
    else if (t.kind == HUB_BUS_SYNC)
        client_map_each_connected(&p->clients, send_connected, p);
    else
        mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: ignored hub topic %.200s", ev->topic);
    hub_bus_topic_free(&t);
}

/* The device's topic becomes $hub/from/{cid}/{topic}, which only the hub subscribes to; the broker
 * adopts event_data.topic but leaves the old one to the plugin to free. A message that cannot be
 * forwarded closes the connection rather than be acknowledged. */
static int retag_device_message(struct plugin *p, const char *cid, struct mosquitto_evt_message *ev)
{
    char *topic = NULL;
    if (hub_bus_format(HUB_BUS_FROM, cid, ev->topic, &topic) != IH_OK)
        return MOSQ_ERR_NOMEM;
    if (strlen(topic) > MQTT_TOPIC_MAX) {
        free(topic);
        report_refusal(p, ev->client, cid,
                       "published a topic too long to forward to the hub; the connection is "
                       "closed and the message dropped, unacknowledged");
        return CLOSE_THE_CONNECTION;
    }
    char *copy = mosquitto_strdup(topic);
    free(topic);
    if (copy == NULL)
        return MOSQ_ERR_NOMEM;
    mosquitto_free(ev->topic);
    ev->topic = copy;
    ev->retain = false;
    return MOSQ_ERR_SUCCESS;
}

/* The stored message's sequence number goes to the hub as $hub/from/{cid}/$stored/telemetry. */
static void tell_stored(struct plugin *p, const char *cid, long long seq)
{
    char *topic = NULL, text[24];
    snprintf(text, sizeof text, "%lld", seq);
    if (p->hub != NULL &&
        hub_bus_format(HUB_BUS_FROM, cid, HUB_BUS_STORED_TELEMETRY, &topic) == IH_OK)
        mosquitto_broker_publish_copy(HUB_BUS_CLIENT_ID, topic, (int)strlen(text), text, 0, false,
                                      NULL);
    free(topic);
}

static int64_t clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Rule D19: past the telemetry throttle or the daily quota a publish is refused; MQTT 3.1.1 has
 * no negative PUBACK, so the connection is closed, unacknowledged, and the device's SDK sends
 * it again once it is back. A quota file that fails lets the message through. */
static int d2c_refused(struct plugin *p, const struct mosquitto_evt_message *ev, char *reason,
                       size_t cap)
{
    long long used = 0;
    char err[300];
    if (!throttle_take(&p->d2c, 1, clock_ms(CLOCK_MONOTONIC))) {
        throttle_reason(&p->d2c, "device-to-cloud sends", "d2c", reason, cap);
        return 1;
    }
    if (p->daily == NULL)
        return 0;
    size_t len = strlen(ev->topic) + (size_t)ev->payloadlen; /* the property bag, and the body */
    switch (daily_quota_take(p->daily, daily_quota_messages(len), p->daily_limit, 0,
                             clock_ms(CLOCK_REALTIME), &used, err, sizeof err)) {
    case DAILY_TAKEN:
        return 0;
    case DAILY_EXCEEDED:
        daily_quota_reason(p->daily_limit, used, reason, cap);
        return 1;
    case DAILY_FAILED:
        mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: %s; the message is let through", err);
        return 0;
    }
    return 0;
}

/* Rules D10-D12: stored before mosquitto sends the PUBACK, which it does for a message the
 * plugin answers "denied" (handled here, routed nowhere); refused or not stored, the connection
 * is closed and nothing is acknowledged (rule D11). */
static int handle_telemetry(struct plugin *p, const char *cid, struct mosquitto_evt_message *ev)
{
    struct client_state *e = client_map_find(&p->clients, cid);
    struct ingest_identity who = {cid, e != NULL ? e->generation_id : "",
                                  e != NULL ? e->model_id : ""};
    struct ingest_message m = {ev->topic, ev->payload, ev->payloadlen, ev->retain};
    long long seq = 0;
    char reason[300];
    if (p->telemetry == NULL) {
        report_refusal(p, ev->client, cid,
                       "sent telemetry, which this broker cannot store; the connection is closed");
        return CLOSE_THE_CONNECTION;
    }
    if (d2c_refused(p, ev, reason, sizeof reason) ||
        telemetry_ingest(p->telemetry, p->telemetry_keep, &who, &m, &seq, reason, sizeof reason) !=
            INGEST_STORED) {
        char text[640];
        snprintf(text, sizeof text,
                 "telemetry on '%.120s' refused: %.280s; the connection is closed and the message "
                 "dropped, unacknowledged",
                 ev->topic, reason);
        report_refusal(p, ev->client, cid, text);
        return CLOSE_THE_CONNECTION;
    }
    tell_stored(p, cid, seq);
    return MOSQ_ERR_ACL_DENIED;
}

static int on_message(int event, void *event_data, void *userdata)
{
    (void)event;
    struct plugin *p = userdata;
    struct mosquitto_evt_message *ev = event_data;
    const char *cid = mosquitto_client_id(ev->client);
    if (is_hub(cid) && ev->client == p->hub) {
        handle_hub_message(p, ev);
        return MOSQ_ERR_ACL_DENIED; /* handled here; nothing to route */
    }
    if (cid == NULL)
        return CLOSE_THE_CONNECTION;
    if (ih_topic_is_telemetry(ev->topic, strlen(ev->topic)))
        return handle_telemetry(p, cid, ev);
    return retag_device_message(p, cid, ev);
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
    (void)event;
    struct plugin *p = userdata;
    struct mosquitto_evt_disconnect *ev = event_data;
    const char *cid = mosquitto_client_id(ev->client);
    if (cid == NULL)
        return MOSQ_ERR_SUCCESS;
    if (ev->client == p->hub)
        p->hub = NULL;
    else if (client_map_disconnect(&p->clients, cid, ev->client))
        send_event(p, HUB_BUS_DISCONNECTED, cid, "");
    return MOSQ_ERR_SUCCESS;
}

static int read_options(struct plugin *p, struct mosquitto_opt *opts, int count,
                        const char **registry, const char **telemetry, const char **quota)
{
    for (int i = 0; i < count; i++) {
        char **slot = strcmp(opts[i].key, "hub_secret") == 0 ? &p->hub_secret
                      : strcmp(opts[i].key, "hosts") == 0    ? &p->hosts_text
                                                             : NULL;
        if (strcmp(opts[i].key, "registry") == 0)
            *registry = opts[i].value;
        else if (strcmp(opts[i].key, "telemetry") == 0)
            *telemetry = opts[i].value;
        else if (strcmp(opts[i].key, "telemetry_keep") == 0)
            p->telemetry_keep = atoll(opts[i].value);
        else if (strcmp(opts[i].key, "d2c_per_minute") == 0)
            p->d2c.limit = atoll(opts[i].value);
        else if (strcmp(opts[i].key, "daily_quota") == 0)
            p->daily_limit = atoll(opts[i].value);
        else if (strcmp(opts[i].key, "quota") == 0)
            *quota = opts[i].value;
        if (slot != NULL) {
            free(*slot);
            *slot = strdup(opts[i].value);
        }
    }
    if (*registry == NULL || p->hub_secret == NULL || p->hosts_text == NULL) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: plugin_opt_registry, plugin_opt_hub_secret "
                                           "and plugin_opt_hosts are required");
        return -1;
    }
    char *save = NULL;
    for (char *h = strtok_r(p->hosts_text, ",", &save); h != NULL; h = strtok_r(NULL, ",", &save)) {
        if (p->host_count == MAX_HOSTS) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: more than %d host names", MAX_HOSTS);
            return -1;
        }
        p->hosts[p->host_count++] = h;
    }
    return 0;
}

/* Optional: without plugin_opt_telemetry the broker refuses telemetry (closing the connection). */
static int open_telemetry(struct plugin *p, const char *path)
{
    char err[300] = "";
    if (path == NULL)
        return 0;
    if ((p->telemetry = telemetry_store_open(path, 0, err, sizeof err)) != NULL)
        return 0;
    mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: %s (%s)", err, path);
    return -1;
}

/* Optional: without plugin_opt_quota and plugin_opt_daily_quota telemetry is not counted. */
static int open_quota(struct plugin *p, const char *path)
{
    char err[300] = "";
    if (path == NULL || p->daily_limit <= 0)
        return 0;
    if ((p->daily = daily_quota_open(path, 0, err, sizeof err)) != NULL)
        return 0;
    mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: %s (%s)", err, path);
    return -1;
}

static void plugin_free(struct plugin *p)
{
    if (p == NULL)
        return;
    registry_reader_close(p->registry);
    telemetry_store_close(p->telemetry);
    daily_quota_close(p->daily);
    throttle_destroy(&p->d2c);
    strmap_free(&p->clients, client_state_free);
    if (p->hub_secret != NULL)
        OPENSSL_cleanse(p->hub_secret, strlen(p->hub_secret));
    free(p->hub_secret);
    free(p->hosts_text);
    free(p);
}

static int register_callbacks(struct plugin *p)
{
    return mosquitto_callback_register(p->id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, p) ||
           mosquitto_callback_register(p->id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, p) ||
           mosquitto_callback_register(p->id, MOSQ_EVT_MESSAGE, on_message, NULL, p) ||
           mosquitto_callback_register(p->id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, p);
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    (void)supported_version_count;
    (void)supported_versions;
    return 5;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
    struct plugin *p = calloc(1, sizeof *p);
    const char *registry = NULL, *telemetry = NULL, *quota = NULL;
    if (p != NULL)
        throttle_init(&p->d2c, 0, THROTTLE_HUB_WINDOW_MS);
    int ok = p != NULL && strmap_init(&p->clients, CLIENT_BUCKETS) == 0 &&
             read_options(p, options, option_count, &registry, &telemetry, &quota) == 0 &&
             (p->registry = registry_reader_open(registry)) != NULL &&
             open_telemetry(p, telemetry) == 0 && open_quota(p, quota) == 0;
    if (ok) {
        p->id = identifier;
        ok = register_callbacks(p) == MOSQ_ERR_SUCCESS;
    }
    if (!ok) {
        plugin_free(p);
        return MOSQ_ERR_UNKNOWN;
    }
    *userdata = p;
    mosquitto_log_printf(MOSQ_LOG_DEBUG, "iothub: plugin ready");
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
    (void)options;
    (void)option_count;
    struct plugin *p = userdata;
    if (p != NULL) {
        mosquitto_callback_unregister(p->id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
        mosquitto_callback_unregister(p->id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
        mosquitto_callback_unregister(p->id, MOSQ_EVT_MESSAGE, on_message, NULL);
        mosquitto_callback_unregister(p->id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
    }
    plugin_free(p);
    return MOSQ_ERR_SUCCESS;
}
