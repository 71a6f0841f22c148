#include "registry_twins.h"

#include "registry_store.h"

#include <stdlib.h>
#include <string.h>

/* Callers hold the lock. *doc: a new string, or NULL when there is no row. */
static enum registry_result read_document(struct registry *reg, const char *device_id,
                                          const char *module_id, char **doc)
{
    sqlite3_stmt *st = NULL;
    *doc = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "SELECT document FROM twins WHERE device_id = ?1 AND module_id = ?2", -1,
                           &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "reading a twin");
    sqlite3_bind_text(st, 1, device_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, module_id != NULL ? module_id : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum registry_result r = REGISTRY_OK;
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        if (text != NULL && (*doc = strdup(text)) == NULL)
            r = REGISTRY_ERR;
    } else if (rc != SQLITE_DONE) {
        r = registry_sql_failed(reg, "reading a twin");
    }
    sqlite3_finalize(st);
    return r;
}

enum registry_result registry_twin_get(struct registry *reg, const char *device_id,
                                       const char *module_id, struct device *dev, char **doc)
{
    struct device found;
    registry_lock(reg);
    enum registry_result r = registry_get_locked(reg, device_id, dev != NULL ? dev : &found);
    if (r == REGISTRY_OK)
        r = read_document(reg, device_id, module_id, doc);
    registry_unlock(reg);
    return r;
}

struct update_args {
    const char *device_id, *module_id;
    registry_twin_change change;
    void *ctx;
};

static enum registry_result write_document(struct registry *reg, const struct update_args *a,
                                           const char *doc)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(reg->db,
                           "INSERT INTO twins (device_id, module_id, document) VALUES (?1, ?2, ?3) "
                           "ON CONFLICT (device_id, module_id) DO UPDATE SET document = ?3",
                           -1, &st, NULL) != SQLITE_OK)
        return registry_sql_failed(reg, "preparing a twin write");
    sqlite3_bind_text(st, 1, a->device_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->module_id != NULL ? a->module_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, doc, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? REGISTRY_OK : registry_sql_failed(reg, "writing a twin");
}

static enum registry_result update_body(struct registry *reg, void *arg)
{
    struct update_args *a = arg;
    struct device dev;
    char *current = NULL, *next = NULL;
    enum registry_result r = registry_get_locked(reg, a->device_id, &dev);
    if (r == REGISTRY_OK)
        r = read_document(reg, a->device_id, a->module_id, &current);
    if (r == REGISTRY_OK && a->change(a->ctx, &dev, current, &next) && next != NULL)
        r = write_document(reg, a, next);
    free(current);
    free(next);
    return r;
}

enum registry_result registry_twin_update(struct registry *reg, const char *device_id,
                                          const char *module_id, registry_twin_change change,
                                          void *ctx)
{
    struct update_args a = {device_id, module_id, change, ctx};
    registry_lock(reg);
    enum registry_result r = registry_in_transaction(reg, update_body, &a);
    registry_unlock(reg);
    return r;
}
