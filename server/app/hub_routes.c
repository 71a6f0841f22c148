#include "hub_routes.h"

#include "rest_c2d.h"
#include "rest_devices.h"
#include "rest_emulator.h"
#include "rest_methods.h"
#include "rest_streams.h"
#include "rest_telemetry.h"
#include "rest_twins.h"
#include "rest_ui.h"

#include <string.h>

void hub_routes(struct rest_router *out)
{
    const struct rest_route_table *tables[] = {
        &rest_ui_routes,      &rest_emulator_routes, &rest_devices_routes,   &rest_streams_routes,
        &rest_methods_routes, &rest_twins_routes,    &rest_telemetry_routes, &rest_c2d_routes,
    };
    _Static_assert(sizeof tables / sizeof tables[0] <= REST_MAX_TABLES, "the router holds them");
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        out->tables[out->count++] = *tables[i];
}
