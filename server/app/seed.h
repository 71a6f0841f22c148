/* Applies --device and --policy-key to the registry at start, so a fixture needs no setup calls. */
#ifndef SEED_H
#define SEED_H

#include "config.h"
#include "registry.h"

/* Makes sure every seeded device exists (with its key when one is given) and sets the policy
 * keys given. Returns 0, or -1 after logging what failed. */
int seed_registry(struct registry *reg, const struct config *cfg);

#endif
