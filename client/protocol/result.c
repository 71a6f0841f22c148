#include "result.h"

#include <stdarg.h>
#include <stdio.h>

const char *ih_result_name(ih_result r)
{
    switch (r) {
    case IH_OK:
        return "ok";
    case IH_ERR_NOMEM:
        return "out of memory";
    case IH_ERR_SYNTAX:
        return "syntax";
    case IH_ERR_MISSING:
        return "missing";
    case IH_ERR_DUPLICATE:
        return "duplicate";
    case IH_ERR_TOO_LONG:
        return "too long";
    case IH_ERR_EXPIRED:
        return "expired";
    case IH_ERR_AUDIENCE:
        return "wrong audience";
    case IH_ERR_SIGNATURE:
        return "bad signature";
    case IH_ERR_KEY:
        return "bad key";
    case IH_ERR_RANGE:
        return "out of range";
    }
    return "unknown";
}

ih_result ih_vfail(struct ih_diag *diag, ih_result r, const char *fmt, va_list ap)
{
    if (diag != NULL)
        vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
    return r;
}

ih_result ih_fail(struct ih_diag *diag, ih_result r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ih_vfail(diag, r, fmt, ap);
    va_end(ap);
    return r;
}
