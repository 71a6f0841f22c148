#include "c2d_topic.h"

#include "percent.h"

#include <stdlib.h>
#include <string.h>

/* A string that grows; a failed append leaves failed set and the text as it was. */
struct text {
    char *s;
    size_t len, cap;
    ih_result failed;
};

static void append(struct text *t, const char *s, size_t n)
{
    if (t->failed != IH_OK)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *grown = realloc(t->s, cap);
        if (grown == NULL) {
            t->failed = IH_ERR_NOMEM;
            return;
        }
        t->s = grown;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void append_encoded(struct text *t, const char *s)
{
    char *encoded = NULL;
    ih_result r = ih_pct_encode(s, strlen(s), &encoded);
    if (r != IH_OK && t->failed == IH_OK)
        t->failed = r;
    else if (r == IH_OK)
        append(t, encoded, strlen(encoded));
    free(encoded);
}

/* `&key=value`, both encoded; wire_key already is ("%24.mid"). Nothing when value is unset. */
static void append_pair(struct text *t, const char *wire_key, const char *name, const char *value)
{
    if (value == NULL || (wire_key != NULL && value[0] == '\0'))
        return;
    if (t->s[t->len - 1] != '/')
        append(t, "&", 1);
    if (wire_key != NULL)
        append(t, wire_key, strlen(wire_key));
    else
        append_encoded(t, name);
    append(t, "=", 1);
    append_encoded(t, value);
}

static void append_system(struct text *t, const char *device_id, const struct ih_c2d_system *sys)
{
    static const char to_prefix[] = "/devices/", to_suffix[] = "/messages/deviceBound";
    char *to = malloc(sizeof to_prefix + strlen(device_id) + sizeof to_suffix);
    if (to == NULL) {
        t->failed = IH_ERR_NOMEM;
        return;
    }
    strcpy(to, to_prefix);
    strcat(to, device_id);
    strcat(to, to_suffix);
    append_pair(t, "%24.mid", NULL, sys->message_id);
    append_pair(t, "%24.to", NULL, to);
    append_pair(t, "%24.cid", NULL, sys->correlation_id);
    append_pair(t, "%24.uid", NULL, sys->user_id);
    append_pair(t, "%24.ct", NULL, sys->content_type);
    append_pair(t, "%24.ce", NULL, sys->content_encoding);
    append_pair(t, "iothub-ack", NULL, sys->ack);
    free(to);
}

ih_result ih_c2d_topic_format(const char *device_id, const struct ih_c2d_system *sys,
                              const struct ih_c2d_pair *props, size_t count, char **out)
{
    static const struct ih_c2d_system none = {0};
    *out = NULL;
    if (device_id == NULL || device_id[0] == '\0')
        return IH_ERR_SYNTAX;
    for (size_t i = 0; i < count; i++) {
        if (props[i].name == NULL || props[i].name[0] == '\0')
            return IH_ERR_SYNTAX;
    }
    struct text t = {NULL, 0, 0, IH_OK};
    append(&t, "devices/", 8);
    append(&t, device_id, strlen(device_id));
    append(&t, "/messages/devicebound/", 22);
    append_system(&t, device_id, sys != NULL ? sys : &none);
    for (size_t i = 0; i < count; i++)
        append_pair(&t, NULL, props[i].name, props[i].value);
    if (t.failed != IH_OK) {
        free(t.s);
        return t.failed;
    }
    *out = t.s;
    return IH_OK;
}
