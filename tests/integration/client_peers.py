"""The project's own clients as the tests run them: iothub-device (the device agent),
iothub-service (the service CLI) and libiothub-service in one long-lived process (service_calls),
plus a real OpenSSH server behind the agent and a relay that counts and cuts the library's
connections to the hub.

Every process is started for real and waited for by the line it prints once ready; nothing
sleeps to wait for readiness.
"""
import os
import queue
import select
import selectors
import socket
import subprocess
import tempfile
import threading
import time

from harness import append_only, read_apart
from mqtt_peer import die_with_parent

SERVICE = os.environ.get("IOTHUB_SERVICE_BIN", "iothub-service")
DEVICE = os.environ.get("IOTHUB_DEVICE_BIN", "iothub-device")
SERVICE_CALLS = os.environ.get("IOTHUB_SERVICE_CALLS_BIN", "service_calls")
SSHD = "/usr/sbin/sshd"
READY_TIMEOUT = 20.0


def client_env(emu, **extra):
    """What the clients read from the environment to reach this emulator."""
    env = dict(os.environ)
    env.update({
        "IOTHUB_CONNECTION_STRING": emu.ready["serviceConnectionString"],
        "IOTHUB_CA_FILE": emu.ca,
        "IOTHUB_HTTPS_PORT": str(emu.ready["ports"]["https"]),
        "IOTHUB_MQTTS_PORT": str(emu.ready["ports"]["mqtts"]),
    })
    env.update(extra)
    return env


def service(emu, *args, input=None, timeout=60, env=None):
    """Runs iothub-service to its end: a CompletedProcess with text output."""
    return subprocess.run([SERVICE, *args], input=input, capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else client_env(emu))


class Child:
    """A client process of the test: its stdout is a pipe, its stderr a temporary file the test
    can read while it runs and once it ended."""

    def __init__(self, argv, env, **popen):
        self.err_file = tempfile.TemporaryFile(mode="w+")
        append_only(self.err_file)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err_file,
                                     env=env, text=True, preexec_fn=die_with_parent, **popen)

    def stderr(self):
        if self.err_file.closed:
            return self.final_stderr
        return read_apart(self.err_file)

    def wait_exit(self, timeout=10):
        """Once asked to end: waits, then kills."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def close_files(self):
        if not self.err_file.closed:
            self.final_stderr = self.stderr()
            self.err_file.close()
            self.proc.stdout.close()


class Background(Child):
    """A long-running client; its stdout is read for the line that says it is ready."""

    def __init__(self, argv, env, ready_text, new_session=False):
        super().__init__(argv, env, start_new_session=new_session)
        self.ready_line = self._wait_for(ready_text)

    def _wait_for(self, text):
        deadline = time.monotonic() + READY_TIMEOUT
        poller = select.poll()  # not select(): a test may hold more than 1024 descriptors
        poller.register(self.proc.stdout, select.POLLIN)
        while time.monotonic() < deadline:
            if poller.poll(500):
                line = self.proc.stdout.readline()
                if line == "":
                    break
                if text in line:
                    return line
        self.stop()
        raise AssertionError("%s did not print %r; stderr:\n%s" % (self.proc.args[0], text,
                                                                  self.stderr()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.wait_exit()
        self.close_files()


def device_agent(emu, device_id, mode_args, *options, env=None):
    """iothub-device for a registered device, once it listens for stream requests."""
    key = emu.device_key(device_id.split("/")[0])
    cs = "HostName=%s;DeviceId=%s;SharedAccessKey=%s" % (emu.host, device_id.split("/")[0], key)
    if "/" in device_id:
        cs += ";ModuleId=" + device_id.split("/")[1]
    env = env if env is not None else client_env(emu, IOTHUB_DEVICE_CONNECTION_STRING=cs)
    return Background([DEVICE, *options, *mode_args], env, "listening for stream requests")


def local_proxy(emu, device_id, *options):
    """iothub-service proxy DEVICE --local-port 0; returns (process, port)."""
    p = Background([SERVICE, "proxy", device_id, "--local-port", "0", *options], client_env(emu),
                   "listening on")
    port = int(p.ready_line.split(",")[0].rsplit(":", 1)[1])
    return p, port


class ServiceCalls(Child):
    """One libiothub-service client making call after call (tests/integration/service_calls.c).
    call() sends a command and returns its result ("ok", "accepted", "rejected", "status N" or
    "error STATUS MESSAGE"); spawn() starts one on a thread of its own and returns its number;
    wait() waits for those and returns {number: result}."""

    def __init__(self, env):
        super().__init__([SERVICE_CALLS], env, stdin=subprocess.PIPE)
        self.lines = queue.Queue()
        self.results = {}
        self.count = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _result(self, number, timeout):
        deadline = time.monotonic() + timeout
        while number not in self.results:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError("service_calls: no result for command %d; stderr:\n%s"
                                     % (number, self.stderr()))
            n, result = line.split(" ", 1)
            self.results[int(n)] = result
        return self.results.pop(number)

    def call(self, command, timeout=60):
        self.count += 1
        self._send(command)
        return self._result(self.count, timeout)

    def spawn(self, command):
        self.count += 1
        self._send("&" + command)
        return self.count

    def wait(self, timeout=60):
        self._send("wait")
        self._result(0, timeout)
        done, self.results = self.results, {}
        return done

    def stop(self):
        """Ends the input: the process frees its client and exits. Returns its exit code."""
        self.proc.stdin.close()
        self.wait_exit(timeout=30)
        self.reader.join(10)
        self.close_files()
        return self.proc.returncode


class CountingProxy:
    """A TCP relay in front of the hub's HTTPS port that counts the connections it accepts. TLS
    passes through untouched (the hub's certificate names 127.0.0.1, the relay's address too).
    drop() closes every relayed connection, as the hub closes idle ones (or stops);
    cut_next_request() makes each open connection close when its client sends next, unrelayed
    (the hub closed it just as the request went out); cut_next_response() makes each close when
    the hub answers next, after the request reached the hub (the answer is lost)."""

    def __init__(self, hub_port):
        self.hub = ("127.0.0.1", hub_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.links = []
        self.actions = queue.Queue()
        self.wake_r, self.wake_w = socket.socketpair()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.selector.register(self.wake_r, selectors.EVENT_READ, None)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _do(self, action):
        """Runs action on the relay's thread and returns once it ran."""
        done = threading.Event()
        self.actions.put((action, done))
        self.wake_w.send(b"x")
        if not done.wait(10):
            raise AssertionError("the relay did not answer")

    def drop(self):
        self._do(self._close_all)

    def cut_next_request(self):
        self._do(lambda: self._cut_all(CLIENT))

    def cut_next_response(self):
        self._do(lambda: self._cut_all(HUB))

    def stop(self):
        self.actions.put((None, None))
        self.wake_w.send(b"x")
        self.thread.join(10)
        self._close_all()
        self.selector.close()
        for s in (self.listener, self.wake_r, self.wake_w):
            s.close()

    def _run(self):
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.listener:
                    self._accept()
                elif key.fileobj is self.wake_r:
                    if not self._run_actions():
                        return
                elif key.data[0] in self.links:
                    self._relay(*key.data)

    def _run_actions(self):
        self.wake_r.recv(64)
        while not self.actions.empty():
            action, done = self.actions.get()
            if action is None:
                return False
            action()
            done.set()
        return True

    def _accept(self):
        client, _ = self.listener.accept()
        hub = socket.create_connection(self.hub)
        self.accepted += 1
        link = _Link(client, hub)
        self.links.append(link)
        for side in (CLIENT, HUB):
            self.selector.register(link.sockets[side], selectors.EVENT_READ, (link, side))

    def _relay(self, link, side):
        try:
            data = link.sockets[side].recv(65536)
        except OSError:
            data = b""
        if not data or link.cut_on == side:
            self._close(link)
            return
        try:
            link.sockets[1 - side].sendall(data)
        except OSError:
            self._close(link)

    def _cut_all(self, side):
        for link in self.links:
            link.cut_on = side

    def _close_all(self):
        for link in list(self.links):
            self._close(link)

    def _close(self, link):
        self.links.remove(link)
        for s in link.sockets:
            self.selector.unregister(s)
            s.close()


CLIENT, HUB = 0, 1


class _Link:
    """One relayed connection: its client's socket and the hub's (indexed by CLIENT and HUB),
    and the side whose next data closes it, if any."""

    def __init__(self, client, hub):
        self.sockets = (client, hub)
        self.cut_on = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """A throwaway OpenSSH server on loopback: its own host key, one authorized test key, the
    current user, SFTP for scp. Ready once it logs that it listens."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="iothub-sshd-")
        d = self.dir.name
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            os.path.join(d, name)], check=True)
        self.client_key = os.path.join(d, "client_key")
        with open(os.path.join(d, "client_key.pub")) as f, \
                open(os.path.join(d, "authorized_keys"), "w") as out:
            out.write(f.read())
        os.chmod(os.path.join(d, "authorized_keys"), 0o600)
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory
        self.user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        for _ in range(5):  # a free port may be taken between the check and the bind
            self.port = free_port()
            if self._start():
                return
        raise AssertionError("sshd did not start:\n" + "".join(self.log))

    def _start(self):
        d = self.dir.name
        config = os.path.join(d, "sshd_config")
        with open(config, "w") as f:
            f.write("ListenAddress 127.0.0.1\nPort %d\nHostKey %s/host_key\n"
                    "AuthorizedKeysFile %s/authorized_keys\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                    "PidFile none\nPermitRootLogin prohibit-password\n"
                    "Subsystem sftp internal-sftp\n" % (self.port, d, d))
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stderr=subprocess.PIPE,
                                     text=True, preexec_fn=die_with_parent)
        self.log = []
        listening = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.log.append(line)
                if "Server listening" in line:
                    listening.set()
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + READY_TIMEOUT
        # Ready when it says so; failed when its log ends first (the port was taken).
        while time.monotonic() < deadline and reader.is_alive():
            if listening.wait(0.1):
                return True
        if listening.is_set():
            return True
        self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()
        return False

    def ssh_options(self):
        return ["-i", self.client_key, "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.proc.stderr.close()
        self.dir.cleanup()
