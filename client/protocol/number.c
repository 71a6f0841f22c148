#include "number.h"

#include <string.h>

ih_result ih_parse_uint_n(const char *text, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0)
        return IH_ERR_SYNTAX;
    uint64_t v = 0;
    ih_result r = IH_OK;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return IH_ERR_SYNTAX;
        unsigned digit = (unsigned)(text[i] - '0');
        /* Past max already: the rest is only checked to be digits. */
        if (r == IH_OK && (digit > max || v > (max - digit) / 10))
            r = IH_ERR_RANGE;
        else if (r == IH_OK)
            v = v * 10 + digit;
    }
    if (r == IH_OK)
        *out = v;
    return r;
}

ih_result ih_parse_uint(const char *text, uint64_t max, uint64_t *out)
{
    return ih_parse_uint_n(text, strlen(text), max, out);
}

ih_result ih_parse_uint_dropping_fraction(const char *text, uint64_t max, uint64_t *out)
{
    size_t whole = strspn(text, "0123456789");
    if (text[whole] == '.') {
        const char *fraction = text + whole + 1;
        if (fraction[strspn(fraction, "0123456789")] != '\0')
            return IH_ERR_SYNTAX;
    } else if (text[whole] != '\0') {
        return IH_ERR_SYNTAX;
    }
    return ih_parse_uint_n(text, whole, max, out);
}
