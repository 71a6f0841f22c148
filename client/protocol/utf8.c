#include "utf8.h"

/* Length of the sequence that starts with lead byte c, and the smallest code point it may encode,
 * or 0 for a byte that cannot start a sequence. */
static int sequence_length(unsigned char c, unsigned *min)
{
    if (c < 0x80) {
        *min = 0;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        *min = 0x80;
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        *min = 0x800;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        *min = 0x10000;
        return 4;
    }
    return 0;
}

int ih_utf8_is_printable(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned min = 0;
        int n = sequence_length(*p, &min);
        if (n == 0 || end - p < n)
            return 0;
        if (n == 1 && (*p < 0x20 || *p == 0x7f))
            return 0;
        unsigned cp = n == 1 ? *p : (unsigned)(*p & (0x7f >> n));
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += n;
    }
    return 1;
}

size_t ih_utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}
