/* The $iothub/streams topics (docs/protocol.md rules 8 and 9): requests with the C SDK's rules,
 * answers leniently; a parsed request formats back to a topic that parses the same. */
#include "fuzz.h"

#include "protocol/streams_topic.h"

static void round_trip(const struct ih_stream_request *r)
{
    char *topic = NULL;
    struct ih_diag diag;
    if (r->rid == NULL ||
        ih_topic_format_stream_request(r->name, r->rid, r->url, r->auth, &topic, &diag) != IH_OK)
        return;
    struct ih_stream_request again;
    if (ih_topic_parse_stream_request(topic, strlen(topic), &again, &diag) != IH_OK ||
        strcmp(again.name, r->name) != 0 || strcmp(again.url, r->url) != 0 ||
        strcmp(again.auth, r->auth) != 0 || strcmp(again.rid, r->rid) != 0)
        abort();
    ih_stream_request_free(&again);
    free(topic);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ih_stream_request req;
    struct ih_stream_response res;
    struct ih_diag diag;
    if (ih_topic_parse_stream_request((const char *)data, size, &req, &diag) == IH_OK) {
        round_trip(&req);
        ih_stream_request_free(&req);
    }
    if (ih_topic_parse_stream_response((const char *)data, size, &res, &diag) == IH_OK)
        ih_stream_response_free(&res);
    char *name = fuzz_text(data, size);
    if (name != NULL)
        ih_stream_name_check(name, strlen(name), &diag);
    free(name);
    return 0;
}
