/* iothub-service: a thin C client for the service side of IoT Hub device streams, direct
 * methods and device twins, and for the hub's device registry. It speaks what the Azure service
 * SDKs speak (docs/protocol.md §1, §3, §5, §12.1, §12.2), so it works against IoT Hub's wire
 * contract and against iothub-emulator. It also reads the telemetry devices sent and sends
 * cloud-to-device messages, through the emulator's own endpoints (§12.3, §12.4; the real hub
 * serves both over AMQP instead).
 *
 *   struct iothub_service *svc;
 *   struct iothub_error err;
 *   struct iothub_service_options o = {.connection_string = cs, .ca_file = "ca.pem"};
 *   if (iothub_service_new(&o, &svc, &err) != 0) ...
 *   struct iothub_stream_request req = {.device_id = "dev1", .name = "ssh"};
 *   struct iothub_stream_result res;
 *   if (iothub_stream_initiate(svc, &req, &res, &err) != 0 || !res.accepted) ...
 *   struct iothub_stream *s;
 *   if (iothub_stream_open(svc, &res, NULL, &s, &err) != 0) ...
 *   iothub_stream_write(s, "hello", 5);
 *   n = iothub_stream_read(s, buf, sizeof buf);
 *   iothub_stream_free(s);
 *   iothub_service_free(svc);
 *
 * Threading and events: there are no callbacks. Every call blocks its caller until it is done
 * (or its timeout passes) and may be made from any thread; the network I/O of a client runs on
 * one internal thread (libwebsockets). A stream may be read by one thread while another writes
 * to it. Reads wait for data; writes wait only while 256 KiB are already queued for the peer, so
 * a slow peer slows its writer instead of growing memory. Free every stream before the client.
 *
 * Connections: a client keeps its HTTPS connection to the hub open for 30 s after a call, and
 * the next call (a stream request, a method call, a twin or registry call) goes out on it without
 * a new TCP and TLS handshake; a device deletion and a twin update without replace (DELETE and
 * PATCH, which libwebsockets does not pipeline) and a C2D purge (DELETE) open a connection of
 * their own and leave the kept one be. A call made while another is waiting for its answer (the hub
 * holds a stream request or a method call until the device answers) opens a connection of its own.
 * A connection the hub has closed is not used. Should the kept connection fail under a call before
 * any answer, a registry, twin, telemetry or C2D queue read is sent again on a new one; a stream
 * request, a method call, a twin update, a device creation or a C2D message fails, since the hub
 * may have acted on it. iothub_service_free closes the connection.
 *
 * Errors: a failed call returns -1 and fills struct iothub_error: the HTTP status with the hub's
 * errorCode and message when the hub answered, or status 0 with a message saying what went
 * wrong and how to fix it. */
#ifndef IOTHUB_SERVICE_H
#define IOTHUB_SERVICE_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iothub_error {
    int status;        /* HTTP status, or 0 when there was no answer from the hub */
    long code;         /* the hub's errorCode (404001...), 0 when none */
    char name[64];     /* the iothub-errorcode header (DeviceNotFound...), "" when none */
    char message[640]; /* what happened, and for local failures what to do */
};

struct iothub_service_options {
    /* HostName=...;SharedAccessKeyName=...;SharedAccessKey=... (a policy with ServiceConnect
     * for streams and methods, RegistryRead/RegistryWrite for the registry, either for twins). */
    const char *connection_string;
    /* PEM file of the CA that signed the hub's certificate (the emulator's ca.pem); NULL for
     * the system's trusted CAs. */
    const char *ca_file;
    /* The main endpoint's port: 0 for 443, the hub's (and the SDKs') only port. */
    int port;
    /* Lifetime of the SAS tokens the client makes, in seconds: 0 for 3600. */
    int sas_ttl_s;
};

struct iothub_service;

int iothub_service_new(const struct iothub_service_options *o, struct iothub_service **out,
                       struct iothub_error *err);
void iothub_service_free(struct iothub_service *svc);

/* The hub's host name, from the connection string. */
const char *iothub_service_host(const struct iothub_service *svc);

/* ---- device streams ---- */

struct iothub_stream_request {
    const char *device_id;
    const char *module_id;  /* NULL for a device stream */
    const char *name;       /* the stream name (no '/', '?', '#', '+') */
    int response_timeout_s; /* 0: the hub's default (60 s) */
    int connect_timeout_s;  /* 0: the hub's default (60 s) */
};

struct iothub_stream_result {
    int accepted;    /* the device's answer */
    char url[1024];  /* when accepted: the streaming endpoint's wss:// URL */
    char token[512]; /* when accepted: the service side's bearer token */
};

/* POST /twins/{id}[/modules/{m}]/streams/{name}: asks the device, through the hub, and waits
 * for its answer. Returns 0 when the device answered (accepted or not), -1 otherwise. */
int iothub_stream_initiate(struct iothub_service *svc, const struct iothub_stream_request *req,
                           struct iothub_stream_result *out, struct iothub_error *err);

struct iothub_stream;

/* Opens the service side's WebSocket of an accepted stream, with its bearer token.
 * subprotocol: NULL (as the service SDKs) or a Sec-WebSocket-Protocol value to ask for. */
int iothub_stream_open(struct iothub_service *svc, const struct iothub_stream_result *accepted,
                       const char *subprotocol, struct iothub_stream **out,
                       struct iothub_error *err);

/* Up to cap bytes; blocks until there are some. Returns the count, or 0 once the stream is
 * closed and everything was read (iothub_stream_close_code says how it ended). */
ssize_t iothub_stream_read(struct iothub_stream *s, void *buf, size_t cap);

/* Sends len bytes (binary frames of at most 64 KiB). Returns 0, or -1 when the stream is
 * closed. */
int iothub_stream_write(struct iothub_stream *s, const void *buf, size_t len);

/* Sends what is queued, then a Close with code (1000 for a normal end) and reason. */
void iothub_stream_close(struct iothub_stream *s, int code, const char *reason);

/* The close code the other side's close brought (1006 when the connection dropped), 0 while
 * open; reason (may be NULL) gets its reason. */
int iothub_stream_close_code(struct iothub_stream *s, char *reason, size_t reason_len);

/* Closes (1000) if open, waits until the connection is gone, frees. */
void iothub_stream_free(struct iothub_stream *s);

/* ---- direct methods (docs/protocol.md §12.1) ---- */

struct iothub_method_request {
    const char *device_id;
    const char *module_id;  /* NULL for a method of the device itself */
    const char *name;       /* the method name, sent as is: the hub judges it (rule D1) */
    const char *payload;    /* JSON text (any JSON value), or NULL for null */
    int response_timeout_s; /* 0: the hub's default (30 s); the hub takes 5 to 300 */
    int connect_timeout_s;  /* 0: the hub's default (0: an offline device fails at once) */
};

struct iothub_method_result {
    int http_status; /* the hub's answer: 200 */
    int status;      /* the device's status: any integer it chose */
    char *payload;   /* the device's payload as the hub's JSON text ("null" for none); a new
                      * string the caller frees */
};

/* POST /twins/{id}[/modules/{m}]/methods: calls the method through the hub and waits for the
 * device's answer. Returns 0 when the device answered, whatever its status; -1 otherwise, with
 * the hub's error (404103 offline, 504101 no answer in time...) in err. */
int iothub_method_invoke(struct iothub_service *svc, const struct iothub_method_request *req,
                         struct iothub_method_result *out, struct iothub_error *err);

/* ---- device twins (docs/protocol.md §12.2, rule D9) ---- */

struct iothub_twin_result {
    int http_status; /* the hub's answer: 200 */
    char etag[128];  /* the twin's etag, without quotes ("AAAAAAAAAAE="), for if_match */
    char *json;      /* the whole twin as the hub's JSON text: deviceId, etag, tags, properties
                      * (desired and reported, each with its "$version")...; a new string the
                      * caller frees */
};

/* GET /twins/{id}[/modules/{m}]: the twin of a device, or of its module (module_id not NULL).
 * Returns 0, or -1 with the hub's error (404001 unknown device, 404010 unknown module...). */
int iothub_twin_get(struct iothub_service *svc, const char *device_id, const char *module_id,
                    struct iothub_twin_result *out, struct iothub_error *err);

/* PATCH /twins/{id}[/modules/{m}] (PUT when replace) with patch_json, a JSON object of which the
 * hub takes only "tags" and "properties": {"desired": ...}: PATCH merges them (a null member
 * removes that key), PUT replaces them. Connected devices that listen get the desired change.
 * if_match: NULL writes unconditionally, else the etag the twin must still have (sent quoted;
 * "*" matches any), or the hub answers 412001. out: the twin after the change. Returns 0, or -1
 * with err (status 0 when patch_json is not a JSON object: nothing was sent). */
int iothub_twin_update(struct iothub_service *svc, const char *device_id, const char *module_id,
                       const char *patch_json, const char *if_match, int replace,
                       struct iothub_twin_result *out, struct iothub_error *err);

/* ---- telemetry (docs/protocol.md §12.3): the emulator's GET /emulator/telemetry ---- */

struct iothub_telemetry_result {
    int http_status;         /* the hub's answer: 200 */
    size_t count;            /* the messages in json */
    long long last_sequence; /* the highest sequenceNumber in json; after_sequence when empty */
    char *json;              /* the messages as the hub's JSON text, an array, oldest first, of
                              * {"deviceId","moduleId","enqueuedTimeUtc","sequenceNumber",
                              * "properties","systemProperties","body" (when UTF-8),
                              * "bodyBase64"}; a new string the caller frees */
};

/* GET /emulator/telemetry: the stored device-to-cloud messages with a sequence number above
 * after_sequence (0: from the oldest kept), oldest first, at most top of them (0: the hub's
 * default, 1000; it takes 1 to 10000), of device_id (NULL: every device) and of module_id (NULL:
 * the device's own messages and its modules'). Sequence numbers grow with each message the hub
 * stores, so a reader follows without gaps or repeats by passing last_sequence back as
 * after_sequence; an empty array means it has read everything stored so far. When a page is too
 * large for one answer (8 MiB; one message takes at most about 2 MiB of JSON), it asks again
 * for half as many messages, down to one: out->count may then be less than top while more are
 * stored. Needs a policy with RegistryRead. An endpoint of the emulator's: the real hub answers
 * 404. Returns 0, or -1 with err (status 0 when after_sequence is negative or an id is not
 * valid: nothing was sent). */
int iothub_telemetry_read(struct iothub_service *svc, const char *device_id, const char *module_id,
                          long long after_sequence, size_t top, struct iothub_telemetry_result *out,
                          struct iothub_error *err);

/* ---- cloud-to-device messages (docs/protocol.md §12.4) ----
 * Sent and listed through the emulator's POST and GET /emulator/devices/{id}/messages/devicebound
 * (the real hub takes them over AMQP only, and answers these two 404); purged with the hub's own
 * DELETE /devices/{id}/commands. All three need a policy with ServiceConnect. */

struct iothub_c2d_property {
    const char *name;  /* not empty; UTF-8 */
    const char *value; /* UTF-8 */
};

struct iothub_c2d_message {
    const char *device_id;
    /* Any bytes, sent as text when they are UTF-8 without NUL, else as base64; NULL and 0 for an
     * empty body. */
    const void *body;
    size_t body_len;
    const struct iothub_c2d_property *properties; /* the application properties, names unique */
    size_t property_count;
    /* The system properties, each NULL when not set; the hub judges their values. message_id
     * NULL: the hub makes one. ack: the feedback asked for, none, positive, negative or full.
     * expiry_time_utc: ISO 8601; NULL for the hub's default TTL (1 h). */
    const char *message_id, *correlation_id, *user_id, *content_type, *content_encoding, *ack,
        *expiry_time_utc;
};

struct iothub_c2d_result {
    int http_status;           /* the hub's answer: 202 */
    char message_id[256];      /* the message's id, the one given or the hub's */
    long long sequence_number; /* its place in the device's queue */
    char expiry_time_utc[64];  /* when it expires (ISO 8601), "" when the hub did not say */
};

/* Queues one message for the device; the hub delivers it over MQTT at QoS 1 on
 * devices/{id}/messages/devicebound/{properties} while the device listens there, now or once it
 * connects. Returns 0 once the hub queued it (202), or -1 with err: 404001 unknown device, 403004
 * its queue is full (50 messages), 413001 larger than the hub takes (64 KiB), 400004 a message
 * the hub refuses; status 0 when nothing was sent (no device id, a property without a name, twice
 * the same name, text that is not UTF-8). Not sent again when the connection fails under it: the
 * hub may have queued it. */
int iothub_c2d_send(struct iothub_service *svc, const struct iothub_c2d_message *msg,
                    struct iothub_c2d_result *out, struct iothub_error *err);

struct iothub_c2d_queue {
    int http_status; /* the hub's answer: 200 */
    size_t count;    /* the messages in json */
    char *json;      /* the device's messages as the hub's JSON text, an array, oldest first, of
                      * {"messageId","sequenceNumber","state" (Enqueued, Completed, Expired or
                      * Purged),"enqueuedTimeUtc","expiryTimeUtc","endTimeUtc" (once it left the
                      * queue),"properties","systemProperties","body" (when UTF-8),
                      * "bodyBase64"}; a new string the caller frees */
};

/* GET /emulator/devices/{id}/messages/devicebound: the device's messages the hub keeps, those
 * still queued and those that left the queue. Returns 0, or -1 with err (404001 unknown
 * device). An endpoint of the emulator's. */
int iothub_c2d_list(struct iothub_service *svc, const char *device_id, struct iothub_c2d_queue *out,
                    struct iothub_error *err);

/* DELETE /devices/{id}/commands: drops every message queued for the device; *purged (may be
 * NULL) gets how many. Returns 0, or -1 with err (404001 unknown device). */
int iothub_c2d_purge(struct iothub_service *svc, const char *device_id, long long *purged,
                     struct iothub_error *err);

/* ---- the device registry (docs/protocol.md §5) ---- */

/* The JSON of a device (GET /devices/{id}); *json is a new string the caller frees. */
int iothub_device_get(struct iothub_service *svc, const char *device_id, char **json,
                      struct iothub_error *err);

/* Creates a device with generated SAS keys (PUT /devices/{id}); *json is the new device. */
int iothub_device_create(struct iothub_service *svc, const char *device_id, char **json,
                         struct iothub_error *err);

/* Up to top devices (GET /devices?top=N), a JSON array. */
int iothub_device_list(struct iothub_service *svc, int top, char **json, struct iothub_error *err);

/* DELETE /devices/{id}, unconditionally (If-Match: *). */
int iothub_device_delete(struct iothub_service *svc, const char *device_id,
                         struct iothub_error *err);

/* The device's connection string, HostName=...;DeviceId=...;SharedAccessKey=<primary key>,
 * read from the registry. *out is a new string the caller frees. */
int iothub_device_connection_string(struct iothub_service *svc, const char *device_id, char **out,
                                    struct iothub_error *err);

#ifdef __cplusplus
}
#endif

#endif
