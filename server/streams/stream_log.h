/* What the emulator says about each stream step: one DeviceStreams row in
 * the registry's log, one --trace line that narrates the handshake for people learning it, and
 * one INFO line for every rejection, timeout and close (with device id, stream id and reason). */
#ifndef STREAM_LOG_H
#define STREAM_LOG_H

#include "registry.h"
#include "stream_core.h"

/* The stream core's observer; ctx is the struct registry. */
void stream_log_event(void *ctx, const struct stream_event *ev);

/* The result a step's log row carries ("success", "rejected", "timeout", ...). */
const char *stream_log_result(const struct stream_event *ev);

#endif
