#include "client_loop.h"

#include "http_call.h"
#include "wsock.h"

int ih_client_loop_new(const char *ca_file, struct ih_loop **out, char *err, size_t err_len)
{
    const struct lws_protocols protocols[] = {
        ih_wsock_protocol,
        ih_http_protocol,
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    struct ih_loop_options o = {.ca_file = ca_file, .protocols = protocols};
    return ih_loop_new(&o, out, err, err_len);
}
