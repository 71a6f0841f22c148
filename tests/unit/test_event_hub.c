/* Unit tests of server/event_hub.[ch]: the web page's event fan-out: order, the snapshot first,
 * waiting and waking, slow subscribers dropped, closing. */
#include "event_hub.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct event_hub *hub;
static int waits, wakes;

static void count_wait(void *ctx)
{
    (void)ctx;
    waits++;
}

static void count_wake(void *ctx)
{
    ck_assert_ptr_eq(ctx, &wakes);
    wakes++;
}

static void setup(void)
{
    hub = event_hub_new();
    waits = wakes = 0;
}

static void teardown(void)
{
    event_hub_free(hub);
}

/* Everything queued, as text. */
static void drain(struct event_sub *s, char *out, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    while ((n = event_sub_read(s, out + len, cap - 1 - len, count_wait)) > 0)
        len += (size_t)n;
    out[len] = '\0';
}

START_TEST(events_arrive_in_order_as_sse)
{
    struct event_sub *s = event_hub_subscribe(hub, count_wake, &wakes);
    event_hub_publish(hub, "stream", "{\"a\":1}");
    event_hub_publish(hub, NULL, "keep-alive");
    event_hub_publish(hub, "device", "{\"b\":2}");
    char text[512];
    drain(s, text, sizeof text);
    ck_assert_str_eq(text, "event: stream\ndata: {\"a\":1}\n\n: keep-alive\n\n"
                           "event: device\ndata: {\"b\":2}\n\n");
    ck_assert_int_eq(waits, 1); /* the last read found nothing and waited */
    event_hub_unsubscribe(s);
}
END_TEST

START_TEST(the_snapshot_comes_first)
{
    struct event_sub *s = event_hub_subscribe(hub, count_wake, &wakes);
    event_hub_publish(hub, "stream", "1");
    ck_assert_int_eq(event_sub_prepend(s, "snapshot", "{}"), 0);
    char text[512];
    drain(s, text, sizeof text);
    ck_assert_str_eq(text, "event: snapshot\ndata: {}\n\nevent: stream\ndata: 1\n\n");
    event_hub_unsubscribe(s);
}
END_TEST

START_TEST(a_waiting_subscriber_is_woken_once)
{
    struct event_sub *s = event_hub_subscribe(hub, count_wake, &wakes);
    char buf[64];
    ck_assert_int_eq(event_sub_read(s, buf, sizeof buf, count_wait), 0);
    ck_assert_int_eq(waits, 1);
    event_hub_publish(hub, "x", "1");
    event_hub_publish(hub, "x", "2");
    ck_assert_int_eq(wakes, 1); /* not again until it waits again */
    /* Small reads take the text in pieces. */
    ck_assert_int_eq(event_sub_read(s, buf, 5, count_wait), 5);
    ck_assert(memcmp(buf, "event", 5) == 0);
    event_hub_unsubscribe(s);
    /* Nobody left: publishing wakes nobody. */
    event_hub_publish(hub, "x", "3");
    ck_assert_int_eq(wakes, 1);
    ck_assert_uint_eq(event_hub_subscriber_count(hub), 0);
}
END_TEST

START_TEST(a_slow_subscriber_is_ended)
{
    struct event_sub *slow = event_hub_subscribe(hub, count_wake, &wakes);
    struct event_sub *fast = event_hub_subscribe(hub, count_wake, &wakes);
    char *big = malloc(64 * 1024);
    memset(big, 'x', 64 * 1024 - 1);
    big[64 * 1024 - 1] = '\0';
    char *buf = malloc(128 * 1024);
    for (int i = 0; i < 2 * EVENT_HUB_BACKLOG_MAX / (64 * 1024); i++) {
        event_hub_publish(hub, "big", big);
        while (event_sub_read(fast, buf, 128 * 1024, count_wait) > 0)
            ;
    }
    /* The slow one is ended, its backlog dropped at once (its page reconnects and starts
     * from a new snapshot). */
    ck_assert_int_eq(event_sub_read(slow, buf, 128 * 1024, count_wait), -1);
    ck_assert_int_eq(event_sub_read(fast, buf, 16, count_wait), 0);
    free(big);
    free(buf);
    event_hub_unsubscribe(slow);
    event_hub_unsubscribe(fast);
}
END_TEST

/* A big snapshot is not backlog: the events after it still fit, and a page can connect. */
START_TEST(the_snapshot_does_not_count_as_backlog)
{
    struct event_sub *s = event_hub_subscribe(hub, count_wake, &wakes);
    char *big = malloc(EVENT_HUB_BACKLOG_MAX + 1);
    memset(big, 's', EVENT_HUB_BACKLOG_MAX);
    big[EVENT_HUB_BACKLOG_MAX] = '\0';
    ck_assert_int_eq(event_sub_prepend(s, "snapshot", big), 0);
    event_hub_publish(hub, "stream", "after");
    char *buf = malloc(2 * EVENT_HUB_BACKLOG_MAX);
    size_t total = 0;
    ssize_t n;
    while ((n = event_sub_read(s, buf + total, 4096, count_wait)) > 0)
        total += (size_t)n;
    ck_assert_int_eq(n, 0); /* waiting, not ended */
    buf[total] = '\0';
    ck_assert_ptr_nonnull(strstr(buf, "event: stream\ndata: after\n\n"));
    ck_assert(strncmp(buf, "event: snapshot\n", 16) == 0);
    free(big);
    free(buf);
    event_hub_unsubscribe(s);
}
END_TEST

START_TEST(closing_ends_everyone)
{
    struct event_sub *s = event_hub_subscribe(hub, count_wake, &wakes);
    char buf[64];
    ck_assert_int_eq(event_sub_read(s, buf, sizeof buf, count_wait), 0);
    event_hub_publish(hub, "x", "queued, then dropped by the close");
    event_hub_close(hub);
    ck_assert_int_eq(event_sub_read(s, buf, sizeof buf, count_wait), -1);
    ck_assert_ptr_null(event_hub_subscribe(hub, count_wake, &wakes));
    event_hub_unsubscribe(s);
}
END_TEST

static Suite *event_hub_suite(void)
{
    Suite *s = suite_create("event_hub");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, events_arrive_in_order_as_sse);
    tcase_add_test(tc, the_snapshot_comes_first);
    tcase_add_test(tc, a_waiting_subscriber_is_woken_once);
    tcase_add_test(tc, a_slow_subscriber_is_ended);
    tcase_add_test(tc, the_snapshot_does_not_count_as_backlog);
    tcase_add_test(tc, closing_ends_everyone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(event_hub_suite());
}
