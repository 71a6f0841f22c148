/* The streaming endpoint (docs/protocol.md §3, rules 11-14): WSS on --streams-port with
 * the emulator's certificate, plain WS on --streams-plain-port when asked. libwebsockets accepts
 * the connections and does TLS; each is a raw socket whose WebSocket protocol is the
 * emulator's (bridge_conn.h): only upgrades of /bridges/{id} with the bridge's bearer token are
 * taken, and the relay (relay.h) carries the bytes. Its one service thread also runs the stream
 * deadlines. */
#ifndef STREAMS_ENDPOINT_H
#define STREAMS_ENDPOINT_H

#include "emulator.h"

struct streams_endpoint;

/* Binds the listeners (filling emu->streams_port and emu->streams_plain_port), starts the
 * service thread and lends the relay to emu->streams. Returns 0, or -1 after logging why. */
int streams_endpoint_start(struct emulator *emu, struct streams_endpoint **out);

/* Closes every WebSocket and stops the thread. NULL is a no-op. */
void streams_endpoint_stop(struct streams_endpoint *ep);

#endif
