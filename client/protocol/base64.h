/* Standard base64 (RFC 4648 §4, with padding), as SAS keys and signatures use it. */
#ifndef IH_BASE64_H
#define IH_BASE64_H

#include "result.h"

#include <stddef.h>

/* *out is a new NUL-terminated string the caller frees. */
ih_result ih_base64_encode(const unsigned char *in, size_t len, char **out);

/* Strict: the length must be a multiple of 4, only the standard alphabet, `=` only as the last one
 * or two characters, no whitespace. *out (caller frees) holds *out_len bytes. */
ih_result ih_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);

#endif
