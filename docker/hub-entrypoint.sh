#!/bin/sh
# The hub of the demo: the emulator, configured entirely by its environment (IOTHUB_EMULATOR_*;
# `iothub-emulator --help` lists them). Runs the same in the container and on a machine.
set -eu

: "${IOTHUB_EMULATOR_STATE_DIR:?where the emulator keeps its registry and dev certificates}"
mkdir -p "$IOTHUB_EMULATOR_STATE_DIR"
exec iothub-emulator "$@"
