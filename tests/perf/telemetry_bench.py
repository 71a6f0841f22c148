#!/usr/bin/python3
"""Benchmark: telemetry ingest (docs/protocol.md rules D10-D11), QoS 1 messages a second from
many devices, against a plain mosquitto taking the same publishes in the same run.

Both brokers are the real mosquitto on plain TCP, started the way mqtt_round_trip.py starts them:
one with the emulator's plugin, which stores every message in the telemetry file before its
PUBACK, and one without (the baseline, which only acknowledges). The devices are mosquitto_pub
processes (C, so the client costs little), each sending its lines as QoS 1 messages on its own
telemetry topic with a small property bag. Runs alternate between the brokers, so load on a
shared machine hits both alike; the table shows the median of the runs.

Usage: telemetry_bench.py [--bin EMULATOR] [--plugin SO] [--devices 100] [--messages 200]
                          [--runs 3]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import harness  # noqa: E402
import mqtt_peer  # noqa: E402
from harness import Emulator, sas_token  # noqa: E402
from mqtt_peer import PluginBroker  # noqa: E402
from stream_bench import print_table, row, verdict  # noqa: E402

BODY = b'{"temperature":21.5,"humidity":40,"label":"bench"}'
TARGET = 0.5  # the plugin's rate, at least this share of plain mosquitto's


def publish_all(broker, devices, messages):
    """Every device sends its messages at once; the seconds until the last PUBACK."""
    lines = b"\n".join([BODY] * messages) + b"\n"
    start = time.perf_counter()
    procs = []
    for device_id, token in devices:
        topic = "devices/%s/messages/events/%%24.ct=application%%2Fjson&bench=1" % device_id
        procs.append(subprocess.Popen(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv311",
             "-i", device_id, "-u", "h/%s/?api-version=2021-04-12" % device_id, "-P", token,
             "-q", "1", "-t", topic, "-l"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for p in procs:
        p.stdin.write(lines)
        p.stdin.close()
    for p in procs:
        if p.wait(timeout=300) != 0:
            raise SystemExit("mosquitto_pub failed: %s" % p.stderr.read().decode()[:300])
        p.stderr.close()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.environ.get("IOTHUB_EMULATOR_BIN",
                                                        "build/server/iothub-emulator"))
    parser.add_argument("--plugin", default=os.environ.get(
        "IOTHUB_PLUGIN", "build/server/iothub_mosquitto_plugin.so"))
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    harness.EMULATOR = os.path.abspath(args.bin)
    mqtt_peer.PLUGIN = os.path.abspath(args.plugin)
    ids = ["bench%03d" % i for i in range(args.devices)]
    with tempfile.TemporaryDirectory() as state:
        device_args = [a for i in ids for a in ("--device", i)]
        # The emulator makes the registry and the telemetry file, then steps aside.
        with Emulator(*device_args, "--telemetry-keep", "0", state_dir=state) as emu:
            devices = [(i, sas_token("%s/devices/%s" % (emu.host, i), emu.device_key(i)))
                       for i in ids]
        rates = {"plugin": [], "plain": []}
        with PluginBroker(state) as plugin, PluginBroker(state, plain=True) as plain:
            total = args.devices * args.messages
            for _ in range(args.runs):
                for name, broker in (("plugin", plugin), ("plain", plain)):
                    rates[name].append(total / publish_all(broker, devices, args.messages))
    rate, base = statistics.median(rates["plugin"]), statistics.median(rates["plain"])
    print_table([row("ingest QoS 1, %d devices x %d, median of %d"
                     % (args.devices, args.messages, args.runs), rate, "plain mosquitto", base,
                     "msg/s", ">= %.1fx: %s" % (TARGET, verdict(rate >= TARGET * base)))],
                "telemetry")


if __name__ == "__main__":
    main()
