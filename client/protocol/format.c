#include "format.h"

#include <stdarg.h>
#include <stdio.h>

int ih_reason(char *out, size_t cap, int result, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return result;
}

ih_result ih_format(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < cap ? IH_OK : IH_ERR_TOO_LONG;
}
