#!/usr/bin/python3
"""Benchmark: time from exec to the emulator's ready line.

Prints a table with the median and p90 of N starts in three setups, next to a baseline measured
in the same run: `iothub-emulator --version`, which is the cost of starting the process and
loading its libraries, so the table shows what the emulator's own start-up adds on this machine.

  first start  --ephemeral: a new state directory each time (schema, dev CA and certificate made)
  restart      the same --state-dir each time (everything already there)

Usage: cold_start.py [--bin PATH] [--runs N]   (the target: median <= 200 ms)
"""
import argparse
import os
import select
import statistics
import subprocess
import tempfile
import time


def time_to_ready(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = start + 30
        while True:
            readable, _, _ = select.select([proc.stdout], [], [], max(0, deadline - time.monotonic()))
            line = proc.stdout.readline() if readable else ""
            if line.startswith("iothub-emulator ready"):
                return time.perf_counter() - start
            if line == "" and proc.poll() is not None:
                raise SystemExit("the emulator exited before it was ready: %s" % cmd)
            if time.perf_counter() - start > 30:
                raise SystemExit("no ready line within 30 s")
    finally:
        proc.terminate()
        proc.wait()
        proc.stdout.close()


def time_to_exit(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def summarize(samples):
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p90 * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.environ.get("IOTHUB_EMULATOR_BIN",
                                                        "build/server/iothub-emulator"))
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    base = [args.bin, "--https-port", "0", "--mqtts-port", "0", "--streams-port", "0"]
    rows = []
    rows.append(("baseline: --version", [time_to_exit([args.bin, "--version"])
                                          for _ in range(args.runs)]))
    rows.append(("first start (--ephemeral)", [time_to_ready(base + ["--ephemeral"])
                                                for _ in range(args.runs)]))
    with tempfile.TemporaryDirectory() as state:
        time_to_ready(base + ["--state-dir", state])  # creates the state once
        rows.append(("restart (--state-dir)", [time_to_ready(base + ["--state-dir", state])
                                                for _ in range(args.runs)]))
    baseline = summarize(rows[0][1])[0]
    print("%-28s %10s %10s %12s  %s" % ("start-up, %d runs" % args.runs, "median ms", "p90 ms",
                                        "median/base", "target"))
    for name, samples in rows:
        median, p90 = summarize(samples)
        # The target: cold start to the ready line, median <= 200 ms (both kinds of start).
        target = "" if name.startswith("baseline") else "<= 200 ms: %s" % (
            "met" if median <= 200 else "MISSED")
        print("%-28s %10.1f %10.1f %11.1fx  %s" % (name, median, p90, median / baseline,
                                                   target))


if __name__ == "__main__":
    main()
