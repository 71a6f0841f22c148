"""Security properties, one test each: secrets compared in constant time, tokens that
are single-use and expire, no secrets in logs, private state files, loopback by default."""
import os
import re
import stat
import subprocess
import time
import unittest
import urllib.parse

from client_peers import device_agent, service
from harness import Emulator, policy_key, sas_token
from stream_peer import (PendingPost, StreamDevice, accepted_stream, post_stream, refused_status,
                         run)

SOURCE = os.environ.get("IOTHUB_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))


def function_body(path, name):
    """The text of C function `name` in path: from its definition to its closing brace."""
    with open(os.path.join(SOURCE, path)) as f:
        text = f.read()
    match = re.search(r"^[^\n;]*\b%s\([^;{]*\)\s*\{" % re.escape(name), text, re.M)
    assert match, "no function %s in %s" % (name, path)
    depth, i = 0, match.end() - 1
    while True:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
        if depth == 0:
            return text[match.start():i]


class ConstantTime(unittest.TestCase):
    # Every place a secret a client sends is compared with the one kept: SAS signatures
    # (docs/protocol.md rule 15), the streams' bearer tokens, the hub's broker secret.
    SECRET_COMPARISONS = [
        ("client/protocol/sas.c", "ih_sas_verify_signature"),
        ("server/streams/stream_core.c", "check_token"),
        ("server/mqtt/plugin/plugin.c", "authenticate_hub"),
    ]

    def test_secrets_are_compared_in_constant_time(self):
        for path, name in self.SECRET_COMPARISONS:
            body = function_body(path, name)
            self.assertIn("CRYPTO_memcmp(", body, "%s:%s" % (path, name))
            # No early-exit comparison touches the secret (strcmp on a fixed client id is not
            # a secret: it is allowed where it compares a constant).
            for call in re.findall(r"\b(memcmp|strncmp|bcmp)\(", body):
                self.fail("%s:%s compares with %s" % (path, name, call))
            for args in re.findall(r"\bstrcmp\(([^)]*)\)", body):
                self.assertNotRegex(args, r"secret|token|sig|key|password",
                                    "%s:%s: strcmp(%s)" % (path, name, args))


class Tokens(unittest.TestCase):
    def test_stream_tokens_are_single_use_and_expire(self):
        with Emulator("--device", "dev1") as emu:
            dev = StreamDevice(emu, "dev1")
            self.addCleanup(dev.close)
            request, res = accepted_stream(emu, dev, connect_timeout=1)
            url, token = res.headers["iothub-streaming-url"], \
                res.headers["iothub-streaming-auth-token"]

            async def use_twice():
                from stream_peer import open_socket
                ws = await open_socket(emu, url, token)
                second = await refused_status(emu, url, token)
                await ws.close()
                return second
            self.assertEqual(run(use_twice()), 401)  # used up
            # The device's token was never used: it expires with the connect deadline.
            deadline = time.monotonic() + 10
            status = None
            while time.monotonic() < deadline:
                status = run(refused_status(emu, request["url"], request["auth"]))
                if status == 404:
                    break
            self.assertEqual(status, 404)

    def test_sas_tokens_expire_after_the_skew(self):
        with Emulator() as emu:
            now = int(time.time())
            fresh = sas_token(emu.host, policy_key("registryRead"), "registryRead",
                              expiry=now - 200)  # within the 5 minutes of skew
            stale = sas_token(emu.host, policy_key("registryRead"), "registryRead",
                              expiry=now - 400)
            self.assertEqual(emu.request("GET", "/devices", token=fresh).status, 200)
            res = emu.request("GET", "/devices", token=stale)
            self.assertEqual(res.status, 401)
            self.assertIn("expired", res.error()["message"])


class Logs(unittest.TestCase):
    def test_no_secret_reaches_a_log(self):
        with Emulator("--device", "dev1", "--trace") as emu:
            secrets = {policy_key(p) for p in ("iothubowner", "service", "device",
                                               "registryRead", "registryReadWrite")}
            secrets.add(emu.device_key("dev1"))
            agent = device_agent(emu, "dev1", ["echo"])
            self.addCleanup(agent.stop)
            self.assertEqual(service(emu, "echo", "dev1", input="x\n").stdout, "x\n")
            # A stream whose tokens the test sees, and tokens that fail. The agent goes first: a
            # device taking over its session would have it reconnect a second later and take
            # the session back, maybe before the request reached the test's device.
            agent.stop()
            peer = StreamDevice(emu, "dev1")
            self.addCleanup(peer.close)
            pending = PendingPost(emu, "dev1", name="secret")
            request = peer.next_request()
            peer.answer(request)
            res = pending.result()
            secrets |= {request["auth"], res.headers["iothub-streaming-auth-token"]}
            token = sas_token(emu.host, policy_key("service"), "service")
            secrets.add(urllib.parse.parse_qs(token.split(" ", 1)[1])["sig"][0])
            bad = token.replace("sig=", "sig=AA")
            self.assertEqual(post_stream(emu, "dev1", token=bad).status, 401)
            ui = sas_token(emu.host, policy_key("registryRead"), "registryRead")
            secrets.add(urllib.parse.parse_qs(ui.split(" ", 1)[1])["sig"][0])
            emu.request("GET", "/metrics?token=" + urllib.parse.quote(ui, safe=""))
            broker_conf = os.path.join(emu.ready["stateDir"], "broker", "mosquitto.conf")
            with open(broker_conf) as f:
                secrets |= set(re.findall(r"hub_secret\s+(\S+)", f.read()))
            peer.close()
            self.assertEqual(emu.stop(), 0)
            log = emu.log()  # the shutdown's lines too
        self.assertIn("step 3/5", log)  # the trace was on
        for secret in secrets:
            for form in {secret, urllib.parse.quote(secret, safe="")}:
                self.assertNotIn(form, log, "a secret is in the log")


class Files(unittest.TestCase):
    def test_state_is_private(self):
        with Emulator("--device", "dev1") as emu:
            state = emu.ready["stateDir"]
            seen = 0
            for root, dirs, files in os.walk(state):
                for name in dirs:
                    mode = stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode)
                    self.assertEqual(mode & 0o077, 0, "%s/%s is %o" % (root, name, mode))
                for name in files:
                    path = os.path.join(root, name)
                    if stat.S_ISSOCK(os.stat(path).st_mode):
                        continue  # the broker's socket: in a private directory
                    mode = stat.S_IMODE(os.stat(path).st_mode)
                    self.assertEqual(mode & 0o077, 0, "%s is %o" % (path, mode))
                    seen += 1
            self.assertGreaterEqual(seen, 5)  # registry, keys, certificates, broker config
            self.assertEqual(stat.S_IMODE(os.stat(state).st_mode) & 0o077, 0)


def listening_addresses(pid):
    """The local addresses of pid's listening TCP sockets, from /proc."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        with open("/proc/%d/net/%s" % (pid, table)) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                    found.append((table, fields[1].split(":")[0]))
    return found


class Network(unittest.TestCase):
    def test_loopback_by_default(self):
        # No --listen: every listener of the emulator and of its broker is on loopback.
        with Emulator() as emu:
            broker = subprocess.run(["pgrep", "-P", str(emu.proc.pid), "-x", "mosquitto"],
                                    capture_output=True, text=True).stdout.split()
            self.assertEqual(len(broker), 1)
            for pid in (emu.proc.pid, int(broker[0])):
                addresses = listening_addresses(pid)
                self.assertTrue(addresses, pid)
                for table, address in addresses:
                    loopback = address == "0100007F" if table == "tcp" else \
                        address == "00000000000000000000000001000000"
                    self.assertTrue(loopback, "%s listens on %s" % (pid, address))


if __name__ == "__main__":
    unittest.main(verbosity=2)
