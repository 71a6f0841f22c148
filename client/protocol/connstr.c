#include "connstr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct field {
    const char *name;
    size_t offset;
};

#define FIELD(name, member)                                                                        \
    {                                                                                              \
        name, offsetof(struct ih_connstr, member)                                                  \
    }

/* In the order ih_connstr_format prints them. */
static const struct field fields[] = {
    FIELD("HostName", host_name),
    FIELD("DeviceId", device_id),
    FIELD("ModuleId", module_id),
    FIELD("SharedAccessKeyName", shared_access_key_name),
    FIELD("SharedAccessKey", shared_access_key),
    FIELD("SharedAccessSignature", shared_access_signature),
    FIELD("GatewayHostName", gateway_host_name),
};
#define FIELD_COUNT (sizeof fields / sizeof fields[0])

static char **field_slot(struct ih_connstr *cs, const struct field *f)
{
    return (char **)((char *)cs + f->offset);
}

static char *const *field_slot_const(const struct ih_connstr *cs, const struct field *f)
{
    return (char *const *)((const char *)cs + f->offset);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Narrows [*start, *end) past blanks on both sides. */
static void trim(const char **start, const char **end)
{
    while (*start < *end && is_blank(**start))
        (*start)++;
    while (*end > *start && is_blank((*end)[-1]))
        (*end)--;
}

static const struct field *find_field(const char *key, size_t key_len)
{
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        if (strlen(fields[i].name) == key_len && strncasecmp(fields[i].name, key, key_len) == 0)
            return &fields[i];
    }
    return NULL;
}

/* Stores one `Key=Value` pair found in [pair, end). */
static ih_result parse_pair(const char *pair, const char *end, struct ih_connstr *cs,
                            struct ih_diag *diag)
{
    const char *eq = memchr(pair, '=', (size_t)(end - pair));
    if (eq == NULL)
        return ih_fail(diag, IH_ERR_SYNTAX, "'%.*s' is not of the form Key=Value",
                       (int)(end - pair > 40 ? 40 : end - pair), pair);
    const char *key = pair, *key_end = eq, *value = eq + 1, *value_end = end;
    trim(&key, &key_end);
    trim(&value, &value_end);
    const struct field *f = find_field(key, (size_t)(key_end - key));
    if (f == NULL)
        return IH_OK;
    char **slot = field_slot(cs, f);
    if (*slot != NULL)
        return ih_fail(diag, IH_ERR_DUPLICATE, "%s= appears twice", f->name);
    if (value == value_end)
        return ih_fail(diag, IH_ERR_MISSING, "%s= has an empty value", f->name);
    *slot = strndup(value, (size_t)(value_end - value));
    return *slot == NULL ? IH_ERR_NOMEM : IH_OK;
}

ih_result ih_connstr_parse(const char *text, size_t len, struct ih_connstr *out,
                           struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    if (len > IH_CONNSTR_MAX_LEN)
        return ih_fail(diag, IH_ERR_TOO_LONG, "connection string longer than %d characters",
                       IH_CONNSTR_MAX_LEN);
    if (memchr(text, '\0', len) != NULL)
        return ih_fail(diag, IH_ERR_SYNTAX, "connection string contains a NUL byte");
    const char *p = text, *end = text + len;
    ih_result r = IH_OK;
    while (p < end && r == IH_OK) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pair_end = semi != NULL ? semi : end;
        const char *a = p, *b = pair_end;
        trim(&a, &b);
        if (a < b)
            r = parse_pair(a, b, out, diag);
        p = pair_end + (semi != NULL);
    }
    if (r != IH_OK)
        ih_connstr_free(out);
    return r;
}

static ih_result classify_device(const struct ih_connstr *cs, enum ih_connstr_kind *kind,
                                 struct ih_diag *diag)
{
    if (cs->shared_access_key != NULL && cs->shared_access_signature != NULL)
        return ih_fail(diag, IH_ERR_DUPLICATE,
                       "give either SharedAccessKey= or SharedAccessSignature=, not both");
    if (cs->shared_access_key == NULL && cs->shared_access_signature == NULL)
        return ih_fail(diag, IH_ERR_MISSING,
                       "a device connection string needs SharedAccessKey= or "
                       "SharedAccessSignature=");
    *kind = cs->module_id != NULL ? IH_CONNSTR_MODULE : IH_CONNSTR_DEVICE;
    return IH_OK;
}

ih_result ih_connstr_classify(const struct ih_connstr *cs, enum ih_connstr_kind *kind,
                              struct ih_diag *diag)
{
    if (cs->host_name == NULL)
        return ih_fail(diag, IH_ERR_MISSING, "missing HostName=");
    if (cs->device_id != NULL)
        return classify_device(cs, kind, diag);
    if (cs->module_id != NULL)
        return ih_fail(diag, IH_ERR_MISSING, "ModuleId= needs DeviceId=");
    if (cs->shared_access_key_name == NULL)
        return ih_fail(diag, IH_ERR_MISSING,
                       "missing DeviceId= (device connection string) or SharedAccessKeyName= "
                       "(service connection string)");
    if (cs->shared_access_key == NULL)
        return ih_fail(diag, IH_ERR_MISSING, "a service connection string needs SharedAccessKey=");
    *kind = IH_CONNSTR_SERVICE;
    return IH_OK;
}

ih_result ih_connstr_format(const struct ih_connstr *cs, char **out)
{
    size_t total = 1;
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        const char *v = *field_slot_const(cs, &fields[i]);
        if (v == NULL)
            continue;
        if (strchr(v, ';') != NULL)
            return IH_ERR_SYNTAX;
        total += strlen(fields[i].name) + strlen(v) + 2;
    }
    char *buf = malloc(total);
    if (buf == NULL)
        return IH_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        const char *v = *field_slot_const(cs, &fields[i]);
        if (v != NULL)
            n += (size_t)snprintf(buf + n, total - n, "%s%s=%s", n > 0 ? ";" : "", fields[i].name,
                                  v);
    }
    buf[n] = '\0';
    *out = buf;
    return IH_OK;
}

void ih_connstr_free(struct ih_connstr *cs)
{
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        char **slot = field_slot(cs, &fields[i]);
        free(*slot);
        *slot = NULL;
    }
}
