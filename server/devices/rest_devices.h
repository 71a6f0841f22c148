/* The routes of the main endpoint for the device registry: PUT/GET/DELETE /devices/{id}, GET
 * /devices (docs/protocol.md §5). */
#ifndef REST_DEVICES_H
#define REST_DEVICES_H

#include "rest.h"

extern const struct rest_route_table rest_devices_routes;

#endif
