/* A string-keyed hash map (chained, fixed bucket count), for tables keyed by client id: the
 * plugin's connected clients and the hub's presence table. Not thread-safe. */
#ifndef STRMAP_H
#define STRMAP_H

#include <stddef.h>

struct strmap_entry {
    char *key;
    void *value;
    struct strmap_entry *next;
};

struct strmap {
    struct strmap_entry **buckets;
    size_t bucket_count;
    size_t count;
};

int strmap_init(struct strmap *m, size_t buckets);
/* Frees every entry, calling free_value (may be NULL) on each value. */
void strmap_free(struct strmap *m, void (*free_value)(void *value));

/* Removes every entry (as strmap_free) but keeps the map usable. */
void strmap_clear(struct strmap *m, void (*free_value)(void *value));

/* The entry for key, or NULL. */
struct strmap_entry *strmap_find(const struct strmap *m, const char *key);
/* The entry for key, created with a NULL value when absent; NULL when out of memory. */
struct strmap_entry *strmap_put(struct strmap *m, const char *key);
/* Removes key and returns its value (NULL when absent). */
void *strmap_remove(struct strmap *m, const char *key);
/* Calls fn on every entry; fn must not add or remove entries. */
void strmap_each(const struct strmap *m, void (*fn)(struct strmap_entry *e, void *arg), void *arg);

#endif
