/* Streams and log rows as JSON, for the emulator's views and the web page. */
#ifndef STREAM_JSON_H
#define STREAM_JSON_H

#include "registry.h"
#include "stream_core.h"

#include <jansson.h>

/* The stream's state, the milliseconds from its POST to each step (null when not reached),
 * bytes each way, queue peaks and how it closed; now (the stream clock) gives its age. */
json_t *stream_info_json(const struct stream_info *i, int64_t now);

/* A DeviceStreams log row, its absent fields as null (GET /emulator/logs, the web page). */
json_t *log_record_json(const struct log_record *r);

#endif
