#include "conn_table.h"

size_t conn_table_share(unsigned long long fd_limit, size_t endpoints)
{
    unsigned long long usable =
        fd_limit > CONN_TABLE_FD_RESERVE ? fd_limit - CONN_TABLE_FD_RESERVE : 0;
    unsigned long long share = endpoints > 0 ? usable / endpoints : usable;
    if (share > CONN_TABLE_MAX)
        share = CONN_TABLE_MAX;
    return share < 16 ? 16 : (size_t)share;
}

void conn_table_init(struct conn_table *t, size_t max_count, size_t max_idle)
{
    *t = (struct conn_table){.max_count = max_count, .max_idle = max_idle};
}

static void unlink_idle(struct conn_table *t, struct conn_entry *e)
{
    if (!e->idle)
        return;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        t->oldest = e->newer;
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        t->newest = e->older;
    e->older = e->newer = NULL;
    e->idle = 0;
    t->idle_count--;
}

static void append_idle(struct conn_table *t, struct conn_entry *e)
{
    e->older = t->newest;
    e->newer = NULL;
    if (t->newest != NULL)
        t->newest->newer = e;
    else
        t->oldest = e;
    t->newest = e;
    e->idle = 1;
    t->idle_count++;
}

struct conn_entry *conn_table_add(struct conn_table *t, struct conn_entry *e)
{
    *e = (struct conn_entry){0};
    t->count++;
    append_idle(t, e);
    if (t->count <= t->max_count && t->idle_count <= t->max_idle)
        return NULL;
    struct conn_entry *victim = t->oldest;
    if (victim == e && t->count <= t->max_count)
        return NULL; /* past the idle limit only by itself: nothing older to shed */
    unlink_idle(t, victim);
    t->shed++;
    return victim;
}

void conn_table_busy(struct conn_table *t, struct conn_entry *e)
{
    unlink_idle(t, e);
}

void conn_table_idle(struct conn_table *t, struct conn_entry *e)
{
    unlink_idle(t, e);
    append_idle(t, e);
}

void conn_table_remove(struct conn_table *t, struct conn_entry *e)
{
    unlink_idle(t, e);
    t->count--;
}
