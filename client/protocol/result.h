/* Result codes and diagnostics shared by every module of the protocol library.
 *
 * Every function of the library returns an ih_result and callers check it. Parsers also fill
 * an optional struct ih_diag with a sentence a person can act on ("missing HostName=..."). */
#ifndef IH_RESULT_H
#define IH_RESULT_H

#include <stdarg.h>
#include <stddef.h>

typedef enum ih_result {
    IH_OK = 0,
    IH_ERR_NOMEM,     /* allocation failed */
    IH_ERR_SYNTAX,    /* the input does not follow the grammar */
    IH_ERR_MISSING,   /* a required field is absent or empty */
    IH_ERR_DUPLICATE, /* a field appears twice */
    IH_ERR_TOO_LONG,  /* the input or one of its fields is longer than its bound */
    IH_ERR_EXPIRED,   /* a SAS token is past its expiry plus the allowed skew */
    IH_ERR_AUDIENCE,  /* a SAS token was not made for this resource */
    IH_ERR_SIGNATURE, /* a SAS signature does not match any key */
    IH_ERR_KEY,       /* a key is not valid base64 */
    IH_ERR_RANGE,     /* a number is outside its bounds */
} ih_result;

/* The reason behind a failure, in words. Optional everywhere: pass NULL to skip it. */
struct ih_diag {
    char msg[200];
};

/* Short stable name of a result ("syntax", "expired"...), for logs. */
const char *ih_result_name(ih_result r);

/* Writes a formatted reason into diag when diag is not NULL. Returns r, so parsers can write
 * `return ih_fail(diag, IH_ERR_MISSING, "missing %s", key);`. */
ih_result ih_fail(struct ih_diag *diag, ih_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ih_fail with a va_list, for functions that wrap it. */
ih_result ih_vfail(struct ih_diag *diag, ih_result r, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
