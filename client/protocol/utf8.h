/* UTF-8 validation for text that travels in MQTT topics and JSON, which both require it. */
#ifndef IH_UTF8_H
#define IH_UTF8_H

#include <stddef.h>

/* 1 when s[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF)
 * with no C0 control characters and no DEL; else 0. */
int ih_utf8_is_printable(const char *s, size_t len);

/* A UTF-8 check of text that arrives in pieces, a sequence possibly cut between two of them
 * (a WebSocket text message, frame by frame: RFC 6455 §8.1). Control characters are allowed. */
struct ih_utf8_stream {
    unsigned char need;         /* continuation bytes still owed by the current sequence */
    unsigned char lower, upper; /* the range of the next one (no overlongs, no surrogates) */
};

void ih_utf8_stream_init(struct ih_utf8_stream *s);

/* Checks the next len bytes: 0 while the text is well-formed so far, -1 once it is not. */
int ih_utf8_stream_feed(struct ih_utf8_stream *s, const void *data, size_t len);

/* At the end of the text: 0, or -1 when it ends inside a sequence. */
int ih_utf8_stream_end(const struct ih_utf8_stream *s);

/* The number of characters in well-formed UTF-8 text (bytes that do not continue a sequence). */
size_t ih_utf8_length(const char *s, size_t len);

#endif
