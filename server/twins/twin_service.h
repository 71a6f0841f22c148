/* Device and module twins (docs/protocol.md §12.2): the devices' GET and reported PATCH over
 * MQTT (rules D5-D7), the service's GET, PATCH and PUT (rule D9), and the desired notifications
 * a service change sends (rule D8). Every change is committed to the registry before it is
 * answered. The glue between the twin document (twin_doc), the registry and the MQTT edge. */
#ifndef TWIN_SERVICE_H
#define TWIN_SERVICE_H

#include "emulator.h"
#include "mqtt_endpoint.h"

#include <jansson.h>

#include <stddef.h>

struct twin_service;

/* Every twin operation, for the metrics and the web page (main registers them). */
enum twin_op {
    TWIN_OP_DEVICE_GET,       /* rule D5 */
    TWIN_OP_DEVICE_REPORTED,  /* rule D6 */
    TWIN_OP_SERVICE_GET,      /* rule D9 */
    TWIN_OP_SERVICE_UPDATE,   /* rule D9, PATCH or PUT */
    TWIN_OP_DESIRED_NOTIFIED, /* rule D8: a notification was sent */
};

struct twin_event {
    enum twin_op op;
    const char *cid;
    int ok;                                      /* 0: refused or failed */
    long long desired_version, reported_version; /* after the operation */
    /* The twin as its device sees it after a change ({"desired","reported"}), or NULL. */
    const json_t *view;
};

struct twin_observer {
    void (*on_event)(void *ctx, const struct twin_event *ev);
    void *ctx;
};

#define TWIN_MAX_OBSERVERS 4

struct twin_service *twin_service_new(struct emulator *emu, const struct twin_observer *observers,
                                      size_t count);
void twin_service_free(struct twin_service *svc);

/* The devices' twin requests under $iothub/twin/. */
struct mqtt_handler twin_service_mqtt_handler(struct twin_service *svc);

struct twin_target {
    const char *device_id;
    const char *module_id; /* NULL for the device's own twin */
};

enum twin_call_result {
    TWIN_CALL_OK,
    TWIN_CALL_NO_DEVICE,    /* 404 404001 */
    TWIN_CALL_PRECONDITION, /* 412 412001 */
    TWIN_CALL_INVALID,      /* 400 400004 */
    TWIN_CALL_FORMAT,       /* 400 400006 */
    TWIN_CALL_FAILED,       /* 500: the store failed */
};

/* Rule D9: the whole twin as the service reads it; *twin a new reference on OK. */
enum twin_call_result twin_service_get(struct twin_service *svc, const struct twin_target *t,
                                       json_t **twin, char *reason, size_t cap);

/* The twin as its device sees it ({"desired","reported"} with their versions), for the web
 * page; NULL when the device does not exist or the store fails. */
json_t *twin_service_device_view(struct twin_service *svc, const struct twin_target *t);

/* Rule D9: PATCH (replace 0) or PUT (replace 1) with the request's body and If-Match (NULL when
 * absent); *twin the twin after the change, on OK. */
enum twin_call_result twin_service_update(struct twin_service *svc, const struct twin_target *t,
                                          const char *body, size_t len, int replace,
                                          const char *if_match, json_t **twin, char *reason,
                                          size_t cap);

#endif
