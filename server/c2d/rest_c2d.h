/* The service side of cloud-to-device messages (docs/protocol.md §12.4): the emulator's own
 * POST and GET /emulator/devices/{id}/messages/devicebound (the SDKs send over AMQP, which the
 * emulator does not speak), and the hub's purge, DELETE /devices/{id}/commands. */
#ifndef REST_C2D_H
#define REST_C2D_H

#include "rest.h"

extern const struct rest_route_table rest_c2d_routes;

#endif
