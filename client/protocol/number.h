/* Decimal whole numbers, read one way everywhere: from peers (headers, topics, query values,
 * tokens) and from the command line. Digits only (no sign, no blank, no '+'), checked against a
 * bound before use, so no value overflows whatever its length. */
#ifndef IH_NUMBER_H
#define IH_NUMBER_H

#include "result.h"

#include <stddef.h>
#include <stdint.h>

/* All of text as a number of at most max. IH_OK with *out set; IH_ERR_SYNTAX when text is empty
 * or holds anything but digits; IH_ERR_RANGE when it is larger than max. */
ih_result ih_parse_uint(const char *text, uint64_t max, uint64_t *out);

/* The same for the len bytes at text, which need not end there (a field of a longer string).
 * A NUL among them is not a digit. */
ih_result ih_parse_uint_n(const char *text, size_t len, uint64_t max, uint64_t *out);

/* Digits, optionally followed by '.' and more digits, which are dropped: a number of seconds as
 * C# writes a double or a TimeSpan's TotalSeconds ("30", "30.5"). */
ih_result ih_parse_uint_dropping_fraction(const char *text, uint64_t max, uint64_t *out);

#endif
