#include "identity.h"

#include <string.h>

static int is_id_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-:.+%_#*?!(),=@;$'", c) != NULL);
}

ih_result ih_id_check(const char *id, size_t len, const char *what, struct ih_diag *diag)
{
    if (len == 0)
        return ih_fail(diag, IH_ERR_MISSING, "the %s is empty", what);
    if (len > IH_ID_MAX_LEN)
        return ih_fail(diag, IH_ERR_TOO_LONG, "the %s is longer than %d characters", what,
                       IH_ID_MAX_LEN);
    for (size_t i = 0; i < len; i++) {
        if (!is_id_char(id[i]))
            return ih_fail(diag, IH_ERR_SYNTAX,
                           "the %s may contain only letters, digits and - : . + %% _ # * ? ! ( ) "
                           ", = @ ; $ ' (character %zu is not allowed)",
                           what, i + 1);
    }
    if ((len == 1 && id[0] == '.') || (len == 2 && id[0] == '.' && id[1] == '.'))
        return ih_fail(diag, IH_ERR_SYNTAX, "the %s may not be '.' or '..'", what);
    return IH_OK;
}
