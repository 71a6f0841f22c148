/* The routes of the main endpoint for the emulator's own endpoints, open without a token: /health
 * and /emulator/ca.pem. */
#ifndef REST_EMULATOR_H
#define REST_EMULATOR_H

#include "rest.h"

extern const struct rest_route_table rest_emulator_routes;

#endif
