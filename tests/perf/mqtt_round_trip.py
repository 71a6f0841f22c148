#!/usr/bin/python3
"""Benchmark: hub -> device -> hub round trips through the emulator's mosquitto plugin.

The hub publishes a stream request to one device ($hub/to/{id}/$iothub/streams/POST/...), the
device answers ($iothub/streams/res/200/?$rid=N), the hub receives it ($hub/from/{id}/...). The
baseline, measured in the same run, is a plain mosquitto with the same clients publishing the
same topics directly: the table shows what the plugin's per-device delivery and re-tagging add.
Both brokers are the real mosquitto; the hub uses the private Unix socket, the device TCP.

Usage: mqtt_round_trip.py [--bin EMULATOR] [--plugin SO] [--rounds 5] [--per-round 200]
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import harness  # noqa: E402
import mqtt_peer  # noqa: E402
from harness import Emulator, sas_token  # noqa: E402
from mqtt_peer import Peer, PluginBroker  # noqa: E402

DEVICE = "bench1"
REQUEST = "$iothub/streams/POST/bench/?$rid=%d&$url=wss%%3A%%2F%%2Fh%%3A1%%2Fbridges%%2Fb&$auth=t"


class Pair:
    """A hub client and a device client on one broker, the device answering every request."""

    def __init__(self, broker, token, with_plugin):
        self.answered = threading.Event()
        self.hub = broker.hub() if with_plugin else Peer("hub", clean_session=True,
                                                         unix_path=broker.socket)
        if not with_plugin:
            assert self.hub.connect() == 0
        self.device = Peer(DEVICE, "h/%s/?api-version=1" % DEVICE, token, clean_session=True)
        assert self.device.connect("127.0.0.1", broker.port) == 0
        self.device.client.on_message = self._answer
        self.hub.client.on_message = self._answered
        self.expected = None
        self.to = ("$hub/to/%s/" % DEVICE) if with_plugin else ""
        self.hub.subscribe("$hub/from/#" if with_plugin else "$iothub/streams/res/#")
        self.device.subscribe("$iothub/streams/POST/#")

    def _answer(self, client, userdata, msg):
        rid = msg.topic.split("$rid=")[1].split("&")[0]
        client.publish("$iothub/streams/res/200/?$rid=" + rid, b"", 0)

    def _answered(self, client, userdata, msg):
        # Only the answer to the request in flight counts (the plugin's events arrive too).
        answer = "$iothub/streams/res/200/?$rid=%s" % self.expected
        if msg.topic == answer or msg.topic.endswith("/" + answer):
            self.answered.set()

    def round_trip(self, n):
        self.expected = n
        self.answered.clear()
        start = time.perf_counter()
        self.hub.client.publish(self.to + REQUEST % n, b"", 0)
        if not self.answered.wait(5):
            raise SystemExit("no answer within 5 s")
        return time.perf_counter() - start

    def close(self):
        self.device.close()
        self.hub.close()


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.environ.get("IOTHUB_EMULATOR_BIN",
                                                        "build/server/iothub-emulator"))
    parser.add_argument("--plugin", default=os.environ.get(
        "IOTHUB_PLUGIN", "build/server/iothub_mosquitto_plugin.so"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args()
    harness.EMULATOR = os.path.abspath(args.bin)
    mqtt_peer.PLUGIN = os.path.abspath(args.plugin)
    with tempfile.TemporaryDirectory() as state:
        with Emulator("--device", DEVICE, state_dir=state) as emu:
            token = sas_token("%s/devices/%s" % (emu.host, DEVICE), emu.device_key(DEVICE))
        results = {"plugin": [], "plain mosquitto (baseline)": []}
        with PluginBroker(state) as plugin_broker, PluginBroker(state, plain=True) as plain:
            pairs = {"plugin": Pair(plugin_broker, token, True),
                     "plain mosquitto (baseline)": Pair(plain, token, False)}
            for name, pair in pairs.items():  # warm-up
                for i in range(20):
                    pair.round_trip(i)
            for r in range(args.rounds):  # interleaved, so load changes hit both alike
                for name, pair in pairs.items():
                    results[name] += [pair.round_trip(i) for i in range(args.per_round)]
            for pair in pairs.values():
                pair.close()
    base = statistics.median(results["plain mosquitto (baseline)"])
    print("%-30s %8s %10s %10s %12s" % ("hub->device->hub, QoS 0", "count", "median ms",
                                        "p99 ms", "median/base"))
    for name, samples in results.items():
        print("%-30s %8d %10.3f %10.3f %11.2fx" % (name, len(samples),
                                                   statistics.median(samples) * 1000,
                                                   percentile(samples, 99) * 1000,
                                                   statistics.median(samples) / base))


if __name__ == "__main__":
    main()
