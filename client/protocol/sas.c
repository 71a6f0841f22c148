#include "sas.h"

#include "number.h"

#include "base64.h"
#include "percent.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char sas_prefix[] = "SharedAccessSignature ";

void ih_sas_free(struct ih_sas *t)
{
    free(t->sr_raw);
    free(t->se_raw);
    free(t->skn);
    memset(t, 0, sizeof *t);
}

/* `se` is decimal seconds; C# parses it as a double, so a fraction is tolerated and dropped.
 * Up to 18 digits: any time a token may name, and never an overflow when the skew is added. */
#define EXPIRY_MAX 999999999999999999ULL

static ih_result parse_expiry(const char *se, long long *expiry)
{
    uint64_t v = 0;
    if (ih_parse_uint_dropping_fraction(se, EXPIRY_MAX, &v) != IH_OK)
        return IH_ERR_SYNTAX;
    *expiry = (long long)v;
    return IH_OK;
}

static ih_result parse_signature(const char *value, size_t len, struct ih_sas *t)
{
    char *text = NULL;
    size_t text_len = 0;
    ih_result r = ih_pct_decode(value, len, IH_PCT_STRICT, &text, &text_len);
    if (r != IH_OK)
        return r;
    unsigned char *bytes = NULL;
    size_t n = 0;
    r = ih_base64_decode(text, text_len, &bytes, &n);
    free(text);
    if (r != IH_OK)
        return r;
    if (n > sizeof t->sig) {
        free(bytes);
        return IH_ERR_SYNTAX;
    }
    memcpy(t->sig, bytes, n);
    t->sig_len = n;
    free(bytes);
    return IH_OK;
}

struct raw_fields {
    const char *value[4]; /* sr, sig, se, skn */
    size_t len[4];
};

static const char *const field_names[4] = {"sr", "sig", "se", "skn"};

static ih_result split_fields(const char *p, const char *end, struct raw_fields *f,
                              struct ih_diag *diag)
{
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        if (eq == NULL)
            return ih_fail(diag, IH_ERR_SYNTAX, "SAS field without '='");
        for (int i = 0; i < 4; i++) {
            size_t name_len = strlen(field_names[i]);
            if ((size_t)(eq - p) != name_len || strncasecmp(p, field_names[i], name_len) != 0)
                continue;
            if (f->value[i] != NULL)
                return ih_fail(diag, IH_ERR_DUPLICATE, "SAS field %s appears twice",
                               field_names[i]);
            f->value[i] = eq + 1;
            f->len[i] = (size_t)(pair_end - eq - 1);
            if (f->len[i] == 0)
                return ih_fail(diag, IH_ERR_MISSING, "SAS field %s is empty", field_names[i]);
        }
        p = pair_end + (amp != NULL);
    }
    for (int i = 0; i < 3; i++) {
        if (f->value[i] == NULL)
            return ih_fail(diag, IH_ERR_MISSING, "SAS token has no %s= field", field_names[i]);
    }
    return IH_OK;
}

static ih_result fill_token(const struct raw_fields *f, struct ih_sas *t, struct ih_diag *diag)
{
    t->sr_raw = strndup(f->value[0], f->len[0]);
    t->se_raw = strndup(f->value[2], f->len[2]);
    if (t->sr_raw == NULL || t->se_raw == NULL)
        return IH_ERR_NOMEM;
    if (parse_expiry(t->se_raw, &t->expiry) != IH_OK)
        return ih_fail(diag, IH_ERR_SYNTAX, "SAS se= is not a number of seconds");
    ih_result r = parse_signature(f->value[1], f->len[1], t);
    if (r == IH_ERR_NOMEM)
        return r;
    if (r != IH_OK)
        return ih_fail(diag, IH_ERR_SYNTAX, "SAS sig= is not URL-encoded base64");
    if (f->value[3] != NULL &&
        ih_pct_decode(f->value[3], f->len[3], IH_PCT_STRICT, &t->skn, NULL) != IH_OK)
        return ih_fail(diag, IH_ERR_SYNTAX, "SAS skn= is not URL-encoded");
    return IH_OK;
}

ih_result ih_sas_parse(const char *text, size_t len, struct ih_sas *out, struct ih_diag *diag)
{
    memset(out, 0, sizeof *out);
    size_t plen = sizeof sas_prefix - 1;
    if (len > IH_SAS_MAX_LEN)
        return ih_fail(diag, IH_ERR_TOO_LONG, "SAS token longer than %d characters",
                       IH_SAS_MAX_LEN);
    if (memchr(text, '\0', len) != NULL)
        return ih_fail(diag, IH_ERR_SYNTAX, "SAS token contains a NUL byte");
    if (len < plen || strncasecmp(text, sas_prefix, plen) != 0)
        return ih_fail(diag, IH_ERR_SYNTAX,
                       "SAS token does not start with 'SharedAccessSignature '");
    struct raw_fields f = {0};
    ih_result r = split_fields(text + plen, text + len, &f, diag);
    if (r == IH_OK)
        r = fill_token(&f, out, diag);
    if (r != IH_OK)
        ih_sas_free(out);
    return r;
}

/* HMAC-SHA256 over "{sr as sent}\n{se as sent}" (docs/protocol.md rule 15). */
static ih_result compute_mac(const char *sr_raw, const char *se_raw, const char *key,
                             unsigned char mac[EVP_MAX_MD_SIZE], unsigned *mac_len)
{
    unsigned char *key_bytes = NULL;
    size_t key_len = 0;
    if (ih_base64_decode(key, strlen(key), &key_bytes, &key_len) != IH_OK)
        return IH_ERR_KEY;
    size_t sr_len = strlen(sr_raw), se_len = strlen(se_raw);
    ih_result r = IH_ERR_NOMEM;
    char *to_sign = malloc(sr_len + se_len + 2);
    if (to_sign != NULL) {
        memcpy(to_sign, sr_raw, sr_len);
        to_sign[sr_len] = '\n';
        memcpy(to_sign + sr_len + 1, se_raw, se_len + 1);
        r = HMAC(EVP_sha256(), key_bytes, (int)key_len, (const unsigned char *)to_sign,
                 sr_len + 1 + se_len, mac, mac_len) != NULL
                ? IH_OK
                : IH_ERR_KEY;
    }
    OPENSSL_cleanse(key_bytes, key_len);
    free(key_bytes);
    free(to_sign);
    return r;
}

ih_result ih_sas_verify_signature(const struct ih_sas *t, const char *const *keys, size_t nkeys,
                                  int *matched)
{
    for (size_t i = 0; i < nkeys; i++) {
        if (keys[i] == NULL)
            continue;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned mac_len = 0;
        ih_result r = compute_mac(t->sr_raw, t->se_raw, keys[i], mac, &mac_len);
        if (r != IH_OK)
            return r;
        if (mac_len == t->sig_len && CRYPTO_memcmp(mac, t->sig, mac_len) == 0) {
            *matched = (int)i;
            return IH_OK;
        }
    }
    return IH_ERR_SIGNATURE;
}

ih_result ih_sas_check_expiry(const struct ih_sas *t, long long now)
{
    return t->expiry + IH_SAS_CLOCK_SKEW_SECONDS < now ? IH_ERR_EXPIRED : IH_OK;
}

/* sr matches target when equal, or a prefix ending where target has a `/`. */
static int audience_matches(const char *sr, size_t sr_len, const char *target)
{
    while (sr_len > 0 && sr[sr_len - 1] == '/')
        sr_len--;
    size_t target_len = strlen(target);
    if (sr_len == 0 || sr_len > target_len || strncasecmp(sr, target, sr_len) != 0)
        return 0;
    return sr_len == target_len || target[sr_len] == '/';
}

static int any_host_matches(const char *sr, const char *const *hosts, size_t nhosts,
                            const char *path)
{
    for (size_t i = 0; i < nhosts; i++) {
        char target[1024];
        int n = snprintf(target, sizeof target, "%s%s", hosts[i], path);
        if (n > 0 && (size_t)n < sizeof target && audience_matches(sr, strlen(sr), target))
            return 1;
    }
    return 0;
}

ih_result ih_sas_check_audience(const struct ih_sas *t, const char *const *hosts, size_t nhosts,
                                const char *path)
{
    static const unsigned decodings[] = {IH_PCT_STRICT, IH_PCT_PLUS_IS_SPACE};
    if (any_host_matches(t->sr_raw, hosts, nhosts, path))
        return IH_OK;
    for (size_t i = 0; i < sizeof decodings / sizeof decodings[0]; i++) {
        char *sr = NULL;
        ih_result r = ih_pct_decode(t->sr_raw, strlen(t->sr_raw), decodings[i], &sr, NULL);
        if (r == IH_ERR_NOMEM)
            return r;
        int ok = r == IH_OK && any_host_matches(sr, hosts, nhosts, path);
        free(sr);
        if (ok)
            return IH_OK;
    }
    return IH_ERR_AUDIENCE;
}

static ih_result format_token(const char *sr, const char *sig, const char *se, const char *skn,
                              char **out)
{
    size_t n = strlen(sas_prefix) + strlen(sr) + strlen(sig) + strlen(se) + 32 +
               (skn != NULL ? strlen(skn) : 0);
    char *buf = malloc(n);
    if (buf == NULL)
        return IH_ERR_NOMEM;
    snprintf(buf, n, "%ssr=%s&sig=%s&se=%s%s%s", sas_prefix, sr, sig, se,
             skn != NULL ? "&skn=" : "", skn != NULL ? skn : "");
    *out = buf;
    return IH_OK;
}

ih_result ih_sas_create(const char *resource, const char *key, const char *policy, long long expiry,
                        char **out)
{
    char se[24], *sr = NULL, *sig_b64 = NULL, *sig = NULL, *skn = NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    snprintf(se, sizeof se, "%lld", expiry);
    ih_result r = ih_pct_encode(resource, strlen(resource), &sr);
    if (r == IH_OK)
        r = compute_mac(sr, se, key, mac, &mac_len);
    if (r == IH_OK)
        r = ih_base64_encode(mac, mac_len, &sig_b64);
    if (r == IH_OK)
        r = ih_pct_encode(sig_b64, strlen(sig_b64), &sig);
    if (r == IH_OK && policy != NULL)
        r = ih_pct_encode(policy, strlen(policy), &skn);
    if (r == IH_OK)
        r = format_token(sr, sig, se, skn, out);
    free(sr);
    free(sig_b64);
    free(sig);
    free(skn);
    return r;
}

ih_result ih_key_check(const char *key, struct ih_diag *diag)
{
    unsigned char *bytes = NULL;
    size_t n = 0;
    ih_result r = ih_base64_decode(key, strlen(key), &bytes, &n);
    if (r == IH_ERR_NOMEM)
        return r;
    if (r != IH_OK)
        return ih_fail(diag, IH_ERR_KEY, "the key is not valid base64");
    OPENSSL_cleanse(bytes, n);
    free(bytes);
    if (n < IH_KEY_MIN_BYTES || n > IH_KEY_MAX_BYTES)
        return ih_fail(diag, IH_ERR_KEY,
                       "the key decodes to %zu bytes; it must be between %d and %d bytes", n,
                       IH_KEY_MIN_BYTES, IH_KEY_MAX_BYTES);
    return IH_OK;
}
