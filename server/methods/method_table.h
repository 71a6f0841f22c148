/* The method calls in flight, sans I/O and without a lock (method_service holds one): each waits
 * either for its identity to listen (the connect timeout, rule D2) or for the device's answer
 * (the response timeout). Answers are matched by `$rid` and identity (rule D4). */
#ifndef METHOD_TABLE_H
#define METHOD_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct deferred;

struct method_call {
    struct method_call *next;
    uint64_t rid; /* decimal in the topic (rule D3) */
    char *cid;    /* device id, or device/module */
    char *name;
    char *payload;
    size_t payload_len;
    int response_timeout_s, connect_timeout_s;
    int64_t started_ms;
    int64_t deadline_ms;
    int sent; /* to the device; until then it waits for the identity to listen */
    struct deferred *wait;
};

struct method_table {
    struct method_call *head;
    size_t count, max;
};

void method_table_init(struct method_table *t, size_t max);

/* Adds c (owned by the table from now). Returns 0, or -1 when max calls are in flight. */
int method_table_add(struct method_table *t, struct method_call *c);

enum method_match {
    METHOD_MATCH_OK,
    METHOD_MATCH_UNKNOWN,  /* no call has this $rid (or it ended: late) */
    METHOD_MATCH_IMPOSTOR, /* the call went to another identity */
};

/* The call an answer from cid with rid belongs to, removed from the table; NULL with *why. */
struct method_call *method_table_take_answer(struct method_table *t, const char *cid,
                                             const char *rid, enum method_match *why);

/* A call whose deadline is at or before now, removed; NULL when none. */
struct method_call *method_table_take_due(struct method_table *t, int64_t now);

/* Any call, removed (for shutdown); NULL when empty. */
struct method_call *method_table_take_any(struct method_table *t);

/* A call that waits for cid to listen, still in the table; NULL when none. */
struct method_call *method_table_waiting_for(struct method_table *t, const char *cid);

/* The earliest deadline, or INT64_MAX. */
int64_t method_table_next_deadline(const struct method_table *t);

void method_call_free(struct method_call *c);

#endif
