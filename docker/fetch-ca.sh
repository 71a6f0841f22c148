# Sourced by the device and service entrypoints: makes sure IOTHUB_CA_FILE holds the hub's CA.
# The hub keeps its state private, so the CA comes from the hub itself, GET /emulator/ca.pem at
# IOTHUB_CA_URL (trust on first use, on the demo's private network), when the file is not
# there yet.
if [ -n "${IOTHUB_CA_URL:-}" ] && [ ! -s "${IOTHUB_CA_FILE:?where to keep the hub's CA}" ]; then
    mkdir -p "$(dirname "$IOTHUB_CA_FILE")"
    curl -fsSk --retry 30 --retry-connrefused --retry-delay 1 -o "$IOTHUB_CA_FILE" \
        "$IOTHUB_CA_URL" || {
        echo "$0: could not fetch the hub's CA from $IOTHUB_CA_URL: is the hub up?" >&2
        exit 1
    }
fi
