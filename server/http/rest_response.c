/* Building a response: JSON bodies, headers, and errors in the hub's format
 * (docs/protocol.md §6). */
#include "rest.h"

#include "event_hub.h"
#include "hub_quotas.h"
#include "keys.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void rest_add_header(struct rest_response *res, const char *name, const char *value)
{
    if (res->header_count == REST_MAX_HEADERS)
        fatal("more than %d response headers", REST_MAX_HEADERS);
    struct rest_header *h = &res->headers[res->header_count++];
    h->name = name;
    if (strlen(value) >= sizeof h->value)
        fatal("response header %s is longer than %zu bytes", name, sizeof h->value - 1);
    memcpy(h->value, value, strlen(value) + 1);
}

static void set_body(struct rest_response *res, int status, char *body, const char *type)
{
    free(res->body);
    res->status = status;
    res->body = body;
    res->body_len = body != NULL ? strlen(body) : 0;
    res->content_type = body != NULL ? type : NULL;
}

void rest_json(struct rest_response *res, int status, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        rest_error(res, IH_E_SERVER_ERROR, "out of memory formatting the response");
        return;
    }
    set_body(res, status, text, "application/json; charset=utf-8");
}

static void error_with(struct rest_response *res, enum ih_error_code code, json_t *info,
                       const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void error_with(struct rest_response *res, enum ih_error_code code, json_t *info,
                       const char *fmt, va_list ap)
{
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    char hex[33], tracking[96];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (keys_random_hex(hex, 16) != 0)
        snprintf(hex, sizeof hex, "%032d", 0);
    char *body = NULL;
    ih_result r = ih_error_tracking_id(hex, &now, tracking, sizeof tracking);
    if (r == IH_OK)
        r = res->error_form == REST_ERROR_FLAT
                ? ih_error_body_flat(code, res->reason, tracking, &body)
                : ih_error_body(code, res->reason, tracking, &now, info, &body);
    if (r != IH_OK)
        body = NULL;
    res->header_count = 0;
    set_body(res, ih_error_http_status(code), body, "application/json; charset=utf-8");
    rest_add_header(res, "iothub-errorcode", ih_error_name(code));
}

/* The body in the endpoint's form (res->error_form), the iothub-errorcode header and a JSON
 * content type. */
void rest_error(struct rest_response *res, enum ih_error_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_with(res, code, NULL, fmt, ap);
    va_end(ap);
}

void rest_error_info(struct rest_response *res, enum ih_error_code code, json_t *info,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_with(res, code, info, fmt, ap);
    va_end(ap);
}

void rest_response_free(struct rest_response *res)
{
    free(res->body);
    event_hub_unsubscribe(res->events); /* when the transport did not take it */
    memset(res, 0, sizeof *res);
}

int rest_quota_refused(struct rest_call *call, enum quota_kind kind, size_t len)
{
    char reason[400];
    enum quota_verdict v = hub_quotas_charge(call->emu->quotas, kind, len, reason, sizeof reason);
    if (v == QUOTA_OK)
        return 0;
    rest_error(call->res, hub_quotas_error(v), "%s", reason);
    return 1;
}
