#include "stream_core.h"

#include "strmap.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_BUCKETS 4096
/* Finished streams kept for the views, at most (the oldest go first). */
#define HISTORY_MAX 1000
/* Events one call can produce; observers get them after the lock is released. */
#define EVENTS_MAX 4

struct stream {
    struct stream *newer, *older; /* all streams, newest first */
    struct stream_core *core;
    struct stream_info info; /* under the core's lock, but for the byte counters below */
    _Atomic uint64_t bytes[2];
    _Atomic uint64_t queued_peak[2];
    char token[2][STREAM_TOKEN_LEN + 1];
    int token_used[2];
    int attached[2];
    int device_gone; /* the device's WebSocket came and went before it answered */
    int connect_s;
    int64_t response_deadline, connect_deadline, handshake_deadline;
    int64_t finished_ms; /* when it became REJECTED, TIMED_OUT or CLOSED */
    struct deferred *wait;
    int refs; /* attached sides */
};

struct stream_core {
    pthread_mutex_t lock;
    /* Taken before the core's lock is released and held while observers run, so events reach
     * them in the order they happened whatever thread made them. Observers never call the
     * core. */
    pthread_mutex_t delivery;
    int shut;                        /* the emulator is stopping: no new streams */
    double tokens;                   /* the rate limit's bucket */
    int64_t refilled_ms;             /* when it was last filled */
    _Atomic uint64_t bytes_total[2]; /* every stream's, ever (metrics) */
    struct stream_core_settings settings;
    struct strmap by_id, by_rid;
    struct stream *newest, *oldest;
    size_t finished;
};

/* Events of one call, delivered after unlocking. */
struct events {
    struct stream_event ev[EVENTS_MAX];
    int count;
};

/* The streams one deadline pass decided: expiries[i] and its events evs[i]. */
struct expired {
    struct stream_expiry *expiries;
    struct events *evs;
    size_t count, cap;
};

static const char *const state_names[] = {"requested", "accepted",  "rejected",
                                          "timed_out", "connected", "closed"};
static const char *const step_names[] = {"requested",      "accepted",  "rejected", "timed_out",
                                         "side_connected", "connected", "closed"};

const char *stream_state_name(enum stream_state s)
{
    return state_names[s];
}

const char *stream_step_name(enum stream_step s)
{
    return step_names[s];
}

const char *stream_side_name(enum stream_side side)
{
    return side == STREAM_DEVICE ? "device" : "service";
}

static void lock(struct stream_core *core)
{
    pthread_mutex_lock(&core->lock);
}

/* Releases the core, then hands the events of lists[0..n) to the observer, in order. */
static void unlock_deliver(struct stream_core *core, const struct events *lists, size_t n)
{
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= lists[i].count > 0;
    if (!any || core->settings.observer == NULL) {
        pthread_mutex_unlock(&core->lock);
        return;
    }
    pthread_mutex_lock(&core->delivery);
    pthread_mutex_unlock(&core->lock);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < lists[i].count; j++)
            core->settings.observer(core->settings.observer_ctx, &lists[i].ev[j]);
    }
    pthread_mutex_unlock(&core->delivery);
}

static void unlock(struct stream_core *core, const struct events *evs)
{
    if (evs == NULL) {
        pthread_mutex_unlock(&core->lock);
        return;
    }
    unlock_deliver(core, evs, 1);
}

static void snapshot(const struct stream *s, struct stream_info *out)
{
    *out = s->info;
    out->bytes[0] = atomic_load_explicit(&s->bytes[0], memory_order_relaxed);
    out->bytes[1] = atomic_load_explicit(&s->bytes[1], memory_order_relaxed);
    out->queued_peak[0] = atomic_load_explicit(&s->queued_peak[0], memory_order_relaxed);
    out->queued_peak[1] = atomic_load_explicit(&s->queued_peak[1], memory_order_relaxed);
}

static void emit(struct events *evs, const struct stream *s, enum stream_step step,
                 enum stream_side side)
{
    if (evs->count == EVENTS_MAX)
        return;
    struct stream_event *e = &evs->ev[evs->count++];
    e->step = step;
    e->side = side;
    snapshot(s, &e->info);
}

struct stream_core *stream_core_new(const struct stream_core_settings *s)
{
    struct stream_core *core = calloc(1, sizeof *core);
    if (core == NULL)
        return NULL;
    if (strmap_init(&core->by_id, INDEX_BUCKETS) != 0 ||
        strmap_init(&core->by_rid, INDEX_BUCKETS) != 0) {
        strmap_free(&core->by_id, NULL);
        free(core);
        return NULL;
    }
    core->settings = *s;
    pthread_mutex_init(&core->lock, NULL);
    pthread_mutex_init(&core->delivery, NULL);
    return core;
}

void stream_core_free(struct stream_core *core)
{
    if (core == NULL)
        return;
    for (struct stream *s = core->newest, *next; s != NULL; s = next) {
        next = s->older;
        free(s);
    }
    strmap_free(&core->by_id, NULL);
    strmap_free(&core->by_rid, NULL);
    pthread_mutex_destroy(&core->lock);
    pthread_mutex_destroy(&core->delivery);
    free(core);
}

static int random_hex(char *out, size_t chars)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[32];
    if (chars > 2 * sizeof bytes || RAND_bytes(bytes, (int)(chars + 1) / 2) != 1)
        return -1;
    for (size_t i = 0; i < chars; i++)
        out[i] = hex[(bytes[i / 2] >> (i % 2 ? 0 : 4)) & 0x0f];
    out[chars] = '\0';
    return 0;
}

/* base64url without padding: letters, digits, '-' and '_' only (docs/protocol.md rule 8: no / & =
 * %). */
static int random_token(char out[STREAM_TOKEN_LEN + 1])
{
    unsigned char bytes[32], text[48];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        return -1;
    EVP_EncodeBlock(text, bytes, sizeof bytes);
    for (int i = 0; i < STREAM_TOKEN_LEN; i++)
        out[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : (char)text[i];
    out[STREAM_TOKEN_LEN] = '\0';
    return 0;
}

static int clamp_timeout(int requested, int fallback, int cap)
{
    int s = requested > 0 ? requested : fallback;
    return s > cap ? cap : s;
}

static void link_newest(struct stream_core *core, struct stream *s)
{
    s->older = core->newest;
    if (core->newest != NULL)
        core->newest->newer = s;
    core->newest = s;
    if (core->oldest == NULL)
        core->oldest = s;
}

/* Fills a new stream's identity and deadlines. */
static int prepare(struct stream_core *core, struct stream *s, const struct stream_open *req,
                   int64_t now)
{
    const struct stream_core_settings *set = &core->settings;
    s->core = core;
    if (random_hex(s->info.id, STREAM_ID_LEN) != 0 ||
        random_hex(s->info.rid, STREAM_RID_LEN) != 0 || random_token(s->token[0]) != 0 ||
        random_token(s->token[1]) != 0)
        return -1;
    snprintf(s->info.device_id, sizeof s->info.device_id, "%s", req->device_id);
    snprintf(s->info.module_id, sizeof s->info.module_id, "%s",
             req->module_id != NULL ? req->module_id : "");
    snprintf(s->info.name, sizeof s->info.name, "%s", req->name);
    snprintf(s->info.posted_utc, sizeof s->info.posted_utc, "%s",
             req->posted_utc != NULL ? req->posted_utc : "");
    s->info.state = STREAM_REQUESTED;
    s->info.posted_ms = now;
    s->info.response_timeout_s =
        clamp_timeout(req->response_timeout_s, set->default_response_s, set->handshake_cap_s);
    s->connect_s =
        clamp_timeout(req->connect_timeout_s, set->default_connect_s, set->handshake_cap_s);
    s->info.connect_timeout_s = s->connect_s;
    s->response_deadline = now + s->info.response_timeout_s * 1000LL;
    s->handshake_deadline = now + set->handshake_cap_s * 1000LL;
    s->wait = req->wait;
    return 0;
}

static int index_stream(struct stream_core *core, struct stream *s)
{
    struct strmap_entry *by_id = strmap_put(&core->by_id, s->info.id);
    struct strmap_entry *by_rid = by_id != NULL ? strmap_put(&core->by_rid, s->info.rid) : NULL;
    if (by_rid == NULL) {
        strmap_remove(&core->by_id, s->info.id);
        return -1;
    }
    by_id->value = s;
    by_rid->value = s;
    return 0;
}

static int is_finished(enum stream_state st)
{
    return st == STREAM_REJECTED || st == STREAM_TIMED_OUT || st == STREAM_CLOSED;
}

/* Callers hold the lock. Whether a new stream fits the limits now; a token is taken from the
 * rate's bucket only when it does. */
static enum stream_open_result admit(struct stream_core *core, int64_t now)
{
    const struct stream_core_settings *set = &core->settings;
    int open = 0, pending = 0;
    for (struct stream *s = core->newest; s != NULL; s = s->older) {
        open += !is_finished(s->info.state);
        pending += s->info.state == STREAM_REQUESTED || s->info.state == STREAM_ACCEPTED;
    }
    if (set->max_streams > 0 && open >= set->max_streams)
        return STREAM_OPEN_TOO_MANY;
    if (set->max_pending > 0 && pending >= set->max_pending)
        return STREAM_OPEN_BUSY;
    if (set->rate_per_s > 0) {
        double elapsed = core->refilled_ms > 0 ? (double)(now - core->refilled_ms) / 1000.0 : 1e9;
        core->tokens += elapsed * set->rate_per_s;
        if (core->tokens > set->rate_per_s)
            core->tokens = set->rate_per_s;
        core->refilled_ms = now;
        if (core->tokens < 1.0)
            return STREAM_OPEN_THROTTLED;
        core->tokens -= 1.0;
    }
    return STREAM_OPEN_OK;
}

enum stream_open_result stream_core_open(struct stream_core *core, const struct stream_open *req,
                                         int64_t now_ms, struct stream_tickets *out)
{
    struct stream *s = calloc(1, sizeof *s);
    struct events evs = {.count = 0};
    if (s == NULL || prepare(core, s, req, now_ms) != 0) {
        free(s);
        return STREAM_OPEN_FAILED;
    }
    lock(core);
    enum stream_open_result rc = core->shut ? STREAM_OPEN_SHUT : admit(core, now_ms);
    if (rc == STREAM_OPEN_OK && index_stream(core, s) != 0)
        rc = STREAM_OPEN_FAILED;
    if (rc == STREAM_OPEN_OK) {
        link_newest(core, s);
        memcpy(out->id, s->info.id, sizeof out->id);
        memcpy(out->rid, s->info.rid, sizeof out->rid);
        memcpy(out->device_token, s->token[STREAM_DEVICE], sizeof out->device_token);
        memcpy(out->service_token, s->token[STREAM_SERVICE], sizeof out->service_token);
        out->response_timeout_s = s->info.response_timeout_s;
        emit(&evs, s, STEP_REQUESTED, STREAM_DEVICE);
    }
    unlock(core, &evs);
    if (rc != STREAM_OPEN_OK)
        free(s);
    return rc;
}

static void finish(struct stream_core *core, struct stream *s, enum stream_state st, int64_t now)
{
    s->info.state = st;
    s->finished_ms = now;
    core->finished++;
}

/* Takes the POST's wait out of the stream: it is completed exactly once. */
static void decide(struct stream *s, struct stream_decision *out, int accepted)
{
    memset(out, 0, sizeof *out);
    out->wait = s->wait;
    s->wait = NULL;
    out->accepted = accepted;
    out->response_timeout_s = s->info.response_timeout_s;
    memcpy(out->id, s->info.id, sizeof out->id);
    if (accepted)
        memcpy(out->service_token, s->token[STREAM_SERVICE], sizeof out->service_token);
}

/* Callers hold the lock. An accepting device whose WebSocket already came and went can never
 * connect again (its token is used): the stream is accepted, as it said, and closed at once. */
static void apply_answer(struct stream_core *core, struct stream *s, int status, int64_t now,
                         struct stream_decision *out, struct events *evs)
{
    int accepted = ih_stream_response_accepted(status);
    s->info.answered_ms = now;
    s->info.answer_status = status;
    if (accepted) {
        s->info.state = STREAM_ACCEPTED;
        s->connect_deadline = now + s->connect_s * 1000LL;
        if (s->connect_deadline > s->handshake_deadline)
            s->connect_deadline = s->handshake_deadline;
    } else {
        finish(core, s, STREAM_REJECTED, now);
    }
    decide(s, out, accepted);
    emit(evs, s, accepted ? STEP_ACCEPTED : STEP_REJECTED, STREAM_DEVICE);
    if (accepted && s->device_gone) {
        snprintf(s->info.close_reason, sizeof s->info.close_reason, "device_closed");
        s->info.closed_ms = now;
        finish(core, s, STREAM_CLOSED, now);
        emit(evs, s, STEP_CLOSED, STREAM_DEVICE);
    }
}

/* cid is the answering client: the device, or device/module for a module's stream. */
static int answered_by(const struct stream *s, const char *cid)
{
    size_t n = strlen(s->info.device_id);
    if (strncmp(cid, s->info.device_id, n) != 0)
        return 0;
    if (s->info.module_id[0] == '\0')
        return cid[n] == '\0';
    return cid[n] == '/' && strcmp(cid + n + 1, s->info.module_id) == 0;
}

enum stream_answer_result stream_core_answer(struct stream_core *core, const char *cid,
                                             const char *rid, int status, int64_t now_ms,
                                             struct stream_decision *out)
{
    struct events evs = {.count = 0};
    enum stream_answer_result r = ANSWER_OK;
    lock(core);
    struct strmap_entry *e = strmap_find(&core->by_rid, rid);
    struct stream *s = e != NULL ? e->value : NULL;
    if (s == NULL)
        r = ANSWER_UNKNOWN;
    else if (!answered_by(s, cid))
        r = ANSWER_IMPOSTOR;
    else if (s->info.answered_ms != 0)
        r = ANSWER_DUPLICATE;
    else if (s->info.state != STREAM_REQUESTED || now_ms >= s->response_deadline)
        r = ANSWER_LATE; /* past the deadline, the timeout wins even before expire runs */
    if (r == ANSWER_OK)
        apply_answer(core, s, status, now_ms, out, &evs);
    unlock(core, &evs);
    return r;
}

static enum stream_attach_result check_token(struct stream *s, const char *token,
                                             enum stream_side *side)
{
    size_t len = token != NULL ? strlen(token) : 0;
    for (int i = 0; i < 2; i++) {
        if (len == STREAM_TOKEN_LEN && CRYPTO_memcmp(token, s->token[i], len) == 0) {
            *side = (enum stream_side)i;
            return s->token_used[i] ? ATTACH_TOKEN_USED : ATTACH_OK;
        }
    }
    return ATTACH_BAD_TOKEN;
}

/* Whether the stream still takes a WebSocket now. */
static enum stream_attach_result open_for(const struct stream *s, enum stream_side side,
                                          int64_t now)
{
    if (is_finished(s->info.state) || now >= s->handshake_deadline ||
        (s->info.state == STREAM_ACCEPTED && now >= s->connect_deadline))
        return ATTACH_ENDED;
    /* The service learns its token from the 200, so it cannot come earlier. */
    if (side == STREAM_SERVICE && s->info.state == STREAM_REQUESTED)
        return ATTACH_BAD_TOKEN;
    return ATTACH_OK;
}

enum stream_attach_result stream_core_attach(struct stream_core *core, const char *bridge_id,
                                             const char *token, int claim, int64_t now_ms,
                                             enum stream_side *side, struct stream **stream)
{
    lock(core);
    struct strmap_entry *e = strmap_find(&core->by_id, bridge_id);
    struct stream *s = e != NULL ? e->value : NULL;
    enum stream_attach_result r = s == NULL ? ATTACH_UNKNOWN_BRIDGE : check_token(s, token, side);
    if (r == ATTACH_OK)
        r = open_for(s, *side, now_ms);
    if (r == ATTACH_OK && claim) {
        s->token_used[*side] = 1;
        s->attached[*side] = 1;
        s->refs++;
        *stream = s;
    }
    unlock(core, NULL);
    return r;
}

void stream_core_side_up(struct stream_core *core, struct stream *s, enum stream_side side,
                         int64_t now_ms)
{
    struct events evs = {.count = 0};
    lock(core);
    if (!is_finished(s->info.state)) {
        s->info.side_ms[side] = now_ms;
        emit(&evs, s, STEP_SIDE_CONNECTED, side);
        if (s->info.side_ms[1 - side] != 0 && s->info.state == STREAM_ACCEPTED) {
            s->info.state = STREAM_CONNECTED;
            s->info.connected_ms = now_ms;
            emit(&evs, s, STEP_CONNECTED, side);
        }
    }
    unlock(core, &evs);
}

void stream_core_side_down(struct stream_core *core, struct stream *s, enum stream_side side,
                           int code, const char *reason, int64_t now_ms)
{
    struct events evs = {.count = 0};
    lock(core);
    s->attached[side] = 0;
    s->refs--;
    if (s->info.state == STREAM_REQUESTED) {
        /* Before its answer the device may still reject, or the POST time out: the stream
         * stays open, but a device that accepts now can never connect again. */
        s->device_gone = 1;
    } else if (s->info.state == STREAM_ACCEPTED || s->info.state == STREAM_CONNECTED) {
        s->info.close_code = code;
        snprintf(s->info.close_reason, sizeof s->info.close_reason, "%s", reason);
        s->info.closed_ms = now_ms;
        finish(core, s, STREAM_CLOSED, now_ms);
        emit(&evs, s, STEP_CLOSED, side);
    }
    unlock(core, &evs);
}

void stream_core_count(struct stream *s, enum stream_side from, size_t n)
{
    atomic_fetch_add_explicit(&s->bytes[from], n, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->core->bytes_total[from], n, memory_order_relaxed);
}

uint64_t stream_core_bytes_relayed(struct stream_core *core, enum stream_side from)
{
    return atomic_load_explicit(&core->bytes_total[from], memory_order_relaxed);
}

void stream_core_note_queued(struct stream *s, enum stream_side to, size_t queued)
{
    uint64_t peak = atomic_load_explicit(&s->queued_peak[to], memory_order_relaxed);
    while (queued > peak &&
           !atomic_compare_exchange_weak_explicit(&s->queued_peak[to], &peak, queued,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

const char *stream_core_id(const struct stream *s)
{
    return s->info.id;
}

static void unlink_stream(struct stream_core *core, struct stream *s)
{
    if (s->newer != NULL)
        s->newer->older = s->older;
    else
        core->newest = s->older;
    if (s->older != NULL)
        s->older->newer = s->newer;
    else
        core->oldest = s->newer;
    strmap_remove(&core->by_id, s->info.id);
    strmap_remove(&core->by_rid, s->info.rid);
    core->finished--;
    free(s);
}

/* Finished streams go after the history time, or when there are too many; never while a side
 * still holds a reference. */
static void prune(struct stream_core *core, int64_t now)
{
    for (struct stream *s = core->oldest, *newer; s != NULL; s = newer) {
        newer = s->newer;
        int old = now - s->finished_ms > core->settings.history_ms || core->finished > HISTORY_MAX;
        if (is_finished(s->info.state) && s->refs == 0 && old)
            unlink_stream(core, s);
    }
}

static int is_due(const struct stream *s, int64_t now)
{
    return (s->info.state == STREAM_REQUESTED && now >= s->response_deadline) ||
           (s->info.state == STREAM_ACCEPTED && now >= s->connect_deadline);
}

/* Applies the deadline that passed for s (is_due): fills e and the event. */
static void expire_one(struct stream_core *core, struct stream *s, int64_t now,
                       struct stream_expiry *e, struct events *evs)
{
    memset(e, 0, sizeof *e);
    memcpy(e->id, s->info.id, sizeof e->id);
    if (s->info.state == STREAM_REQUESTED) {
        s->info.closed_ms = now;
        finish(core, s, STREAM_TIMED_OUT, now);
        decide(s, &e->decision, 0);
        e->decision.timed_out = 1;
        e->close_sides = s->attached[STREAM_DEVICE];
        emit(evs, s, STEP_TIMED_OUT, STREAM_DEVICE);
        return;
    }
    snprintf(s->info.close_reason, sizeof s->info.close_reason, "handshake_timeout");
    s->info.closed_ms = now;
    finish(core, s, STREAM_CLOSED, now);
    e->close_sides = 1;
    emit(evs, s, STEP_CLOSED, STREAM_DEVICE);
}

static int64_t next_deadline_locked(struct stream_core *core)
{
    int64_t next = -1;
    for (struct stream *s = core->newest; s != NULL; s = s->older) {
        int64_t d = s->info.state == STREAM_REQUESTED  ? s->response_deadline
                    : s->info.state == STREAM_ACCEPTED ? s->connect_deadline
                                                       : -1;
        if (d >= 0 && (next < 0 || d < next))
            next = d;
    }
    return next;
}

static int grow_expired(struct expired *x)
{
    size_t cap = x->cap > 0 ? 2 * x->cap : 16;
    struct stream_expiry *expiries = realloc(x->expiries, cap * sizeof *expiries);
    if (expiries != NULL)
        x->expiries = expiries;
    struct events *evs = expiries != NULL ? realloc(x->evs, cap * sizeof *evs) : NULL;
    if (evs == NULL)
        return -1;
    x->evs = evs;
    x->cap = cap;
    return 0;
}

/* Callers hold the lock: every stream past a deadline, in one pass. Returns 0, or -1 when
 * memory ran short and the rest must wait for another pass. */
static int collect_expired(struct stream_core *core, int64_t now, struct expired *x)
{
    for (struct stream *s = core->oldest; s != NULL; s = s->newer) {
        if (!is_due(s, now))
            continue;
        if (x->count == x->cap && grow_expired(x) != 0)
            return -1;
        x->evs[x->count].count = 0;
        expire_one(core, s, now, &x->expiries[x->count], &x->evs[x->count]);
        x->count++;
    }
    return 0;
}

int64_t stream_core_expire(struct stream_core *core, int64_t now_ms,
                           void (*fn)(void *ctx, const struct stream_expiry *e), void *ctx)
{
    struct expired x = {NULL, NULL, 0, 0};
    lock(core);
    int short_of_memory = collect_expired(core, now_ms, &x) != 0;
    prune(core, now_ms);
    int64_t next = short_of_memory ? now_ms : next_deadline_locked(core);
    unlock_deliver(core, x.evs, x.count);
    for (size_t i = 0; i < x.count; i++)
        fn(ctx, &x.expiries[i]);
    free(x.expiries);
    free(x.evs);
    return next;
}

/* Callers hold the lock: closes s for its device's deletion or disabling. */
static void end_for_device(struct stream_core *core, struct stream *s, const char *reason,
                           int64_t now, struct stream_expiry *e, struct events *evs)
{
    memset(e, 0, sizeof *e);
    memcpy(e->id, s->info.id, sizeof e->id);
    if (s->info.state == STREAM_REQUESTED) {
        decide(s, &e->decision, 0);
        e->decision.device_gone = 1;
    }
    snprintf(s->info.close_reason, sizeof s->info.close_reason, "%s", reason);
    s->info.closed_ms = now;
    finish(core, s, STREAM_CLOSED, now);
    e->close_sides = 1;
    emit(evs, s, STEP_CLOSED, STREAM_DEVICE);
}

void stream_core_end_device(struct stream_core *core, const char *device_id, const char *reason,
                            int64_t now_ms, void (*fn)(void *ctx, const struct stream_expiry *e),
                            void *ctx)
{
    struct expired x = {NULL, NULL, 0, 0};
    lock(core);
    for (struct stream *s = core->oldest; s != NULL; s = s->newer) {
        if (is_finished(s->info.state) || strcmp(s->info.device_id, device_id) != 0)
            continue;
        if (x.count == x.cap && grow_expired(&x) != 0)
            break; /* out of memory: the rest end at their deadlines */
        x.evs[x.count].count = 0;
        end_for_device(core, s, reason, now_ms, &x.expiries[x.count], &x.evs[x.count]);
        x.count++;
    }
    unlock_deliver(core, x.evs, x.count);
    for (size_t i = 0; i < x.count; i++)
        fn(ctx, &x.expiries[i]);
    free(x.expiries);
    free(x.evs);
}

int64_t stream_core_next_deadline(struct stream_core *core)
{
    lock(core);
    int64_t next = next_deadline_locked(core);
    unlock(core, NULL);
    return next;
}

int stream_core_find(struct stream_core *core, const char *id, struct stream_info *out)
{
    lock(core);
    struct strmap_entry *e = strmap_find(&core->by_id, id);
    if (e != NULL)
        snapshot(e->value, out);
    unlock(core, NULL);
    return e != NULL ? 0 : -1;
}

int stream_core_list(struct stream_core *core, struct stream_info **out, size_t *count)
{
    lock(core);
    size_t n = 0;
    for (struct stream *s = core->newest; s != NULL; s = s->older)
        n++;
    struct stream_info *list = calloc(n > 0 ? n : 1, sizeof *list);
    size_t i = 0;
    for (struct stream *s = core->newest; list != NULL && s != NULL; s = s->older)
        snapshot(s, &list[i++]);
    unlock(core, NULL);
    if (list == NULL)
        return -1;
    *out = list;
    *count = n;
    return 0;
}

void stream_core_cancel(struct stream_core *core, const char *id, int64_t now_ms)
{
    struct events evs = {.count = 0};
    lock(core);
    struct strmap_entry *e = strmap_find(&core->by_id, id);
    struct stream *s = e != NULL ? e->value : NULL;
    if (s != NULL && !is_finished(s->info.state)) {
        s->wait = NULL;
        snprintf(s->info.close_reason, sizeof s->info.close_reason, "error");
        s->info.closed_ms = now_ms;
        finish(core, s, STREAM_CLOSED, now_ms);
        emit(&evs, s, STEP_CLOSED, STREAM_DEVICE);
    }
    unlock(core, &evs);
}

void stream_core_shut(struct stream_core *core, void (*fn)(void *ctx, struct deferred *w),
                      void *ctx)
{
    lock(core);
    core->shut = 1;
    unlock(core, NULL);
    for (;;) {
        struct deferred *w = NULL;
        lock(core);
        for (struct stream *s = core->newest; s != NULL && w == NULL; s = s->older) {
            w = s->wait;
            s->wait = NULL;
        }
        unlock(core, NULL);
        if (w == NULL)
            return;
        fn(ctx, w);
    }
}
