/* Symmetric keys: random ones for new devices, and the well-known dev keys of the default
 * policies (known in advance so tests and demos can use them; printed and documented as dev-only,
 * overridable). */
#ifndef KEYS_H
#define KEYS_H

/* base64 of 32 bytes is 44 characters. */
#define KEY_TEXT_SIZE 45
/* base64 of the longest key the hub accepts (64 bytes), plus the NUL. */
#define KEY_TEXT_MAX 89

/* 32 random bytes, base64. Returns 0 on success. */
int keys_generate(char out[KEY_TEXT_SIZE]);

/* Fills key with a new random key when it is empty (""). Returns 0 on success. */
int keys_generate_if_empty(char key[KEY_TEXT_SIZE]);

/* base64(SHA-256(label)): the same on every machine, so docs and tests can name it. */
void keys_well_known(const char *label, char out[KEY_TEXT_SIZE]);

/* n random bytes as 2n lower-case hex characters plus a NUL. Returns 0 on success. */
int keys_random_hex(char *out, unsigned n);

#endif
