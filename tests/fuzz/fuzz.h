/* Shared by the libFuzzer harnesses: the entry point, and a NUL-terminated copy of the input for
 * parsers that take C strings. */
#ifndef IH_FUZZ_H
#define IH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy (the input may hold NULs: the parser sees the text up to the first). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text != NULL) {
        memcpy(text, data, size);
        text[size] = '\0';
    }
    return text;
}

#endif
