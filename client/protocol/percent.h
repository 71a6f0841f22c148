/* Percent-encoding (RFC 3986) as IoT Hub's clients use it. */
#ifndef IH_PERCENT_H
#define IH_PERCENT_H

#include "result.h"

#include <stddef.h>

enum ih_pct_flags {
    IH_PCT_STRICT = 0,
    /* Decode `+` as a space: C#'s WebUtility.UrlEncode encodes a space in a device id as `+`
     * (docs/protocol.md rule 1). */
    IH_PCT_PLUS_IS_SPACE = 1,
};

/* Encodes every byte outside A-Z a-z 0-9 - . _ as %XX with upper-case hex, so the result holds no
 * `/ : ? & = % + ~` (docs/protocol.md rule 8 needs this for `$url`, and the C SDK's decoder takes
 * only those raw characters). *out is a new NUL-terminated string the caller frees. */
ih_result ih_pct_encode(const char *in, size_t len, char **out);

/* Decodes %XX (either hex case). A `%` not followed by two hex digits, or a decoded NUL byte, is
 * IH_ERR_SYNTAX. *out is a new NUL-terminated string (length in *out_len when it is not NULL). */
ih_result ih_pct_decode(const char *in, size_t len, unsigned flags, char **out, size_t *out_len);

/* Decodes leniently, as IoT Hub reads property bags (docs/protocol.md rules D10, D13): %XX in
 * either hex case; a `%` without two hex digits after it, or one that would decode to NUL, is
 * kept as it is; `+` is kept. An input without NUL gives a result without NUL. *out is a new
 * NUL-terminated string. */
ih_result ih_pct_decode_lenient(const char *in, size_t len, char **out);

/* The value of one hexadecimal digit (either case), or -1. */
int ih_hex_value(char c);

#endif
