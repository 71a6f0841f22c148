/* Twins on the main endpoint (docs/protocol.md rule D9). */
#ifndef REST_TWINS_H
#define REST_TWINS_H

#include "rest.h"

extern const struct rest_route_table rest_twins_routes;

#endif
