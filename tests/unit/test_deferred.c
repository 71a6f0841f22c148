/* Unit tests of server/deferred.[ch]: a suspended request, completed from another thread. The
 * HTTP thread suspends only when the result is not in yet; the completing thread resumes only a
 * suspended request, and once; the first result stands. */
#include "deferred.h"

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

/* What a handler might complete its request with. */
enum outcome { ACCEPTED, REJECTED, TIMED_OUT, UNAVAILABLE };

struct answer {
    enum outcome outcome;
    char token[16];
};

static struct answer result_of(enum outcome outcome, const char *token)
{
    struct answer r;
    memset(&r, 0, sizeof r);
    r.outcome = outcome;
    snprintf(r.token, sizeof r.token, "%s", token);
    return r;
}

static enum outcome outcome_of(const struct deferred *d)
{
    return ((const struct answer *)d->result)->outcome;
}

START_TEST(complete_before_suspend)
{
    struct calls c;
    calls_init(&c);
    struct deferred w;
    deferred_init(&w, on_resume, &c);
    ck_assert_int_eq(deferred_done(&w), 0);

    struct answer r = result_of(ACCEPTED, "tok");
    deferred_complete(&w, &r, sizeof r);
    ck_assert_int_eq(deferred_done(&w), 1);
    /* Nothing was suspended, so nothing is resumed. */
    ck_assert_int_eq(atomic_load(&c.resumes), 0);

    ck_assert_int_eq(deferred_suspend(&w, on_suspend), 0);
    ck_assert_int_eq(atomic_load(&c.suspends), 0);
    ck_assert_int_eq(atomic_load(&c.resumes), 0);
    ck_assert_int_eq((int)outcome_of(&w), (int)ACCEPTED);
    ck_assert_str_eq(((const struct answer *)w.result)->token, "tok");
    deferred_destroy(&w);
}
END_TEST

struct completer {
    struct deferred *w;
    struct answer r;
};

static void *complete_thread(void *arg)
{
    struct completer *c = arg;
    deferred_complete(c->w, &c->r, sizeof c->r);
    return NULL;
}

START_TEST(suspend_then_complete_from_another_thread)
{
    struct calls c;
    calls_init(&c);
    struct deferred w;
    deferred_init(&w, on_resume, &c);

    ck_assert_int_eq(deferred_suspend(&w, on_suspend), 1);
    ck_assert_int_eq(atomic_load(&c.suspends), 1);
    ck_assert_int_eq(atomic_load(&c.resumes), 0);
    ck_assert_int_eq(deferred_done(&w), 0);

    struct completer job = {.w = &w, .r = result_of(TIMED_OUT, "")};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, complete_thread, &job), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);

    ck_assert_int_eq(atomic_load(&c.resumes), 1);
    ck_assert_int_eq(atomic_load(&c.resumed_before_suspend), 0);
    ck_assert_int_eq(deferred_done(&w), 1);
    ck_assert_int_eq((int)outcome_of(&w), (int)TIMED_OUT);

    /* A late second completion neither resumes again nor changes the result. */
    struct answer again = result_of(ACCEPTED, "other");
    deferred_complete(&w, &again, sizeof again);
    ck_assert_int_eq(atomic_load(&c.resumes), 1);
    ck_assert_int_eq((int)outcome_of(&w), (int)TIMED_OUT);
    deferred_destroy(&w);
}
END_TEST

START_TEST(complete_twice_keeps_the_first)
{
    struct calls c;
    calls_init(&c);
    struct deferred w;
    deferred_init(&w, on_resume, &c);
    struct answer first = result_of(REJECTED, "first");
    struct answer second = result_of(UNAVAILABLE, "second");
    deferred_complete(&w, &first, sizeof first);
    deferred_complete(&w, &second, sizeof second);
    ck_assert_int_eq(deferred_done(&w), 1);
    ck_assert_int_eq((int)outcome_of(&w), (int)REJECTED);
    ck_assert_str_eq(((const struct answer *)w.result)->token, "first");
    ck_assert_int_eq(deferred_suspend(&w, on_suspend), 0);
    ck_assert_int_eq(atomic_load(&c.suspends), 0);
    ck_assert_int_eq(atomic_load(&c.resumes), 0);
    deferred_destroy(&w);
}
END_TEST

/* The completion races the suspension: whichever wins, a suspended request is resumed exactly
 * once and after it was suspended, and an unsuspended one is never resumed. */
START_TEST(suspend_and_complete_race)
{
    for (int i = 0; i < 2000; i++) {
        struct calls c;
        calls_init(&c);
        struct deferred w;
        deferred_init(&w, on_resume, &c);
        struct completer job = {.w = &w, .r = result_of(ACCEPTED, "t")};
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, complete_thread, &job), 0);
        int suspended = deferred_suspend(&w, on_suspend);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_int_eq(atomic_load(&c.suspends), suspended);
        ck_assert_int_eq(atomic_load(&c.resumes), suspended);
        ck_assert_int_eq(atomic_load(&c.resumed_before_suspend), 0);
        ck_assert_int_eq(deferred_done(&w), 1);
        ck_assert_int_eq((int)outcome_of(&w), (int)ACCEPTED);
        deferred_destroy(&w);
    }
}
END_TEST

START_TEST(done_follows_completion)
{
    struct calls c;
    calls_init(&c);
    struct deferred w;
    deferred_init(&w, on_resume, &c);
    ck_assert_int_eq(deferred_done(&w), 0);
    ck_assert_int_eq(deferred_suspend(&w, on_suspend), 1);
    ck_assert_int_eq(deferred_done(&w), 0);
    struct answer r = result_of(UNAVAILABLE, "");
    deferred_complete(&w, &r, sizeof r);
    ck_assert_int_eq(deferred_done(&w), 1);
    ck_assert_int_eq(atomic_load(&c.resumes), 1);
    ck_assert_int_eq((int)outcome_of(&w), (int)UNAVAILABLE);
    deferred_destroy(&w);
}
END_TEST

static Suite *deferred_suite(void)
{
    Suite *s = suite_create("deferred");
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
    return unit_run(deferred_suite());
}
