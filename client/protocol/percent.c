#include "percent.h"

#include <stdint.h>
#include <stdlib.h>

/* RFC 3986's unreserved set less `~`: the C SDK's URL decoder refuses a raw `~`
 * (azure-c-shared-utility urlencode.c), and encoding it is always allowed. */
static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

int ih_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ih_result ih_pct_encode(const char *in, size_t len, char **out)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len > (SIZE_MAX - 1) / 3)
        return IH_ERR_TOO_LONG;
    char *buf = malloc(len * 3 + 1);
    if (buf == NULL)
        return IH_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_unreserved(c)) {
            buf[n++] = (char)c;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[c >> 4];
            buf[n++] = hex[c & 0x0f];
        }
    }
    buf[n] = '\0';
    *out = buf;
    return IH_OK;
}

ih_result ih_pct_decode(const char *in, size_t len, unsigned flags, char **out, size_t *out_len)
{
    if (len == SIZE_MAX)
        return IH_ERR_TOO_LONG;
    char *buf = malloc(len + 1);
    if (buf == NULL)
        return IH_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (len - i < 3 || ih_hex_value(in[i + 1]) < 0 || ih_hex_value(in[i + 2]) < 0)
                goto syntax;
            c = (unsigned char)(ih_hex_value(in[i + 1]) * 16 + ih_hex_value(in[i + 2]));
            if (c == 0)
                goto syntax;
            i += 2;
        } else if (c == '+' && (flags & IH_PCT_PLUS_IS_SPACE)) {
            c = ' ';
        } else if (c == 0) {
            goto syntax;
        }
        buf[n++] = (char)c;
    }
    buf[n] = '\0';
    *out = buf;
    if (out_len != NULL)
        *out_len = n;
    return IH_OK;
syntax:
    free(buf);
    return IH_ERR_SYNTAX;
}

ih_result ih_pct_decode_lenient(const char *in, size_t len, char **out)
{
    char *buf = malloc(len + 1);
    if (buf == NULL)
        return IH_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%' && len - i >= 3 && ih_hex_value(in[i + 1]) >= 0 &&
            ih_hex_value(in[i + 2]) >= 0) {
            char decoded = (char)(ih_hex_value(in[i + 1]) * 16 + ih_hex_value(in[i + 2]));
            if (decoded != '\0') {
                c = decoded;
                i += 2;
            }
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    *out = buf;
    return IH_OK;
}
