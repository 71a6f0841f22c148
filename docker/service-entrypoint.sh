#!/bin/sh
# The demo's service side: `iothub-service proxy` (the service local proxy), listening on
# DEMO_LOCAL_PORT; each connection to it is a device stream to DEMO_DEVICE_ID, so
# `ssh -p 2222 demo@localhost` reaches the device's sshd.
set -eu

: "${IOTHUB_CONNECTION_STRING:?a policy's connection string with ServiceConnect}"
: "${DEMO_DEVICE_ID:=demo-device}"
: "${DEMO_LOCAL_PORT:=2222}"
: "${DEMO_LISTEN:=0.0.0.0}"

. "$(dirname "$0")/fetch-ca.sh"

exec iothub-service proxy "$DEMO_DEVICE_ID" --name ssh --local-port "$DEMO_LOCAL_PORT" \
    --listen "$DEMO_LISTEN" "$@"
