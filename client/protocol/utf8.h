/* UTF-8 validation for text that travels in MQTT topics and JSON, which both require it. */
#ifndef IH_UTF8_H
#define IH_UTF8_H

#include <stddef.h>

/* 1 when s[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF)
 * with no C0 control characters and no DEL; else 0. */
int ih_utf8_is_printable(const char *s, size_t len);

/* The number of characters in well-formed UTF-8 text (bytes that do not continue a sequence). */
size_t ih_utf8_length(const char *s, size_t len);

#endif
