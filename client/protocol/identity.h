/* Device and module ids as the hub accepts them (docs/protocol.md §1.1: the C# SDK's
 * IdNameRegex). */
#ifndef IH_IDENTITY_H
#define IH_IDENTITY_H

#include "result.h"

#include <stddef.h>

#define IH_ID_MAX_LEN 128

/* 1 to 128 characters from A-Z a-z 0-9 and - : . + % _ # * ? ! ( ) , = @ ; $ '
 * "." and ".." are refused too: URL normalisers rewrite them, so such a device could never be
 * addressed by path. `what` names the id in the message ("device id"). */
ih_result ih_id_check(const char *id, size_t len, const char *what, struct ih_diag *diag);

#endif
