/* What the files of libiothub-service share: the client, one call to the hub's main endpoint, and
 * the errors. Not installed; nothing here is exported from the shared library. */
#ifndef IH_SERVICE_INTERNAL_H
#define IH_SERVICE_INTERNAL_H

#include "iothub_service.h"

#include "transport/http_call.h"
#include "transport/loop.h"

#define IH_SVC_HIDDEN __attribute__((visibility("hidden")))

/* How long a registry, twin or telemetry call may take. */
#define IH_SVC_REGISTRY_TIMEOUT_MS 30000

struct iothub_service {
    struct ih_loop *loop;
    char *host, *policy, *key;
    int port, sas_ttl_s;
    char base_url[300];
};

struct hub_call {
    const char *method;
    const char *path; /* with its query */
    const char *body; /* JSON, or NULL */
    struct ih_http_header extra[3];
    const char *keep[IH_HTTP_MAX_HEADERS - 1]; /* besides iothub-errorcode */
    int timeout_ms;
};

/* Fills err (when not NULL) with status and the formatted message, code 0 and no name. */
IH_SVC_HIDDEN void svc_set_error(struct iothub_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends one call to the main endpoint with a fresh SAS token. Returns 0 with res filled for a
 * 2xx, else -1 with err (res freed): status 0 when there was no answer, else the hub's error.
 * res->values[0] is iothub-errorcode; call->keep[i] is in res->values[i + 1]. */
IH_SVC_HIDDEN int svc_call_hub(struct iothub_service *svc, const struct hub_call *call,
                               struct ih_http_response *res, struct iothub_error *err);

/* segment percent-encoded for a URL path or query (every byte but A-Z a-z 0-9 - . _); a new
 * string, NULL when out of memory. */
IH_SVC_HIDDEN char *svc_encode(const char *segment);

/* Whether the ids are valid IoT Hub ids (module_id may be NULL); -1 with err when not. */
IH_SVC_HIDDEN int svc_check_ids(const char *device_id, const char *module_id,
                                struct iothub_error *err);

#endif
