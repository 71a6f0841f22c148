"""Test harness: starts the real iothub-emulator on free ports and talks to it with curl.

Independent of the emulator's code on purpose: SAS tokens are made here with Python's hmac, HTTP
goes through curl, JSON is checked with python3-jsonschema. Readiness is the emulator's own ready
line, read from its stdout; nothing here sleeps to wait for it.
"""
import base64
import hashlib
import hmac
import json
import fcntl
import os
import re
import select
import signal
import subprocess
import tempfile
import time
import urllib.parse

import jsonschema

EMULATOR = os.environ.get("IOTHUB_EMULATOR_BIN", "iothub-emulator")
SCHEMAS = os.environ.get("IOTHUB_SCHEMAS_DIR",
                         os.path.join(os.path.dirname(__file__), "..", "..", "schemas", "json"))
READY_TIMEOUT = 20.0
LOG_TAIL_LINES = 30  # of the log, in the message of a wait_log that timed out

# The well-known dev keys: base64(SHA-256("iothub-emulator dev key: " + policy)), see the README.
def policy_key(policy):
    return base64.b64encode(
        hashlib.sha256(("iothub-emulator dev key: " + policy).encode()).digest()).decode()


def policy_secondary_key(policy):
    label = "iothub-emulator dev secondary key: " + policy
    return base64.b64encode(hashlib.sha256(label.encode()).digest()).decode()


def sas_token(resource, key, policy=None, expiry=None, sr_style="upper", order="csharp"):
    """A SAS token as each SDK makes one (docs/protocol.md §4.1).

    sr_style: "upper" (C#, Node: %2F), "lower" (docs: %2f), "raw" (C SDK: not encoded).
    order: "csharp" (sr, sig, se, skn) or "node" (sr, sig, skn, se).
    """
    se = str(int(time.time()) + 3600 if expiry is None else expiry)
    if sr_style == "raw":
        sr = resource
    else:
        sr = urllib.parse.quote(resource, safe="")
        if sr_style == "lower":
            sr = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), sr)
    digest = hmac.new(base64.b64decode(key), (sr + "\n" + se).encode(), hashlib.sha256).digest()
    sig = urllib.parse.quote(base64.b64encode(digest).decode(), safe="")
    fields = [("sr", sr), ("sig", sig)]
    skn = [("skn", policy)] if policy else []
    fields += skn + [("se", se)] if order == "node" else [("se", se)] + skn
    return "SharedAccessSignature " + "&".join("%s=%s" % f for f in fields)


def load_schema(name):
    with open(os.path.join(SCHEMAS, name)) as f:
        return json.load(f)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body

    def json(self):
        return json.loads(self.body)

    def error(self):
        """The error in either of the hub's forms (docs/protocol.md rule D18: flat for the
        registry, nested for streams and refused tokens), validated against the schema. Returns a
        dict with "form" ("flat" or "nested") and "message"; a nested one has its detail's fields
        (errorCode, trackingId...), a flat one the code's "name", split as the Node SDK splits
        it: at the one ';', the name after "ErrorCode:"."""
        outer = self.json()
        schema = load_schema("error.schema.json")
        jsonschema.validate(outer, schema)
        if outer["ExceptionMessage"]:
            head, text = outer["Message"].split(";")
            return {"form": "flat", "name": head.split(":")[1], "message": text,
                    "trackingId": outer["ExceptionMessage"][len("Tracking ID:"):]}
        detail = json.loads(outer["Message"])
        jsonschema.validate(detail, dict(schema["$defs"]["detail"], **{"$defs": schema["$defs"]}))
        return dict(detail, form="nested")


def curl(method, url, headers=None, body=None, cafile=None, extra=()):
    """One request through curl; returns a Response. Raises if curl itself fails."""
    with tempfile.TemporaryDirectory() as tmp:
        head_file, body_file = os.path.join(tmp, "h"), os.path.join(tmp, "b")
        cmd = ["curl", "-sS", "-X", method, "-D", head_file, "-o", body_file, "-w",
               "%{http_code}", "--max-time", "20", "--path-as-is"]
        if cafile:
            cmd += ["--cacert", cafile]
        for name, value in (headers or {}).items():
            cmd += ["-H", "%s: %s" % (name, value)]
        if body is not None:
            data_file = os.path.join(tmp, "d")
            with open(data_file, "wb") as f:
                f.write(body if isinstance(body, bytes) else body.encode())
            cmd += ["--data-binary", "@" + data_file]
        cmd += list(extra) + [url]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        status = int(out.stdout.strip())
        parsed = {}
        with open(head_file, encoding="latin-1") as f:
            for line in f.read().splitlines()[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    parsed[name.strip().lower()] = value.strip()
        with open(body_file, "rb") as f:
            return Response(status, parsed, f.read().decode("utf-8", "replace"))


def device_args(devices):
    """--device ID for each of devices: the command line that registers them at start."""
    return [arg for d in devices for arg in ("--device", d)]


class Emulator:
    """The real emulator as a child process. Use as a context manager."""

    def __init__(self, *args, state_dir=None, env=None, expect_ready=True, wrapper=(),
                 ready_timeout=READY_TIMEOUT, stop_timeout=20):
        self.tmp = tempfile.TemporaryDirectory(prefix="iothub-test-")
        self.ready_file = os.path.join(self.tmp.name, "ready.json")
        self.state_dir = state_dir
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.expect_ready = expect_ready
        self.wrapper = list(wrapper)  # e.g. valgrind and its options
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.proc = None
        self.ready = None
        self.stdout_lines = []

    def command(self):
        # Every port free-picked, so tests can run side by side.
        cmd = self.wrapper + [EMULATOR, "--https-port", "0", "--mqtts-port", "0", "--streams-port", "0",
               "--ready-file", self.ready_file]
        cmd += ["--state-dir", self.state_dir] if self.state_dir else ["--ephemeral"]
        return cmd + self.args

    def start(self):
        self.stderr = open(os.path.join(self.tmp.name, "stderr.log"), "w+")
        append_only(self.stderr)
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=self.stderr,
                                     env=self.env, text=True)
        if self.expect_ready:
            self.wait_ready()
        return self

    def wait_ready(self):
        """Reads stdout until the ready line; fails if the process exits or the deadline passes."""
        deadline = time.monotonic() + self.ready_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no ready line within %.0f s; stderr:\n%s"
                                     % (self.ready_timeout, self.log()))
            readable, _, _ = select.select([self.proc.stdout], [], [], left)
            if not readable:
                continue
            line = self.proc.stdout.readline()
            if line == "":
                raise AssertionError("the emulator exited (%s) before it was ready; stderr:\n%s"
                                     % (self.proc.wait(), self.log()))
            self.stdout_lines.append(line)
            if line.startswith("iothub-emulator ready"):
                with open(self.ready_file) as f:
                    self.ready = json.load(f)
                return

    def log(self):
        return read_apart(self.stderr)

    def wait_log(self, pattern, count=1, since=0, timeout=10.0):
        """Waits until the log holds pattern (a text, or a compiled regular expression) at least
        count times, and returns the log. since: an offset (len(emu.log()) taken earlier), to
        look only at what was logged after it, the returned log included.

        For lines written on another thread than the one that answered the test: what the broker
        reports (a refusal, a connection) the hub logs when its own MQTT client gets it, after
        the device already has its CONNACK."""
        def found(log):
            return log.count(pattern) if isinstance(pattern, str) else len(pattern.findall(log))

        def enough():
            log = self.log()[since:]
            return log if found(log) >= count else None
        text = repr(pattern) if isinstance(pattern, str) else "/%s/" % pattern.pattern
        what = "%s %sin the emulator's log" % (text, "%d times " % count if count > 1 else "")
        try:
            return wait_until(enough, timeout=timeout, what=what)
        except AssertionError as timed_out:
            log = self.log()[since:]
            tail = "\n".join(log.splitlines()[-LOG_TAIL_LINES:])
            raise AssertionError("%s (found %d); the log ends with:\n%s"
                                 % (timed_out, found(log), tail)) from None

    def stop(self):
        """SIGTERM, then the exit code (0 for a clean shutdown)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the emulator did not stop within %d s of SIGTERM"
                                 % self.stop_timeout)

    def discard(self):
        """After the test killed it on purpose: let go of its files, check nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()
        self.proc.stdout.close()
        self.tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        code = self.stop()
        self.stderr.close()
        if self.proc is not None:
            self.proc.stdout.close()
        self.tmp.cleanup()
        if exc[0] is None and self.expect_ready and code != 0:
            raise AssertionError("the emulator exited with %s after SIGTERM" % code)

    # Conveniences once ready.
    @property
    def host(self):
        return self.ready["hostName"]

    @property
    def ca(self):
        return self.ready["caFile"]

    def device_key(self, device_id):
        res = self.request("GET", "/devices/" + urllib.parse.quote(device_id, safe=""),
                           "registryRead")
        assert res.status == 200, res.body
        return res.json()["authentication"]["symmetricKey"]["primaryKey"]

    def device_state(self, device_id):
        res = self.request("GET", "/devices/" + urllib.parse.quote(device_id, safe=""),
                           "registryRead")
        assert res.status == 200, res.body
        return res.json()

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.ready["ports"]["https"], path)

    def request(self, method, path, policy=None, token=None, headers=None, body=None):
        headers = dict(headers or {})
        if token is None and policy is not None:
            token = sas_token(self.host, policy_key(policy), policy)
        if token is not None:
            headers["Authorization"] = token
        return curl(method, self.url(path), headers, body, cafile=self.ca)


def vm_rss_kib(pid):
    """A process's resident memory, from /proc."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def append_only(log_file):
    """Makes a child's stderr file append-only. The child shares the file's offset with the
    test's file object: without O_APPEND, a line it writes while the test has seeked back to
    read lands over earlier lines, and they are lost."""
    flags = fcntl.fcntl(log_file.fileno(), fcntl.F_GETFL)
    fcntl.fcntl(log_file.fileno(), fcntl.F_SETFL, flags | os.O_APPEND)


def read_apart(log_file):
    """All of a child's stderr file so far, read through a file description of its own, so the
    read moves no offset the child writes at."""
    with open("/proc/self/fd/%d" % log_file.fileno()) as f:
        return f.read()


# AddressSanitizer makes every process start and every call two to three times slower.
SANITIZED = os.environ.get("IOTHUB_SANITIZED") == "1"


def latency_bound(seconds):
    """A bound on a latency a user sees, stated for the plain build: the sanitized build gets
    three times as long, which still tells a prompt answer from one that waited for a timeout
    (their checks are of memory, not of speed; the benchmarks measure speed)."""
    return seconds * 3 if SANITIZED else seconds


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls an asynchronous effect (a registry field the emulator updates on an MQTT event)
    until it holds or the deadline passes. Readiness of processes is never waited for this way."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)
