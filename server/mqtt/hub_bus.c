#include "hub_bus.h"

#include "protocol/number.h"
#include "protocol/percent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kind_prefix {
    enum hub_bus_kind kind;
    const char *prefix;
    int has_inner;
};

static const struct kind_prefix prefixes[] = {
    {HUB_BUS_TO, "$hub/to/", 1},
    {HUB_BUS_KICK, "$hub/kick/", 0},
    {HUB_BUS_SYNC, "$hub/sync", 0},
    {HUB_BUS_FROM, "$hub/from/", 1},
    {HUB_BUS_CONNECTED, "$hub/evt/connected/", 0},
    {HUB_BUS_LISTENS, "$hub/evt/listens/", 0},
    {HUB_BUS_DISCONNECTED, "$hub/evt/disconnected/", 0},
    {HUB_BUS_REFUSED, "$hub/evt/refused/", 0},
};
#define PREFIX_COUNT (sizeof prefixes / sizeof prefixes[0])

static const struct kind_prefix *prefix_of(enum hub_bus_kind kind)
{
    for (size_t i = 0; i < PREFIX_COUNT; i++) {
        if (prefixes[i].kind == kind)
            return &prefixes[i];
    }
    return NULL;
}

ih_result hub_bus_format(enum hub_bus_kind kind, const char *cid, const char *inner, char **out)
{
    const struct kind_prefix *p = prefix_of(kind);
    if (p == NULL || (kind == HUB_BUS_SYNC) != (cid == NULL) || (p->has_inner != (inner != NULL)) ||
        (cid != NULL && cid[0] == '\0') || (inner != NULL && inner[0] == '\0'))
        return IH_ERR_SYNTAX;
    if (kind == HUB_BUS_SYNC)
        return (*out = strdup(p->prefix)) != NULL ? IH_OK : IH_ERR_NOMEM;
    char *encoded = NULL;
    ih_result r = ih_pct_encode(cid, strlen(cid), &encoded);
    if (r != IH_OK)
        return r;
    if (asprintf(out, "%s%s%s%s", p->prefix, encoded, inner != NULL ? "/" : "",
                 inner != NULL ? inner : "") < 0)
        r = IH_ERR_NOMEM;
    free(encoded);
    return r;
}

/* The encoded id runs to the next '/' (TO, FROM) or to the end (events). */
static ih_result parse_id(const char *rest, int has_inner, struct hub_bus_topic *out)
{
    const char *slash = has_inner ? strchr(rest, '/') : NULL;
    if (has_inner && (slash == NULL || slash[1] == '\0'))
        return IH_ERR_SYNTAX;
    size_t len = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
    if (len == 0 || (!has_inner && memchr(rest, '/', len) != NULL))
        return IH_ERR_SYNTAX;
    ih_result r = ih_pct_decode(rest, len, IH_PCT_STRICT, &out->cid, NULL);
    if (r == IH_OK && slash != NULL)
        out->inner = slash + 1;
    return r;
}

ih_result hub_bus_parse(const char *topic, struct hub_bus_topic *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < PREFIX_COUNT; i++) {
        const struct kind_prefix *p = &prefixes[i];
        size_t plen = strlen(p->prefix);
        if (strncmp(topic, p->prefix, plen) != 0)
            continue;
        out->kind = p->kind;
        if (p->kind == HUB_BUS_SYNC)
            return topic[plen] == '\0' ? IH_OK : IH_ERR_SYNTAX;
        return parse_id(topic + plen, p->has_inner, out);
    }
    return IH_ERR_SYNTAX;
}

void hub_bus_topic_free(struct hub_bus_topic *t)
{
    free(t->cid);
    memset(t, 0, sizeof *t);
}

void hub_bus_listens_text(unsigned listens, char out[HUB_LISTENS_TEXT_SIZE])
{
    snprintf(out, HUB_LISTENS_TEXT_SIZE, "%u", listens);
}

unsigned hub_bus_listens_parse(const char *payload)
{
    uint64_t v = 0;
    return payload != NULL && ih_parse_uint(payload, 0xffff, &v) == IH_OK ? (unsigned)v : 0;
}
