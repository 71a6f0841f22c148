"""The Docker demo without Docker: the three entrypoints of docker/ run natively on loopback
with the environment docker-compose.yml gives them (only addresses, ports and paths are changed
for loopback), and ssh goes through the chain. Fast and without root; tests/docker/run builds
and runs the real containers. A second test keeps the compose file, the Dockerfile and the
scripts consistent."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

import yaml

from client_peers import Background, free_port
from harness import curl

SOURCE = os.environ.get("IOTHUB_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKER = os.path.join(SOURCE, "docker")
BUILD = os.environ.get("IOTHUB_BUILD_DIR", os.path.join(SOURCE, "build"))
BIN_DIRS = [DOCKER, os.path.join(BUILD, "server"), os.path.join(BUILD, "client")]


def compose():
    with open(os.path.join(DOCKER, "docker-compose.yml")) as f:
        return yaml.safe_load(f)


def dockerfile():
    with open(os.path.join(DOCKER, "Dockerfile")) as f:
        return f.read()


def script(name):
    with open(os.path.join(DOCKER, name)) as f:
        return f.read()


def published(mapping):
    """A compose port mapping, "${VARIABLE:-host}:container", as (host, container)."""
    host, container = re.fullmatch(r"\$\{IOTHUB_DEMO_\w+:-(\d+)\}:(\d+)", mapping).groups()
    return int(host), int(container)


def loopback(value, ports):
    """A compose value as it must be on this machine: the hub's name and ports are local."""
    value = str(value).replace("iothub.local", "127.0.0.1")
    return value.replace("127.0.0.1:443/", "127.0.0.1:%d/" % ports["https"])


class Group(Background):
    """An entrypoint in its own process group: sshd, started by the device's, goes with it."""

    def __init__(self, argv, env, ready_text):
        super().__init__(argv, env, ready_text, new_session=True)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # the group is gone already
        super().stop()


class NativeDemo(unittest.TestCase):
    def test_ssh_through_the_three_entrypoints(self):
        spec = compose()["services"]
        tmp = tempfile.TemporaryDirectory(prefix="iothub-demo-")
        self.addCleanup(tmp.cleanup)
        path = ":".join(BIN_DIRS + [os.environ["PATH"]])

        def start(service, overrides, ready_text):
            env = dict(os.environ, PATH=path)
            env.update({k: str(v) for k, v in spec[service]["environment"].items()})
            env.update(overrides)
            entry = spec[service]["command"][0]
            p = Group([os.path.join(DOCKER, entry)], env, ready_text)
            self.addCleanup(p.stop)
            return p

        ready = os.path.join(tmp.name, "ready.json")
        hub = start("hub", {"IOTHUB_EMULATOR_STATE_DIR": os.path.join(tmp.name, "state"),
                            "IOTHUB_EMULATOR_LISTEN": "127.0.0.1",
                            "IOTHUB_EMULATOR_HOST_NAMES": "127.0.0.1,localhost",
                            "IOTHUB_EMULATOR_HTTPS_PORT": "0", "IOTHUB_EMULATOR_MQTTS_PORT": "0",
                            "IOTHUB_EMULATOR_STREAMS_PORT": "0",
                            "IOTHUB_EMULATOR_READY_FILE": ready},
                    "iothub-emulator ready")
        import json
        with open(ready) as f:
            info = json.load(f)
        ports = info["ports"]
        # The compose healthcheck, on this machine's port.
        check = spec["hub"]["healthcheck"]["test"]
        url = check[-1].replace(":443/", ":%d/" % ports["https"])
        self.assertEqual(curl("GET", url, cafile=info["caFile"]).status, 200)

        def client_env(service, extra):
            env = {k: loopback(v, ports) for k, v in spec[service]["environment"].items()}
            env.update(extra)
            return env

        keys = os.path.join(tmp.name, "authorized_keys")
        shutil.copy(os.path.join(DOCKER, "demo-ssh-key.pub"), keys)
        device = start("device", client_env("device", {
            "IOTHUB_MQTTS_PORT": str(ports["mqtts"]),
            "IOTHUB_CA_FILE": os.path.join(tmp.name, "device", "ca.pem"),
            "DEMO_SSHD_PORT": str(free_port()),
            "DEMO_SSH_AUTHORIZED_KEYS": keys,
            "DEMO_STATE_DIR": os.path.join(tmp.name, "device-state"),
            "HOME": os.path.join(tmp.name, "device-home")}),
            "listening for stream requests")
        proxy = start("service", client_env("service", {
            "IOTHUB_HTTPS_PORT": str(ports["https"]),
            "IOTHUB_CA_FILE": os.path.join(tmp.name, "service", "ca.pem"),
            "DEMO_LOCAL_PORT": "0", "DEMO_LISTEN": "127.0.0.1"}),
            "listening on")
        port = int(proxy.ready_line.split(",")[0].rsplit(":", 1)[1])
        key = os.path.join(tmp.name, "demo-ssh-key")
        shutil.copy(os.path.join(DOCKER, "demo-ssh-key"), key)
        os.chmod(key, 0o600)
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        done = subprocess.run(
            ["ssh", "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-p", str(port), user + "@127.0.0.1",
             "echo through-the-demo"], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, "\n".join(
            [done.stderr, "hub:", hub.stderr(), "device:", device.stderr(), "service:",
             proxy.stderr()]))
        self.assertEqual(done.stdout, "through-the-demo\n")


class Consistency(unittest.TestCase):
    """docker-compose.yml, the Dockerfile and the entrypoints agree."""

    def setUp(self):
        self.compose = compose()
        self.services = self.compose["services"]
        self.dockerfile = dockerfile()

    def test_ports(self):
        hub = self.services["hub"]
        env = hub["environment"]
        declared = {int(env[k]) for k in ("IOTHUB_EMULATOR_HTTPS_PORT",
                                          "IOTHUB_EMULATOR_MQTTS_PORT",
                                          "IOTHUB_EMULATOR_STREAMS_PORT")}
        ports = {published(p)[1] for p in hub["ports"]}
        exposed = {int(p) for p in re.search(r"^EXPOSE (.*)$", self.dockerfile, re.M)
                   .group(1).split()}
        self.assertEqual(declared, ports)
        self.assertEqual(declared, exposed)
        for p in hub["ports"]:
            host, container = published(p)
            self.assertEqual(host, container, "the streaming URL carries the container's port")
        service = self.services["service"]
        local = int(service["environment"]["DEMO_LOCAL_PORT"])
        self.assertEqual([published(p) for p in service["ports"]], [(local, local)])
        for name in ("device", "service"):
            for key in ("IOTHUB_MQTTS_PORT", "IOTHUB_HTTPS_PORT"):
                value = self.services[name]["environment"].get(key)
                if value is not None:
                    wanted = env["IOTHUB_EMULATOR_" + key[len("IOTHUB_"):]]
                    self.assertEqual(value, wanted, "%s %s" % (name, key))
            ca_url = self.services[name]["environment"]["IOTHUB_CA_URL"]
            self.assertIn(":%s/emulator/ca.pem" % env["IOTHUB_EMULATOR_HTTPS_PORT"], ca_url)

    def test_healthcheck(self):
        https = self.services["hub"]["environment"]["IOTHUB_EMULATOR_HTTPS_PORT"]
        wanted = "https://localhost:%s/health" % https
        self.assertEqual(self.services["hub"]["healthcheck"]["test"][-1], wanted)
        self.assertRegex(self.dockerfile, r"HEALTHCHECK[^\n]*\n[^\n]*%s" % re.escape(wanted))
        for name in ("device", "service"):
            self.assertEqual(self.services[name]["depends_on"]["hub"]["condition"],
                             "service_healthy")
            self.assertTrue(self.services[name]["healthcheck"]["disable"])

    def test_environment_names(self):
        emulator_help = subprocess.run([os.path.join(BUILD, "server", "iothub-emulator"),
                                        "--help"], capture_output=True, text=True).stdout
        client_help = "".join(subprocess.run([os.path.join(BUILD, "client", tool), "--help"],
                                             capture_output=True, text=True).stdout
                              for tool in ("iothub-service", "iothub-device"))
        for name, service in self.services.items():
            entry = script(service["command"][0])
            helpers = script("fetch-ca.sh") if "fetch-ca.sh" in entry else ""
            for var in service["environment"]:
                # Each variable is read by the entrypoint or the program it starts.
                known = (var in entry or var in helpers or
                         (name == "hub" and var in emulator_help) or
                         (name != "hub" and var in client_help))
                self.assertTrue(known, "%s: nothing reads %s" % (name, var))
            # And every variable the entrypoint requires is given (or set by the image).
            for var in re.findall(r"\$\{(\w+):\?", entry + helpers):
                self.assertTrue(var in service["environment"] or
                                re.search(r"^\s*%s=" % var, self.dockerfile, re.M),
                                "%s: %s is required but not set" % (name, var))

    def test_image(self):
        copied = re.findall(r"docker/([\w.-]+\.sh)", self.dockerfile)
        for name, service in self.services.items():
            self.assertIn(service["command"][0], copied, name)
            self.assertNotIn("entrypoint", service, "%s: tini is the image's entrypoint" % name)
        self.assertIn("fetch-ca.sh", copied)
        user = re.findall(r"^USER (\S+)", self.dockerfile, re.M)
        self.assertTrue(user and user[-1] != "root")
        state = self.services["hub"]["environment"]["IOTHUB_EMULATOR_STATE_DIR"]
        # Named volumes only: a VOLUME would give every container an anonymous one.
        self.assertNotRegex(self.dockerfile, r"(?m)^VOLUME")
        self.assertIn("hub-state:%s" % state, self.services["hub"]["volumes"])
        device_state = self.services["device"]["environment"]["DEMO_STATE_DIR"]
        self.assertIn("device-state:%s" % device_state, self.services["device"]["volumes"])
        self.assertEqual(set(self.compose["volumes"]), {"hub-state", "device-state"})
        self.assertRegex(self.dockerfile, r'(?m)^ENTRYPOINT \["tini", "--"\]$')
        self.assertRegex(self.dockerfile, r"rm -f /etc/ssh/ssh_host_\*")
        self.assertRegex(self.dockerfile, r"FROM debian:12-slim AS build")
        self.assertRegex(self.dockerfile, r"(?m)^FROM debian:12-slim$")
        self.assertIn("mosquitto", self.dockerfile)

    def test_credentials_match(self):
        env = self.services["hub"]["environment"]
        device, key = env["IOTHUB_EMULATOR_DEVICES"].split(":", 1)
        cs = self.services["device"]["environment"]["IOTHUB_DEVICE_CONNECTION_STRING"]
        self.assertIn("DeviceId=%s;" % device, cs)
        self.assertTrue(cs.endswith("SharedAccessKey=" + key))
        self.assertEqual(self.services["service"]["environment"]["DEMO_DEVICE_ID"], device)
        from harness import policy_key
        self.assertTrue(self.services["service"]["environment"]["IOTHUB_CONNECTION_STRING"]
                        .endswith("SharedAccessKeyName=iothubowner;SharedAccessKey=" +
                                  policy_key("iothubowner")))
        for name in ("device", "service"):
            self.assertIn("HostName=%s;" % env["IOTHUB_EMULATOR_HOST_NAMES"].split(",")[0],
                          self.services[name]["environment"]
                          ["IOTHUB_DEVICE_CONNECTION_STRING" if name == "device"
                           else "IOTHUB_CONNECTION_STRING"])

    def test_scripts_are_posix_shell(self):
        for name in ("hub-entrypoint.sh", "device-entrypoint.sh", "service-entrypoint.sh",
                     "fetch-ca.sh"):
            check = subprocess.run(["dash", "-n", os.path.join(DOCKER, name)],
                                   capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, name + check.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
