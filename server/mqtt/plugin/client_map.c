#include "client_map.h"

#include "mqtt_acl.h"

#include <stdlib.h>
#include <string.h>

static void forget_filters(struct client_state *s)
{
    for (size_t i = 0; i < s->covering_count; i++)
        free(s->covering[i]);
    free(s->covering);
    s->covering = NULL;
    s->covering_count = 0;
}

void client_state_free(void *state)
{
    struct client_state *s = state;
    if (s != NULL)
        forget_filters(s);
    free(s);
}

unsigned client_listens(const struct client_state *s, const char *cid)
{
    unsigned listens = 0;
    for (size_t i = 0; i < s->covering_count; i++)
        listens |= mqtt_filter_listens(s->covering[i], cid);
    return listens;
}

int client_note_filter(struct client_state *s, const char *filter, int subscribe)
{
    for (size_t i = 0; i < s->covering_count; i++) {
        if (strcmp(s->covering[i], filter) != 0)
            continue;
        if (!subscribe) {
            free(s->covering[i]);
            s->covering[i] = s->covering[--s->covering_count];
        }
        return 0;
    }
    if (!subscribe)
        return 0;
    char **grown = realloc(s->covering, (s->covering_count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    s->covering = grown;
    if ((s->covering[s->covering_count] = strdup(filter)) == NULL)
        return -1;
    s->covering_count++;
    return 0;
}

struct client_state *client_map_connect(struct strmap *m, const char *cid, const void *connection,
                                        int clean_session)
{
    struct strmap_entry *e = strmap_put(m, cid);
    if (e == NULL)
        return NULL;
    if (e->value == NULL && (e->value = calloc(1, sizeof(struct client_state))) == NULL) {
        strmap_remove(m, cid);
        return NULL;
    }
    struct client_state *s = e->value;
    /* mosquitto hands a session on only from a persistent one to a persistent one (a clean
     * session has no expiry interval to outlive its connection). */
    int resumed = !clean_session && s->persistent;
    if (!resumed)
        forget_filters(s);
    s->connection = connection;
    s->persistent = !clean_session;
    return s;
}

struct client_state *client_map_find(const struct strmap *m, const char *cid)
{
    struct strmap_entry *e = strmap_find(m, cid);
    return e != NULL ? e->value : NULL;
}

int client_map_disconnect(struct strmap *m, const char *cid, const void *connection)
{
    struct client_state *s = client_map_find(m, cid);
    if (s == NULL || s->connection != connection)
        return 0;
    s->connection = NULL;
    if (!s->persistent)
        client_state_free(strmap_remove(m, cid));
    return 1;
}

struct each_args {
    void (*fn)(const char *cid, struct client_state *s, void *arg);
    void *arg;
};

static void visit(struct strmap_entry *e, void *arg)
{
    struct each_args *a = arg;
    struct client_state *s = e->value;
    if (s->connection != NULL)
        a->fn(e->key, s, a->arg);
}

void client_map_each_connected(const struct strmap *m,
                               void (*fn)(const char *cid, struct client_state *s, void *arg),
                               void *arg)
{
    struct each_args a = {fn, arg};
    strmap_each(m, visit, &a);
}
