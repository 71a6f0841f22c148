#!/usr/bin/python3
"""Benchmark: stream setup with the project's clients, the initiation rate, and 1000 streams at
once. Each figure sits next to a baseline measured in the same run.

  setup        --setups streams, one after another, from libiothub-service to an iothub-device
               echo agent: POST -> 200 (on the library's kept-alive connection), POST
               -> both WebSockets up (the hub's own timeline, /emulator/streams) and POST ->
               first echo back. Baseline: a registry read through the same library.
  rate         stream requests for --rate-seconds from --rate-threads keep-alive HTTPS
               connections, round-robin over --rate-devices iothub-device agents that decline
               (so nothing piles up: each request is a whole initiation, POST -> MQTT request
               -> answer -> 200). Baseline: GET /health on the same connections.
  concurrent   --streams streams over 10 iothub-device echo agents, each echoing 32 bytes a
               second for --concurrent-seconds: the emulator's and mosquitto's RSS (peak) and
               CPU, and every error. Baseline: the same processes before the streams.

Usage: load_bench.py [--bin EMULATOR] [--device-bin IOTHUB_DEVICE] [--load STREAM_LOAD]
                     [--setups 1000] [--rate-seconds 10] [--rate-threads 4] [--rate-devices 100]
                     [--streams 1000] [--concurrent-seconds 30]
       smoke run: --setups 20 --rate-seconds 1 --rate-devices 5 --streams 20
                  --concurrent-seconds 2
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import Emulator, policy_key, sas_token  # noqa: E402
from stream_bench import (Child, Failure, cpu_seconds, percentile, print_table, row,  # noqa: E402
                          verdict)

TIMEOUT = 60.0


def client_env(emu):
    return dict(os.environ, IOTHUB_CONNECTION_STRING=emu.ready["serviceConnectionString"],
                IOTHUB_CA_FILE=emu.ca, IOTHUB_HTTPS_PORT=str(emu.ready["ports"]["https"]),
                IOTHUB_MQTTS_PORT=str(emu.ready["ports"]["mqtts"]))


def agent(args, emu, device, *options):
    """An iothub-device echo agent for a registered device, once it listens."""
    env = client_env(emu)
    env["IOTHUB_DEVICE_CONNECTION_STRING"] = "HostName=%s;DeviceId=%s;SharedAccessKey=%s" % (
        emu.host, device, emu.device_key(device))
    child = Child([args.device_bin, *options, "echo"], env)
    child.expect("listening for stream requests", TIMEOUT)
    child.drain()
    return child


def run_load(args, emu, *load_args, timeout=600):
    done = subprocess.run([args.load, *[str(a) for a in load_args]], capture_output=True,
                          text=True, env=client_env(emu), timeout=timeout)
    if done.returncode != 0:
        raise Failure("stream_load %s: %s" % (load_args[0], done.stderr.strip()))
    return done.stdout


def setup_rows(args, emu):
    device = agent(args, emu, "setup0")
    samples = [list(map(int, line.split()))
               for line in run_load(args, emu, "setup", args.setups, "setup0").splitlines()]
    baseline = [int(line) for line in run_load(args, emu, "get", args.setups, "setup0")
                .splitlines()]
    token = sas_token(emu.host, policy_key("registryRead"), "registryRead")
    streams = emu.request("GET", "/emulator/streams", token=token).json()
    connected = [s["stepsMs"]["connected"] for s in streams
                 if s["streamName"] == "setup" and s["stepsMs"]["connected"] is not None]
    device.kill()
    answered = [s[0] / 1000 for s in samples]
    echoed = [s[2] / 1000 for s in samples]
    base = [b / 1000 for b in baseline]
    n = len(samples)
    b50, b99 = statistics.median(base), percentile(base, 99)
    c50 = statistics.median(connected)
    rows = [
        row("setup POST->200 median (libiothub, n=%d)" % n, statistics.median(answered),
            "registry read", b50, "ms", "<= 2 ms: %s" % verdict(statistics.median(answered) <= 2)),
        row("setup POST->200 p99", percentile(answered, 99), "registry read", b99, "ms"),
        row("setup POST->both connected median (libiothub, hub 1 ms steps, n=%d)"
            % len(connected), c50, "registry read", b50, "ms", "<= 5 ms: %s" % verdict(c50 <= 5)),
        row("setup POST->both connected p99 (hub)", percentile(connected, 99), "registry read",
            b99, "ms"),
        row("setup POST->first echo median", statistics.median(echoed), "registry read", b50,
            "ms"),
    ]
    return rows


def parse_pairs(text):
    words = text.split()
    return {words[i]: float(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def rate_rows(args, emu, devices):
    agents = [agent(args, emu, d, "--accept", "no-stream-by-this-name") for d in devices]
    rate = parse_pairs(run_load(args, emu, "rate", args.rate_seconds, args.rate_threads,
                                *devices))
    base = parse_pairs(run_load(args, emu, "health-rate", args.rate_seconds, args.rate_threads))
    for a in agents:
        a.kill()
    per_s = rate["initiated"] / rate["seconds"]
    base_per_s = base["initiated"] / base["seconds"]
    if rate["errors"] or base["errors"]:
        raise Failure("errors in the rate run: %s / %s" % (rate, base))
    return [row("initiation rate, %d devices, %d s" % (len(devices), args.rate_seconds), per_s,
                "GET /health", base_per_s, "/s", ">= 1000/s: %s" % verdict(per_s >= 1000))]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def broker_pid(emu):
    children = subprocess.run(["pgrep", "-P", str(emu.proc.pid), "-x", "mosquitto"],
                              capture_output=True, text=True).stdout.split()
    return int(children[0])


def concurrent_rows(args, emu):
    devices = ["conc%d" % i for i in range(10)]
    agents = [agent(args, emu, d) for d in devices]
    pids = [emu.proc.pid, broker_pid(emu)]
    idle_rss = sum(rss_kib(p) for p in pids)
    load = Child([args.load, "concurrent", str(args.streams), str(args.concurrent_seconds),
                  *devices], client_env(emu))
    load.expect(r"^running$", TIMEOUT + args.streams * 0.05)
    cpu_start = sum(cpu_seconds(p) for p in pids)
    started = time.monotonic()
    peak = 0
    while load.proc.poll() is None:
        peak = max(peak, sum(rss_kib(p) for p in pids))
        time.sleep(0.5)  # sampling, not waiting: the run ends when stream_load exits
    cpu = sum(cpu_seconds(p) for p in pids) - cpu_start
    elapsed = time.monotonic() - started
    load.finish()
    result = parse_pairs(next(line for line in load.lines if line.startswith("streams ")))
    if result["errors"]:
        raise Failure("stream_load concurrent: %s" % result)
    for a in agents:
        a.kill()
    mib, idle_mib = peak / 1024, idle_rss / 1024
    return [
        row("%d streams, RSS emulator+mosquitto, peak" % args.streams, mib, "idle", idle_mib,
            "MiB", "<= 150 MiB: %s" % verdict(mib <= 150)),
        row("  CPU of both, average", 100 * cpu / elapsed, "", 0, "%"),
        row("  echoes (errors: %d, late: %d)" % (result["errors"], result["late"]),
            result["echoes"], "", 0, ""),
    ]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    build = os.path.join(ROOT, "build")
    p.add_argument("--bin", default=os.environ.get("IOTHUB_EMULATOR_BIN",
                                                   os.path.join(build, "server", "iothub-emulator")))
    p.add_argument("--device-bin", default=os.environ.get(
        "IOTHUB_DEVICE_BIN", os.path.join(build, "client", "iothub-device")))
    p.add_argument("--load", default=os.environ.get(
        "IOTHUB_STREAM_LOAD", os.path.join(build, "tests", "perf", "stream_load")))
    p.add_argument("--setups", type=int, default=1000)
    p.add_argument("--rate-seconds", type=int, default=10)
    p.add_argument("--rate-threads", type=int, default=4)
    p.add_argument("--rate-devices", type=int, default=100)
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--concurrent-seconds", type=int, default=30)
    return p.parse_args()


def main():
    args = parse_args()
    started = time.monotonic()
    harness.EMULATOR = os.path.abspath(args.bin)
    rate_devices = ["rate%03d" % i for i in range(args.rate_devices)]
    seeds = ["setup0"] + rate_devices + ["conc%d" % i for i in range(10)]
    flags = ["--max-pending-handshakes", "0", "--max-streams", "0"]
    for d in seeds:
        flags += ["--device", d]
    try:
        with Emulator(*flags, ready_timeout=60) as emu:
            rows = setup_rows(args, emu)
            rows += rate_rows(args, emu, rate_devices)
            rows += concurrent_rows(args, emu)
    except Failure as e:
        raise SystemExit("load_bench: %s" % e)
    finally:
        for child in Child.live:
            child.kill()
    print_table(rows)
    print("total time %.1f s" % (time.monotonic() - started))


if __name__ == "__main__":
    main()
