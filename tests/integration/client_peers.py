"""The project's own clients as the tests run them: iothub-device (the device agent) and
iothub-service (the service CLI), plus a real OpenSSH server behind the agent.

Every process is started for real and waited for by the line it prints once ready; nothing
sleeps to wait for readiness.
"""
import os
import select
import socket
import subprocess
import tempfile
import threading
import time

from mqtt_peer import die_with_parent

SERVICE = os.environ.get("IOTHUB_SERVICE_BIN", "iothub-service")
DEVICE = os.environ.get("IOTHUB_DEVICE_BIN", "iothub-device")
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


class Background:
    """A long-running client; its stdout is read for the line that says it is ready, its stderr
    kept for the test to read."""

    def __init__(self, argv, env, ready_text, new_session=False):
        self.err_file = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err_file,
                                     env=env, text=True, preexec_fn=die_with_parent,
                                     start_new_session=new_session)
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

    def stderr(self):
        if self.err_file.closed:
            return self.final_stderr
        self.err_file.flush()
        self.err_file.seek(0)
        return self.err_file.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.err_file.closed:
            self.final_stderr = self.stderr()
            self.err_file.close()
            self.proc.stdout.close()


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
