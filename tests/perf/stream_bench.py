#!/usr/bin/python3
"""Benchmark: device streams through the emulator, each figure next to a baseline measured in the
same run, so the ratios hold on any machine (for the relay, socat one hop on loopback).

  throughput   BYTES through one stream, plain ws:// and wss://, against socat relaying plain
               TCP and TLS (OPENSSL-LISTEN to OPENSSL, with the emulator's own certificate).
               Both sides are ws_bench (ws_bench.c) in every case, so the clients cost the same:
               WebSocket frames of 64 KiB with a zero mask key through the emulator, raw 64 KiB
               writes through socat. Median of --runs, the four cases interleaved.
  echo         --echoes round trips of 32 bytes (the device side echoes), ws and wss, against
               the same ws_bench echo through socat; p50 and p99.
  setup        --setups streams: POST -> 200, and POST -> both WebSockets upgraded (101 on the
               service's wss and on the device's, which it opens as soon as it has answered).
               The POSTs share one persistent HTTPS connection; the device is paho answering
               from its network thread. Baseline: GET /health over the same HTTPS connection.

Usage: stream_bench.py [--bin EMULATOR] [--ws-bench PATH] [--bytes 1G] [--runs 11]
                       [--echoes 2000] [--setups 1000]
       smoke run (a few seconds): --bytes 20M --runs 1 --echoes 200 --setups 50
"""
import argparse
import base64
import http.client
import os
import queue
import re
import select
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness  # noqa: E402
from harness import Emulator, policy_key, sas_token  # noqa: E402
from mqtt_peer import connect_device, die_with_parent  # noqa: E402

DEVICE = "dev1"
TIMEOUT = 30.0
FRAME = 65536  # ws_bench's default frame size
ECHO_ROUNDS = 5  # echoes are split in rounds, interleaved with the baseline's
WS_CLOSE_1000 = b"\x88\x82\x00\x00\x00\x00\x03\xe8"  # masked (zero key) Close, code 1000


class Failure(Exception):
    pass


# ---- child processes ---------------------------------------------------------------------------

class Child:
    """A child process whose output (stderr merged) is read line by line with deadlines.
    Every child ever started is in Child.live, so main() can kill them all whatever happens."""

    live = []

    def __init__(self, cmd, env=None):
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
                                     env=env)
        self.buffer = b""
        self.lines = []
        self.drainer = None
        Child.live.append(self)

    def _read_line(self, deadline):
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("%s: no output within the deadline; so far:\n%s"
                              % (self.name(), self.output()))
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                continue
            data = os.read(self.proc.stdout.fileno(), 65536)
            if not data:
                return None
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        self.lines.append(line.decode(errors="replace"))
        return self.lines[-1]

    def expect(self, pattern, timeout=TIMEOUT):
        """Reads lines until one matches the regular expression; returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._read_line(deadline)
            if line is None:
                raise Failure("%s exited (%s) before printing /%s/:\n%s"
                              % (self.name(), self.proc.wait(), pattern, self.output()))
            match = re.search(pattern, line)
            if match:
                return match

    def finish(self, timeout=TIMEOUT):
        """Waits for a clean exit."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure("%s did not exit within %.0f s" % (self.name(), timeout))
        rest = self.proc.stdout.read().decode(errors="replace")
        self.lines += rest.splitlines()
        if code != 0:
            raise Failure("%s exited with %d:\n%s" % (self.name(), code, self.output()))

    def drain(self, keep=200):
        """From now on a thread reads the output, keeping its last `keep` lines: a long-lived
        child that logs as it works (an iothub-device agent logs each stream) would otherwise
        fill its pipe and block in write(2) after about 64 KiB."""
        def read_all():
            while True:
                data = os.read(self.proc.stdout.fileno(), 65536)
                if not data:
                    return
                *whole, self.buffer = (self.buffer + data).split(b"\n")
                self.lines = (self.lines + [w.decode(errors="replace") for w in whole])[-keep:]
        self.drainer = threading.Thread(target=read_all, daemon=True)
        self.drainer.start()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.drainer is not None:
            self.drainer.join()  # it ends at the dead child's end of file
        self.proc.stdout.close()

    def name(self):
        return "%s %s" % (os.path.basename(self.cmd[0]), self.cmd[1])

    def output(self):
        return "\n".join(self.lines + [self.buffer.decode(errors="replace")])


def cpu_seconds(pid):
    """CPU time of a process so far, summed over its threads: the first field of each
    /proc/PID/task/TID/schedstat is nanoseconds on a CPU (finer than /proc/PID/stat's ticks)."""
    total = 0
    task_dir = "/proc/%d/task" % pid
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "schedstat")) as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass  # a thread that ended since listdir
    return total / 1e9


class Bench:
    """Starts ws_bench processes with the options every run shares."""

    def __init__(self, path, ca, cert, key):
        self.path, self.ca, self.cert, self.key = path, ca, cert, key

    def start(self, role, *args):
        return Child([self.path, role, "--ca", self.ca, "--cert", self.cert, "--key", self.key]
                     + [str(a) for a in args])


def start_socat(socat, tls, target_port, cert, key, ca):
    """One socat hop on loopback, as fast as socat goes: 64 KiB buffers, no Nagle."""
    if tls:
        listen = "OPENSSL-LISTEN:0,bind=127.0.0.1,reuseaddr,nodelay,cert=%s,key=%s,verify=0" % (
            cert, key)
        target = "OPENSSL:127.0.0.1:%d,nodelay,cafile=%s" % (target_port, ca)
    else:
        listen = "TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,nodelay"
        target = "TCP:127.0.0.1:%d,nodelay" % target_port
    child = Child([socat, "-d", "-d", "-b", "65536", listen, target])
    child.port = int(child.expect(r"listening on .*:(\d+)\s*$").group(1))
    return child


# ---- the hub: a service on HTTPS, a device on MQTT ---------------------------------------------

class Stream:
    def __init__(self, service_url, service_token, device_url, device_token):
        self.service_url, self.service_token = service_url, service_token
        self.device_url, self.device_token = device_url, device_token

    def plain(self, port):
        """The same bridge on the plain ws:// listener."""
        def swap(url):
            return re.sub(r"^wss://([^/:]+):\d+", r"ws://\g<1>:%d" % port, url)
        return Stream(swap(self.service_url), self.service_token, swap(self.device_url),
                      self.device_token)


class Service:
    """The service side: one persistent HTTPS connection for every POST, as an SDK keeps one."""

    def __init__(self, emu, context):
        self.conn = http.client.HTTPSConnection("127.0.0.1", emu.ready["ports"]["https"],
                                                context=context, timeout=TIMEOUT)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.token = sas_token(emu.host, policy_key("service"), "service")

    def post(self, name):
        """Starts a stream; returns (url, token) of the service side."""
        self.conn.request("POST", "/twins/%s/streams/%s?api-version=2020-09-30" % (DEVICE, name),
                          headers={"Authorization": self.token})
        res = self.conn.getresponse()
        body = res.read()
        if res.status != 200 or res.getheader("iothub-streaming-is-accepted") != "True":
            raise Failure("POST stream %s: %d %s" % (name, res.status, body[:300]))
        return res.getheader("iothub-streaming-url"), res.getheader("iothub-streaming-auth-token")

    def health(self):
        self.conn.request("GET", "/health")
        res = self.conn.getresponse()
        res.read()
        if res.status != 200:
            raise Failure("GET /health: %d" % res.status)

    def close(self):
        self.conn.close()


def bridge_of(url):
    return url.rstrip("/").rsplit("/", 1)[1]


class Device:
    """dev1 over MQTT (TLS), accepting every stream request at once from paho's network thread.
    Each request's WebSocket URL and token go to `offers` (keyed by bridge), or, when a
    connector is set, to the connector, which opens the device's WebSocket in its own thread
    (paho sends our answer only once the callback returns)."""

    def __init__(self, emu):
        self.peer = connect_device(emu, DEVICE)
        self.offers = {}
        self.cond = threading.Condition()
        self.connector = None
        self.peer.client.on_message = self._on_request
        if self.peer.subscribe("$iothub/streams/POST/#") != (0,):
            raise Failure("the device's subscription was refused")

    def _on_request(self, client, userdata, msg):
        # $iothub/streams/POST/{name}/?$rid=R&$url=URL&$auth=T (docs/protocol.md rule 8)
        query = dict(p.split("=", 1) for p in msg.topic.split("/?", 1)[1].split("&"))
        client.publish("$iothub/streams/res/200/?$rid=" + query["$rid"], b"", 0)
        url = urllib.parse.unquote(query["$url"])
        if self.connector is not None:
            self.connector.put((url, query["$auth"]))
            return
        with self.cond:
            self.offers[bridge_of(url)] = (url, query["$auth"])
            self.cond.notify_all()

    def offer(self, service_url):
        """The device's (url, token) for the stream the service got service_url for."""
        bridge = bridge_of(service_url)
        with self.cond:
            if not self.cond.wait_for(lambda: bridge in self.offers, TIMEOUT):
                raise Failure("the device got no request for bridge %s" % bridge)
            return self.offers.pop(bridge)

    def close(self):
        self.peer.close()


def open_stream(service, device, name):
    url, token = service.post(name)
    device_url, device_token = device.offer(url)
    return Stream(url, token, device_url, device_token)


# ---- throughput --------------------------------------------------------------------------------

def transfer(send_args, recv_args, bench, nbytes, wait_for):
    """One transfer; returns (seconds, relay CPU seconds, data frames received). The receiver
    starts first, and the sender once `wait_for` (the receiver's 101, or socat's listener)
    says it can."""
    deadline = max(60.0, nbytes / 20e6)
    recv = bench.start("recv", "--bytes", nbytes, *recv_args)
    pid, send_target = wait_for(recv)
    cpu = cpu_seconds(pid())
    send = bench.start("send", "--bytes", nbytes, *send_args(send_target))
    start = int(send.expect(r"^start_ns (\d+)").group(1))
    done = recv.expect(r"^end_ns (\d+) bytes \d+ frames (\d+)", deadline)
    cpu = cpu_seconds(pid()) - cpu
    recv.finish()
    send.finish()
    return (int(done.group(1)) - start) / 1e9, cpu, int(done.group(2))


def relay_transfer(bench, stream, nbytes, emu_pid):
    def device_up(recv):
        recv.expect(r"^connected")
        return (lambda: emu_pid), None
    return transfer(lambda _: ["--connect", stream.service_url, "--token", stream.service_token],
                    ["--connect", stream.device_url, "--token", stream.device_token],
                    bench, nbytes, device_up)


def socat_transfer(bench, socat_path, tls, nbytes):
    scheme = "tls" if tls else "tcp"
    socat = []

    def socat_up(recv):
        port = int(recv.expect(r"^listening (\d+)").group(1))
        socat.append(start_socat(socat_path, tls, port, bench.cert, bench.key, bench.ca))
        return (lambda: socat[0].proc.pid), socat[0].port
    result = transfer(lambda port: ["--connect", "%s://127.0.0.1:%d" % (scheme, port)],
                      ["--listen", scheme + "://127.0.0.1:0"], bench, nbytes, socat_up)
    socat[0].finish()
    return result


# ---- echo --------------------------------------------------------------------------------------

def ping(bench, echo, connect_args, echoes):
    """Round trip times in µs."""
    pinger = bench.start("ping", "--count", echoes, *connect_args)
    samples = pinger.expect(r"^rtt_samples_ns ([\d ]+)$", 60 + echoes * 0.01).group(1)
    pinger.finish()
    echo.finish()
    return [int(ns) / 1e3 for ns in samples.split()]


def relay_echo(bench, stream, echoes):
    echo = bench.start("echo", "--connect", stream.device_url, "--token", stream.device_token)
    echo.expect(r"^connected")
    return ping(bench, echo, ["--connect", stream.service_url, "--token", stream.service_token],
                echoes)


def socat_echo(bench, socat_path, tls, echoes):
    scheme = "tls" if tls else "tcp"
    echo = bench.start("echo", "--listen", scheme + "://127.0.0.1:0")
    port = int(echo.expect(r"^listening (\d+)").group(1))
    socat = start_socat(socat_path, tls, port, bench.cert, bench.key, bench.ca)
    result = ping(bench, echo, ["--connect", "%s://127.0.0.1:%d" % (scheme, socat.port)], echoes)
    socat.finish()
    return result


# ---- stream setup ------------------------------------------------------------------------------

def ws_connect(url, token, context):
    """A WebSocket upgrade as the SDKs send it; returns the socket once the 101 is in."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if parts.scheme == "wss":
        sock = context.wrap_socket(sock, server_hostname=parts.hostname)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
                  "Authorization: Bearer %s\r\n\r\n"
                  % (parts.path, parts.netloc, key, token)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise Failure("%s closed during the upgrade: %r" % (url, head))
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise Failure("upgrade of %s refused: %r" % (url, head[:300]))
    return sock


def ws_close(sock):
    try:
        sock.sendall(WS_CLOSE_1000)
    except OSError:
        pass  # the relay closed it first: just as good
    sock.close()


class DeviceConnector(threading.Thread):
    """Opens the device's WebSocket for every request, as a device app does once it accepted."""

    def __init__(self, context):
        super().__init__(daemon=True)
        self.context = context
        self.requests = queue.Queue()
        self.done = {}  # bridge -> (time of the 101, socket) or the exception
        self.cond = threading.Condition()

    def put(self, request):
        self.requests.put(request)

    def run(self):
        while True:
            request = self.requests.get()
            if request is None:
                return
            url, token = request
            try:
                sock = ws_connect(url, token, self.context)
                result = (time.perf_counter(), sock)
            except (OSError, Failure) as e:
                result = e
            with self.cond:
                self.done[bridge_of(url)] = result
                self.cond.notify_all()

    def connected(self, service_url):
        bridge = bridge_of(service_url)
        with self.cond:
            if not self.cond.wait_for(lambda: bridge in self.done, TIMEOUT):
                raise Failure("the device's WebSocket for %s did not open" % bridge)
            result = self.done.pop(bridge)
        if isinstance(result, Exception):
            raise Failure("the device's WebSocket: %s" % result)
        return result

    def stop(self):
        self.requests.put(None)
        self.join(TIMEOUT)


def one_setup(service, connector, context, n):
    """Returns (POST -> 200, POST -> both 101) in seconds."""
    start = time.perf_counter()
    url, token = service.post("setup%d" % n)
    answered = time.perf_counter()
    service_sock = ws_connect(url, token, context)
    service_up = time.perf_counter()
    device_up, device_sock = connector.connected(url)
    ws_close(service_sock)
    ws_close(device_sock)
    return answered - start, max(service_up, device_up) - start


def one_health(service):
    start = time.perf_counter()
    service.health()
    return time.perf_counter() - start


def measure_setup(service, device, context, setups):
    connector = DeviceConnector(context)
    connector.start()
    device.connector = connector
    answered, connected, health = [], [], []
    try:
        for n in range(setups):  # interleaved with the baseline, so load changes hit both
            a, c = one_setup(service, connector, context, n)
            answered.append(a)
            connected.append(c)
            health.append(one_health(service))
    finally:
        device.connector = None
        connector.stop()
    return answered, connected, health


# ---- the table ---------------------------------------------------------------------------------

def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def row(name, value, baseline_name, baseline, unit, target=""):
    def number(x):
        return "%.3f" % x if x < 10 else "%.1f" % x
    ratio = "%.2fx" % (value / baseline) if baseline > 0 else "n/a"
    return (name, number(value), unit, number(baseline), baseline_name, ratio, target)


def verdict(ok):
    return "met" if ok else "MISSED"


def throughput_rows(tp, runs, nbytes):
    rows = []
    for scheme, base, base_name in (("ws", "tcp", "socat TCP"), ("wss", "tls", "socat TLS")):
        mbps = statistics.median(nbytes / 1e6 / t[0] for t in tp[scheme])
        base_mbps = statistics.median(nbytes / 1e6 / t[0] for t in tp[base])
        ok = mbps >= 0.9 * base_mbps
        rows.append(row("throughput %s, median of %d" % (scheme, runs), mbps, base_name,
                        base_mbps, "MB/s", ">= 0.9x: %s" % verdict(ok)))
        cpu = statistics.median(t[1] for t in tp[scheme]) / (nbytes / 1e9)
        base_cpu = statistics.median(t[1] for t in tp[base]) / (nbytes / 1e9)
        rows.append(row("  relay CPU per GB, %s" % scheme, cpu, base_name, base_cpu, "s"))
    return rows


def echo_rows(echo, echoes):
    rows = []
    for scheme, base, base_name in (("ws", "tcp", "socat TCP"), ("wss", "tls", "socat TLS")):
        p50, b50 = statistics.median(echo[scheme]), statistics.median(echo[base])
        rows.append(row("echo 32 B %s p50 (n=%d)" % (scheme, echoes), p50, base_name, b50, "µs",
                        "<= socat: %s" % verdict(p50 <= b50)))
        rows.append(row("echo 32 B %s p99" % scheme, percentile(echo[scheme], 99), base_name,
                        percentile(echo[base], 99), "µs"))
    return rows


def setup_rows(answered, connected, health):
    ms = 1000.0
    h50, h99 = statistics.median(health) * ms, percentile(health, 99) * ms
    a50, c50 = statistics.median(answered) * ms, statistics.median(connected) * ms
    n = len(answered)
    return [
        row("setup POST->200 median (keep-alive client, n=%d)" % n, a50, "GET /health", h50, "ms",
            "<= 2 ms: %s" % verdict(a50 <= 2)),
        row("setup POST->200 p99", percentile(answered, 99) * ms, "GET /health", h99, "ms"),
        row("setup POST->both 101 (wss, keep-alive) median", c50, "GET /health", h50, "ms",
            "<= 5 ms: %s" % verdict(c50 <= 5)),
        row("setup POST->both 101 (wss) p99", percentile(connected, 99) * ms, "GET /health",
            h99, "ms"),
    ]


def print_table(rows, title="device streams"):
    """Rows made by row(), under a header whose first column is title."""
    header = (title, "emulator", "", "baseline", "(same run)", "ratio", "target")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.rjust(w) if 0 < i < 6 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())


# ---- main --------------------------------------------------------------------------------------

def size(text):
    """A byte count: 1000000, 20M, 1G (decimal: 1G = 10^9 bytes)."""
    units = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}
    match = re.fullmatch(r"(\d+)([KMG]?)B?", text.strip().upper())
    if not match:
        raise argparse.ArgumentTypeError("%r is not a size like 1G, 20M or 1000" % text)
    return int(match.group(1)) * units[match.group(2)]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.environ.get(
        "IOTHUB_EMULATOR_BIN", os.path.join(ROOT, "build", "server", "iothub-emulator")))
    parser.add_argument("--ws-bench", default=os.environ.get(
        "IOTHUB_WS_BENCH", os.path.join(ROOT, "build", "tests", "perf", "ws_bench")))
    parser.add_argument("--socat", default="socat")
    parser.add_argument("--bytes", type=size, default=10**9, help="per transfer (default 1G)")
    parser.add_argument("--runs", type=int, default=11, help="transfers per case (default 11)")
    parser.add_argument("--echoes", type=int, default=2000)
    parser.add_argument("--setups", type=int, default=1000)
    return parser.parse_args()


def measure_throughput(args, bench, service, device, emu):
    plain_port = emu.ready["ports"]["streamsPlain"]
    tp = {"ws": [], "wss": [], "tcp": [], "tls": []}
    for n in range(args.runs):  # interleaved, so load changes hit every case alike
        stream = open_stream(service, device, "tp-ws-%d" % n).plain(plain_port)
        tp["ws"].append(relay_transfer(bench, stream, args.bytes, emu.proc.pid))
        tp["tcp"].append(socat_transfer(bench, args.socat, False, args.bytes))
        stream = open_stream(service, device, "tp-wss-%d" % n)
        tp["wss"].append(relay_transfer(bench, stream, args.bytes, emu.proc.pid))
        tp["tls"].append(socat_transfer(bench, args.socat, True, args.bytes))
    return tp


def measure_echo(args, bench, service, device, emu):
    """Rounds of echoes, the four cases interleaved; the samples of every round pooled."""
    plain_port = emu.ready["ports"]["streamsPlain"]
    rounds = max(1, min(ECHO_ROUNDS, args.echoes // 100))
    echo = {"ws": [], "wss": [], "tcp": [], "tls": []}
    for n in range(rounds):
        count = args.echoes // rounds + (1 if n < args.echoes % rounds else 0)
        stream = open_stream(service, device, "echo-ws-%d" % n).plain(plain_port)
        echo["ws"] += relay_echo(bench, stream, count)
        echo["tcp"] += socat_echo(bench, args.socat, False, count)
        echo["wss"] += relay_echo(bench, open_stream(service, device, "echo-wss-%d" % n), count)
        echo["tls"] += socat_echo(bench, args.socat, True, count)
    return echo


def runs_note(tp, nbytes):
    """Every transfer, in the order run: the spread tells how much to trust the medians. Each
    relay run is followed at once by its socat run, so each pair's ratio shares most of the
    machine's drift."""
    per_run = "; ".join(
        "%s %s" % (case, " ".join("%.0f" % (nbytes / 1e6 / t[0]) for t in tp[case]))
        for case in ("ws", "tcp", "wss", "tls"))
    pairs = "; ".join("%s/%s %s" % (relay, base, " ".join(
        "%.2f" % (b[0] / r[0]) for r, b in zip(tp[relay], tp[base])))
        for relay, base in (("ws", "tcp"), ("wss", "tls")))
    return "throughput per run, MB/s: %s\nratio per run, each next to its baseline: %s" % (
        per_run, pairs)


def frame_note(tp, nbytes):
    """docs/protocol.md §3.4 asks the relay to pass frames on unchanged; say how many came out."""
    sent = -(-nbytes // FRAME)
    got = {s: statistics.median(t[2] for t in tp[s]) for s in ("ws", "wss")}
    return ("frames: %d sent as 64 KiB frames, received %d through ws (%.2f per frame sent), "
            "%d through wss (%.2f)" % (sent, got["ws"], got["ws"] / sent, got["wss"],
                                       got["wss"] / sent))


def run(args, emu):
    """Every measurement; returns the table's rows and notes to print under it."""
    tls_dir = os.path.join(emu.ready["stateDir"], "tls")
    bench = Bench(args.ws_bench, emu.ca, os.path.join(tls_dir, "server.pem"),
                  os.path.join(tls_dir, "server.key"))
    context = ssl.create_default_context(cafile=emu.ca)
    device, service = Device(emu), Service(emu, context)
    try:
        tp = measure_throughput(args, bench, service, device, emu)
        echo = measure_echo(args, bench, service, device, emu)
        setup = measure_setup(service, device, context, args.setups)
    finally:
        service.close()
        device.close()
    rows = throughput_rows(tp, args.runs, args.bytes) + echo_rows(echo, args.echoes) + \
        setup_rows(*setup)
    return rows, [runs_note(tp, args.bytes), frame_note(tp, args.bytes)]


def log_problems(emu):
    """Warnings and errors the emulator logged during the run: a benchmark must not hide them."""
    problems = [line for line in emu.log().splitlines() if " WARN " in line or " ERROR " in line]
    if not problems:
        return ["emulator log: no warnings or errors"]
    return ["emulator log: %d warnings/errors, the first ones:" % len(problems)] + \
        ["  " + line for line in problems[:5]]


def main():
    args = parse_args()
    started = time.monotonic()
    harness.EMULATOR = os.path.abspath(args.bin)
    if not os.access(args.ws_bench, os.X_OK):
        raise SystemExit("no ws_bench at %s: build it (cmake --build build) or pass --ws-bench"
                         % args.ws_bench)
    try:
        with Emulator("--device", DEVICE, "--streams-plain-port", "0") as emu:
            rows, notes = run(args, emu)
            notes += log_problems(emu)
    except Failure as e:
        raise SystemExit("stream_bench: %s" % e)
    finally:
        for child in Child.live:  # whatever happened, no child outlives the run
            child.kill()
    print_table(rows)
    for note in notes:
        print(note)
    print("bytes per transfer: %d (MB = 10^6 bytes); total time %.1f s"
          % (args.bytes, time.monotonic() - started))


if __name__ == "__main__":
    main()
