/* Every route of the main endpoint: each feature's table, put together for the router. The one
 * place that names them all, so the router and the features stay unaware of each other. */
#ifndef HUB_ROUTES_H
#define HUB_ROUTES_H

#include "rest.h"

void hub_routes(struct rest_router *out);

#endif
