"""Faults, load and hostile input: the emulator keeps working, loses no acknowledged
data, closes what must close, and answers bad input with errors, never with a crash."""
import asyncio
import http.client
import json
import os
import signal
import socket
import sqlite3
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import websockets

from client_peers import device_agent, service
from harness import (Emulator, curl, latency_bound, policy_key, sas_token, vm_rss_kib,
                     wait_until)
from mqtt_peer import RawDevice, connect_device
from stream_peer import StreamDevice, open_socket, parse_request, run
from test_mqtt import broker_pid

RW = "registryReadWrite"


class Https:
    """A keep-alive HTTPS client of Python's own, quicker than a curl per request."""

    def __init__(self, emu):
        self.emu = emu
        self.context = ssl.create_default_context(cafile=emu.ca)
        self.conn = None

    def request(self, method, path, token, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection("127.0.0.1",
                                                        self.emu.ready["ports"]["https"],
                                                        context=self.context, timeout=60)
            try:
                self.conn.request(method, path, body=body,
                                  headers=dict(headers or {}, Authorization=token))
                res = self.conn.getresponse()
                return res.status, dict((k.lower(), v) for k, v in res.getheaders()), res.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class KillDuringWrites(unittest.TestCase):
    def test_kill_9_while_devices_are_written_keeps_every_acknowledged_one(self):
        import tempfile
        with tempfile.TemporaryDirectory() as state:
            emu = Emulator(state_dir=state).start()
            token = sas_token(emu.host, policy_key(RW), RW)
            acknowledged, stop = [], threading.Event()

            def write():
                client = Https(emu)
                i = 0
                while not stop.is_set():
                    try:
                        status, _, _ = client.request("PUT", "/devices/d%05d" % i, token,
                                                      json.dumps({"deviceId": "d%05d" % i}),
                                                      {"Content-Type": "application/json"})
                    except (OSError, http.client.HTTPException):
                        break  # the emulator is gone
                    if status == 200:
                        acknowledged.append("d%05d" % i)
                    i += 1
                client.close()
            writers = [threading.Thread(target=write) for _ in range(2)]
            for w in writers:
                w.start()
            wait_until(lambda: len(acknowledged) >= 200, timeout=60, what="200 writes")
            emu.proc.send_signal(signal.SIGKILL)
            emu.proc.wait()
            stop.set()
            for w in writers:
                w.join()
            emu.discard()
            db = os.path.join(state, "registry.db")
            with sqlite3.connect(db) as conn:
                self.assertEqual(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            with Emulator(state_dir=state) as again:
                token = sas_token(again.host, policy_key("registryRead"), "registryRead")
                ids = set()
                listed = again.request("GET", "/devices?top=1000", token=token).json()
                ids |= {d["deviceId"] for d in listed}
                client = Https(again)
                for device in acknowledged:
                    if device not in ids:
                        status, _, _ = client.request("GET", "/devices/" + device, token)
                        self.assertEqual(status, 200, "%s was acknowledged, then lost" % device)
                client.close()
            print("acknowledged before kill -9: %d, all present" % len(acknowledged))


class FailingWrites(unittest.TestCase):
    def test_health_reports_a_registry_whose_writes_fail(self):
        """A full disk, played by a file-size limit (the emulator ignores SIGXFSZ, so a write
        past it fails with EFBIG): the failed write is not acknowledged, and /health says the
        registry is degraded, with 503, while reads still work."""
        with tempfile.TemporaryDirectory() as state:
            with Emulator(state_dir=state, wrapper=["prlimit", "--fsize=150000", "--"]) as emu:
                self.assertEqual(emu.request("GET", "/health").json()["components"]["registry"],
                                 "up")
                created, failed = [], None
                for i in range(500):
                    res = emu.request("PUT", "/devices/fill%d" % i, RW, body="{}")
                    if res.status != 200:
                        failed = res
                        break
                    created.append("fill%d" % i)
                self.assertIsNotNone(failed, "no write failed")
                self.assertEqual(failed.status, 500, failed.body)
                self.assertEqual(failed.headers.get("iothub-errorcode"), "ServerError")
                health = emu.request("GET", "/health")
                self.assertEqual(health.status, 503)
                self.assertEqual(health.json()["components"]["registry"], "degraded")
                self.assertEqual(health.json()["status"], "unhealthy")
                # What was acknowledged is there; what was not, is not.
                self.assertEqual(emu.request("GET", "/devices/" + created[-1], RW).status, 200)
                self.assertEqual(emu.request("GET", "/devices/fill%d" % len(created), RW).status,
                                 404)
                emu.wait_log("the registry is degraded")


class BrokerDies(unittest.TestCase):
    def test_the_broker_killed_during_a_handshake(self):
        with Emulator("--device", "dev1", "--device", "dev2") as emu:
            quiet = StreamDevice(emu, "dev1")  # it will never answer
            agent = device_agent(emu, "dev2", ["echo"])
            self.addCleanup(agent.stop)
            token = sas_token(emu.host, policy_key("service"), "service")
            result = {}

            def post():
                start = time.monotonic()
                client = Https(emu)
                status, headers, _ = client.request(
                    "POST", "/twins/dev1/streams/s?api-version=2020-09-30", token,
                    headers={"iothub-streaming-response-timeout-in-seconds": "3"})
                client.close()
                result.update(status=status, took=time.monotonic() - start,
                              code=headers.get("iothub-errorcode"))
            t = threading.Thread(target=post)
            t.start()
            quiet.next_request()  # the request reached the device: mid-handshake
            os.kill(broker_pid(emu), signal.SIGKILL)
            t.join(timeout=30)
            self.assertFalse(t.is_alive(), "the POST hung")
            # It fails cleanly: the answer can no longer come.
            self.assertEqual((result["status"], result["code"]), (504, "GatewayTimeout"))
            self.assertLess(result["took"], 10)
            quiet.close()
            # The broker comes back, the device with it, and a new stream works.
            wait_until(lambda: "connected again" in agent.stderr(), timeout=30,
                       what="the device back")
            # The hub reconnects to the new broker on its own schedule (about when the agent
            # does), then hears from it who is connected: wait until it sees the device too.
            wait_until(lambda: emu.device_state("dev2")["connectionState"] == "Connected",
                       what="the hub to see dev2 again")
            done = service(emu, "echo", "dev2", input="after the broker died\n")
            self.assertEqual(done.stdout, "after the broker died\n", done.stderr)


class Churn(unittest.TestCase):
    def test_resets_close_the_other_side_and_1000_streams_leak_no_descriptor(self):
        with Emulator("--device", "auto") as emu:
            device = connect_device(emu, "auto")
            self.addCleanup(device.close)
            requests = {}

            def on_message(client, userdata, msg):
                request = parse_request(msg.topic)
                requests[request["url"]] = request["auth"]
                client.publish("$iothub/streams/res/200/?$rid=" + request["rid"], b"", 0)
            device.client.on_message = on_message
            self.assertEqual(device.subscribe("$iothub/streams/POST/#"), (0,))
            token = sas_token(emu.host, policy_key("service"), "service")
            client = Https(emu)
            self.addCleanup(client.close)

            def open_stream():
                status, headers, body = client.request(
                    "POST", "/twins/auto/streams/churn?api-version=2020-09-30", token)
                assert status == 200, body
                url = headers["iothub-streaming-url"]
                deadline = time.monotonic() + 10
                while url not in requests and time.monotonic() < deadline:
                    time.sleep(0.001)  # the device's MQTT thread hands the request over
                return url, requests.pop(url), headers["iothub-streaming-auth-token"]

            async def pair():
                url, device_token, service_token = open_stream()
                d = await open_socket(emu, url, device_token)
                s = await open_socket(emu, url, service_token)
                return d, s

            async def reset(ws):
                sock = ws.transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                ws.transport.abort()

            async def closed_after_reset(reset_side):
                d, s = await pair()
                await s.send(b"x" * 100000)  # mid-transfer
                await d.recv()
                victim, other = (d, s) if reset_side == "device" else (s, d)
                start = time.monotonic()
                await reset(victim)
                try:
                    while True:
                        await asyncio.wait_for(other.recv(), 5)
                except websockets.exceptions.ConnectionClosed as closed:
                    return time.monotonic() - start, closed.code

            for side in ("device", "service"):
                took, code = run(closed_after_reset(side))
                self.assertEqual(code, 1001, side)
                self.assertLess(took, 0.1, side)

            async def many(n):
                for _ in range(n):
                    d, s = await pair()
                    await s.send(b"ping")
                    assert await d.recv() == b"ping"
                    await s.close()
                    await d.wait_closed()

            run(many(20))  # warm: buffers, TLS sessions, SQLite's pages
            before = open_fds(emu.proc.pid)
            started = time.monotonic()
            run(many(1000), timeout=600)
            took = time.monotonic() - started
            wait_until(lambda: open_fds(emu.proc.pid) <= before + 2, timeout=10,
                       what="descriptors back to %d (now %d)" % (before, open_fds(emu.proc.pid)))
            print("1000 streams in %.1f s; descriptors %d before, %d after" %
                  (took, before, open_fds(emu.proc.pid)))


class IdlePeer:
    """idle_peer.py in a process of its own, holding COUNT silent connections to a port."""

    def __init__(self, port, count):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "idle_peer.py")
        self.proc = subprocess.Popen(["/usr/bin/python3", script, str(port), str(count)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # its answer once every connection is made
        assert line == "holding %d\n" % count, line

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


class IdleConnections(unittest.TestCase):
    def test_10000_idle_connections_per_port_do_not_stop_a_normal_client(self):
        """Silent connections (slowloris) fill no endpoint: past its share of descriptors the
        one idle the longest is shed, and one that never finishes its TLS handshake or request
        head is closed after 10 s on the main endpoint (5-10 s on the streaming one). The broker
        gets 1,000: mosquitto listens with a backlog of 100, so a flood of new connections to it
        is paced by the clients' SYN retries (about 100 a second), whatever the emulator does."""
        with Emulator("--device", "dev1", "--device", "dev2") as emu:
            agent = device_agent(emu, "dev1", ["echo"])
            self.addCleanup(agent.stop)
            for port, count in (("https", 10000), ("streams", 10000), ("mqtts", 1000)):
                peer = IdlePeer(emu.ready["ports"][port], count)
                self.addCleanup(peer.close)
            # Within 2 s each (three times as long under the sanitizers).
            bound = latency_bound(2)
            started = time.monotonic()
            self.assertEqual(curl("GET", emu.url("/health"), cafile=emu.ca,
                                  extra=("--max-time", str(bound))).status, 200)
            health = time.monotonic() - started
            started = time.monotonic()
            done = service(emu, "echo", "dev1", input="past 21000 idle sockets\n", timeout=bound)
            self.assertEqual(done.stdout, "past 21000 idle sockets\n", done.stderr)
            stream = time.monotonic() - started
            # A new device gets in too.
            started = time.monotonic()
            late = device_agent(emu, "dev2", ["echo"])
            late.stop()
            print("past 10000 idle connections on each endpoint: /health in %.2f s, a stream in "
                  "%.2f s, a new device listening in %.2f s" %
                  (health, stream, time.monotonic() - started))
            shed = [line for line in emu.log().splitlines() if "closed the one" in line]
            self.assertTrue(shed, "no connection was shed")


class Deadlines(unittest.TestCase):
    def test_a_silent_connection_has_10_s_and_a_kept_alive_one_60(self):
        with Emulator() as emu:
            port = emu.ready["ports"]["https"]
            opened = time.monotonic()
            silent = socket.create_connection(("127.0.0.1", port), timeout=30)
            self.addCleanup(silent.close)
            context = ssl.create_default_context(cafile=emu.ca)
            no_request = context.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                             server_hostname="127.0.0.1")
            self.addCleanup(no_request.close)
            kept = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
            self.addCleanup(kept.close)
            kept.request("GET", "/health")
            res = kept.getresponse()
            res.read()
            self.assertEqual(res.status, 200)
            first = kept.sock
            # Neither the silent one nor the one with TLS but no request outlives 10 s (the
            # silent one may get a TLS alert first).
            for sock in (silent, no_request):
                sock.settimeout(20)
                try:
                    while sock.recv(64) != b"":
                        pass
                except (ConnectionError, ssl.SSLError):
                    pass
            waited = time.monotonic() - opened
            self.assertGreater(waited, 9)
            self.assertLess(waited, 15)
            # The one that made a request is still open: its next request goes on it.
            kept.request("GET", "/health")
            self.assertEqual(kept.getresponse().status, 200)
            self.assertIs(kept.sock, first)


def raw_mqtt_publish_is_refused(emu, device_id, topic, wait=5.0):
    """Connects as device_id with a valid SAS, publishes topic as raw bytes, and tells whether
    the broker closed the connection within wait seconds."""
    device = RawDevice(emu, device_id)
    try:
        device.send(RawDevice.publish_packet(topic))
        return device.received_until_closed(within=wait) is not None
    finally:
        device.close()


class ForbiddenPublishFlood(unittest.TestCase):
    def test_a_flooding_device_does_not_delay_another_devices_stream(self):
        """A device that reconnects and sends a thousand publishes to a topic it may not use,
        over and over: each connection ends at its first publish, nothing is acknowledged, the
        refusals are reported in a limited number of lines, and another device's streams are
        set up as fast as ever."""
        with Emulator("--device", "flood", "--device", "dev1") as emu:
            agent = device_agent(emu, "dev1", ["echo"])
            self.addCleanup(agent.stop)
            # Another device's telemetry: a topic "flood" may not use.
            burst = b"".join(RawDevice.publish_packet(b"devices/dev1/messages/events/", b"x",
                                                      qos=1, packet_id=i + 1)
                             for i in range(1000))
            stop, rounds, acknowledged, stuck = threading.Event(), [0], [0], [0]

            def flood():
                while not stop.is_set():
                    device = RawDevice(emu, "flood")
                    try:
                        device.send(burst)
                    except (ConnectionError, ssl.SSLError):
                        pass  # closed while the burst was still going out
                    received = device.received_until_closed(within=10)
                    device.close()
                    stuck[0] += received is None
                    acknowledged[0] += bool(received)
                    rounds[0] += 1
            flooder = threading.Thread(target=flood)
            flooder.start()
            setups = []
            try:
                wait_until(lambda: rounds[0] >= 5, what="the flood to start")
                for _ in range(5):
                    started = time.monotonic()
                    done = service(emu, "echo", "dev1", input="during a flood\n", timeout=10)
                    setups.append(time.monotonic() - started)
                    self.assertEqual(done.stdout, "during a flood\n", done.stderr)
            finally:
                stop.set()
                flooder.join()
            print("%d flooding connections of 1000 publishes each; streams meanwhile in %s s" %
                  (rounds[0], ", ".join("%.2f" % t for t in setups)))
            self.assertEqual(stuck[0], 0, "a flooding connection was left open")
            self.assertEqual(acknowledged[0], 0, "a dropped publish was acknowledged")
            self.assertLess(max(setups), 3)
            refusals = emu.log().count("may not publish to 'devices/dev1/messages/events/'")
            self.assertGreater(refusals, 0)
            self.assertLessEqual(refusals, 3 * 100)  # the burst of each 10 s window


class HostileInput(unittest.TestCase):
    def test_bad_input_gets_errors_not_crashes(self):
        with Emulator("--device", "dev1") as emu:
            token = sas_token(emu.host, policy_key(RW), RW)
            client = Https(emu)
            self.addCleanup(client.close)
            # Oversized headers: refused, not read into memory.
            status, _, _ = client.request("GET", "/devices", token, headers={"X-Big": "a" * 200000})
            self.assertIn(status, (413, 431, 400))
            # A long query string of many parameters (2.4 KB, 600 of them, and 1,500) gets its
            # answer: libmicrohttpd's default pool ran out at 800 and sent nothing.
            for count in (600, 1500):
                query = "&".join("p%d=1" % i for i in range(count))
                status, _, _ = client.request("GET", "/devices?" + query, token)
                self.assertEqual(status, 200, count)
            # Path traversal and invalid ids.
            service_token = sas_token(emu.host, policy_key("service"), "service")
            for path in ("/devices/..", "/devices/..%2F..%2Fetc%2Fpasswd", "/devices/%FF%FE",
                         "/devices/a%00b", "/devices/" + "x" * 200,
                         "/twins/%2e%2e/streams/s", "/twins/dev1/streams/a%2Fb"):
                twins = path.startswith("/twins")
                status, headers, body = client.request("POST" if twins else "GET",
                                                       path + "?api-version=1",
                                                       service_token if twins else token)
                self.assertIn(status, (400, 404), path)
                self.assertIn("iothub-errorcode", headers, path)
            # Invalid UTF-8 in a body, and a body that is not JSON.
            for body in (b'{"deviceId":"\xff\xfe"}', b"\x00\x01\x02", b"[" * 60000):
                status, headers, _ = client.request("PUT", "/devices/dev9", token, body,
                                                    {"Content-Type": "application/json"})
                self.assertEqual(status, 400, body[:20])
            # A body declared past what the emulator reads to drop (the limit and 1 MiB more) is
            # refused before any of it is read.
            conn = http.client.HTTPSConnection("127.0.0.1", emu.ready["ports"]["https"],
                                               context=ssl.create_default_context(cafile=emu.ca))
            conn.putrequest("PUT", "/devices/dev9")
            conn.putheader("Authorization", token)
            conn.putheader("Content-Length", "2000000")
            conn.endheaders()
            self.assertEqual(conn.getresponse().status, 413)
            conn.close()
            # A device publishing an invalid UTF-8 or an oversized topic (raw MQTT: client
            # libraries refuse to send them) is cut off by the broker; nothing else notices.
            self.assertTrue(raw_mqtt_publish_is_refused(
                emu, "dev1", b"$iothub/streams/res/200/?$rid=\xff\xfe"))
            # The longest topic MQTT can carry reaches the hub, which refuses to read it.
            raw_mqtt_publish_is_refused(emu, "dev1",
                                        b"$iothub/streams/res/200/?$rid=" + b"r" * 65000, 0.2)
            emu.wait_log("stream answer the hub cannot read (topic longer than")
            # A 5 MB WebSocket message through a stream arrives whole, in pieces if need be.
            dev = StreamDevice(emu, "dev1")
            self.addCleanup(dev.close)
            from stream_peer import accepted_stream
            request, res = accepted_stream(emu, dev)

            async def big():
                d = await open_socket(emu, request["url"], request["auth"])
                s = await open_socket(emu, res.headers["iothub-streaming-url"],
                                      res.headers["iothub-streaming-auth-token"])
                await s.send(b"z" * 5000000)
                got = 0
                while got < 5000000:
                    got += len(await d.recv())
                await s.close()
                await d.close()
                return got
            self.assertEqual(run(big()), 5000000)
            # Still healthy; the harness checks the clean exit code.
            self.assertEqual(curl("GET", emu.url("/health"), cafile=emu.ca).status, 200)


class BrokerMemory(unittest.TestCase):
    def test_a_huge_declared_connect_is_cut_off_before_login(self):
        """A CONNECT that declares 268 MB, then streams bytes: no login is needed to try. The
        broker's max_packet_size closes each such connection once the length is read."""
        with Emulator() as emu:
            pid = broker_pid(emu)
            context = ssl.create_default_context(cafile=emu.ca)
            huge = bytes([0x10, 0xFF, 0xFF, 0xFF, 0x7F])  # CONNECT, 268,435,455 bytes to come
            chunk = b"\0" * 65536
            peers = []
            try:
                for _ in range(4):
                    raw = socket.create_connection(("127.0.0.1", emu.ready["ports"]["mqtts"]),
                                                   timeout=10)
                    tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
                    peers.append(tls)
                    try:
                        tls.sendall(huge)
                        for _ in range(48 * 1024 * 1024 // len(chunk)):  # 48 MB each at most
                            tls.sendall(chunk)
                    except (ConnectionError, ssl.SSLError):
                        pass  # cut off while sending
                # Measured while every connection is still open on this side.
                rss = vm_rss_kib(pid)
                print("broker RSS with 4 oversized CONNECTs open: %d KiB" % rss)
                self.assertLess(rss, 64 * 1024)
                for tls in peers:
                    tls.settimeout(10)
                    try:
                        self.assertEqual(tls.recv(1), b"", "the broker kept the connection")
                    except (ConnectionError, ssl.SSLError):
                        pass  # closed by the broker: a reset
            finally:
                for tls in peers:
                    tls.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
