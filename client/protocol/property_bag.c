#include "property_bag.h"

#include "percent.h"

#include <string.h>

ih_result ih_bag_topic_check(const char *topic, size_t len, struct ih_diag *diag)
{
    if (len > IH_BAG_TOPIC_MAX_LEN)
        return ih_fail(diag, IH_ERR_TOO_LONG, "the topic is longer than %d bytes, MQTT's limit",
                       IH_BAG_TOPIC_MAX_LEN);
    if (memchr(topic, '\0', len) != NULL)
        return ih_fail(diag, IH_ERR_SYNTAX, "the topic holds a NUL byte");
    return IH_OK;
}

int ih_span_take_literal(struct ih_span *rest, const char *lit)
{
    size_t n = strlen(lit);
    if (rest->len < n || memcmp(rest->p, lit, n) != 0)
        return 0;
    rest->p += n;
    rest->len -= n;
    return 1;
}

int ih_span_take_level(struct ih_span *rest, struct ih_span *level)
{
    const char *slash = memchr(rest->p, '/', rest->len);
    if (slash == NULL || slash == rest->p)
        return 0;
    *level = (struct ih_span){rest->p, (size_t)(slash - rest->p)};
    rest->len -= level->len + 1;
    rest->p = slash + 1;
    return 1;
}

struct ih_span ih_bag_of_rest(struct ih_span rest)
{
    if (rest.len > 0) {
        rest.p++;
        rest.len--;
    }
    if (rest.len > 0 && rest.p[rest.len - 1] == '/')
        rest.len--;
    return rest;
}

struct ih_span ih_bag_next_item(struct ih_span *rest)
{
    const char *amp = memchr(rest->p, '&', rest->len);
    struct ih_span item = {rest->p, (size_t)((amp != NULL ? amp : rest->p + rest->len) - rest->p)};
    rest->p += item.len;
    rest->len -= item.len;
    if (amp != NULL) {
        rest->p++;
        rest->len--;
    }
    return item;
}

size_t ih_bag_count(struct ih_span bag, int (*keep)(struct ih_span item))
{
    size_t count = 0;
    while (bag.len > 0) {
        if (keep(ih_bag_next_item(&bag)))
            count++;
    }
    return count;
}

ih_result ih_bag_decode_item(struct ih_span item, char **name, char **value)
{
    const char *eq = memchr(item.p, '=', item.len);
    size_t key_len = eq != NULL ? (size_t)(eq - item.p) : item.len;
    *value = NULL;
    ih_result r = ih_pct_decode_lenient(item.p, key_len, name);
    if (r == IH_OK && eq != NULL)
        r = ih_pct_decode_lenient(eq + 1, item.len - key_len - 1, value);
    return r;
}
