/* Unit tests of server/stream_core.[ch]: the hub core of device streams (docs/architecture.md,
 * docs/protocol.md rules 8-9 and 13-14, §3.5). No I/O: every call gets the time of a fake clock,
 * and an observer records the steps. Also stream_log.c, the core's observer in the emulator: the
 * result of each step, and the DeviceStreams rows it writes into a registry in a mkdtemp
 * directory. */
#include "stream_core.h"

#include "log.h"
#include "registry.h"
#include "stream_log.h"
#include "deferred.h"

#include "unit.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAP_S 60
#define DEFAULT_RESPONSE_S 30
#define DEFAULT_CONNECT_S 20
#define HISTORY_MS 10000
/* The fake clock's start: 0 means "not yet" in a stream_info. */
#define T0 100000
/* stream_core.c keeps at most this many finished streams. */
#define HISTORY_MAX 1000

#define EVENTS_KEPT 64

/* The observer's record of every step. */
struct recorder {
    pthread_mutex_t lock;
    struct stream_event ev[EVENTS_KEPT];
    int count;
};

static struct recorder rec;
static struct stream_core *core;
/* Opaque to the core: it hands the pointers back. */
static struct deferred waits[4];

static void record(void *ctx, const struct stream_event *ev)
{
    struct recorder *r = ctx;
    pthread_mutex_lock(&r->lock);
    if (r->count < EVENTS_KEPT)
        r->ev[r->count] = *ev;
    r->count++;
    pthread_mutex_unlock(&r->lock);
}

static struct stream_core_settings
settings_with(void (*observer)(void *, const struct stream_event *), void *ctx)
{
    struct stream_core_settings s = {
        .handshake_cap_s = CAP_S,
        .default_response_s = DEFAULT_RESPONSE_S,
        .default_connect_s = DEFAULT_CONNECT_S,
        .history_ms = HISTORY_MS,
        .observer = observer,
        .observer_ctx = ctx,
    };
    return s;
}

static void setup(void)
{
    memset(&rec, 0, sizeof rec);
    pthread_mutex_init(&rec.lock, NULL);
    struct stream_core_settings s = settings_with(record, &rec);
    core = stream_core_new(&s);
    ck_assert_ptr_nonnull(core);
}

static void teardown(void)
{
    stream_core_free(core);
    core = NULL;
    pthread_mutex_destroy(&rec.lock);
}

static int events(void)
{
    pthread_mutex_lock(&rec.lock);
    int n = rec.count;
    pthread_mutex_unlock(&rec.lock);
    return n;
}

static const struct stream_event *event_at(int i)
{
    ck_assert_int_ge(i, 0);
    ck_assert_int_lt(i, EVENTS_KEPT);
    ck_assert_int_lt(i, events());
    return &rec.ev[i];
}

/* The last event is step (for side, when it is STEP_SIDE_CONNECTED). */
static void check_last_event(enum stream_step step, enum stream_side side)
{
    const struct stream_event *e = event_at(events() - 1);
    ck_assert_msg(e->step == step, "last event %s, expected %s", stream_step_name(e->step),
                  stream_step_name(step));
    if (step == STEP_SIDE_CONNECTED)
        ck_assert_int_eq((int)e->side, (int)side);
}

static void open_full(const char *device, const char *module, int response_s, int connect_s,
                      struct deferred *wait, int64_t now, struct stream_tickets *t)
{
    struct stream_open req = {
        .device_id = device,
        .module_id = module,
        .name = "ssh",
        .response_timeout_s = response_s,
        .connect_timeout_s = connect_s,
        .wait = wait,
        .posted_utc = "2026-01-02T03:04:05.0000000Z",
    };
    memset(t, 'x', sizeof *t);
    ck_assert_int_eq(stream_core_open(core, &req, now, t), 0);
}

/* A device stream to "dev" with the default timeouts, posted at T0. */
static void open_default(struct stream_tickets *t)
{
    open_full("dev", NULL, 0, 0, &waits[0], T0, t);
}

static struct stream_info info_of(const char *id)
{
    struct stream_info info;
    ck_assert_msg(stream_core_find(core, id, &info) == 0, "stream %s is not known", id);
    return info;
}

static void check_state(const char *id, enum stream_state expected)
{
    struct stream_info info = info_of(id);
    ck_assert_msg(info.state == expected, "stream %s is %s, expected %s", id,
                  stream_state_name(info.state), stream_state_name(expected));
}

static const char *answer_name(enum stream_answer_result r)
{
    switch (r) {
    case ANSWER_OK:
        return "ANSWER_OK";
    case ANSWER_UNKNOWN:
        return "ANSWER_UNKNOWN";
    case ANSWER_LATE:
        return "ANSWER_LATE";
    case ANSWER_DUPLICATE:
        return "ANSWER_DUPLICATE";
    case ANSWER_IMPOSTOR:
        return "ANSWER_IMPOSTOR";
    }
    return "?";
}

static void check_answer(const char *cid, const char *rid, int status, int64_t now,
                         enum stream_answer_result expected, struct stream_decision *d)
{
    struct stream_decision local;
    enum stream_answer_result r =
        stream_core_answer(core, cid, rid, status, now, d != NULL ? d : &local);
    ck_assert_msg(r == expected, "answer by '%s' with %d: %s, expected %s", cid, status,
                  answer_name(r), answer_name(expected));
}

static const char *attach_name(enum stream_attach_result r)
{
    switch (r) {
    case ATTACH_OK:
        return "ATTACH_OK";
    case ATTACH_UNKNOWN_BRIDGE:
        return "ATTACH_UNKNOWN_BRIDGE";
    case ATTACH_ENDED:
        return "ATTACH_ENDED";
    case ATTACH_BAD_TOKEN:
        return "ATTACH_BAD_TOKEN";
    case ATTACH_TOKEN_USED:
        return "ATTACH_TOKEN_USED";
    }
    return "?";
}

/* Checks (claim 0) a token and compares the result. */
static void check_attach(const char *bridge, const char *token, int64_t now,
                         enum stream_attach_result expected)
{
    enum stream_side side = STREAM_DEVICE;
    enum stream_attach_result r = stream_core_attach(core, bridge, token, 0, now, &side, NULL);
    ck_assert_msg(r == expected, "attach to %s: %s, expected %s", bridge, attach_name(r),
                  attach_name(expected));
}

/* Claims a token that must be good, for the side expected. */
static struct stream *claim(const char *bridge, const char *token, int64_t now,
                            enum stream_side expected)
{
    enum stream_side side = expected == STREAM_DEVICE ? STREAM_SERVICE : STREAM_DEVICE;
    struct stream *s = NULL;
    enum stream_attach_result r = stream_core_attach(core, bridge, token, 1, now, &side, &s);
    ck_assert_msg(r == ATTACH_OK, "claim on %s: %s", bridge, attach_name(r));
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq((int)side, (int)expected);
    ck_assert_str_eq(stream_core_id(s), bridge);
    return s;
}

/* What stream_core_expire decided, call by call. */
struct expiries {
    struct stream_expiry e[8];
    int count;
};

static void collect(void *ctx, const struct stream_expiry *e)
{
    struct expiries *x = ctx;
    if (x->count < 8)
        x->e[x->count] = *e;
    x->count++;
}

static int64_t expire(int64_t now, struct expiries *x)
{
    memset(x, 0, sizeof *x);
    return stream_core_expire(core, now, collect, x);
}

static size_t listed(void)
{
    struct stream_info *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(stream_core_list(core, &list, &n), 0);
    free(list);
    return n;
}

static int is_known(const char *id)
{
    struct stream_info info;
    return stream_core_find(core, id, &info) == 0;
}

static int all_of(const char *s, const char *set)
{
    return strspn(s, set) == strlen(s);
}

#define HEX "0123456789abcdef"
#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

START_TEST(open_gives_ids_and_tokens)
{
    struct stream_tickets t, u;
    open_full("dev", NULL, 0, 0, &waits[0], T0, &t);
    ck_assert_uint_eq(strlen(t.id), STREAM_ID_LEN);
    ck_assert_uint_eq(STREAM_ID_LEN, 20);
    ck_assert_msg(all_of(t.id, HEX), "id %s", t.id);
    ck_assert_uint_eq(strlen(t.rid), 16);
    ck_assert_msg(all_of(t.rid, HEX), "rid %s", t.rid);
    ck_assert_uint_eq(strlen(t.device_token), 43);
    ck_assert_uint_eq(strlen(t.service_token), 43);
    ck_assert_msg(all_of(t.device_token, B64URL), "device token %s", t.device_token);
    ck_assert_msg(all_of(t.service_token, B64URL), "service token %s", t.service_token);
    ck_assert_str_ne(t.device_token, t.service_token);
    ck_assert_int_eq(t.response_timeout_s, DEFAULT_RESPONSE_S);

    struct stream_info info = info_of(t.id);
    ck_assert_int_eq((int)info.state, (int)STREAM_REQUESTED);
    ck_assert_str_eq(info.id, t.id);
    ck_assert_str_eq(info.rid, t.rid);
    ck_assert_str_eq(info.device_id, "dev");
    ck_assert_str_eq(info.module_id, "");
    ck_assert_str_eq(info.name, "ssh");
    ck_assert_str_eq(info.posted_utc, "2026-01-02T03:04:05.0000000Z");
    ck_assert_int_eq(info.posted_ms, T0);
    ck_assert_int_eq(info.answered_ms, 0);
    ck_assert_int_eq(info.closed_ms, 0);

    ck_assert_int_eq(events(), 1);
    check_last_event(STEP_REQUESTED, STREAM_DEVICE);
    ck_assert_str_eq(event_at(0)->info.id, t.id);
    ck_assert_int_eq(event_at(0)->info.posted_ms, T0);

    /* Another stream: other ids and tokens. */
    open_full("dev", NULL, 0, 0, &waits[1], T0, &u);
    ck_assert_str_ne(u.id, t.id);
    ck_assert_str_ne(u.rid, t.rid);
    ck_assert_str_ne(u.device_token, t.device_token);
    ck_assert_str_ne(u.service_token, t.service_token);
    ck_assert_uint_eq(listed(), 2);

    /* A stream opened without posted_utc shows an empty one. */
    struct stream_open req = {.device_id = "d2", .name = "n", .wait = NULL};
    struct stream_tickets v;
    ck_assert_int_eq(stream_core_open(core, &req, T0, &v), 0);
    ck_assert_str_eq(info_of(v.id).posted_utc, "");
}
END_TEST

START_TEST(ids_and_tokens_do_not_repeat)
{
    /* 200 streams: no two share an id, a rid or a token. */
    enum { N = 200 };
    static struct stream_tickets t[N];
    for (int i = 0; i < N; i++)
        open_full("dev", NULL, 0, 0, NULL, T0, &t[i]);
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < N; j++) {
            ck_assert_str_ne(t[i].id, t[j].id);
            ck_assert_str_ne(t[i].rid, t[j].rid);
            ck_assert_str_ne(t[i].device_token, t[j].device_token);
            ck_assert_str_ne(t[i].service_token, t[j].service_token);
        }
        ck_assert_msg(all_of(t[i].id, HEX) && all_of(t[i].rid, HEX), "%s %s", t[i].id, t[i].rid);
        ck_assert_msg(all_of(t[i].device_token, B64URL), "%s", t[i].device_token);
    }
}
END_TEST

START_TEST(timeouts_are_clamped)
{
    static const struct {
        int requested, response, connect;
    } cases[] = {
        {0, DEFAULT_RESPONSE_S, DEFAULT_CONNECT_S},
        {-5, DEFAULT_RESPONSE_S, DEFAULT_CONNECT_S},
        {1, 1, 1},
        {42, 42, 42},
        {CAP_S, CAP_S, CAP_S},
        {CAP_S + 1, CAP_S, CAP_S},
        {1337, CAP_S, CAP_S},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct stream_tickets t;
        open_full("dev", NULL, cases[i].requested, cases[i].requested, NULL, T0, &t);
        struct stream_info info = info_of(t.id);
        ck_assert_msg(info.response_timeout_s == cases[i].response,
                      "response timeout %d gave %d, expected %d", cases[i].requested,
                      info.response_timeout_s, cases[i].response);
        ck_assert_msg(info.connect_timeout_s == cases[i].connect,
                      "connect timeout %d gave %d, expected %d", cases[i].requested,
                      info.connect_timeout_s, cases[i].connect);
        ck_assert_int_eq(t.response_timeout_s, cases[i].response);
    }
    /* Each header on its own. */
    struct stream_tickets t;
    open_full("dev", NULL, 5, 0, NULL, T0, &t);
    ck_assert_int_eq(info_of(t.id).response_timeout_s, 5);
    ck_assert_int_eq(info_of(t.id).connect_timeout_s, DEFAULT_CONNECT_S);
    open_full("dev", NULL, 0, 7, NULL, T0, &t);
    ck_assert_int_eq(info_of(t.id).response_timeout_s, DEFAULT_RESPONSE_S);
    ck_assert_int_eq(info_of(t.id).connect_timeout_s, 7);
}
END_TEST

static enum stream_open_result open_in(struct stream_core *c, int64_t now, struct stream_tickets *t)
{
    struct stream_open req = {.device_id = "dev", .name = "n"};
    return stream_core_open(c, &req, now, t);
}

/* Limits: streams at once (403002), handshakes under way (429001). */
START_TEST(limits_on_streams_and_handshakes)
{
    struct stream_core_settings s = settings_with(NULL, NULL);
    s.max_streams = 3;
    s.max_pending = 2;
    struct stream_core *c = stream_core_new(&s);
    struct stream_tickets a, b, x;
    ck_assert_int_eq(open_in(c, T0, &a), STREAM_OPEN_OK);
    ck_assert_int_eq(open_in(c, T0, &b), STREAM_OPEN_OK);
    /* Two handshakes under way: a third waits its turn. */
    ck_assert_int_eq(open_in(c, T0, &x), STREAM_OPEN_BUSY);
    /* a connects: one handshake left under way, room for another. */
    struct stream_decision d;
    ck_assert_int_eq(stream_core_answer(c, "dev", a.rid, 200, T0 + 1, &d), ANSWER_OK);
    enum stream_side side;
    struct stream *dev = NULL, *svc = NULL;
    ck_assert_int_eq(stream_core_attach(c, a.id, a.device_token, 1, T0 + 2, &side, &dev),
                     ATTACH_OK);
    ck_assert_int_eq(stream_core_attach(c, a.id, a.service_token, 1, T0 + 2, &side, &svc),
                     ATTACH_OK);
    stream_core_side_up(c, dev, STREAM_DEVICE, T0 + 2);
    stream_core_side_up(c, svc, STREAM_SERVICE, T0 + 2);
    struct stream_tickets third;
    ck_assert_int_eq(open_in(c, T0 + 3, &third), STREAM_OPEN_OK);
    /* Three open (one connected, two under way): the fourth is one too many. */
    ck_assert_int_eq(open_in(c, T0 + 3, &x), STREAM_OPEN_TOO_MANY);
    /* A rejection ends one: room again. */
    ck_assert_int_eq(stream_core_answer(c, "dev", b.rid, 400, T0 + 4, &d), ANSWER_OK);
    ck_assert_int_eq(open_in(c, T0 + 5, &x), STREAM_OPEN_OK);
    stream_core_side_down(c, dev, STREAM_DEVICE, 1000, "device_closed", T0 + 6);
    stream_core_side_down(c, svc, STREAM_SERVICE, 1000, "device_closed", T0 + 6);
    stream_core_free(c);
}
END_TEST

/* Limits: new streams a second, from a bucket that starts full. */
START_TEST(rate_limit_per_second)
{
    struct stream_core_settings s = settings_with(NULL, NULL);
    s.rate_per_s = 5;
    struct stream_core *c = stream_core_new(&s);
    struct stream_tickets t;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(open_in(c, T0 + i, &t), STREAM_OPEN_OK);
    ck_assert_int_eq(open_in(c, T0 + 10, &t), STREAM_OPEN_THROTTLED);
    /* A fifth of a second brings one back, not more. */
    ck_assert_int_eq(open_in(c, T0 + 210, &t), STREAM_OPEN_OK);
    ck_assert_int_eq(open_in(c, T0 + 211, &t), STREAM_OPEN_THROTTLED);
    /* A quiet second fills the bucket, but no further than 5. */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(open_in(c, T0 + 5000 + i, &t), STREAM_OPEN_OK);
    ck_assert_int_eq(open_in(c, T0 + 5005, &t), STREAM_OPEN_THROTTLED);
    stream_core_free(c);
}
END_TEST

START_TEST(defaults_above_the_cap_are_capped)
{
    struct stream_core_settings s = settings_with(NULL, NULL);
    s.default_response_s = 90;
    s.default_connect_s = 120;
    struct stream_core *other = stream_core_new(&s);
    ck_assert_ptr_nonnull(other);
    struct stream_open req = {.device_id = "dev", .name = "n"};
    struct stream_tickets t;
    ck_assert_int_eq(stream_core_open(other, &req, T0, &t), 0);
    struct stream_info info;
    ck_assert_int_eq(stream_core_find(other, t.id, &info), 0);
    ck_assert_int_eq(info.response_timeout_s, CAP_S);
    ck_assert_int_eq(info.connect_timeout_s, CAP_S);
    ck_assert_int_eq(stream_core_next_deadline(other), T0 + CAP_S * 1000LL);
    stream_core_free(other);
}
END_TEST

START_TEST(any_2xx_accepts)
{
    static const int statuses[] = {200, 201, 202, 204, 299};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        struct stream_tickets t;
        open_full("dev", NULL, 0, 0, &waits[1], T0, &t);
        int before = events();
        struct stream_decision d;
        memset(&d, 'x', sizeof d);
        check_answer("dev", t.rid, statuses[i], T0 + 500, ANSWER_OK, &d);
        ck_assert_msg(d.accepted == 1, "status %d did not accept", statuses[i]);
        ck_assert_ptr_eq(d.wait, &waits[1]);
        ck_assert_str_eq(d.service_token, t.service_token);
        ck_assert_str_eq(d.id, t.id);
        ck_assert_int_eq(d.timed_out, 0);
        ck_assert_int_eq(d.response_timeout_s, DEFAULT_RESPONSE_S);
        struct stream_info info = info_of(t.id);
        ck_assert_int_eq((int)info.state, (int)STREAM_ACCEPTED);
        ck_assert_int_eq(info.answer_status, statuses[i]);
        ck_assert_int_eq(info.answered_ms, T0 + 500);
        ck_assert_int_eq(events(), before + 1);
        check_last_event(STEP_ACCEPTED, STREAM_DEVICE);
        ck_assert_int_eq(event_at(events() - 1)->info.answer_status, statuses[i]);
    }
}
END_TEST

START_TEST(other_statuses_reject)
{
    static const int statuses[] = {400, 500, 100, 199, 300, 404, 0, -1};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        struct stream_tickets t;
        open_full("dev", NULL, 0, 0, &waits[2], T0, &t);
        struct stream_decision d;
        memset(&d, 'x', sizeof d);
        check_answer("dev", t.rid, statuses[i], T0 + 500, ANSWER_OK, &d);
        ck_assert_msg(d.accepted == 0, "status %d accepted", statuses[i]);
        ck_assert_ptr_eq(d.wait, &waits[2]);
        ck_assert_str_eq(d.service_token, "");
        ck_assert_str_eq(d.id, t.id);
        ck_assert_int_eq(d.timed_out, 0);
        struct stream_info info = info_of(t.id);
        ck_assert_int_eq((int)info.state, (int)STREAM_REJECTED);
        ck_assert_int_eq(info.answer_status, statuses[i]);
        check_last_event(STEP_REJECTED, STREAM_DEVICE);
        /* A rejected stream has no deadline left. */
    }
    ck_assert_int_eq(stream_core_next_deadline(core), -1);
}
END_TEST

START_TEST(answer_unknown_impostor_late)
{
    struct stream_tickets t;
    open_default(&t);
    check_answer("dev", "0000000000000000", 200, T0 + 1, ANSWER_UNKNOWN, NULL);
    check_answer("dev", "", 200, T0 + 1, ANSWER_UNKNOWN, NULL);
    /* The request went to "dev" only. */
    check_answer("other", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("de", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("dev2", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("dev/mod", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("Dev", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    /* None of that changed anything. */
    check_state(t.id, STREAM_REQUESTED);
    ck_assert_int_eq(info_of(t.id).answered_ms, 0);
    ck_assert_int_eq(events(), 1);

    /* After the timeout the answer is late. */
    struct expiries x;
    expire(T0 + DEFAULT_RESPONSE_S * 1000LL, &x);
    ck_assert_int_eq(x.count, 1);
    int before = events();
    check_answer("dev", t.rid, 200, T0 + DEFAULT_RESPONSE_S * 1000LL + 1, ANSWER_LATE, NULL);
    check_state(t.id, STREAM_TIMED_OUT);
    ck_assert_int_eq(events(), before);
    /* An impostor is told so even then. */
    check_answer("other", t.rid, 200, T0 + DEFAULT_RESPONSE_S * 1000LL + 1, ANSWER_IMPOSTOR, NULL);

    /* A second answer to an accepted stream is a duplicate, and changes nothing. */
    struct stream_tickets u;
    open_default(&u);
    check_answer("dev", u.rid, 200, T0 + 10, ANSWER_OK, NULL);
    check_answer("dev", u.rid, 400, T0 + 20, ANSWER_DUPLICATE, NULL);
    struct stream_info info = info_of(u.id);
    ck_assert_int_eq((int)info.state, (int)STREAM_ACCEPTED);
    ck_assert_int_eq(info.answer_status, 200);
    ck_assert_int_eq(info.answered_ms, T0 + 10);
    /* And to a rejected one. */
    struct stream_tickets v;
    open_default(&v);
    check_answer("dev", v.rid, 400, T0 + 10, ANSWER_OK, NULL);
    check_answer("dev", v.rid, 200, T0 + 20, ANSWER_DUPLICATE, NULL);
    check_state(v.id, STREAM_REJECTED);
}
END_TEST

START_TEST(module_stream_answered_by_the_module)
{
    struct stream_tickets t;
    open_full("dev", "mod", 0, 0, &waits[0], T0, &t);
    ck_assert_str_eq(info_of(t.id).module_id, "mod");
    ck_assert_str_eq(event_at(0)->info.module_id, "mod");
    check_answer("dev", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("dev/", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("dev/mo", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("dev/mod2", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("dev/mod/", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("devx/mod", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("other/mod", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_answer("mod", t.rid, 200, T0 + 1, ANSWER_IMPOSTOR, NULL);
    check_state(t.id, STREAM_REQUESTED);
    struct stream_decision d;
    check_answer("dev/mod", t.rid, 200, T0 + 2, ANSWER_OK, &d);
    ck_assert_int_eq(d.accepted, 1);
    check_state(t.id, STREAM_ACCEPTED);
}
END_TEST

START_TEST(response_deadline)
{
    struct stream_tickets t;
    open_full("dev", NULL, 10, 0, &waits[3], T0, &t);
    const int64_t deadline = T0 + 10000;
    ck_assert_int_eq(stream_core_next_deadline(core), deadline);

    struct expiries x;
    /* One millisecond before: nothing. */
    ck_assert_int_eq(expire(deadline - 1, &x), deadline);
    ck_assert_int_eq(x.count, 0);
    check_state(t.id, STREAM_REQUESTED);

    ck_assert_int_eq(expire(deadline, &x), -1);
    ck_assert_int_eq(x.count, 1);
    ck_assert_str_eq(x.e[0].id, t.id);
    ck_assert_ptr_eq(x.e[0].decision.wait, &waits[3]);
    ck_assert_int_eq(x.e[0].decision.timed_out, 1);
    ck_assert_int_eq(x.e[0].decision.accepted, 0);
    ck_assert_str_eq(x.e[0].decision.id, t.id);
    ck_assert_str_eq(x.e[0].decision.service_token, "");
    ck_assert_int_eq(x.e[0].decision.response_timeout_s, 10);
    /* No WebSocket was attached. */
    ck_assert_int_eq(x.e[0].close_sides, 0);
    check_state(t.id, STREAM_TIMED_OUT);
    check_last_event(STEP_TIMED_OUT, STREAM_DEVICE);

    /* Once only. */
    ck_assert_int_eq(expire(deadline + 5000, &x), -1);
    ck_assert_int_eq(x.count, 0);
    ck_assert_int_eq(stream_core_next_deadline(core), -1);
}
END_TEST

START_TEST(response_deadline_closes_an_early_device)
{
    /* The C device connects before it answers (docs/protocol.md rule 13); if it never answers, its
     * socket goes. */
    struct stream_tickets t;
    open_full("dev", NULL, 10, 0, &waits[0], T0, &t);
    struct stream *dev = claim(t.id, t.device_token, T0 + 100, STREAM_DEVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 100);
    struct expiries x;
    expire(T0 + 10000, &x);
    ck_assert_int_eq(x.count, 1);
    ck_assert_int_eq(x.e[0].decision.timed_out, 1);
    ck_assert_int_eq(x.e[0].close_sides, 1);
    check_state(t.id, STREAM_TIMED_OUT);
    int before = events();
    stream_core_side_down(core, dev, STREAM_DEVICE, 1001, "device_closed", T0 + 10001);
    /* The stream stays timed out; no second step. */
    check_state(t.id, STREAM_TIMED_OUT);
    ck_assert_int_eq(events(), before);
}
END_TEST

/* A deleted or disabled device's streams end at once: the waiting POST is answered, accepted
 * and live streams close, tokens open nothing; other devices' streams and finished ones stay. */
START_TEST(a_gone_device_ends_its_streams)
{
    struct stream_tickets waiting, accepted, live, module, other;
    open_full("dev", NULL, 30, 0, &waits[0], T0, &waiting);
    open_full("dev", NULL, 30, 0, &waits[1], T0, &accepted);
    open_full("dev", NULL, 30, 0, &waits[2], T0, &live);
    open_full("dev", "m1", 30, 0, &waits[3], T0, &module);
    open_full("dev2", NULL, 30, 0, NULL, T0, &other);
    check_answer("dev", accepted.rid, 200, T0 + 1, ANSWER_OK, NULL);
    check_answer("dev", live.rid, 200, T0 + 1, ANSWER_OK, NULL);
    struct stream *d = claim(live.id, live.device_token, T0 + 2, STREAM_DEVICE);
    struct stream *svc = claim(live.id, live.service_token, T0 + 2, STREAM_SERVICE);
    stream_core_side_up(core, d, STREAM_DEVICE, T0 + 2);
    stream_core_side_up(core, svc, STREAM_SERVICE, T0 + 3);
    check_state(live.id, STREAM_CONNECTED);
    struct expiries x = {.count = 0};
    stream_core_end_device(core, "dev", "device_deleted", T0 + 10, collect, &x);
    ck_assert_int_eq(x.count, 4);
    int answered = 0;
    for (int i = 0; i < x.count; i++) {
        ck_assert_int_eq(x.e[i].close_sides, 1);
        if (x.e[i].decision.wait != NULL) {
            ck_assert_int_eq(x.e[i].decision.device_gone, 1);
            ck_assert_int_eq(x.e[i].decision.accepted, 0);
            answered++;
        }
    }
    ck_assert_int_eq(answered, 2); /* the device's own waiting POST and the module's */
    const char *ended[] = {waiting.id, accepted.id, live.id, module.id};
    for (int i = 0; i < 4; i++) {
        check_state(ended[i], STREAM_CLOSED);
        ck_assert_str_eq(info_of(ended[i]).close_reason, "device_deleted");
    }
    check_last_event(STEP_CLOSED, STREAM_DEVICE);
    check_attach(accepted.id, accepted.device_token, T0 + 11, ATTACH_ENDED);
    check_attach(accepted.id, accepted.service_token, T0 + 11, ATTACH_ENDED);
    check_state(other.id, STREAM_REQUESTED);
    /* The sides still attached go as they close; nothing decides twice. */
    int before = events();
    stream_core_side_down(core, d, STREAM_DEVICE, 1001, "device_closed", T0 + 12);
    stream_core_side_down(core, svc, STREAM_SERVICE, 1001, "service_closed", T0 + 12);
    ck_assert_int_eq(events(), before);
    memset(&x, 0, sizeof x);
    stream_core_end_device(core, "dev", "device_disabled", T0 + 13, collect, &x);
    ck_assert_int_eq(x.count, 0);
}
END_TEST

START_TEST(expire_is_late_rather_than_never)
{
    /* A timer that fires late still times the stream out. */
    struct stream_tickets t;
    open_full("dev", NULL, 10, 0, &waits[0], T0, &t);
    struct expiries x;
    expire(T0 + 25000, &x);
    ck_assert_int_eq(x.count, 1);
    check_state(t.id, STREAM_TIMED_OUT);
}
END_TEST

START_TEST(connect_deadline_from_the_answer)
{
    struct stream_tickets t;
    open_full("dev", NULL, 30, 20, &waits[0], T0, &t);
    check_answer("dev", t.rid, 200, T0 + 1000, ANSWER_OK, NULL);
    const int64_t deadline = T0 + 1000 + 20000;
    ck_assert_int_eq(stream_core_next_deadline(core), deadline);

    struct expiries x;
    ck_assert_int_eq(expire(deadline - 1, &x), deadline);
    ck_assert_int_eq(x.count, 0);
    check_state(t.id, STREAM_ACCEPTED);

    ck_assert_int_eq(expire(deadline, &x), -1);
    ck_assert_int_eq(x.count, 1);
    ck_assert_str_eq(x.e[0].id, t.id);
    ck_assert_int_eq(x.e[0].close_sides, 1);
    ck_assert_ptr_null(x.e[0].decision.wait);
    ck_assert_int_eq(x.e[0].decision.timed_out, 0);
    struct stream_info info = info_of(t.id);
    ck_assert_int_eq((int)info.state, (int)STREAM_CLOSED);
    ck_assert_str_eq(info.close_reason, "handshake_timeout");
    ck_assert_int_eq(info.closed_ms, deadline);
    check_last_event(STEP_CLOSED, STREAM_DEVICE);
    ck_assert_str_eq(event_at(events() - 1)->info.close_reason, "handshake_timeout");
}
END_TEST

START_TEST(connect_deadline_capped_by_the_handshake)
{
    /* Answered 40 s after the POST with 30 s to connect: the 60 s cap comes first. */
    struct stream_tickets t;
    open_full("dev", NULL, 50, 30, &waits[0], T0, &t);
    check_answer("dev", t.rid, 200, T0 + 40000, ANSWER_OK, NULL);
    const int64_t deadline = T0 + CAP_S * 1000LL;
    ck_assert_int_eq(stream_core_next_deadline(core), deadline);
    struct expiries x;
    expire(deadline - 1, &x);
    ck_assert_int_eq(x.count, 0);
    /* The device may still attach one millisecond before. */
    check_attach(t.id, t.device_token, deadline - 1, ATTACH_OK);
    expire(deadline, &x);
    ck_assert_int_eq(x.count, 1);
    ck_assert_int_eq(x.e[0].close_sides, 1);
    ck_assert_str_eq(info_of(t.id).close_reason, "handshake_timeout");
}
END_TEST

START_TEST(connected_stream_has_no_deadline)
{
    struct stream_tickets t;
    open_full("dev", NULL, 10, 10, &waits[0], T0, &t);
    check_answer("dev", t.rid, 200, T0 + 100, ANSWER_OK, NULL);
    struct stream *dev = claim(t.id, t.device_token, T0 + 200, STREAM_DEVICE);
    struct stream *svc = claim(t.id, t.service_token, T0 + 300, STREAM_SERVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 200);
    stream_core_side_up(core, svc, STREAM_SERVICE, T0 + 300);
    check_state(t.id, STREAM_CONNECTED);
    ck_assert_int_eq(stream_core_next_deadline(core), -1);
    /* Long past every deadline, it is still connected. */
    struct expiries x;
    ck_assert_int_eq(expire(T0 + 3600 * 1000LL, &x), -1);
    ck_assert_int_eq(x.count, 0);
    check_state(t.id, STREAM_CONNECTED);
    stream_core_side_down(core, svc, STREAM_SERVICE, 1000, "service_closed", T0 + 3600 * 1000LL);
    stream_core_side_down(core, dev, STREAM_DEVICE, 1000, "service_closed", T0 + 3600 * 1000LL);
}
END_TEST

START_TEST(attach_refusals)
{
    struct stream_tickets t, u;
    open_default(&t);
    open_default(&u);
    check_attach("ffffffffffffffffffff", t.device_token, T0 + 1, ATTACH_UNKNOWN_BRIDGE);
    check_attach("", t.device_token, T0 + 1, ATTACH_UNKNOWN_BRIDGE);
    check_attach(t.id, "not-a-token", T0 + 1, ATTACH_BAD_TOKEN);
    check_attach(t.id, "", T0 + 1, ATTACH_BAD_TOKEN);
    check_attach(t.id, NULL, T0 + 1, ATTACH_BAD_TOKEN);
    /* Another bridge's token. */
    check_attach(t.id, u.device_token, T0 + 1, ATTACH_BAD_TOKEN);
    /* A prefix, or the token with one more character. */
    char cut[STREAM_TOKEN_LEN + 1];
    snprintf(cut, sizeof cut, "%.*s", STREAM_TOKEN_LEN - 1, t.device_token);
    check_attach(t.id, cut, T0 + 1, ATTACH_BAD_TOKEN);
    char longer[STREAM_TOKEN_LEN + 2];
    snprintf(longer, sizeof longer, "%sA", t.device_token);
    check_attach(t.id, longer, T0 + 1, ATTACH_BAD_TOKEN);
    /* The service learns its token from the 200: not while REQUESTED. */
    check_attach(t.id, t.service_token, T0 + 1, ATTACH_BAD_TOKEN);
    enum stream_side side = STREAM_DEVICE;
    struct stream *s = NULL;
    ck_assert_int_eq(stream_core_attach(core, t.id, t.service_token, 1, T0 + 1, &side, &s),
                     ATTACH_BAD_TOKEN);
    ck_assert_ptr_null(s);
    /* The device may come first (docs/protocol.md rule 13). */
    check_attach(t.id, t.device_token, T0 + 1, ATTACH_OK);
    side = STREAM_SERVICE;
    ck_assert_int_eq(stream_core_attach(core, t.id, t.device_token, 0, T0 + 1, &side, NULL),
                     ATTACH_OK);
    ck_assert_int_eq((int)side, (int)STREAM_DEVICE);
    /* Checks change nothing and make no events. */
    check_state(t.id, STREAM_REQUESTED);
    ck_assert_int_eq(events(), 2);
}
END_TEST

START_TEST(claim_uses_a_token_up)
{
    struct stream_tickets t;
    open_default(&t);
    /* A check does not use it up. */
    check_attach(t.id, t.device_token, T0 + 1, ATTACH_OK);
    check_attach(t.id, t.device_token, T0 + 2, ATTACH_OK);
    struct stream *dev = claim(t.id, t.device_token, T0 + 3, STREAM_DEVICE);
    enum stream_side side;
    struct stream *again = NULL;
    ck_assert_int_eq(stream_core_attach(core, t.id, t.device_token, 1, T0 + 4, &side, &again),
                     ATTACH_TOKEN_USED);
    ck_assert_ptr_null(again);
    check_attach(t.id, t.device_token, T0 + 4, ATTACH_TOKEN_USED);

    /* The service, once accepted, the same way. */
    check_answer("dev", t.rid, 200, T0 + 5, ANSWER_OK, NULL);
    check_attach(t.id, t.service_token, T0 + 6, ATTACH_OK);
    struct stream *svc = claim(t.id, t.service_token, T0 + 6, STREAM_SERVICE);
    ck_assert_ptr_eq(svc, dev);
    check_attach(t.id, t.service_token, T0 + 7, ATTACH_TOKEN_USED);
    ck_assert_int_eq(stream_core_attach(core, t.id, t.service_token, 1, T0 + 7, &side, &again),
                     ATTACH_TOKEN_USED);
    ck_assert_ptr_null(again);
    /* Still used after the stream closed. */
    stream_core_side_down(core, dev, STREAM_DEVICE, 1001, "device_closed", T0 + 8);
    stream_core_side_down(core, svc, STREAM_SERVICE, 1001, "device_closed", T0 + 8);
    check_attach(t.id, t.device_token, T0 + 9, ATTACH_TOKEN_USED);
}
END_TEST

START_TEST(attach_after_the_end)
{
    /* Past the handshake cap: ended, even with unused tokens. */
    struct stream_tickets t;
    open_full("dev", NULL, 30, 60, &waits[0], T0, &t);
    check_answer("dev", t.rid, 200, T0 + 10, ANSWER_OK, NULL);
    check_attach(t.id, t.device_token, T0 + CAP_S * 1000LL - 1, ATTACH_OK);
    check_attach(t.id, t.service_token, T0 + CAP_S * 1000LL - 1, ATTACH_OK);
    check_attach(t.id, t.device_token, T0 + CAP_S * 1000LL, ATTACH_ENDED);
    check_attach(t.id, t.service_token, T0 + CAP_S * 1000LL, ATTACH_ENDED);
    enum stream_side side;
    struct stream *s = NULL;
    ck_assert_int_eq(
        stream_core_attach(core, t.id, t.device_token, 1, T0 + CAP_S * 1000LL, &side, &s),
        ATTACH_ENDED);
    ck_assert_ptr_null(s);

    /* Rejected. */
    struct stream_tickets r;
    open_default(&r);
    check_answer("dev", r.rid, 400, T0 + 10, ANSWER_OK, NULL);
    check_attach(r.id, r.device_token, T0 + 11, ATTACH_ENDED);
    /* Timed out. */
    struct stream_tickets o;
    open_full("dev", NULL, 5, 0, NULL, T0, &o);
    struct expiries x;
    expire(T0 + 5000, &x);
    check_state(o.id, STREAM_TIMED_OUT);
    check_attach(o.id, o.device_token, T0 + 5001, ATTACH_ENDED);
    /* Closed by its connect deadline. */
    struct stream_tickets c;
    open_full("dev", NULL, 30, 5, NULL, T0, &c);
    check_answer("dev", c.rid, 200, T0 + 10, ANSWER_OK, NULL);
    expire(T0 + 5010, &x);
    check_state(c.id, STREAM_CLOSED);
    check_attach(c.id, c.device_token, T0 + 5011, ATTACH_ENDED);
    check_attach(c.id, c.service_token, T0 + 5011, ATTACH_ENDED);
    /* Closed by one side: the other's unused token is refused. */
    struct stream_tickets d;
    open_default(&d);
    check_answer("dev", d.rid, 200, T0 + 10, ANSWER_OK, NULL);
    struct stream *dev = claim(d.id, d.device_token, T0 + 20, STREAM_DEVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 20);
    stream_core_side_down(core, dev, STREAM_DEVICE, 1001, "device_closed", T0 + 30);
    check_attach(d.id, d.service_token, T0 + 31, ATTACH_ENDED);
    /* Cancelled. */
    struct stream_tickets e;
    open_default(&e);
    stream_core_cancel(core, e.id, T0 + 1);
    check_attach(e.id, e.device_token, T0 + 2, ATTACH_ENDED);
}
END_TEST

START_TEST(sides_connect_device_first)
{
    struct stream_tickets t;
    open_default(&t);
    struct stream *dev = claim(t.id, t.device_token, T0 + 100, STREAM_DEVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 100);
    ck_assert_int_eq(events(), 2);
    check_last_event(STEP_SIDE_CONNECTED, STREAM_DEVICE);
    check_state(t.id, STREAM_REQUESTED);

    check_answer("dev", t.rid, 200, T0 + 200, ANSWER_OK, NULL);
    struct stream *svc = claim(t.id, t.service_token, T0 + 300, STREAM_SERVICE);
    stream_core_side_up(core, svc, STREAM_SERVICE, T0 + 300);
    ck_assert_int_eq(events(), 5);
    ck_assert_int_eq((int)event_at(3)->step, (int)STEP_SIDE_CONNECTED);
    ck_assert_int_eq((int)event_at(3)->side, (int)STREAM_SERVICE);
    check_last_event(STEP_CONNECTED, STREAM_SERVICE);
    struct stream_info info = info_of(t.id);
    ck_assert_int_eq((int)info.state, (int)STREAM_CONNECTED);
    ck_assert_int_eq(info.side_ms[STREAM_DEVICE], T0 + 100);
    ck_assert_int_eq(info.side_ms[STREAM_SERVICE], T0 + 300);
    ck_assert_int_eq(info.connected_ms, T0 + 300);
    stream_core_side_down(core, svc, STREAM_SERVICE, 1000, "service_closed", T0 + 400);
    stream_core_side_down(core, dev, STREAM_DEVICE, 1000, "service_closed", T0 + 400);
}
END_TEST

START_TEST(sides_connect_service_first)
{
    struct stream_tickets t;
    open_default(&t);
    check_answer("dev", t.rid, 200, T0 + 100, ANSWER_OK, NULL);
    struct stream *svc = claim(t.id, t.service_token, T0 + 200, STREAM_SERVICE);
    stream_core_side_up(core, svc, STREAM_SERVICE, T0 + 200);
    check_last_event(STEP_SIDE_CONNECTED, STREAM_SERVICE);
    check_state(t.id, STREAM_ACCEPTED);
    struct stream *dev = claim(t.id, t.device_token, T0 + 300, STREAM_DEVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 300);
    /* REQUESTED, ACCEPTED, SIDE_CONNECTED x2, CONNECTED once. */
    ck_assert_int_eq(events(), 5);
    ck_assert_int_eq((int)event_at(3)->step, (int)STEP_SIDE_CONNECTED);
    ck_assert_int_eq((int)event_at(3)->side, (int)STREAM_DEVICE);
    check_last_event(STEP_CONNECTED, STREAM_DEVICE);
    int connected = 0;
    for (int i = 0; i < events(); i++)
        connected += event_at(i)->step == STEP_CONNECTED;
    ck_assert_int_eq(connected, 1);
    ck_assert_int_eq((int)event_at(4)->info.state, (int)STREAM_CONNECTED);
    stream_core_side_down(core, dev, STREAM_DEVICE, 1000, "device_closed", T0 + 400);
    stream_core_side_down(core, svc, STREAM_SERVICE, 1000, "device_closed", T0 + 400);
}
END_TEST

START_TEST(first_side_down_closes)
{
    struct stream_tickets t;
    open_default(&t);
    check_answer("dev", t.rid, 200, T0 + 100, ANSWER_OK, NULL);
    struct stream *dev = claim(t.id, t.device_token, T0 + 200, STREAM_DEVICE);
    struct stream *svc = claim(t.id, t.service_token, T0 + 300, STREAM_SERVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 200);
    stream_core_side_up(core, svc, STREAM_SERVICE, T0 + 300);
    int before = events();

    stream_core_side_down(core, svc, STREAM_SERVICE, 4000, "service_closed", T0 + 1000);
    ck_assert_int_eq(events(), before + 1);
    check_last_event(STEP_CLOSED, STREAM_SERVICE);
    ck_assert_int_eq((int)event_at(events() - 1)->side, (int)STREAM_SERVICE);
    struct stream_info info = info_of(t.id);
    ck_assert_int_eq((int)info.state, (int)STREAM_CLOSED);
    ck_assert_int_eq(info.close_code, 4000);
    ck_assert_str_eq(info.close_reason, "service_closed");
    ck_assert_int_eq(info.closed_ms, T0 + 1000);

    /* The second side changes nothing. */
    stream_core_side_down(core, dev, STREAM_DEVICE, 1006, "device_closed", T0 + 2000);
    ck_assert_int_eq(events(), before + 1);
    info = info_of(t.id);
    ck_assert_int_eq((int)info.state, (int)STREAM_CLOSED);
    ck_assert_int_eq(info.close_code, 4000);
    ck_assert_str_eq(info.close_reason, "service_closed");
    ck_assert_int_eq(info.closed_ms, T0 + 1000);
}
END_TEST

START_TEST(one_side_down_while_accepted_closes)
{
    /* Accepted, the device came and went before the service: closed with its reason. */
    struct stream_tickets t;
    open_default(&t);
    check_answer("dev", t.rid, 200, T0 + 100, ANSWER_OK, NULL);
    struct stream *dev = claim(t.id, t.device_token, T0 + 200, STREAM_DEVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 200);
    stream_core_side_down(core, dev, STREAM_DEVICE, 0, "device_closed", T0 + 300);
    struct stream_info info = info_of(t.id);
    ck_assert_int_eq((int)info.state, (int)STREAM_CLOSED);
    ck_assert_int_eq(info.close_code, 0);
    ck_assert_str_eq(info.close_reason, "device_closed");
    check_last_event(STEP_CLOSED, STREAM_DEVICE);
    ck_assert_int_eq(stream_core_next_deadline(core), -1);
}
END_TEST

/* The device's WebSocket goes while the stream is REQUESTED, then the device accepts over MQTT
 * and the service connects: the device is not there (its token is used up, so it cannot come
 * back), yet the stream must not claim to be CONNECTED. */
START_TEST(device_gone_before_answer_is_not_connected)
{
    struct stream_tickets t;
    open_default(&t);
    struct stream *dev = claim(t.id, t.device_token, T0 + 100, STREAM_DEVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 100);
    stream_core_side_down(core, dev, STREAM_DEVICE, 1006, "device_closed", T0 + 200);
    check_state(t.id, STREAM_REQUESTED);
    check_answer("dev", t.rid, 200, T0 + 300, ANSWER_OK, NULL);
    /* The device said yes but can never come back (its token is used): the stream is accepted
     * and closed at once, and the service is turned away. */
    struct stream_info info = info_of(t.id);
    ck_assert_int_eq(info.state, STREAM_CLOSED);
    ck_assert_str_eq(info.close_reason, "device_closed");
    enum stream_side side;
    struct stream *svc = NULL;
    ck_assert_int_eq(stream_core_attach(core, t.id, t.service_token, 1, T0 + 400, &side, &svc),
                     ATTACH_ENDED);
    ck_assert_ptr_null(svc);
}
END_TEST

START_TEST(bytes_are_counted_per_side)
{
    struct stream_tickets t;
    open_default(&t);
    check_answer("dev", t.rid, 200, T0 + 100, ANSWER_OK, NULL);
    struct stream *dev = claim(t.id, t.device_token, T0 + 200, STREAM_DEVICE);
    struct stream *svc = claim(t.id, t.service_token, T0 + 300, STREAM_SERVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 200);
    stream_core_side_up(core, svc, STREAM_SERVICE, T0 + 300);
    stream_core_count(dev, STREAM_DEVICE, 5);
    stream_core_count(svc, STREAM_SERVICE, 39);
    stream_core_count(dev, STREAM_DEVICE, 3);
    stream_core_count(dev, STREAM_DEVICE, 0);
    stream_core_count(svc, STREAM_SERVICE, 65536);

    struct stream_info info = info_of(t.id);
    ck_assert_uint_eq(info.bytes[STREAM_DEVICE], 8);
    ck_assert_uint_eq(info.bytes[STREAM_SERVICE], 39 + 65536);
    struct stream_info *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(stream_core_list(core, &list, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(list[0].id, t.id);
    ck_assert_uint_eq(list[0].bytes[STREAM_DEVICE], 8);
    ck_assert_uint_eq(list[0].bytes[STREAM_SERVICE], 39 + 65536);
    free(list);
    /* And summed over every stream, for /metrics. */
    ck_assert_uint_eq(stream_core_bytes_relayed(core, STREAM_DEVICE), 8);
    ck_assert_uint_eq(stream_core_bytes_relayed(core, STREAM_SERVICE), 39 + 65536);

    /* The relay's queue peaks are kept per direction. */
    stream_core_note_queued(dev, STREAM_SERVICE, 1000);
    stream_core_note_queued(dev, STREAM_SERVICE, 300);
    stream_core_note_queued(svc, STREAM_DEVICE, 70);
    stream_core_note_queued(svc, STREAM_SERVICE, 2000);
    info = info_of(t.id);
    ck_assert_uint_eq(info.queued_peak[STREAM_SERVICE], 2000);
    ck_assert_uint_eq(info.queued_peak[STREAM_DEVICE], 70);

    stream_core_side_down(core, dev, STREAM_DEVICE, 1000, "device_closed", T0 + 400);
    /* The close carries the totals. */
    const struct stream_event *e = event_at(events() - 1);
    ck_assert_int_eq((int)e->step, (int)STEP_CLOSED);
    ck_assert_uint_eq(e->info.bytes[STREAM_DEVICE], 8);
    ck_assert_uint_eq(e->info.bytes[STREAM_SERVICE], 39 + 65536);
    stream_core_side_down(core, svc, STREAM_SERVICE, 1000, "device_closed", T0 + 400);
    ck_assert_uint_eq(info_of(t.id).bytes[STREAM_SERVICE], 39 + 65536);
}
END_TEST

static int64_t step_time(const struct stream_event *e)
{
    const struct stream_info *i = &e->info;
    switch (e->step) {
    case STEP_REQUESTED:
        return i->posted_ms;
    case STEP_ACCEPTED:
    case STEP_REJECTED:
        return i->answered_ms;
    case STEP_SIDE_CONNECTED:
        return i->side_ms[e->side];
    case STEP_CONNECTED:
        return i->connected_ms;
    case STEP_TIMED_OUT:
    case STEP_CLOSED:
        return i->closed_ms;
    }
    return -1;
}

START_TEST(events_in_order_with_increasing_times)
{
    struct stream_tickets t;
    open_default(&t);
    struct stream *dev = claim(t.id, t.device_token, T0 + 10, STREAM_DEVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 20);
    check_answer("dev", t.rid, 200, T0 + 30, ANSWER_OK, NULL);
    struct stream *svc = claim(t.id, t.service_token, T0 + 40, STREAM_SERVICE);
    stream_core_side_up(core, svc, STREAM_SERVICE, T0 + 50);
    stream_core_side_down(core, dev, STREAM_DEVICE, 1000, "device_closed", T0 + 60);
    stream_core_side_down(core, svc, STREAM_SERVICE, 1000, "device_closed", T0 + 70);

    static const struct {
        enum stream_step step;
        enum stream_side side;
        enum stream_state state;
        int64_t at;
    } expected[] = {
        {STEP_REQUESTED, STREAM_DEVICE, STREAM_REQUESTED, T0},
        {STEP_SIDE_CONNECTED, STREAM_DEVICE, STREAM_REQUESTED, T0 + 20},
        {STEP_ACCEPTED, STREAM_DEVICE, STREAM_ACCEPTED, T0 + 30},
        {STEP_SIDE_CONNECTED, STREAM_SERVICE, STREAM_ACCEPTED, T0 + 50},
        {STEP_CONNECTED, STREAM_SERVICE, STREAM_CONNECTED, T0 + 50},
        {STEP_CLOSED, STREAM_DEVICE, STREAM_CLOSED, T0 + 60},
    };
    const int n = (int)(sizeof expected / sizeof expected[0]);
    ck_assert_int_eq(events(), n);
    int64_t last = 0;
    for (int i = 0; i < n; i++) {
        const struct stream_event *e = event_at(i);
        ck_assert_msg(e->step == expected[i].step, "event %d: %s, expected %s", i,
                      stream_step_name(e->step), stream_step_name(expected[i].step));
        if (e->step == STEP_SIDE_CONNECTED || e->step == STEP_CLOSED)
            ck_assert_int_eq((int)e->side, (int)expected[i].side);
        ck_assert_int_eq((int)e->info.state, (int)expected[i].state);
        ck_assert_str_eq(e->info.id, t.id);
        ck_assert_int_eq(step_time(e), expected[i].at);
        ck_assert_int_ge(step_time(e), last);
        last = step_time(e);
    }
}
END_TEST

START_TEST(next_deadline_follows_the_earliest)
{
    struct expiries x;
    ck_assert_int_eq(stream_core_next_deadline(core), -1);
    ck_assert_int_eq(expire(T0, &x), -1);

    struct stream_tickets a, b;
    open_full("dev", NULL, 30, 0, &waits[0], T0, &a);
    ck_assert_int_eq(stream_core_next_deadline(core), T0 + 30000);
    open_full("dev", NULL, 10, 5, &waits[1], T0 + 1000, &b);
    ck_assert_int_eq(stream_core_next_deadline(core), T0 + 11000);
    /* b accepted: its connect deadline, 5 s on. */
    check_answer("dev", b.rid, 200, T0 + 2000, ANSWER_OK, NULL);
    ck_assert_int_eq(stream_core_next_deadline(core), T0 + 7000);
    ck_assert_int_eq(expire(T0 + 3000, &x), T0 + 7000);
    /* b connected: a's response deadline again. */
    struct stream *dev = claim(b.id, b.device_token, T0 + 2500, STREAM_DEVICE);
    struct stream *svc = claim(b.id, b.service_token, T0 + 2600, STREAM_SERVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 2500);
    stream_core_side_up(core, svc, STREAM_SERVICE, T0 + 2600);
    ck_assert_int_eq(stream_core_next_deadline(core), T0 + 30000);
    ck_assert_int_eq(expire(T0 + 29999, &x), T0 + 30000);
    ck_assert_int_eq(x.count, 0);
    /* a times out: nothing is pending. */
    ck_assert_int_eq(expire(T0 + 30000, &x), -1);
    ck_assert_int_eq(x.count, 1);
    ck_assert_str_eq(x.e[0].id, a.id);
    ck_assert_int_eq(stream_core_next_deadline(core), -1);
    stream_core_side_down(core, dev, STREAM_DEVICE, 1000, "device_closed", T0 + 31000);
    stream_core_side_down(core, svc, STREAM_SERVICE, 1000, "device_closed", T0 + 31000);
    ck_assert_int_eq(stream_core_next_deadline(core), -1);
}
END_TEST

START_TEST(expire_handles_several_streams_at_once)
{
    struct stream_tickets a, b, c;
    open_full("dev", NULL, 5, 0, &waits[0], T0, &a);
    open_full("dev", NULL, 6, 0, &waits[1], T0, &b);
    open_full("dev", NULL, 30, 3, &waits[2], T0, &c);
    check_answer("dev", c.rid, 200, T0 + 1000, ANSWER_OK, NULL);
    struct expiries x;
    ck_assert_int_eq(expire(T0 + 10000, &x), -1);
    ck_assert_int_eq(x.count, 3);
    int timed_out = 0, closed = 0;
    for (int i = 0; i < 3; i++) {
        timed_out += x.e[i].decision.timed_out;
        closed += x.e[i].close_sides && !x.e[i].decision.timed_out;
    }
    ck_assert_int_eq(timed_out, 2);
    ck_assert_int_eq(closed, 1);
    check_state(a.id, STREAM_TIMED_OUT);
    check_state(b.id, STREAM_TIMED_OUT);
    check_state(c.id, STREAM_CLOSED);
}
END_TEST

START_TEST(history_pruning)
{
    struct stream_tickets t;
    open_default(&t);
    check_answer("dev", t.rid, 400, T0 + 100, ANSWER_OK, NULL);
    struct expiries x;
    /* A stream that is not finished stays, however old. */
    struct stream_tickets live;
    open_full("dev", NULL, 60, 60, NULL, T0, &live);
    check_answer("dev", live.rid, 200, T0 + 100, ANSWER_OK, NULL);
    struct stream *dev = claim(live.id, live.device_token, T0 + 200, STREAM_DEVICE);
    struct stream *svc = claim(live.id, live.service_token, T0 + 300, STREAM_SERVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 200);
    stream_core_side_up(core, svc, STREAM_SERVICE, T0 + 300);

    expire(T0 + 100 + HISTORY_MS, &x);
    ck_assert(is_known(t.id));
    ck_assert_uint_eq(listed(), 2);
    expire(T0 + 100 + HISTORY_MS + 1, &x);
    ck_assert(!is_known(t.id));
    ck_assert_uint_eq(listed(), 1);
    /* Gone everywhere. */
    check_answer("dev", t.rid, 200, T0 + 100 + HISTORY_MS + 2, ANSWER_UNKNOWN, NULL);
    check_attach(t.id, t.device_token, T0 + 100 + HISTORY_MS + 2, ATTACH_UNKNOWN_BRIDGE);

    /* The connected stream closes; the device's side still holds it. */
    expire(T0 + 1000000, &x);
    ck_assert(is_known(live.id));
    stream_core_side_down(core, svc, STREAM_SERVICE, 1000, "service_closed", T0 + 1000000);
    check_state(live.id, STREAM_CLOSED);
    expire(T0 + 1000000 + HISTORY_MS * 10, &x);
    ck_assert_msg(is_known(live.id), "pruned while the device side held a reference");
    /* Pruning is on expire only. */
    stream_core_side_down(core, dev, STREAM_DEVICE, 1000, "service_closed", T0 + 1000000);
    ck_assert(is_known(live.id));
    expire(T0 + 1000000 + HISTORY_MS * 10, &x);
    ck_assert(!is_known(live.id));
    ck_assert_uint_eq(listed(), 0);
}
END_TEST

START_TEST(history_pruning_keeps_a_timed_out_stream_held_by_its_device)
{
    struct stream_tickets t;
    open_full("dev", NULL, 5, 0, &waits[0], T0, &t);
    struct stream *dev = claim(t.id, t.device_token, T0 + 100, STREAM_DEVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 100);
    struct expiries x;
    expire(T0 + 5000, &x);
    ck_assert_int_eq(x.count, 1);
    expire(T0 + 5000 + HISTORY_MS * 5, &x);
    ck_assert(is_known(t.id));
    stream_core_side_down(core, dev, STREAM_DEVICE, 1001, "device_closed",
                          T0 + 5000 + HISTORY_MS * 5);
    expire(T0 + 5000 + HISTORY_MS * 5, &x);
    ck_assert(!is_known(t.id));
}
END_TEST

START_TEST(history_is_bounded)
{
    /* More finished streams than the history holds, all recent: the oldest go. */
    static struct stream_tickets t[HISTORY_MAX + 5];
    for (int i = 0; i < HISTORY_MAX + 5; i++) {
        open_full("dev", NULL, 0, 0, NULL, T0 + i, &t[i]);
        check_answer("dev", t[i].rid, 400, T0 + i, ANSWER_OK, NULL);
    }
    struct stream_tickets live;
    open_full("dev", NULL, 0, 0, NULL, T0 + 2000, &live);
    ck_assert_uint_eq(listed(), HISTORY_MAX + 6);
    struct expiries x;
    expire(T0 + 2000, &x);
    ck_assert_uint_eq(listed(), HISTORY_MAX + 1);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(!is_known(t[i].id), "stream %d kept", i);
    ck_assert(is_known(t[5].id));
    ck_assert(is_known(t[HISTORY_MAX + 4].id));
    ck_assert(is_known(live.id));
}
END_TEST

START_TEST(list_newest_first)
{
    struct stream_tickets a, b, c;
    open_full("a", NULL, 0, 0, NULL, T0, &a);
    open_full("b", NULL, 0, 0, NULL, T0 + 1, &b);
    open_full("c", "m", 0, 0, NULL, T0 + 2, &c);
    struct stream_info *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(stream_core_list(core, &list, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(list[0].id, c.id);
    ck_assert_str_eq(list[0].module_id, "m");
    ck_assert_str_eq(list[1].id, b.id);
    ck_assert_str_eq(list[2].id, a.id);
    ck_assert_str_eq(list[2].device_id, "a");
    free(list);

    struct stream_info info;
    ck_assert_int_eq(stream_core_find(core, "ffffffffffffffffffff", &info), -1);
    ck_assert_int_eq(stream_core_find(core, "", &info), -1);
}
END_TEST

START_TEST(list_empty)
{
    struct stream_info *list = NULL;
    size_t n = 99;
    ck_assert_int_eq(stream_core_list(core, &list, &n), 0);
    ck_assert_uint_eq(n, 0);
    free(list);
}
END_TEST

static void count_wait(void *ctx, struct deferred *w)
{
    int *counts = ctx;
    for (int i = 0; i < 4; i++)
        counts[i] += w == &waits[i];
    counts[4]++;
}

START_TEST(cancel_drops_the_wait)
{
    struct stream_tickets t;
    open_full("dev", NULL, 5, 0, &waits[0], T0, &t);
    stream_core_cancel(core, t.id, T0 + 10);
    struct stream_info info = info_of(t.id);
    ck_assert_int_eq((int)info.state, (int)STREAM_CLOSED);
    ck_assert_str_eq(info.close_reason, "error");
    ck_assert_int_eq(info.closed_ms, T0 + 10);
    check_last_event(STEP_CLOSED, STREAM_DEVICE);
    int before = events();
    /* No timeout for it, and nothing to abandon. */
    ck_assert_int_eq(stream_core_next_deadline(core), -1);
    struct expiries x;
    expire(T0 + 5000, &x);
    ck_assert_int_eq(x.count, 0);
    /* A late answer is late. */
    check_answer("dev", t.rid, 200, T0 + 20, ANSWER_LATE, NULL);
    /* Cancelling again, or an unknown id, does nothing. */
    stream_core_cancel(core, t.id, T0 + 30);
    stream_core_cancel(core, "ffffffffffffffffffff", T0 + 30);
    ck_assert_int_eq(events(), before);
    ck_assert_int_eq(info_of(t.id).closed_ms, T0 + 10);
    /* A decided stream is not cancelled. */
    struct stream_tickets r;
    open_default(&r);
    check_answer("dev", r.rid, 400, T0 + 40, ANSWER_OK, NULL);
    stream_core_cancel(core, r.id, T0 + 50);
    check_state(r.id, STREAM_REJECTED);
}
END_TEST

/* More streams than one growth step decided in one pass: each once, with its event. */
START_TEST(expire_decides_many_streams_in_one_pass)
{
    enum { MANY = 100 };
    for (int i = 0; i < MANY; i++) {
        struct stream_tickets t;
        open_full("dev", NULL, 0, 0, NULL, T0 + i, &t);
    }
    int before = events();
    struct expiries x;
    int64_t next = expire(T0 + DEFAULT_RESPONSE_S * 1000LL + MANY, &x);
    ck_assert_int_eq(x.count, MANY);
    ck_assert_int_eq(events() - before, MANY);
    ck_assert_int_eq(next, -1);
    expire(T0 + DEFAULT_RESPONSE_S * 1000LL + MANY + 1, &x);
    ck_assert_int_eq(x.count, 0);
}
END_TEST

START_TEST(shut_refuses_new_streams_and_hands_out_each_wait_once)
{
    struct stream_tickets t[5];
    open_full("dev", NULL, 0, 0, &waits[0], T0, &t[0]);
    open_full("dev", NULL, 0, 0, &waits[1], T0, &t[1]);
    open_full("dev", NULL, 0, 0, &waits[2], T0, &t[2]);
    open_full("dev", NULL, 0, 0, &waits[3], T0, &t[3]);
    open_full("dev", NULL, 0, 0, NULL, T0, &t[4]);
    /* waits[1] was answered, waits[3] cancelled: neither is handed out. */
    struct stream_decision d;
    check_answer("dev", t[1].rid, 200, T0 + 10, ANSWER_OK, &d);
    ck_assert_ptr_eq(d.wait, &waits[1]);
    stream_core_cancel(core, t[3].id, T0 + 10);

    int counts[5] = {0};
    stream_core_shut(core, count_wait, counts);
    ck_assert_int_eq(counts[0], 1);
    ck_assert_int_eq(counts[1], 0);
    ck_assert_int_eq(counts[2], 1);
    ck_assert_int_eq(counts[3], 0);
    ck_assert_int_eq(counts[4], 2);
    /* Twice: nothing more. */
    memset(counts, 0, sizeof counts);
    stream_core_shut(core, count_wait, counts);
    ck_assert_int_eq(counts[4], 0);
    /* The doors are closed: no new stream. */
    struct stream_open req = {"dev", NULL, "ssh", 0, 0, NULL, NULL};
    struct stream_tickets late;
    ck_assert_int_eq((int)stream_core_open(core, &req, T0 + 20, &late), (int)STREAM_OPEN_SHUT);
    /* Their timeouts (and the accepted stream's connect deadline) no longer carry a wait. */
    struct expiries x;
    expire(T0 + DEFAULT_RESPONSE_S * 1000LL, &x);
    ck_assert_int_eq(x.count, 4);
    for (int i = 0; i < x.count; i++)
        ck_assert_ptr_null(x.e[i].decision.wait);
}
END_TEST

START_TEST(state_and_step_names)
{
    ck_assert_str_eq(stream_state_name(STREAM_REQUESTED), "requested");
    ck_assert_str_eq(stream_state_name(STREAM_ACCEPTED), "accepted");
    ck_assert_str_eq(stream_state_name(STREAM_REJECTED), "rejected");
    ck_assert_str_eq(stream_state_name(STREAM_TIMED_OUT), "timed_out");
    ck_assert_str_eq(stream_state_name(STREAM_CONNECTED), "connected");
    ck_assert_str_eq(stream_state_name(STREAM_CLOSED), "closed");
    ck_assert_str_eq(stream_step_name(STEP_REQUESTED), "requested");
    ck_assert_str_eq(stream_step_name(STEP_ACCEPTED), "accepted");
    ck_assert_str_eq(stream_step_name(STEP_REJECTED), "rejected");
    ck_assert_str_eq(stream_step_name(STEP_TIMED_OUT), "timed_out");
    ck_assert_str_eq(stream_step_name(STEP_SIDE_CONNECTED), "side_connected");
    ck_assert_str_eq(stream_step_name(STEP_CONNECTED), "connected");
    ck_assert_str_eq(stream_step_name(STEP_CLOSED), "closed");
}
END_TEST

/* ---- Threads ---- */

#define THREADS 4
#define PER_THREAD 1000

struct step_counts {
    atomic_int steps[STEP_CLOSED + 1];
};

static void count_step(void *ctx, const struct stream_event *ev)
{
    struct step_counts *c = ctx;
    atomic_fetch_add(&c->steps[ev->step], 1);
}

struct worker {
    struct stream_core *core;
    int index;
    int failures;
};

static void ignore_expiry(void *ctx, const struct stream_expiry *e)
{
    (void)ctx;
    (void)e;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    char device[32];
    snprintf(device, sizeof device, "dev%d", w->index);
    for (int i = 0; i < PER_THREAD; i++) {
        int64_t now = T0 + i;
        struct stream_open req = {.device_id = device, .name = "n", .wait = NULL};
        struct stream_tickets t;
        struct stream_decision d;
        enum stream_side side;
        struct stream *dev = NULL, *svc = NULL;
        if (stream_core_open(w->core, &req, now, &t) != 0 ||
            stream_core_attach(w->core, t.id, t.device_token, 1, now, &side, &dev) != ATTACH_OK ||
            stream_core_answer(w->core, device, t.rid, 200, now, &d) != ANSWER_OK ||
            stream_core_attach(w->core, t.id, t.service_token, 1, now, &side, &svc) != ATTACH_OK) {
            w->failures++;
            continue;
        }
        stream_core_side_up(w->core, dev, STREAM_DEVICE, now);
        stream_core_side_up(w->core, svc, STREAM_SERVICE, now);
        stream_core_count(dev, STREAM_DEVICE, 10);
        stream_core_count(svc, STREAM_SERVICE, 20);
        stream_core_side_down(w->core, dev, STREAM_DEVICE, 1000, "device_closed", now);
        stream_core_side_down(w->core, svc, STREAM_SERVICE, 1000, "device_closed", now);
        if (i % 100 == 0) {
            stream_core_expire(w->core, now, ignore_expiry, NULL);
            struct stream_info *list = NULL;
            size_t n = 0;
            if (stream_core_list(w->core, &list, &n) == 0)
                free(list);
            (void)stream_core_next_deadline(w->core);
        }
    }
    return NULL;
}

START_TEST(threads_open_answer_attach)
{
    struct step_counts counts;
    for (int i = 0; i <= STEP_CLOSED; i++)
        atomic_init(&counts.steps[i], 0);
    struct stream_core_settings s = settings_with(count_step, &counts);
    s.history_ms = 3600 * 1000LL;
    struct stream_core *shared = stream_core_new(&s);
    ck_assert_ptr_nonnull(shared);
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct worker){.core = shared, .index = i, .failures = 0};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, work, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_int_eq(workers[i].failures, 0);
    }
    const int n = THREADS * PER_THREAD;
    ck_assert_int_eq(atomic_load(&counts.steps[STEP_REQUESTED]), n);
    ck_assert_int_eq(atomic_load(&counts.steps[STEP_ACCEPTED]), n);
    ck_assert_int_eq(atomic_load(&counts.steps[STEP_SIDE_CONNECTED]), 2 * n);
    ck_assert_int_eq(atomic_load(&counts.steps[STEP_CONNECTED]), n);
    ck_assert_int_eq(atomic_load(&counts.steps[STEP_CLOSED]), n);
    ck_assert_int_eq(atomic_load(&counts.steps[STEP_REJECTED]), 0);
    ck_assert_int_eq(atomic_load(&counts.steps[STEP_TIMED_OUT]), 0);

    /* Every stream finished; the history keeps the newest HISTORY_MAX. */
    stream_core_expire(shared, T0 + PER_THREAD, ignore_expiry, NULL);
    struct stream_info *list = NULL;
    size_t count = 0;
    ck_assert_int_eq(stream_core_list(shared, &list, &count), 0);
    ck_assert_uint_eq(count, HISTORY_MAX);
    for (size_t i = 0; i < count; i++) {
        ck_assert_int_eq((int)list[i].state, (int)STREAM_CLOSED);
        ck_assert_uint_eq(list[i].bytes[STREAM_DEVICE], 10);
        ck_assert_uint_eq(list[i].bytes[STREAM_SERVICE], 20);
    }
    free(list);
    ck_assert_int_eq(stream_core_next_deadline(shared), -1);
    stream_core_free(shared);
}
END_TEST

/* ---- stream_log.c: the core's observer ---- */

START_TEST(log_result_per_step)
{
    struct stream_event ev;
    memset(&ev, 0, sizeof ev);
    static const struct {
        enum stream_step step;
        const char *result;
    } cases[] = {
        {STEP_REQUESTED, "success"}, {STEP_ACCEPTED, "success"},       {STEP_REJECTED, "rejected"},
        {STEP_TIMED_OUT, "timeout"}, {STEP_SIDE_CONNECTED, "success"}, {STEP_CONNECTED, "success"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ev.step = cases[i].step;
        ck_assert_str_eq(stream_log_result(&ev), cases[i].result);
    }
    ev.step = STEP_CLOSED;
    static const struct {
        const char *reason, *result;
    } closes[] = {
        {"handshake_timeout", "timeout"},
        {"service_closed", "closed"},
        {"device_closed", "closed"},
        {"error", "closed"},
        {"", "closed"},
    };
    for (size_t i = 0; i < sizeof closes / sizeof closes[0]; i++) {
        snprintf(ev.info.close_reason, sizeof ev.info.close_reason, "%s", closes[i].reason);
        ck_assert_str_eq(stream_log_result(&ev), closes[i].result);
    }
}
END_TEST

static char log_dir[64];
static char log_db[128];
static struct registry *log_reg;

/* A core whose observer is stream_log_event, writing into a registry in a temp directory. */
static void log_setup(void)
{
    snprintf(log_dir, sizeof log_dir, "/tmp/test_stream_core.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(log_dir));
    snprintf(log_db, sizeof log_db, "%s/registry.db", log_dir);
    char err[256] = "";
    log_reg = NULL;
    enum registry_result r = registry_open(log_db, &log_reg, err, sizeof err);
    ck_assert_msg(r == REGISTRY_OK, "registry_open: %d (%s)", (int)r, err);
    struct stream_core_settings s = settings_with(stream_log_event, log_reg);
    core = stream_core_new(&s);
    ck_assert_ptr_nonnull(core);
}

static void log_teardown(void)
{
    stream_core_free(core);
    core = NULL;
    registry_close(log_reg);
    log_reg = NULL;
    unit_remove_dir(log_dir);
}

/* A row read back, with its strings copied ("(null)" for NULL). */
struct row {
    char category[32], operation[32], device_id[64], module_id[64], stream_id[32], stream_name[64],
        result[32], message[128];
    int status_code;
    long long elapsed_ms, bytes_d2s, bytes_s2d;
};

struct rows {
    struct row r[16];
    int count;
};

static void copy_text(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%s", s != NULL ? s : "(null)");
}

static void collect_row(void *ctx, const struct log_record *r)
{
    struct rows *rows = ctx;
    if (rows->count < 16) {
        struct row *o = &rows->r[rows->count];
        copy_text(o->category, sizeof o->category, r->category);
        copy_text(o->operation, sizeof o->operation, r->operation);
        copy_text(o->device_id, sizeof o->device_id, r->device_id);
        copy_text(o->module_id, sizeof o->module_id, r->module_id);
        copy_text(o->stream_id, sizeof o->stream_id, r->stream_id);
        copy_text(o->stream_name, sizeof o->stream_name, r->stream_name);
        copy_text(o->result, sizeof o->result, r->result);
        copy_text(o->message, sizeof o->message, r->message);
        o->status_code = r->status_code;
        o->elapsed_ms = r->elapsed_ms;
        o->bytes_d2s = r->bytes_device_to_service;
        o->bytes_s2d = r->bytes_service_to_device;
    }
    rows->count++;
}

static void read_rows(struct rows *rows)
{
    memset(rows, 0, sizeof *rows);
    struct log_filter f = {.category = "DeviceStreams", .limit = 100};
    ck_assert_int_eq(registry_log_each(log_reg, &f, collect_row, rows), REGISTRY_OK);
}

static void check_row(const struct row *r, const char *operation, const char *result, int status,
                      long long elapsed, const char *message)
{
    ck_assert_str_eq(r->category, "DeviceStreams");
    ck_assert_str_eq(r->operation, operation);
    ck_assert_msg(strcmp(r->result, result) == 0, "%s: result %s, expected %s", operation,
                  r->result, result);
    ck_assert_msg(r->status_code == status, "%s: status %d, expected %d", operation, r->status_code,
                  status);
    ck_assert_msg(r->elapsed_ms == elapsed, "%s: elapsed %lld ms, expected %lld", operation,
                  r->elapsed_ms, elapsed);
    ck_assert_str_eq(r->message, message);
}

START_TEST(log_rows_of_a_whole_stream)
{
    struct stream_tickets t;
    open_full("dev", "mod", 0, 0, &waits[0], T0, &t);
    struct stream *dev = claim(t.id, t.device_token, T0 + 10, STREAM_DEVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 20);
    check_answer("dev/mod", t.rid, 200, T0 + 30, ANSWER_OK, NULL);
    struct stream *svc = claim(t.id, t.service_token, T0 + 40, STREAM_SERVICE);
    stream_core_side_up(core, svc, STREAM_SERVICE, T0 + 50);
    stream_core_count(dev, STREAM_DEVICE, 12);
    stream_core_count(svc, STREAM_SERVICE, 39);
    stream_core_side_down(core, svc, STREAM_SERVICE, 1000, "service_closed", T0 + 60);
    stream_core_side_down(core, dev, STREAM_DEVICE, 1000, "service_closed", T0 + 70);

    struct rows rows;
    read_rows(&rows);
    ck_assert_int_eq(rows.count, 6);
    check_row(&rows.r[0], "requested", "success", -1, 0, "(null)");
    check_row(&rows.r[1], "side_connected", "success", -1, 20, "device connected");
    check_row(&rows.r[2], "accepted", "success", 200, 30, "(null)");
    check_row(&rows.r[3], "side_connected", "success", -1, 50, "service connected");
    check_row(&rows.r[4], "connected", "success", -1, 50, "(null)");
    check_row(&rows.r[5], "closed", "closed", 1000, 60, "service_closed");
    for (int i = 0; i < rows.count; i++) {
        ck_assert_str_eq(rows.r[i].device_id, "dev");
        ck_assert_str_eq(rows.r[i].module_id, "mod");
        ck_assert_str_eq(rows.r[i].stream_id, t.id);
        ck_assert_str_eq(rows.r[i].stream_name, "ssh");
        /* Byte counts only on the close. */
        ck_assert_int_eq(rows.r[i].bytes_d2s, i == 5 ? 12 : -1);
        ck_assert_int_eq(rows.r[i].bytes_s2d, i == 5 ? 39 : -1);
    }
}
END_TEST

START_TEST(log_rows_of_rejection_and_timeouts)
{
    struct stream_tickets r, o, h;
    open_full("dev", NULL, 0, 0, &waits[0], T0, &r);
    check_answer("dev", r.rid, 403, T0 + 5, ANSWER_OK, NULL);
    open_full("dev", NULL, 7, 0, &waits[1], T0, &o);
    open_full("dev", NULL, 30, 4, &waits[2], T0, &h);
    check_answer("dev", h.rid, 204, T0 + 1000, ANSWER_OK, NULL);
    struct expiries x;
    expire(T0 + 7000, &x);
    ck_assert_int_eq(x.count, 2);

    struct rows rows;
    read_rows(&rows);
    ck_assert_int_eq(rows.count, 7);
    check_row(&rows.r[0], "requested", "success", -1, 0, "(null)");
    check_row(&rows.r[1], "rejected", "rejected", 403, 5, "(null)");
    check_row(&rows.r[2], "requested", "success", -1, 0, "(null)");
    check_row(&rows.r[3], "requested", "success", -1, 0, "(null)");
    check_row(&rows.r[4], "accepted", "success", 204, 1000, "(null)");
    /* Both deadlines passed by T0 + 7000: the first expire call handles both, oldest first. */
    check_row(&rows.r[5], "timed_out", "timeout", 504, 7000, "(null)");
    ck_assert_str_eq(rows.r[5].stream_id, o.id);
    check_row(&rows.r[6], "closed", "timeout", -1, 7000, "handshake_timeout");
    ck_assert_str_eq(rows.r[6].stream_id, h.id);
    ck_assert_str_eq(rows.r[6].module_id, "(null)");
    ck_assert_int_eq(rows.r[6].bytes_d2s, 0);
    ck_assert_int_eq(rows.r[6].bytes_s2d, 0);
}
END_TEST

/* The device's WebSocket leaves while REQUESTED and the device never answers: the timed_out row
 * should show the response timeout, not the time the device left. */
START_TEST(log_timed_out_after_device_left)
{
    struct stream_tickets t;
    open_full("dev", NULL, 10, 0, &waits[0], T0, &t);
    struct stream *dev = claim(t.id, t.device_token, T0 + 100, STREAM_DEVICE);
    stream_core_side_up(core, dev, STREAM_DEVICE, T0 + 100);
    stream_core_side_down(core, dev, STREAM_DEVICE, 1006, "device_closed", T0 + 200);
    struct expiries x;
    expire(T0 + 10000, &x);
    ck_assert_int_eq(x.count, 1);
    struct rows rows;
    read_rows(&rows);
    ck_assert_int_eq(rows.count, 3);
    ck_assert_str_eq(rows.r[2].operation, "timed_out");
    ck_assert_msg(rows.r[2].elapsed_ms == 10000,
                  "timed_out row: elapsed_ms %lld, expected 10000 (the response timeout); "
                  "stream_info.closed_ms was set by stream_core_side_down while REQUESTED "
                  "(closed_ms %lld, close_reason '%s')",
                  rows.r[2].elapsed_ms, (long long)(info_of(t.id).closed_ms - T0),
                  info_of(t.id).close_reason);
}
END_TEST

static Suite *stream_core_suite(void)
{
    Suite *s = suite_create("stream_core");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, open_gives_ids_and_tokens);
    tcase_add_test(tc, ids_and_tokens_do_not_repeat);
    tcase_add_test(tc, timeouts_are_clamped);
    tcase_add_test(tc, defaults_above_the_cap_are_capped);
    tcase_add_test(tc, limits_on_streams_and_handshakes);
    tcase_add_test(tc, rate_limit_per_second);
    tcase_add_test(tc, any_2xx_accepts);
    tcase_add_test(tc, other_statuses_reject);
    tcase_add_test(tc, answer_unknown_impostor_late);
    tcase_add_test(tc, module_stream_answered_by_the_module);
    tcase_add_test(tc, response_deadline);
    tcase_add_test(tc, response_deadline_closes_an_early_device);
    tcase_add_test(tc, expire_is_late_rather_than_never);
    tcase_add_test(tc, connect_deadline_from_the_answer);
    tcase_add_test(tc, connect_deadline_capped_by_the_handshake);
    tcase_add_test(tc, connected_stream_has_no_deadline);
    tcase_add_test(tc, attach_refusals);
    tcase_add_test(tc, claim_uses_a_token_up);
    tcase_add_test(tc, attach_after_the_end);
    tcase_add_test(tc, sides_connect_device_first);
    tcase_add_test(tc, sides_connect_service_first);
    tcase_add_test(tc, first_side_down_closes);
    tcase_add_test(tc, one_side_down_while_accepted_closes);
    tcase_add_test(tc, device_gone_before_answer_is_not_connected);
    tcase_add_test(tc, bytes_are_counted_per_side);
    tcase_add_test(tc, events_in_order_with_increasing_times);
    tcase_add_test(tc, next_deadline_follows_the_earliest);
    tcase_add_test(tc, expire_handles_several_streams_at_once);
    tcase_add_test(tc, history_pruning);
    tcase_add_test(tc, history_pruning_keeps_a_timed_out_stream_held_by_its_device);
    tcase_add_test(tc, history_is_bounded);
    tcase_add_test(tc, list_newest_first);
    tcase_add_test(tc, list_empty);
    tcase_add_test(tc, cancel_drops_the_wait);
    tcase_add_test(tc, expire_decides_many_streams_in_one_pass);
    tcase_add_test(tc, shut_refuses_new_streams_and_hands_out_each_wait_once);
    tcase_add_test(tc, state_and_step_names);
    tcase_add_test(tc, log_result_per_step);
    tcase_add_test(tc, a_gone_device_ends_its_streams);
    suite_add_tcase(s, tc);

    TCase *threads = tcase_create("threads");
    tcase_set_timeout(threads, 60);
    tcase_add_test(threads, threads_open_answer_attach);
    suite_add_tcase(s, threads);

    TCase *logs = tcase_create("log");
    tcase_add_checked_fixture(logs, log_setup, log_teardown);
    tcase_add_test(logs, log_rows_of_a_whole_stream);
    tcase_add_test(logs, log_rows_of_rejection_and_timeouts);
    tcase_add_test(logs, log_timed_out_after_device_left);
    suite_add_tcase(s, logs);
    return s;
}

int main(void)
{
    /* stream_log_event logs every rejection, timeout and close at INFO; keep the output to
     * failures. */
    log_set_level(LOG_WARN);
    return unit_run(stream_core_suite());
}
