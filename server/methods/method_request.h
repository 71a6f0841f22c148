/* The service's side of a direct method, sans I/O (docs/protocol.md §12.1): reading the body of
 * POST /twins/{id}[/modules/{m}]/methods (rule D1), and writing the 200 answer from what the
 * device sent back (rule D4). */
#ifndef METHOD_REQUEST_H
#define METHOD_REQUEST_H

#include <stddef.h>

#define METHOD_RESPONSE_TIMEOUT_DEFAULT 30
#define METHOD_RESPONSE_TIMEOUT_MIN 5
#define METHOD_TIMEOUT_MAX 300

struct method_invocation {
    char *name;
    char *payload; /* compact JSON, "null" when absent or null (rule D3: never empty) */
    size_t payload_len;
    int response_timeout_s;
    int connect_timeout_s;
};

enum method_parse_result {
    METHOD_PARSE_OK,
    METHOD_PARSE_INVALID, /* 400 400004, reason says why */
    METHOD_PARSE_NOMEM,
};

/* Reads and checks the body. reason gets the message of a 400. */
enum method_parse_result method_invocation_parse(const char *body, size_t len,
                                                 struct method_invocation *out, char *reason,
                                                 size_t cap);
void method_invocation_free(struct method_invocation *inv);

/* Rule D4: {"status":status,"payload":<the device's JSON, null when it sent nothing>}, compact.
 * NULL when the device's body is not JSON (reason says why: a 502) or out of memory (reason
 * empty). */
char *method_answer_body(int status, const void *payload, size_t len, char *reason, size_t cap);

#endif
