#include "c2d_bag.h"

#include "percent.h"

#include <stdlib.h>
#include <string.h>

/* MQTT's bound on a topic name (a two-byte length). */
#define TOPIC_MAX_LEN 65535

/* A slice of the topic being parsed. */
struct span {
    const char *p;
    size_t len;
};

/* Consumes lit from the front of *rest when it is there. */
static int take_literal(struct span *rest, const char *lit)
{
    size_t n = strlen(lit);
    if (rest->len < n || memcmp(rest->p, lit, n) != 0)
        return 0;
    rest->p += n;
    rest->len -= n;
    return 1;
}

/* Finds the device id and the bag; allocates nothing. */
static ih_result read_shape(const char *topic, size_t len, struct span *device, struct span *bag,
                            struct ih_diag *diag)
{
    if (len > TOPIC_MAX_LEN)
        return ih_fail(diag, IH_ERR_TOO_LONG, "the topic is longer than %d bytes, MQTT's limit",
                       TOPIC_MAX_LEN);
    if (memchr(topic, '\0', len) != NULL)
        return ih_fail(diag, IH_ERR_SYNTAX, "the topic holds a NUL byte");
    struct span rest = {topic, len};
    if (!take_literal(&rest, IH_C2D_BAG_PREFIX))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "a cloud-to-device topic starts with " IH_C2D_BAG_PREFIX);
    const char *slash = memchr(rest.p, '/', rest.len);
    if (slash == NULL || slash == rest.p)
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "a cloud-to-device topic is devices/{device id}/" IH_C2D_BAG_LEVELS
                       "/: the device id is empty or not followed by '/'");
    *device = (struct span){rest.p, (size_t)(slash - rest.p)};
    rest.len -= device->len + 1;
    rest.p = slash + 1;
    if (!take_literal(&rest, IH_C2D_BAG_LEVELS) || (rest.len > 0 && rest.p[0] != '/'))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "the topic does not go on with " IH_C2D_BAG_LEVELS "/ after the device id");
    if (rest.len > 0) {
        rest.p++;
        rest.len--;
    }
    if (rest.len > 0 && rest.p[rest.len - 1] == '/')
        rest.len--;
    *bag = rest;
    return IH_OK;
}

/* The next `&`-separated item of *rest (possibly empty), consumed with its `&`. */
static struct span next_item(struct span *rest)
{
    const char *amp = memchr(rest->p, '&', rest->len);
    struct span item = {rest->p, (size_t)((amp != NULL ? amp : rest->p + rest->len) - rest->p)};
    rest->p += item.len;
    rest->len -= item.len;
    if (amp != NULL) {
        rest->p++;
        rest->len--;
    }
    return item;
}

/* Whether an item is a pair: it has a `=` after a non-empty key. */
static int is_pair(struct span item)
{
    const char *eq = memchr(item.p, '=', item.len);
    return eq != NULL && eq != item.p;
}

static size_t count_pairs(struct span bag)
{
    size_t count = 0;
    while (bag.len > 0) {
        if (is_pair(next_item(&bag)))
            count++;
    }
    return count;
}

static ih_result read_pair(struct span item, struct ih_c2d_bag_pair *pair)
{
    const char *eq = memchr(item.p, '=', item.len);
    struct span key = {item.p, (size_t)(eq - item.p)};
    ih_result r = ih_pct_decode_lenient(key.p, key.len, &pair->name);
    if (r == IH_OK)
        r = ih_pct_decode_lenient(eq + 1, item.len - key.len - 1, &pair->value);
    return r;
}

static ih_result read_bag(struct span bag, struct ih_c2d_bag *out, struct ih_diag *diag)
{
    size_t count = count_pairs(bag);
    if (count > IH_C2D_BAG_MAX_PAIRS)
        return ih_fail(diag, IH_ERR_TOO_LONG, "the property bag holds %zu pairs, more than %d",
                       count, IH_C2D_BAG_MAX_PAIRS);
    if (count == 0)
        return IH_OK;
    out->pairs = calloc(count, sizeof *out->pairs);
    if (out->pairs == NULL)
        return IH_ERR_NOMEM;
    out->count = count;
    ih_result r = IH_OK;
    for (size_t i = 0; i < count && r == IH_OK;) {
        struct span item = next_item(&bag);
        if (is_pair(item))
            r = read_pair(item, &out->pairs[i++]);
    }
    return r;
}

ih_result ih_c2d_bag_parse(const char *topic, size_t len, struct ih_c2d_bag *out,
                           struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    struct span device = {NULL, 0}, bag = {NULL, 0};
    ih_result r = read_shape(topic, len, &device, &bag, diag);
    if (r == IH_OK) {
        out->device_id = strndup(device.p, device.len);
        r = out->device_id != NULL ? IH_OK : IH_ERR_NOMEM;
    }
    if (r == IH_OK)
        r = read_bag(bag, out, diag);
    if (r != IH_OK)
        ih_c2d_bag_free(out);
    return r;
}

void ih_c2d_bag_free(struct ih_c2d_bag *bag)
{
    for (size_t i = 0; i < bag->count; i++) {
        free(bag->pairs[i].name);
        free(bag->pairs[i].value);
    }
    free(bag->pairs);
    free(bag->device_id);
    memset(bag, 0, sizeof *bag);
}

const char *ih_c2d_bag_get(const struct ih_c2d_bag *bag, const char *name)
{
    for (size_t i = 0; i < bag->count; i++) {
        if (strcmp(bag->pairs[i].name, name) == 0)
            return bag->pairs[i].value;
    }
    return NULL;
}
