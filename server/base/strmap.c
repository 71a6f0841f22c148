#include "strmap.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a */
static size_t hash(const char *s)
{
    size_t h = (size_t)1469598103934665603ULL;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
    return h;
}

int strmap_init(struct strmap *m, size_t buckets)
{
    m->buckets = calloc(buckets, sizeof *m->buckets);
    m->bucket_count = buckets;
    m->count = 0;
    return m->buckets != NULL ? 0 : -1;
}

void strmap_clear(struct strmap *m, void (*free_value)(void *value))
{
    for (size_t i = 0; i < m->bucket_count; i++) {
        struct strmap_entry *e = m->buckets[i];
        while (e != NULL) {
            struct strmap_entry *next = e->next;
            if (free_value != NULL)
                free_value(e->value);
            free(e->key);
            free(e);
            e = next;
        }
        m->buckets[i] = NULL;
    }
    m->count = 0;
}

void strmap_free(struct strmap *m, void (*free_value)(void *value))
{
    strmap_clear(m, free_value);
    free(m->buckets);
    memset(m, 0, sizeof *m);
}

static struct strmap_entry **slot_of(const struct strmap *m, const char *key)
{
    struct strmap_entry **slot = &m->buckets[hash(key) % m->bucket_count];
    while (*slot != NULL && strcmp((*slot)->key, key) != 0)
        slot = &(*slot)->next;
    return slot;
}

struct strmap_entry *strmap_find(const struct strmap *m, const char *key)
{
    return *slot_of(m, key);
}

struct strmap_entry *strmap_put(struct strmap *m, const char *key)
{
    struct strmap_entry **slot = slot_of(m, key);
    if (*slot != NULL)
        return *slot;
    struct strmap_entry *e = calloc(1, sizeof *e);
    if (e == NULL || (e->key = strdup(key)) == NULL) {
        free(e);
        return NULL;
    }
    *slot = e;
    m->count++;
    return e;
}

void *strmap_remove(struct strmap *m, const char *key)
{
    struct strmap_entry **slot = slot_of(m, key);
    struct strmap_entry *e = *slot;
    if (e == NULL)
        return NULL;
    void *value = e->value;
    *slot = e->next;
    free(e->key);
    free(e);
    m->count--;
    return value;
}

void strmap_each(const struct strmap *m, void (*fn)(struct strmap_entry *e, void *arg), void *arg)
{
    for (size_t i = 0; i < m->bucket_count; i++) {
        for (struct strmap_entry *e = m->buckets[i]; e != NULL; e = e->next)
            fn(e, arg);
    }
}
