/* The emulator's own pages: the web page at /, its event stream at /emulator/events, and /metrics
 * for Prometheus. Who may open them without a token is --ui-access (rest_router.c checks it). */
#include "rest_ui.h"

#include "embedded.h"
#include "event_hub.h"
#include "metrics.h"
#include "mqtt_endpoint.h"
#include "stream_service.h"
#include "ui_feed.h"

#include <stdlib.h>
#include <string.h>

static void rest_ui_page(struct rest_call *call)
{
    const struct embedded_file *page = &web_files[0];
    char *copy = malloc(page->len + 1);
    if (copy == NULL) {
        rest_error(call->res, IH_E_SERVER_ERROR, "out of memory");
        return;
    }
    memcpy(copy, page->data, page->len + 1);
    call->res->status = 200;
    call->res->body = copy;
    call->res->body_len = page->len;
    call->res->content_type = "text/html; charset=utf-8";
    /* The page is the binary's: it changes with it, so the browser asks again each time. */
    rest_add_header(call->res, "Cache-Control", "no-cache");
    /* Its script and style are inline, and it talks to this endpoint only. */
    rest_add_header(call->res, "Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    "connect-src 'self'; img-src 'self' data:");
    rest_add_header(call->res, "X-Content-Type-Options", "nosniff");
}

static void rest_ui_events(struct rest_call *call)
{
    if (call->emu->ui == NULL || call->req->events_wake == NULL) {
        rest_error(call->res, IH_E_SERVICE_UNAVAILABLE, "live events are not available here");
        return;
    }
    struct event_sub *s = NULL;
    switch (ui_feed_subscribe(call->emu->ui, call->req->events_wake, call->req->events_ctx, &s)) {
    case UI_SUBSCRIBE_OK:
        break;
    case UI_SUBSCRIBE_TOO_MANY:
        rest_error(call->res, IH_E_SERVICE_UNAVAILABLE,
                   "too many pages are open on the emulator; close some and reload");
        return;
    case UI_SUBSCRIBE_CLOSED:
        rest_error(call->res, IH_E_SERVICE_UNAVAILABLE, "the emulator is stopping");
        return;
    case UI_SUBSCRIBE_NO_MEMORY:
        rest_error(call->res, IH_E_SERVER_ERROR, "out of memory");
        return;
    }
    call->res->status = 200;
    call->res->events = s;
    call->res->content_type = "text/event-stream";
    rest_add_header(call->res, "Cache-Control", "no-cache");
}

static void rest_metrics(struct rest_call *call)
{
    struct emulator *emu = call->emu;
    struct metrics_gauges g = {
        .connected_devices = mqtt_endpoint_connected_count(emu->mqtt),
        .broker_restarts = emu->mqtt != NULL ? mqtt_endpoint_restarts(emu->mqtt) : 0,
    };
    if (emu->streams != NULL) {
        struct stream_core *core = stream_service_core(emu->streams);
        g.bytes_relayed[STREAM_DEVICE] = stream_core_bytes_relayed(core, STREAM_DEVICE);
        g.bytes_relayed[STREAM_SERVICE] = stream_core_bytes_relayed(core, STREAM_SERVICE);
    }
    char *text = NULL;
    if (emu->metrics == NULL || metrics_render(emu->metrics, &g, &text) != 0) {
        rest_error(call->res, IH_E_SERVER_ERROR, "the metrics could not be rendered");
        return;
    }
    call->res->status = 200;
    call->res->body = text;
    call->res->body_len = strlen(text);
    call->res->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static const struct rest_route routes[] = {
    {"GET", {NULL}, 0, REST_PERMISSION_UI, rest_ui_page, REST_ERROR_NESTED},
    {"GET", {"emulator", "events"}, 2, REST_PERMISSION_UI, rest_ui_events, REST_ERROR_NESTED},
    {"GET", {"metrics"}, 1, REST_PERMISSION_UI, rest_metrics, REST_ERROR_NESTED},
};

const struct rest_route_table rest_ui_routes = {routes, sizeof routes / sizeof routes[0]};
