/* A stored telemetry message as GET /emulator/telemetry and the event stream show it:
 * {"deviceId","moduleId","enqueuedTimeUtc","sequenceNumber","properties","systemProperties",
 *  "body" (when the body is UTF-8 text),"bodyBase64"}. Pure. */
#ifndef TELEMETRY_JSON_H
#define TELEMETRY_JSON_H

#include "telemetry_store.h"

#include <jansson.h>

/* NULL when out of memory. */
json_t *telemetry_json(const struct telemetry_record *r);

#endif
