/* The hub core of device streams (docs/architecture.md): every stream session, its handshake state
 * machine, its deadlines and its tokens. No I/O: the main endpoint, the MQTT link and the
 * streaming endpoint feed it events with the time, so it runs the same under a fake clock.
 * Thread-safe (one mutex); observers are called after the mutex is released.
 *
 *   POST ─▶ REQUESTED ──device 2xx──▶ ACCEPTED ──both WebSockets──▶ CONNECTED ──▶ CLOSED
 *                     ├─device other─▶ REJECTED
 *                     └─no answer in time─▶ TIMED_OUT (504 504101)
 *   ACCEPTED, and a side missing at the connect deadline ─▶ CLOSED (handshake_timeout)
 */
#ifndef STREAM_CORE_H
#define STREAM_CORE_H

#include "protocol/identity.h"
#include "protocol/streams_topic.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Bridge ids: 20 hex characters, like the real gateway's (docs/protocol.md §3.1). */
#define STREAM_ID_LEN 20
/* Tokens: 32 random bytes as base64url without padding, so none of / & = % (docs/protocol.md rule
 * 8). */
#define STREAM_TOKEN_LEN 43
#define STREAM_RID_LEN 16

enum stream_side { STREAM_DEVICE = 0, STREAM_SERVICE = 1 };

enum stream_state {
    STREAM_REQUESTED,
    STREAM_ACCEPTED,
    STREAM_REJECTED,
    STREAM_TIMED_OUT,
    STREAM_CONNECTED,
    STREAM_CLOSED,
};

/* The steps a stream goes through, one log row and one --trace line each. */
enum stream_step {
    STEP_REQUESTED,      /* the service's POST was accepted and the device asked */
    STEP_ACCEPTED,       /* the device answered 2xx */
    STEP_REJECTED,       /* the device answered something else */
    STEP_TIMED_OUT,      /* no answer before the response timeout */
    STEP_SIDE_CONNECTED, /* one side's WebSocket is up (side says which) */
    STEP_CONNECTED,      /* both are: bytes flow */
    STEP_CLOSED,         /* the stream is over (reason says why) */
};

struct deferred; /* deferred.h: the suspended POST, completed when the stream is decided */

/* A copy of a stream's state, safe to read without the core's lock. Times are milliseconds of
 * the caller's clock (CLOCK_MONOTONIC in the emulator); 0 means "not yet". */
struct stream_info {
    char id[STREAM_ID_LEN + 1];
    char device_id[IH_ID_MAX_LEN + 1];
    char module_id[IH_ID_MAX_LEN + 1];
    char name[IH_STREAM_NAME_MAX + 1];
    char rid[STREAM_RID_LEN + 1];
    enum stream_state state;
    int response_timeout_s, connect_timeout_s;
    int64_t posted_ms, answered_ms, side_ms[2], connected_ms, closed_ms;
    int answer_status;       /* the device's status, once it answered */
    char posted_utc[32];     /* the POST's wall-clock time, for the views */
    uint64_t bytes[2];       /* bytes[STREAM_DEVICE]: sent by the device to the service */
    uint64_t queued_peak[2]; /* the most bytes ever waiting for a side (queued_peak[to]) */
    int close_code;          /* WebSocket close code, 0 when none */
    char close_reason[64];   /* service_closed, device_closed, handshake_timeout, ... */
};

struct stream_event {
    enum stream_step step;
    enum stream_side side; /* for STEP_SIDE_CONNECTED */
    struct stream_info info;
};

struct stream_core_settings {
    int handshake_cap_s; /* POST to both connected; caps both timeouts (docs/protocol.md §3.5) */
    int default_response_s; /* when the POST gives no response timeout (or 0) */
    int default_connect_s;  /* when the POST gives no connect timeout (or 0) */
    int64_t history_ms;     /* how long a finished stream stays visible */
    /* Limits, so a stranger cannot exhaust the hub; 0 for none. */
    int max_streams; /* not finished: requested, accepted or connected */
    int max_pending; /* requested or accepted, not yet connected */
    int rate_per_s;  /* new streams a second, in a bucket of as many */
    void (*observer)(void *ctx, const struct stream_event *ev);
    void *observer_ctx;
};

struct stream_core;
struct stream; /* a live stream, referenced by the streaming endpoint while a side is attached */

struct stream_core *stream_core_new(const struct stream_core_settings *s);
void stream_core_free(struct stream_core *core);

struct stream_open {
    const char *device_id;
    const char *module_id; /* NULL for a device stream */
    const char *name;
    int response_timeout_s; /* from the POST's headers; 0 for the default */
    int connect_timeout_s;
    struct deferred *wait;
    const char *posted_utc; /* wall-clock time of the POST, shown in the views */
};

struct stream_tickets {
    char id[STREAM_ID_LEN + 1];
    char rid[STREAM_RID_LEN + 1];
    char device_token[STREAM_TOKEN_LEN + 1];
    char service_token[STREAM_TOKEN_LEN + 1];
    int response_timeout_s;
};

enum stream_open_result {
    STREAM_OPEN_OK,
    STREAM_OPEN_FAILED,    /* out of memory or randomness */
    STREAM_OPEN_SHUT,      /* stream_core_shut was called: the emulator is stopping */
    STREAM_OPEN_TOO_MANY,  /* max_streams are open (403 403002) */
    STREAM_OPEN_BUSY,      /* max_pending handshakes are under way (429 429001) */
    STREAM_OPEN_THROTTLED, /* past rate_per_s (429 429001) */
};

/* A new stream in REQUESTED, with its ids and tokens. */
enum stream_open_result stream_core_open(struct stream_core *core, const struct stream_open *req,
                                         int64_t now_ms, struct stream_tickets *out);

enum stream_answer_result {
    ANSWER_OK,
    ANSWER_UNKNOWN,   /* no stream has this $rid */
    ANSWER_LATE,      /* the stream was decided already (timed out) */
    ANSWER_DUPLICATE, /* the device answered this request before */
    ANSWER_IMPOSTOR   /* another client answered a request it was not sent */
};

struct stream_decision {
    struct deferred *wait; /* to complete (NULL when none) */
    int accepted;
    char service_token[STREAM_TOKEN_LEN + 1];
    char id[STREAM_ID_LEN + 1];
    int timed_out;   /* set by stream_core_expire */
    int device_gone; /* set by stream_core_end_device */
    int response_timeout_s;
};

/* The device cid answered $rid with status (docs/protocol.md rule 9: any 2xx accepts). */
enum stream_answer_result stream_core_answer(struct stream_core *core, const char *cid,
                                             const char *rid, int status, int64_t now_ms,
                                             struct stream_decision *out);

enum stream_attach_result {
    ATTACH_OK,
    ATTACH_UNKNOWN_BRIDGE, /* 404 */
    ATTACH_ENDED,          /* 404: rejected, timed out, closed, or past its deadline */
    ATTACH_BAD_TOKEN,      /* 401: missing, wrong, or another bridge's */
    ATTACH_TOKEN_USED,     /* 401: single use */
};

/* Checks a WebSocket's bearer token for bridge_id. With claim, a good token is used up and the
 * stream is returned referenced (release it with stream_core_release); the device may attach
 * while the stream is REQUESTED (the C SDK connects before it answers, docs/protocol.md rule 13),
 * the service only once it is ACCEPTED. */
enum stream_attach_result stream_core_attach(struct stream_core *core, const char *bridge_id,
                                             const char *token, int claim, int64_t now_ms,
                                             enum stream_side *side, struct stream **stream);

/* The side's WebSocket is up (after the 101). */
void stream_core_side_up(struct stream_core *core, struct stream *s, enum stream_side side,
                         int64_t now_ms);

/* The side's WebSocket is gone; code is the close code it gave or was given (0 for none).
 * The first side to go decides the reason. Releases the reference. */
void stream_core_side_down(struct stream_core *core, struct stream *s, enum stream_side side,
                           int code, const char *reason, int64_t now_ms);

/* Counts bytes a side sent; lock-free, from the relay. */
void stream_core_count(struct stream *s, enum stream_side from, size_t n);

/* Bytes side `from` sent, over every stream since the start. */
uint64_t stream_core_bytes_relayed(struct stream_core *core, enum stream_side from);

/* The relay has `queued` bytes waiting for side `to`: keeps the peak (lock-free). */
void stream_core_note_queued(struct stream *s, enum stream_side to, size_t queued);

const char *stream_core_id(const struct stream *s);

struct stream_expiry {
    struct stream_decision decision; /* response timeouts: complete decision.wait with 504 */
    int close_sides;                 /* connect deadline: close the sides still attached */
    char id[STREAM_ID_LEN + 1];
};

/* Applies every deadline that passed by now_ms and calls fn for each stream it decided; also
 * forgets finished streams older than the history. Returns the next deadline (ms), or -1. */
int64_t stream_core_expire(struct stream_core *core, int64_t now_ms,
                           void (*fn)(void *ctx, const struct stream_expiry *e), void *ctx);

/* The device (and its modules) was deleted or disabled: every stream of it not finished is
 * CLOSED now with reason ("device_deleted", "device_disabled"), its tokens open nothing, and fn
 * is called for each one as for an expiry: a waiting POST is answered (decision.device_gone),
 * attached sides are closed. */
void stream_core_end_device(struct stream_core *core, const char *device_id, const char *reason,
                            int64_t now_ms, void (*fn)(void *ctx, const struct stream_expiry *e),
                            void *ctx);

/* The earliest pending deadline, or -1 when there is none. */
int64_t stream_core_next_deadline(struct stream_core *core);

/* A snapshot of stream id. Returns 0, or -1 when it is not known. */
int stream_core_find(struct stream_core *core, const char *id, struct stream_info *out);

/* Snapshots of every known stream, newest first; *out (caller frees) holds *count. */
int stream_core_list(struct stream_core *core, struct stream_info **out, size_t *count);

/* Ends a stream whose request could not be sent: it is CLOSED ("error") and forgets its wait,
 * which the caller answers itself. */
void stream_core_cancel(struct stream_core *core, const char *id, int64_t now_ms);

/* The emulator is stopping: new streams are refused (STREAM_OPEN_SHUT), and fn completes
 * every POST still waiting. */
void stream_core_shut(struct stream_core *core, void (*fn)(void *ctx, struct deferred *w),
                      void *ctx);

const char *stream_state_name(enum stream_state s);
const char *stream_step_name(enum stream_step s);
const char *stream_side_name(enum stream_side side); /* "device" or "service" */

#endif
