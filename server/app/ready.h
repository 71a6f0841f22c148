/* The announcement that the emulator is ready, so nothing has to poll: one stdout line beginning
 * `iothub-emulator ready`, and with --ready-file a JSON file written atomically that CI fixtures
 * wait for. Written only once every endpoint accepts connections. */
#ifndef READY_H
#define READY_H

#include "emulator.h"

/* Returns 0, or -1 after logging why the ready file could not be written. */
int ready_announce(const struct emulator *emu);

#endif
