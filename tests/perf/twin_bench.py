#!/usr/bin/python3
"""Benchmark: a service's desired-property PATCH until the device has its notification
(docs/protocol.md rules D8-D9), p50 and p99, against a twin read (GET /twins/{id}) on the same
kept-alive HTTPS connection in the same run.

The PATCH is committed to the registry (a synced SQLite write) before it is answered and the
device notified, so the figure includes that write; the baseline is the same request path
without one. Patches and reads alternate, so load on a shared machine hits both alike.

Usage: twin_bench.py [--bin EMULATOR] [--patches 500]
"""
import argparse
import http.client
import json
import os
import queue
import socket
import ssl
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import harness  # noqa: E402
from harness import Emulator, policy_key, sas_token  # noqa: E402
from mqtt_peer import connect_device  # noqa: E402
from stream_bench import percentile, print_table, row  # noqa: E402

DEVICE = "bench1"
TIMEOUT = 30


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.environ.get("IOTHUB_EMULATOR_BIN"))
    parser.add_argument("--patches", type=int, default=500)
    args = parser.parse_args()
    if args.bin:
        harness.EMULATOR = os.path.abspath(args.bin)
    with Emulator("--device", DEVICE) as emu:
        notices = queue.Queue()
        device = connect_device(emu, DEVICE)
        device.client.on_message = lambda c, u, msg: notices.put(time.perf_counter())
        if device.subscribe("$iothub/twin/PATCH/properties/desired/#") != (0,):
            raise SystemExit("the device's subscription was refused")
        context = ssl.create_default_context(cafile=emu.ca)
        conn = http.client.HTTPSConnection("127.0.0.1", emu.ready["ports"]["https"],
                                           context=context, timeout=TIMEOUT)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        headers = {"Authorization": sas_token(emu.host, policy_key("service"), "service"),
                   "Content-Type": "application/json"}

        def request(method, body=None):
            start = time.perf_counter()
            conn.request(method, "/twins/%s?api-version=2021-04-12" % DEVICE, body=body,
                         headers=headers)
            res = conn.getresponse()
            res.read()
            if res.status != 200:
                raise SystemExit("%s /twins: %d" % (method, res.status))
            return start, time.perf_counter()

        patches, reads = [], []
        for i in range(args.patches + 20):
            start, _ = request("PATCH", json.dumps({"properties": {"desired": {"n": i}}}))
            noticed = notices.get(timeout=TIMEOUT)
            start_read, end_read = request("GET")
            if i >= 20:  # warm-up done
                patches.append((noticed - start) * 1000)
                reads.append((end_read - start_read) * 1000)
        conn.close()
        device.close()
    print_table([
        row("desired PATCH -> device notified p50 (n=%d)" % args.patches,
            statistics.median(patches), "GET /twins", statistics.median(reads), "ms"),
        row("desired PATCH -> device notified p99", percentile(patches, 99), "GET /twins",
            percentile(reads, 99), "ms"),
    ], "twins")


if __name__ == "__main__":
    main()
