/* Direct methods on the main endpoint (docs/protocol.md §12.1). */
#ifndef REST_METHODS_H
#define REST_METHODS_H

#include "rest.h"

extern const struct rest_route_table rest_methods_routes;

#endif
