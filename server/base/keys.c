#include "keys.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <string.h>

int keys_generate(char out[KEY_TEXT_SIZE])
{
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, bytes, sizeof bytes);
    return 0;
}

int keys_generate_if_empty(char key[KEY_TEXT_SIZE])
{
    return key[0] == '\0' ? keys_generate(key) : 0;
}

void keys_well_known(const char *label, char out[KEY_TEXT_SIZE])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)label, strlen(label), digest);
    EVP_EncodeBlock((unsigned char *)out, digest, sizeof digest);
}

int keys_random_hex(char *out, unsigned n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[64];
    if (n > sizeof bytes || RAND_bytes(bytes, (int)n) != 1)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 0x0f];
    }
    out[2 * n] = '\0';
    return 0;
}
