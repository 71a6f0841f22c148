/* Formatting into a fixed buffer, checked: a result that does not fit is an error the caller
 * sees, never a silently cut URL, path or topic. */
#ifndef IH_FORMAT_H
#define IH_FORMAT_H

#include "result.h"

#include <stddef.h>

/* snprintf into out (cap bytes). IH_OK when the whole result fit with its NUL; IH_ERR_TOO_LONG
 * when it did not (out then holds a cut, NUL-terminated copy) or when formatting failed. */
ih_result ih_format(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a reason into out (cut to fit cap) and returns result: a check that refuses says why
 * in one statement, `return ih_reason(why, len, AUTH_DENIED, "expired at %lld", se);`. */
int ih_reason(char *out, size_t cap, int result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
