/* Unit tests of server/stream_wait.[ch]: the wait of a suspended stream POST, completed from
 * another thread (DESIGN.md §3). The HTTP thread suspends only when the answer is not in yet; the
 * completing thread resumes only a suspended request, and once. */
#include "stream_wait.h"

#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the callbacks saw. */
struct calls {
    atomic_int suspends, resumes;
    atomic_int resumed_before_suspend;
};

static void on_suspend(void *ctx)
{
    struct calls *c = ctx;
    atomic_fetch_add(&c->suspends, 1);
}

static void on_resume(void *ctx)
{
    struct calls *c = ctx;
    if (atomic_load(&c->suspends) == 0)
        atomic_fetch_add(&c->resumed_before_suspend, 1);
    atomic_fetch_add(&c->resumes, 1);
}

static void calls_init(struct calls *c)
{
    atomic_init(&c->suspends, 0);
    atomic_init(&c->resumes, 0);
    atomic_init(&c->resumed_before_suspend, 0);
}

static struct stream_result result_of(enum stream_outcome outcome, const char *token)
{
    struct stream_result r;
    memset(&r, 0, sizeof r);
    r.outcome = outcome;
    snprintf(r.url, sizeof r.url, "wss://127.0.0.1:8443/bridges/0123456789abcdef0123");
    snprintf(r.token, sizeof r.token, "%s", token);
    r.response_timeout_s = 30;
    return r;
}

START_TEST(complete_before_suspend)
{
    struct calls c;
    calls_init(&c);
    struct stream_wait w;
    stream_wait_init(&w, on_resume, &c);
    ck_assert_int_eq(stream_wait_done(&w), 0);

    struct stream_result r = result_of(STREAM_OUTCOME_ACCEPTED, "tok");
    stream_wait_complete(&w, &r);
    ck_assert_int_eq(stream_wait_done(&w), 1);
    /* Nothing was suspended, so nothing is resumed. */
    ck_assert_int_eq(atomic_load(&c.resumes), 0);

    ck_assert_int_eq(stream_wait_suspend(&w, on_suspend), 0);
    ck_assert_int_eq(atomic_load(&c.suspends), 0);
    ck_assert_int_eq(atomic_load(&c.resumes), 0);
    ck_assert_int_eq((int)w.result.outcome, (int)STREAM_OUTCOME_ACCEPTED);
    ck_assert_str_eq(w.result.token, "tok");
    ck_assert_str_eq(w.result.url, "wss://127.0.0.1:8443/bridges/0123456789abcdef0123");
    ck_assert_int_eq(w.result.response_timeout_s, 30);
    stream_wait_destroy(&w);
}
END_TEST

struct completer {
    struct stream_wait *w;
    struct stream_result r;
};

static void *complete_thread(void *arg)
{
    struct completer *c = arg;
    stream_wait_complete(c->w, &c->r);
    return NULL;
}

START_TEST(suspend_then_complete_from_another_thread)
{
    struct calls c;
    calls_init(&c);
    struct stream_wait w;
    stream_wait_init(&w, on_resume, &c);

    ck_assert_int_eq(stream_wait_suspend(&w, on_suspend), 1);
    ck_assert_int_eq(atomic_load(&c.suspends), 1);
    ck_assert_int_eq(atomic_load(&c.resumes), 0);
    ck_assert_int_eq(stream_wait_done(&w), 0);

    struct completer job = {.w = &w, .r = result_of(STREAM_OUTCOME_TIMED_OUT, "")};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, complete_thread, &job), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);

    ck_assert_int_eq(atomic_load(&c.resumes), 1);
    ck_assert_int_eq(atomic_load(&c.resumed_before_suspend), 0);
    ck_assert_int_eq(stream_wait_done(&w), 1);
    ck_assert_int_eq((int)w.result.outcome, (int)STREAM_OUTCOME_TIMED_OUT);

    /* A late second completion neither resumes again nor changes the result. */
    struct stream_result again = result_of(STREAM_OUTCOME_ACCEPTED, "other");
    stream_wait_complete(&w, &again);
    ck_assert_int_eq(atomic_load(&c.resumes), 1);
    ck_assert_int_eq((int)w.result.outcome, (int)STREAM_OUTCOME_TIMED_OUT);
    stream_wait_destroy(&w);
}
END_TEST

START_TEST(complete_twice_keeps_the_first)
{
    struct calls c;
    calls_init(&c);
    struct stream_wait w;
    stream_wait_init(&w, on_resume, &c);
    struct stream_result first = result_of(STREAM_OUTCOME_REJECTED, "first");
    struct stream_result second = result_of(STREAM_OUTCOME_UNAVAILABLE, "second");
    stream_wait_complete(&w, &first);
    stream_wait_complete(&w, &second);
    ck_assert_int_eq(stream_wait_done(&w), 1);
    ck_assert_int_eq((int)w.result.outcome, (int)STREAM_OUTCOME_REJECTED);
    ck_assert_str_eq(w.result.token, "first");
    ck_assert_int_eq(stream_wait_suspend(&w, on_suspend), 0);
    ck_assert_int_eq(atomic_load(&c.suspends), 0);
    ck_assert_int_eq(atomic_load(&c.resumes), 0);
    stream_wait_destroy(&w);
}
END_TEST

/* The completion races the suspension: whichever wins, a suspended request is resumed exactly
 * once and after it was suspended, and an unsuspended one is never resumed. */
START_TEST(suspend_and_complete_race)
{
    for (int i = 0; i < 2000; i++) {
        struct calls c;
        calls_init(&c);
        struct stream_wait w;
        stream_wait_init(&w, on_resume, &c);
        struct completer job = {.w = &w, .r = result_of(STREAM_OUTCOME_ACCEPTED, "t")};
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, complete_thread, &job), 0);
        int suspended = stream_wait_suspend(&w, on_suspend);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_int_eq(atomic_load(&c.suspends), suspended);
        ck_assert_int_eq(atomic_load(&c.resumes), suspended);
        ck_assert_int_eq(atomic_load(&c.resumed_before_suspend), 0);
        ck_assert_int_eq(stream_wait_done(&w), 1);
        ck_assert_int_eq((int)w.result.outcome, (int)STREAM_OUTCOME_ACCEPTED);
        stream_wait_destroy(&w);
    }
}
END_TEST

START_TEST(done_follows_completion)
{
    struct calls c;
    calls_init(&c);
    struct stream_wait w;
    stream_wait_init(&w, on_resume, &c);
    ck_assert_int_eq(stream_wait_done(&w), 0);
    ck_assert_int_eq(stream_wait_suspend(&w, on_suspend), 1);
    ck_assert_int_eq(stream_wait_done(&w), 0);
    struct stream_result r = result_of(STREAM_OUTCOME_UNAVAILABLE, "");
    stream_wait_complete(&w, &r);
    ck_assert_int_eq(stream_wait_done(&w), 1);
    ck_assert_int_eq(atomic_load(&c.resumes), 1);
    ck_assert_int_eq((int)w.result.outcome, (int)STREAM_OUTCOME_UNAVAILABLE);
    stream_wait_destroy(&w);
}
END_TEST

static Suite *stream_wait_suite(void)
{
    Suite *s = suite_create("stream_wait");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, complete_before_suspend);
    tcase_add_test(tc, suspend_then_complete_from_another_thread);
    tcase_add_test(tc, complete_twice_keeps_the_first);
    tcase_add_test(tc, suspend_and_complete_race);
    tcase_add_test(tc, done_follows_completion);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(stream_wait_suite());
}
