/* Direct methods (docs/protocol.md rules D1-D4): the service's body, the device's answer body,
 * and the $iothub/methods topics both ways; a parsed request formats back to the same topic. */
#include "fuzz.h"

#include "method_request.h"

#include "protocol/methods_topic.h"

static void round_trip(const struct ih_method_request *r)
{
    char *topic = NULL;
    if (ih_topic_format_method_request(r->name, r->rid, &topic, NULL) != IH_OK)
        return;
    struct ih_method_request again;
    if (ih_topic_parse_method_request(topic, strlen(topic), &again, NULL) != IH_OK ||
        strcmp(again.name, r->name) != 0 || strcmp(again.rid, r->rid) != 0)
        abort();
    ih_method_request_free(&again);
    free(topic);
}

static void service_body(const uint8_t *data, size_t size)
{
    struct method_invocation inv;
    char reason[400];
    if (method_invocation_parse((const char *)data, size, &inv, reason, sizeof reason) !=
        METHOD_PARSE_OK)
        return;
    /* Rule D3: the device never gets an empty body. */
    if (inv.payload_len == 0 || strlen(inv.payload) != inv.payload_len)
        abort();
    method_invocation_free(&inv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ih_method_request req;
    struct ih_method_response res;
    if (ih_topic_parse_method_request((const char *)data, size, &req, NULL) == IH_OK) {
        round_trip(&req);
        ih_method_request_free(&req);
    }
    if (ih_topic_parse_method_response((const char *)data, size, &res, NULL) == IH_OK)
        ih_method_response_free(&res);
    service_body(data, size);
    char reason[400];
    free(method_answer_body(200, data, size, reason, sizeof reason));
    return 0;
}
