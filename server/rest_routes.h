/* The handlers behind each route of the main endpoint (rest_router.c dispatches to them). */
#ifndef REST_ROUTES_H
#define REST_ROUTES_H

#include "rest.h"

/* The context a handler gets: the request, its decoded path, and who called. */
struct rest_call {
    struct emulator *emu;
    const struct rest_request *req;
    const struct rest_path *path;
    struct rest_response *res;
};

/* rest_devices.c: PUT/GET/DELETE /devices/{id}, GET /devices */
void rest_devices_get(struct rest_call *call);
void rest_devices_put(struct rest_call *call);
void rest_devices_delete(struct rest_call *call);
void rest_devices_list(struct rest_call *call);

/* rest_streams.c: POST /twins/{id}[/modules/{m}]/streams/{name} and the emulator's views */
void rest_streams_post(struct rest_call *call);
void rest_streams_list(struct rest_call *call);
void rest_logs(struct rest_call *call);
void rest_devicestreams(struct rest_call *call);

/* rest_ui.c: the web page, its event stream, /metrics (--ui-access decides who) */
void rest_ui_page(struct rest_call *call);
void rest_ui_events(struct rest_call *call);
void rest_metrics(struct rest_call *call);

/* rest_emulator.c: unauthenticated endpoints */
void rest_health(struct rest_call *call);
void rest_ca_certificate(struct rest_call *call);

#endif
