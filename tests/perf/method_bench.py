#!/usr/bin/python3
"""Benchmark: a direct method's round trip (docs/protocol.md rules D1-D4), against a device
stream's POST -> 200 measured in the same run.

Both travel the same path: the service's POST on one kept-alive HTTPS connection, the hub's
publish to the device over MQTT, the device's answer, the POST's reply. The device is paho
(MQTT over TLS) answering from its network thread: every method call with status 200 and a small
JSON body, every stream request by turning it down (so no WebSocket is left waiting). Calls of
the two kinds alternate, so both see the same load on a shared machine.

Usage: method_bench.py [--bin EMULATOR] [--calls 2000]
"""
import argparse
import http.client
import json
import os
import socket
import ssl
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import harness  # noqa: E402
from harness import Emulator, policy_key, sas_token  # noqa: E402
from mqtt_peer import connect_device  # noqa: E402
from stream_bench import percentile, print_table, row, verdict  # noqa: E402

DEVICE = "bench1"
TIMEOUT = 30


class Failure(Exception):
    pass


def answer(client, userdata, msg):
    """The device: methods answered 200, stream requests turned down (rules D4 and 9)."""
    rid = msg.topic.split("$rid=", 1)[1].split("&", 1)[0]
    if msg.topic.startswith("$iothub/methods/POST/"):
        client.publish("$iothub/methods/res/200/?$rid=" + rid, b'{"ok":true}', 0)
    else:
        client.publish("$iothub/streams/res/400/?$rid=" + rid, b"", 0)


class Service:
    """One persistent HTTPS connection for every call, as an SDK keeps one."""

    def __init__(self, emu):
        context = ssl.create_default_context(cafile=emu.ca)
        self.conn = http.client.HTTPSConnection("127.0.0.1", emu.ready["ports"]["https"],
                                                context=context, timeout=TIMEOUT)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = {"Authorization": sas_token(emu.host, policy_key("service"), "service"),
                        "Content-Type": "application/json; charset=utf-8"}
        self.body = json.dumps({"methodName": "ping", "payload": {"n": 1},
                                "responseTimeoutInSeconds": 30}).encode()

    def timed(self, method, path, body=None):
        start = time.perf_counter()
        self.conn.request(method, path, body=body, headers=self.headers)
        res = self.conn.getresponse()
        data = res.read()
        elapsed = time.perf_counter() - start
        if res.status != 200:
            raise Failure("%s %s: %d %s" % (method, path, res.status, data[:300]))
        return elapsed

    def method(self):
        return self.timed("POST", "/twins/%s/methods?api-version=2021-04-12" % DEVICE, self.body)

    def stream(self):
        return self.timed("POST", "/twins/%s/streams/bench?api-version=2020-09-30" % DEVICE)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.environ.get("IOTHUB_EMULATOR_BIN"))
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    if args.bin:
        harness.EMULATOR = os.path.abspath(args.bin)
    with Emulator("--device", DEVICE) as emu:
        device = connect_device(emu, DEVICE)
        device.client.on_message = answer
        for topic in ("$iothub/methods/POST/#", "$iothub/streams/POST/#"):
            if device.subscribe(topic) != (0,):
                raise Failure("the device's subscription to %s was refused" % topic)
        service = Service(emu)
        for _ in range(50):  # warm up: TLS session, caches
            service.method()
            service.stream()
        methods, streams = [], []
        for _ in range(args.calls):
            methods.append(service.method() * 1000)
            streams.append(service.stream() * 1000)
        device.close()
    m50, s50 = statistics.median(methods), statistics.median(streams)
    base = "stream POST->200"
    print_table([
        row("method round trip p50 (keep-alive, n=%d)" % args.calls, m50, base, s50, "ms",
            "<= 1 ms: %s" % verdict(m50 <= 1)),
        row("method round trip p99", percentile(methods, 99), base, percentile(streams, 99),
            "ms"),
    ], "direct methods")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        sys.exit("method_bench: %s" % e)
