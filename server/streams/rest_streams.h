/* The routes of the main endpoint for device streams: POST /twins/{id}[/modules/{m}]/streams/{name}
 * (docs/protocol.md §1), and the emulator's views of streams and of the log. */
#ifndef REST_STREAMS_H
#define REST_STREAMS_H

#include "rest.h"

extern const struct rest_route_table rest_streams_routes;

#endif
