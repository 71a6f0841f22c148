/* Unit tests of server/metrics.[ch]: the counters the stream core's events drive, and the
 * Prometheus text they render to (the integration test reads it with prometheus_client). */
#include "metrics.h"

#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct stream_event event(enum stream_step step, int64_t posted, int64_t connected)
{
    struct stream_event ev;
    memset(&ev, 0, sizeof ev);
    ev.step = step;
    ev.info.posted_ms = posted;
    ev.info.connected_ms = connected;
    return ev;
}

static void feed(struct metrics *m, enum stream_step step, int64_t connected_after_ms)
{
    struct stream_event ev = event(step, 1000, 1000 + connected_after_ms);
    metrics_on_stream_event(m, &ev);
}

static char *render(struct metrics *m)
{
    struct metrics_gauges g = {{123, 456}, 7, 2};
    char *text = NULL;
    ck_assert_int_eq(metrics_render(m, &g, &text), 0);
    return text;
}

static void check_line(const char *text, const char *line)
{
    char with_newline[256];
    snprintf(with_newline, sizeof with_newline, "\n%s\n", line);
    ck_assert_msg(strstr(text, with_newline) != NULL, "no line '%s' in:\n%s", line, text);
}

START_TEST(fresh_counters_are_zero)
{
    struct metrics *m = metrics_new();
    char *text = render(m);
    ck_assert(strncmp(text, "# HELP iothub_streams_initiated_total ", 38) == 0);
    check_line(text, "iothub_streams_initiated_total 0");
    check_line(text, "iothub_streams_active 0");
    check_line(text, "iothub_stream_handshake_seconds_bucket{le=\"+Inf\"} 0");
    check_line(text, "iothub_stream_handshake_seconds_count 0");
    check_line(text, "iothub_stream_bytes_relayed_total{direction=\"device_to_service\"} 123");
    check_line(text, "iothub_stream_bytes_relayed_total{direction=\"service_to_device\"} 456");
    check_line(text, "iothub_devices_connected 7");
    check_line(text, "iothub_broker_restarts_total 2");
    check_line(text, "# TYPE iothub_stream_handshake_seconds histogram");
    check_line(text, "# TYPE iothub_streams_active gauge");
    free(text);
    metrics_free(m);
}
END_TEST

START_TEST(every_end_of_a_stream_counts_once)
{
    struct metrics *m = metrics_new();
    /* Four streams: accepted and closed, rejected, timed out, accepted and still open. */
    for (int i = 0; i < 4; i++)
        feed(m, STEP_REQUESTED, 0);
    feed(m, STEP_ACCEPTED, 0);
    feed(m, STEP_SIDE_CONNECTED, 0);
    feed(m, STEP_CONNECTED, 3);
    feed(m, STEP_CLOSED, 0);
    feed(m, STEP_REJECTED, 0);
    feed(m, STEP_TIMED_OUT, 0);
    feed(m, STEP_ACCEPTED, 0);
    char *text = render(m);
    check_line(text, "iothub_streams_initiated_total 4");
    check_line(text, "iothub_streams_accepted_total 2");
    check_line(text, "iothub_streams_rejected_total 1");
    check_line(text, "iothub_streams_timed_out_total 1");
    check_line(text, "iothub_streams_active 1");
    free(text);
    metrics_free(m);
}
END_TEST

START_TEST(handshakes_fall_into_cumulative_buckets)
{
    struct metrics *m = metrics_new();
    feed(m, STEP_CONNECTED, 1);     /* 0.001 s: on the first bound */
    feed(m, STEP_CONNECTED, 3);     /* 0.005 bucket */
    feed(m, STEP_CONNECTED, 700);   /* 1 s bucket */
    feed(m, STEP_CONNECTED, 90000); /* past 60 s: +Inf only */
    char *text = render(m);
    check_line(text, "iothub_stream_handshake_seconds_bucket{le=\"0.001\"} 1");
    check_line(text, "iothub_stream_handshake_seconds_bucket{le=\"0.0025\"} 1");
    check_line(text, "iothub_stream_handshake_seconds_bucket{le=\"0.005\"} 2");
    check_line(text, "iothub_stream_handshake_seconds_bucket{le=\"0.5\"} 2");
    check_line(text, "iothub_stream_handshake_seconds_bucket{le=\"1\"} 3");
    check_line(text, "iothub_stream_handshake_seconds_bucket{le=\"60\"} 3");
    check_line(text, "iothub_stream_handshake_seconds_bucket{le=\"+Inf\"} 4");
    check_line(text, "iothub_stream_handshake_seconds_count 4");
    check_line(text, "iothub_stream_handshake_seconds_sum 90.704000");
    free(text);
    metrics_free(m);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fresh_counters_are_zero);
    tcase_add_test(tc, every_end_of_a_stream_counts_once);
    tcase_add_test(tc, handshakes_fall_into_cumulative_buckets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(metrics_suite());
}
