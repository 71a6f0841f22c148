/* What a registry call returns (registry.h, registry_state.h). */
#ifndef REGISTRY_RESULT_H
#define REGISTRY_RESULT_H

enum registry_result {
    REGISTRY_OK = 0,
    REGISTRY_NOT_FOUND,
    REGISTRY_EXISTS,       /* create of an id that exists */
    REGISTRY_PRECONDITION, /* If-Match does not match the current etag */
    REGISTRY_FULL,         /* a queue is at its limit */
    REGISTRY_ERR,          /* SQLite failed; logged */
};

#endif
