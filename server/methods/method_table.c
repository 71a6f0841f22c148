#include "method_table.h"

#include "protocol/number.h"

#include <stdlib.h>
#include <string.h>

void method_table_init(struct method_table *t, size_t max)
{
    memset(t, 0, sizeof *t);
    t->max = max;
}

int method_table_add(struct method_table *t, struct method_call *c)
{
    if (t->count == t->max)
        return -1;
    c->next = t->head;
    t->head = c;
    t->count++;
    return 0;
}

/* Unlinks the call *link points to and returns it. */
static struct method_call *unlink_at(struct method_table *t, struct method_call **link)
{
    struct method_call *c = *link;
    *link = c->next;
    c->next = NULL;
    t->count--;
    return c;
}

struct method_call *method_table_take_answer(struct method_table *t, const char *cid,
                                             const char *rid, enum method_match *why)
{
    uint64_t number = 0;
    *why = METHOD_MATCH_UNKNOWN;
    if (ih_parse_uint(rid, UINT64_MAX, &number) != IH_OK)
        return NULL;
    for (struct method_call **link = &t->head; *link != NULL; link = &(*link)->next) {
        struct method_call *c = *link;
        if (c->rid != number || !c->sent)
            continue;
        if (strcmp(c->cid, cid) != 0) {
            *why = METHOD_MATCH_IMPOSTOR;
            return NULL;
        }
        *why = METHOD_MATCH_OK;
        return unlink_at(t, link);
    }
    return NULL;
}

struct method_call *method_table_take_due(struct method_table *t, int64_t now)
{
    for (struct method_call **link = &t->head; *link != NULL; link = &(*link)->next) {
        if ((*link)->deadline_ms <= now)
            return unlink_at(t, link);
    }
    return NULL;
}

struct method_call *method_table_take_any(struct method_table *t)
{
    return t->head != NULL ? unlink_at(t, &t->head) : NULL;
}

struct method_call *method_table_waiting_for(struct method_table *t, const char *cid)
{
    for (struct method_call *c = t->head; c != NULL; c = c->next) {
        if (!c->sent && strcmp(c->cid, cid) == 0)
            return c;
    }
    return NULL;
}

int64_t method_table_next_deadline(const struct method_table *t)
{
    int64_t next = INT64_MAX;
    for (const struct method_call *c = t->head; c != NULL; c = c->next) {
        if (c->deadline_ms < next)
            next = c->deadline_ms;
    }
    return next;
}

void method_call_free(struct method_call *c)
{
    if (c == NULL)
        return;
    free(c->cid);
    free(c->name);
    free(c->payload);
    free(c);
}
