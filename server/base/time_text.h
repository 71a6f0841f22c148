/* Reading a time a person or a client gives, for the log's `since` filter: the log stores times
 * as the hub writes them (2026-11-26T04:51:19.1234567Z, docs/protocol.md §6), which compare as text
 * only when they all have that one form. Pure, so it is unit-tested and fuzzed. */
#ifndef TIME_TEXT_H
#define TIME_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The normalized form: YYYY-MM-DDThh:mm:ss.fffffffZ and its terminator. */
#define TIME_TEXT_NORMAL_SIZE 29

/* Room for a time as the hub writes it. */
#define TIME_TEXT_SIZE 32
/* The hub's "never" for times (docs/protocol.md §5). */
#define TIME_NEVER "0001-01-01T00:00:00"

/* The current time as the hub writes times (ISO 8601 UTC, 7 fractional digits). */
void time_text_now(char out[TIME_TEXT_SIZE]);

/* ISO 8601 in: YYYY-MM-DD, optionally followed by 'T' or ' ' and hh:mm[:ss[.fraction]], then
 * optionally 'Z' or an offset (+hh:mm, -hh:mm, +hhmm); no zone means UTC. Writes the UTC time
 * in the normalized form (the fraction cut or padded to 7 digits). Returns 0, or -1 for
 * anything else, an impossible date included. */
int time_text_normalize(const char *in, char out[TIME_TEXT_NORMAL_SIZE]);

/* The same input as time_text_normalize, as Unix time in milliseconds. Returns 0 or -1. */
int time_text_to_ms(const char *in, int64_t *ms);

/* A Unix time in milliseconds as the hub writes times. */
void time_text_of_ms(int64_t ms, char out[TIME_TEXT_SIZE]);

/* The wall clock, Unix time in milliseconds. */
int64_t time_now_ms(void);

#endif
