#include "json_body.h"

#include "protocol/base64.h"
#include "protocol/utf8.h"

#include <stdlib.h>

json_t *json_object_of_text(const char *text)
{
    json_t *v = text != NULL ? json_loads(text, 0, NULL) : NULL;
    if (json_is_object(v))
        return v;
    json_decref(v);
    return json_object();
}

static int is_text(const void *body, size_t len)
{
    struct ih_utf8_stream s;
    ih_utf8_stream_init(&s);
    return ih_utf8_stream_feed(&s, body, len) == 0 && ih_utf8_stream_end(&s) == 0;
}

int json_set_body(json_t *obj, const void *body, size_t len)
{
    char *base64 = NULL;
    /* SQLite gives an empty blob as NULL. */
    const char *bytes = len > 0 ? body : "";
    if (ih_base64_encode((const unsigned char *)bytes, len, &base64) != IH_OK)
        return -1;
    int rc = 0;
    if (is_text(bytes, len))
        rc |= json_object_set_new(obj, "body", json_stringn(bytes, len));
    rc |= json_object_set_new(obj, "bodyBase64", json_string(base64));
    free(base64);
    return rc == 0 ? 0 : -1;
}
