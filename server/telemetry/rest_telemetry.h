/* GET /emulator/telemetry: what devices sent (docs/protocol.md §12.3). */
#ifndef REST_TELEMETRY_H
#define REST_TELEMETRY_H

#include "rest.h"

extern const struct rest_route_table rest_telemetry_routes;

#endif
