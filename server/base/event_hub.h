/* Live updates for the web page: every subscriber, one Server-Sent Events connection, gets every
 * event published after it subscribed, in order, already formatted as SSE text. A subscriber that
 * falls more than EVENT_HUB_BACKLOG_MAX bytes behind is ended (its browser's EventSource reconnects
 * and starts again from a snapshot). Thread-safe; no I/O. */
#ifndef EVENT_HUB_H
#define EVENT_HUB_H

#include <stddef.h>
#include <sys/types.h>

#define EVENT_HUB_BACKLOG_MAX (1024 * 1024)

struct event_hub;
struct event_sub;

struct event_hub *event_hub_new(void);
/* Every subscriber must be gone (unsubscribed) first. */
void event_hub_free(struct event_hub *h);

/* Publishes one event: name is the SSE event type, data one line of JSON. A NULL name makes an
 * SSE comment (a keep-alive the page ignores). */
void event_hub_publish(struct event_hub *h, const char *name, const char *data);

/* A new subscriber. wake(ctx) is called when a subscriber that found nothing to read
 * (event_sub_read returned 0) has something now: outside the hub's lock for the first 32 woken
 * at once, under it for the rest (wake may not take the hub's lock). NULL when out of memory or
 * the hub is closed. */
struct event_sub *event_hub_subscribe(struct event_hub *h, void (*wake)(void *ctx), void *ctx);

/* Queues an event ahead of everything queued so far (the snapshot a new page starts from); it
 * does not count against EVENT_HUB_BACKLOG_MAX. */
int event_sub_prepend(struct event_sub *s, const char *name, const char *data);

/* Takes up to cap queued bytes. Returns the count; 0 when nothing is queued, after calling
 * wait(ctx) under the subscriber's lock so that a publish cannot slip in between (wake comes
 * later); -1 once the subscriber is ended. */
ssize_t event_sub_read(struct event_sub *s, char *buf, size_t cap, void (*wait)(void *ctx));

void event_hub_unsubscribe(struct event_sub *s);

/* Ends every subscriber and refuses new ones (the emulator is stopping). */
void event_hub_close(struct event_hub *h);

size_t event_hub_subscriber_count(struct event_hub *h);

#endif
