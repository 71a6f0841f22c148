/* The routes of the main endpoint for the web page, its event stream and /metrics (--ui-access
 * decides who). */
#ifndef REST_UI_H
#define REST_UI_H

#include "rest.h"

extern const struct rest_route_table rest_ui_routes;

#endif
