/* What the web page sees: a snapshot when it connects, then every stream step, every device
 * connection change and, once a second while streams relay, their byte counts, as Server-Sent
 * Events. The server pushes; the page never polls. */
#ifndef UI_FEED_H
#define UI_FEED_H

#include "emulator.h"
#include "event_hub.h"
#include "method_service.h"
#include "presence.h"
#include "telemetry_service.h"
#include "twin_service.h"
#include "stream_core.h"

struct ui_feed;

/* Starts the feed and its one-second ticker. NULL when out of memory. */
struct ui_feed *ui_feed_start(struct emulator *emu);

/* Stops the ticker, ends every page's event stream and refuses new ones (before the main
 * endpoint and the stream service stop). */
void ui_feed_close(struct ui_feed *f);

/* Frees (closing first if need be); every subscriber must be gone (the main endpoint
 * stopped). */
void ui_feed_free(struct ui_feed *f);

/* A stream observer (stream_service.h): one "stream" event per step. */
void ui_feed_on_stream_event(void *ctx, const struct stream_event *ev);

/* An MQTT endpoint presence handler (mqtt_endpoint.h): one "device" event per change; cid NULL
 * means everyone went offline. */
void ui_feed_on_presence(void *ctx, const char *cid, struct presence_view view);

/* A method observer (method_service.h): one "method" event when a call is sent and when it
 * ends. */
void ui_feed_on_method_event(void *ctx, const struct method_event *ev);

/* A twin observer (twin_service.h): one "twin" event per operation, with the versions. */
void ui_feed_on_twin_event(void *ctx, const struct twin_event *ev);

/* A telemetry observer (telemetry_service.h): one "telemetry" event per message. */
void ui_feed_on_telemetry(void *ctx, const json_t *message, size_t body_len);

enum ui_subscribe_result {
    UI_SUBSCRIBE_OK,
    UI_SUBSCRIBE_TOO_MANY, /* too many pages open at once */
    UI_SUBSCRIBE_CLOSED,   /* the emulator is stopping */
    UI_SUBSCRIBE_NO_MEMORY,
};

/* A new page: its subscription, starting with a "snapshot" event (hub, devices, the newest
 * streams, the newest log rows). */
enum ui_subscribe_result ui_feed_subscribe(struct ui_feed *f, void (*wake)(void *ctx), void *ctx,
                                           struct event_sub **out);

#endif
