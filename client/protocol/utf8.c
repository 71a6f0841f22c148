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

void ih_utf8_stream_init(struct ih_utf8_stream *s)
{
    *s = (struct ih_utf8_stream){0, 0x80, 0xbf};
}

/* A lead byte: how many continuation bytes follow, and the range of the first one, which keeps
 * out overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4). */
static int start_sequence(struct ih_utf8_stream *s, unsigned char c)
{
    s->lower = 0x80;
    s->upper = 0xbf;
    if (c < 0x80)
        s->need = 0;
    else if (c >= 0xc2 && c <= 0xdf)
        s->need = 1;
    else if (c >= 0xe0 && c <= 0xef)
        s->need = 2;
    else if (c >= 0xf0 && c <= 0xf4)
        s->need = 3;
    else
        return -1;
    if (c == 0xe0)
        s->lower = 0xa0;
    else if (c == 0xed)
        s->upper = 0x9f;
    else if (c == 0xf0)
        s->lower = 0x90;
    else if (c == 0xf4)
        s->upper = 0x8f;
    return 0;
}

int ih_utf8_stream_feed(struct ih_utf8_stream *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        if (s->need == 0) {
            if (start_sequence(s, p[i]) != 0)
                return -1;
            continue;
        }
        if (p[i] < s->lower || p[i] > s->upper)
            return -1;
        s->need--;
        s->lower = 0x80;
        s->upper = 0xbf;
    }
    return 0;
}

int ih_utf8_stream_end(const struct ih_utf8_stream *s)
{
    return s->need == 0 ? 0 : -1;
}
