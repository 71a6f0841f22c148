#include "base64.h"

#include <openssl/evp.h>

#include <limits.h>
#include <stdlib.h>

/* EVP_EncodeBlock and EVP_DecodeBlock take int lengths; nothing the emulator encodes comes near. */
#define BASE64_MAX_INPUT (1u << 20)

static int is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

ih_result ih_base64_encode(const unsigned char *in, size_t len, char **out)
{
    if (len > BASE64_MAX_INPUT)
        return IH_ERR_TOO_LONG;
    char *buf = malloc((len + 2) / 3 * 4 + 1);
    if (buf == NULL)
        return IH_ERR_NOMEM;
    EVP_EncodeBlock((unsigned char *)buf, in, (int)len);
    *out = buf;
    return IH_OK;
}

/* Counts the trailing `=` and checks every other character, so EVP_DecodeBlock (which skips
 * whitespace and never reports padding) only ever sees canonical input. */
static ih_result check_alphabet(const char *in, size_t len, size_t *padding)
{
    if (len == 0 || len % 4 != 0)
        return IH_ERR_SYNTAX;
    size_t pad = 0;
    if (in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++) {
        if (!is_base64_char(in[i]))
            return IH_ERR_SYNTAX;
    }
    *padding = pad;
    return IH_OK;
}

ih_result ih_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
    if (len > BASE64_MAX_INPUT)
        return IH_ERR_TOO_LONG;
    size_t pad = 0;
    ih_result r = check_alphabet(in, len, &pad);
    if (r != IH_OK)
        return r;
    unsigned char *buf = malloc(len / 4 * 3 + 1);
    if (buf == NULL)
        return IH_ERR_NOMEM;
    int n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n < pad) {
        free(buf);
        return IH_ERR_SYNTAX;
    }
    *out = buf;
    *out_len = (size_t)n - pad;
    return IH_OK;
}
