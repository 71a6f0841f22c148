#!/bin/sh
# The demo device: an sshd on a loopback port, reached only through device streams by
# `iothub-device proxy` (the product page's device local proxy). sshd runs as the current user,
# so that user is the one who logs in, with the keys of DEMO_SSH_AUTHORIZED_KEYS.
set -eu

: "${IOTHUB_DEVICE_CONNECTION_STRING:?the device's connection string}"
: "${DEMO_SSH_AUTHORIZED_KEYS:?a file of the public keys that may log in}"
: "${DEMO_SSHD_PORT:=2200}"
: "${DEMO_STATE_DIR:=${HOME:-/tmp}/.iothub-demo}"

. "$(dirname "$0")/fetch-ca.sh"

mkdir -p "$DEMO_STATE_DIR"
host_key="$DEMO_STATE_DIR/ssh_host_ed25519_key"
[ -f "$host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$host_key"
config="$DEMO_STATE_DIR/sshd_config"
cat > "$config" <<CONFIG
ListenAddress 127.0.0.1
Port $DEMO_SSHD_PORT
HostKey $host_key
AuthorizedKeysFile $DEMO_SSH_AUTHORIZED_KEYS
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
CONFIG

# As root (outside a container), sshd wants its privilege-separation directory.
[ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
# sshd runs beside the agent; both end with the container (or the process group).
/usr/sbin/sshd -D -e -f "$config" &
exec iothub-device proxy --target "127.0.0.1:$DEMO_SSHD_PORT" "$@"
