#include "c2d_bag.h"

#include "property_bag.h"

#include <stdlib.h>
#include <string.h>

/* Finds the device id and the bag; allocates nothing. */
static ih_result read_shape(const char *topic, size_t len, struct ih_span *device,
                            struct ih_span *bag, struct ih_diag *diag)
{
    ih_result r = ih_bag_topic_check(topic, len, diag);
    if (r != IH_OK)
        return r;
    struct ih_span rest = {topic, len};
    if (!ih_span_take_literal(&rest, IH_C2D_BAG_PREFIX))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "a cloud-to-device topic starts with " IH_C2D_BAG_PREFIX);
    if (!ih_span_take_level(&rest, device))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "a cloud-to-device topic is devices/{device id}/" IH_C2D_BAG_LEVELS
                       "/: the device id is empty or not followed by '/'");
    if (!ih_span_take_literal(&rest, IH_C2D_BAG_LEVELS) || (rest.len > 0 && rest.p[0] != '/'))
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "the topic does not go on with " IH_C2D_BAG_LEVELS "/ after the device id");
    *bag = ih_bag_of_rest(rest);
    return IH_OK;
}

/* Whether an item is a pair: it has a `=` after a non-empty key. */
static int is_pair(struct ih_span item)
{
    const char *eq = memchr(item.p, '=', item.len);
    return eq != NULL && eq != item.p;
}

static ih_result read_bag(struct ih_span bag, struct ih_c2d_bag *out, struct ih_diag *diag)
{
    size_t count = ih_bag_count(bag, is_pair);
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
        struct ih_span item = ih_bag_next_item(&bag);
        if (is_pair(item)) {
            r = ih_bag_decode_item(item, &out->pairs[i].name, &out->pairs[i].value);
            i++;
        }
    }
    return r;
}

ih_result ih_c2d_bag_parse(const char *topic, size_t len, struct ih_c2d_bag *out,
                           struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    struct ih_span device = {NULL, 0}, bag = {NULL, 0};
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
