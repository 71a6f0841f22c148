/* Shared access signature tokens (docs/protocol.md §4.1, rule 15):
 *   SharedAccessSignature sr={resource}&sig={signature}&se={expiry}[&skn={policy}]
 * The signature is HMAC-SHA256, keyed with the base64-decoded key, over the `sr` text exactly as it
 * appears in the token, a newline, and `se`. */
#ifndef IH_SAS_H
#define IH_SAS_H

#include "result.h"

#include <stddef.h>

#define IH_SAS_MAX_LEN 4096
/* The hub accepts a token until `se` plus this many seconds (C# MaxClockSkew, docs/protocol.md
 * rule 15). */
#define IH_SAS_CLOCK_SKEW_SECONDS 300
/* Keys are base64 of 16 to 64 bytes (the hub's rule for symmetric keys). */
#define IH_KEY_MIN_BYTES 16
#define IH_KEY_MAX_BYTES 64

struct ih_sas {
    char *sr_raw;     /* as it appears in the token: the signature covers exactly this text */
    char *se_raw;     /* as it appears in the token */
    long long expiry; /* se, in seconds since the Unix epoch */
    unsigned char sig[64];
    size_t sig_len;
    char *skn; /* percent-decoded policy name; NULL for a device or module token */
};

/* Parses a token. Fields come in any order, names match case-insensitively, unknown fields are
 * ignored; sr, sig and se are required. */
ih_result ih_sas_parse(const char *text, size_t len, struct ih_sas *out, struct ih_diag *diag);
void ih_sas_free(struct ih_sas *t);

/* Tries each base64 key in order (the primary, then the secondary) and compares in constant time.
 * IH_OK with *matched set to the key's index, IH_ERR_SIGNATURE when none matches, IH_ERR_KEY when
 * a key is not valid base64. NULL entries in keys are skipped. */
ih_result ih_sas_verify_signature(const struct ih_sas *t, const char *const *keys, size_t nkeys,
                                  int *matched);

/* IH_ERR_EXPIRED when expiry + IH_SAS_CLOCK_SKEW_SECONDS < now. */
ih_result ih_sas_check_expiry(const struct ih_sas *t, long long now);

/* The decoded sr, less a trailing `/`, must equal `host + path` for one of hosts, or be a prefix
 * of it that ends at a `/`, compared case-insensitively. path is "" for the hub,
 * "/devices/{id}" or "/devices/{id}/modules/{module}" with raw (decoded) ids. sr is tried decoded
 * strictly, decoded with `+` as a space (C#'s encoder) and as is (the C SDK does not encode). */
ih_result ih_sas_check_audience(const struct ih_sas *t, const char *const *hosts, size_t nhosts,
                                const char *path);

/* Makes a token for resource (unencoded, e.g. "host/devices/dev1"), encoding sr with upper-case
 * hex like the C# and Node SDKs. policy is NULL for a device token. *out: new string. */
ih_result ih_sas_create(const char *resource, const char *key, const char *policy, long long expiry,
                        char **out);

/* Checks that key is base64 of IH_KEY_MIN_BYTES to IH_KEY_MAX_BYTES bytes. */
ih_result ih_key_check(const char *key, struct ih_diag *diag);

#endif
