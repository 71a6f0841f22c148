"""The project's clients end to end: iothub-device and iothub-service against the
real emulator over TLS, and OpenSSH through a stream: ssh with the service proxy as its
ProxyCommand and through its local port, scp of 50 MB, the target down, the registry commands,
direct methods answered by the agent's --method, twins changed by the service and kept by the
agent's --twin, telemetry sent with paho and printed by iothub-service telemetry (--follow as
messages arrive), cloud-to-device messages sent, listed and purged with iothub-service c2d and
logged by the agent. libiothub-service keeps its connection to the hub alive between calls.
"""
import concurrent.futures
import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from client_peers import (DEVICE, SERVICE, Child, CountingProxy, ServiceCalls, Sshd, client_env,
                          device_agent, free_port, local_proxy, service)
from harness import Emulator, device_args, latency_bound, policy_key, wait_until
from mqtt_peer import TIMEOUT, connect_device
from test_mqtt import broker_pid

DEVICES = ["echodev", "sshdev", "downdev", "choosy", "proto", "renew", "moddev", "slowdev",
           "methoddev", "nomethod", "methodmod", "offline", "twindev", "twinrep", "twinmod",
           "twinoff", "c2ddev", "c2dlate", "c2doff", "c2dmod"]
# The hub learns of an agent's subscriptions from the broker, on a thread of its own, maybe just
# after the agent prints that it listens; a method call gives the device this long to be
# listening (docs/protocol.md rule D2) instead of failing with 404103 at once.
METHOD_CONNECT_TIMEOUT = "10"
METHOD_LINE = r"method '%s' called \(\$rid [0-9]+\): answered %d"
# What the agent logs once the hub answered its twin GET, and once it answered a reported PATCH.
TWIN_READ_LINE = (r"twin read \(\$rid [0-9]+\): desired properties version %d, reported properties "
                  r"version [0-9]+")
TWIN_REPORTED_LINE = r"twin reported %s \(\$rid [0-9]+\): 204, reported properties version [0-9]+"
# What the agent logs for each cloud-to-device message: its id, then its body.
C2D_LINE = "iothub-device: c2d message '%s': %s"


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Clients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        args = []
        for d in DEVICES:
            args += ["--device", d]
        cls.emu = Emulator(*args).start()
        try:
            cls.sshd = Sshd()
            cls.ssh_agent = device_agent(cls.emu, "sshdev",
                                         ["proxy", "--target", "127.0.0.1:%d" % cls.sshd.port])
        except BaseException:
            cls.emu.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ssh_agent.stop()
        cls.sshd.stop()
        cls.emu.__exit__(None, None, None)

    def agent(self, device_id, mode_args, *options):
        a = device_agent(self.emu, device_id, mode_args, *options)
        self.addCleanup(a.stop)
        return a

    def ssh(self, *args, proxy_command=True, port=None, timeout=60):
        cmd = ["ssh", *self.sshd.ssh_options()]
        if proxy_command:
            cmd += ["-o", "ProxyCommand=%s proxy sshdev --stdio --name ssh" % SERVICE,
                    "%s@sshdev" % self.sshd.user]
        else:
            cmd += ["-p", str(port), "%s@127.0.0.1" % self.sshd.user]
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout,
                              env=client_env(self.emu))

    def test_echo_end_to_end(self):
        agent = self.agent("echodev", ["echo"])
        lines = "".join("line %d: %s\n" % (i, "x" * i) for i in range(200))
        done = service(self.emu, "echo", "echodev", input=lines)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, lines)
        wait_until(lambda: "stream 'echo' closed" in agent.stderr(), what="the agent's close line")
        self.assertIn("%d bytes from the service" % len(lines), agent.stderr())

    def test_stream_command(self):
        self.agent("echodev", ["echo"])
        done = service(self.emu, "stream", "echodev", "--name", "probe", "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        result = json.loads(done.stdout)
        self.assertEqual(result["isAccepted"], True)
        self.assertRegex(result["uri"], r"^wss://127\.0\.0\.1:%d/bridges/[0-9a-f]{20}$"
                         % self.emu.ready["ports"]["streams"])
        self.assertRegex(result["authorizationToken"], r"^[A-Za-z0-9_-]+$")
        text = service(self.emu, "stream", "echodev", "--response-timeout", "5")
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertTrue(text.stdout.startswith("accepted\nurl: wss://"), text.stdout)

    def test_accept_list(self):
        agent = self.agent("choosy", ["echo"], "--accept", "ssh", "--accept", "rdp")
        refused = service(self.emu, "stream", "choosy", "--name", "telnet", "--json")
        self.assertEqual(refused.returncode, 3, refused.stderr)
        self.assertEqual(json.loads(refused.stdout), {"isAccepted": False})
        self.assertIn("rejected", refused.stderr)
        self.assertIn("stream 'telnet' rejected", agent.stderr())
        allowed = service(self.emu, "echo", "choosy", "--name", "rdp", input="hi\n")
        self.assertEqual((allowed.returncode, allowed.stdout), (0, "hi\n"), allowed.stderr)

    def test_ssh_through_the_stdio_proxy(self):
        done = self.ssh("echo", "ok")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "ok\n")

    def test_scp_of_50_mb(self):
        with tempfile.TemporaryDirectory() as d:
            src, dst, back = (os.path.join(d, n) for n in ("src.bin", "dst.bin", "back.bin"))
            with open(src, "wb") as f:
                f.write(os.urandom(50 * 1000 * 1000))
            scp = ["scp", *self.sshd.ssh_options(),
                   "-o", "ProxyCommand=%s proxy sshdev --stdio --name ssh" % SERVICE]
            remote = "%s@sshdev:%s" % (self.sshd.user, dst)
            up = subprocess.run(scp + [src, remote], capture_output=True, text=True,
                                timeout=300, env=client_env(self.emu))
            self.assertEqual(up.returncode, 0, up.stderr)
            self.assertEqual(sha256_of(dst), sha256_of(src))
            down = subprocess.run(scp + [remote, back], capture_output=True, text=True,
                                  timeout=300, env=client_env(self.emu))
            self.assertEqual(down.returncode, 0, down.stderr)
            self.assertEqual(sha256_of(back), sha256_of(src))

    def test_five_parallel_sessions_through_the_local_port(self):
        proxy, port = local_proxy(self.emu, "sshdev", "--name", "ssh")
        self.addCleanup(proxy.stop)
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            runs = list(pool.map(lambda i: self.ssh("echo", "session-%d" % i,
                                                    proxy_command=False, port=port), range(5)))
        for i, done in enumerate(runs):
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(done.stdout, "session-%d\n" % i)

    def test_target_down(self):
        agent = self.agent("downdev", ["proxy", "--target", "127.0.0.1:%d" % free_port()])
        start = time.monotonic()
        done = service(self.emu, "proxy", "downdev", "--stdio", "--name", "ssh", input="")
        took = time.monotonic() - start
        self.assertNotEqual(done.returncode, 0)
        # Turned down at once, not after the 60-second handshake timeout.
        self.assertLess(took, latency_bound(2.0))
        self.assertIn("the device rejected it", done.stderr)
        wait_until(lambda: "target is down" in agent.stderr(), what="the agent's reason")
        self.assertIn("Connection refused", agent.stderr())

    def test_registry_commands_round_trip(self):
        created = service(self.emu, "device", "create", "fresh-1")
        self.assertEqual(created.returncode, 0, created.stderr)
        self.assertEqual(json.loads(created.stdout)["deviceId"], "fresh-1")
        again = service(self.emu, "device", "create", "fresh-1")
        self.assertEqual(again.returncode, 1)
        self.assertIn("409 DeviceAlreadyExists (409001)", again.stderr)
        shown = service(self.emu, "device", "show", "fresh-1")
        self.assertEqual(json.loads(shown.stdout), json.loads(created.stdout))
        listed = service(self.emu, "device", "list")
        self.assertIn("fresh-1", [line.split()[0] for line in listed.stdout.splitlines()])
        cs = service(self.emu, "device", "connection-string", "fresh-1").stdout.strip()
        key = json.loads(created.stdout)["authentication"]["symmetricKey"]["primaryKey"]
        self.assertEqual(cs, "HostName=127.0.0.1;DeviceId=fresh-1;SharedAccessKey=" + key)
        # The printed connection string works: a device connects with it and echoes.
        agent = device_agent(self.emu, "fresh-1", ["echo"],
                             env=client_env(self.emu, IOTHUB_DEVICE_CONNECTION_STRING=cs))
        self.addCleanup(agent.stop)
        echoed = service(self.emu, "echo", "fresh-1", input="through fresh-1\n")
        self.assertEqual(echoed.stdout, "through fresh-1\n", echoed.stderr)
        deleted = service(self.emu, "device", "delete", "fresh-1")
        self.assertEqual((deleted.returncode, deleted.stdout), (0, "deleted fresh-1\n"))
        gone = service(self.emu, "device", "show", "fresh-1")
        self.assertEqual(gone.returncode, 1)
        self.assertIn("404 DeviceNotFound (404001)", gone.stderr)
        self.assertIn("iothub-service device create fresh-1", gone.stderr)

    def test_module_stream(self):
        self.agent("moddev/mod1", ["echo"])
        done = service(self.emu, "echo", "moddev", "--module", "mod1", input="to a module\n")
        self.assertEqual((done.returncode, done.stdout), (0, "to a module\n"), done.stderr)

    def test_the_c_sdk_subprotocol_option(self):
        agent = self.agent("proto", ["echo"], "--ws-protocol", "MQTT")
        done = service(self.emu, "echo", "proto", input="framed\n")
        self.assertEqual(done.stdout, "framed\n", done.stderr)
        self.assertIn("subprotocol MQTT", agent.stderr())

    def test_sas_token_is_renewed(self):
        agent = self.agent("renew", ["echo"], "--sas-ttl", "5")
        wait_until(lambda: "renewing the SAS token" in agent.stderr(), timeout=15,
                   what="a renewal")
        wait_until(lambda: "connected again" in agent.stderr(), timeout=15,
                   what="the reconnection")
        done = service(self.emu, "echo", "renew", input="after renewal\n")
        self.assertEqual(done.stdout, "after renewal\n", done.stderr)

    def test_a_slow_device_gets_the_hubs_answer(self):
        # The library used to give up on a held stream POST after libwebsockets' default 5 s
        # client timeout, with "the connection closed", long before the hub's own answer.
        agent = self.agent("slowdev", ["echo"])
        os.kill(agent.proc.pid, signal.SIGSTOP)  # it gets the request and never answers
        self.addCleanup(os.kill, agent.proc.pid, signal.SIGCONT)
        started = time.monotonic()
        done = service(self.emu, "stream", "slowdev", "--response-timeout", "7")
        waited = time.monotonic() - started
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("504", done.stderr)
        self.assertIn("Timed out waiting for the response from device", done.stderr)
        self.assertGreaterEqual(waited, 7.0, done.stderr)

    def method(self, *args):
        return service(self.emu, "method", *args, "--connect-timeout", METHOD_CONNECT_TIMEOUT)

    def test_method_gets_the_canned_answer(self):
        agent = self.agent("methoddev", ["echo"], "--method", 'reboot={"ok":true}',
                           "--method", "ping=[1,2.5,\"three\"]")
        self.assertIn("and method calls", agent.ready_line)
        done = self.method("methoddev", "reboot", "--payload", '{"delay":1}')
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout), {"status": 200, "payload": {"ok": True}})
        self.assertEqual(done.stdout.count("\n"), 1, done.stdout)
        self.assertRegex(agent.stderr(), METHOD_LINE % ("reboot", 200))
        done = self.method("methoddev", "ping", "--timeout", "5")
        self.assertEqual(json.loads(done.stdout), {"status": 200, "payload": [1, 2.5, "three"]},
                         done.stderr)

    def test_method_without_a_canned_answer_gets_501(self):
        agent = self.agent("nomethod", ["echo"], "--method", 'reboot={"ok":true}')
        done = self.method("nomethod", "selfdestruct")
        # The device answered, so the call succeeded, whatever the device's status.
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout), {"status": 501, "payload": None})
        self.assertRegex(agent.stderr(), METHOD_LINE % ("selfdestruct", 501))
        self.assertIn("no --method answer for it", agent.stderr())

    def test_module_method(self):
        self.agent("methodmod/mod1", ["echo"], "--method", 'where="mod1"')
        done = self.method("methodmod", "where", "--module", "mod1")
        self.assertEqual(json.loads(done.stdout), {"status": 200, "payload": "mod1"}, done.stderr)

    def test_method_to_an_offline_device_fails_at_once(self):
        started = time.monotonic()
        done = service(self.emu, "method", "offline", "reboot", "--payload", '{"delay":1}')
        took = time.monotonic() - started
        self.assertEqual((done.returncode, done.stdout), (1, ""), done.stderr)
        self.assertIn("HTTP 404 DeviceNotOnline (404103)", done.stderr)
        self.assertIn("iothub-device --method", done.stderr)
        self.assertEqual(done.stderr.count("\n"), 1, done.stderr)
        self.assertLess(took, latency_bound(2.0))  # no connect timeout: not waited for

    def test_method_payload_must_be_json(self):
        done = service(self.emu, "method", "offline", "reboot", "--payload", "{delay:1}")
        self.assertEqual((done.returncode, done.stdout), (2, ""), done.stderr)
        self.assertIn("--payload must be JSON", done.stderr)
        bad = subprocess.run([DEVICE, "--method", "reboot={ok}", "echo"], capture_output=True,
                             text=True, timeout=30, env=client_env(self.emu))
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("the answer must be JSON", bad.stderr)

    def twin_show(self, device_id, *options):
        done = service(self.emu, "twin", "show", device_id, *options)
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)

    def test_twin_desired_change_reaches_the_device_and_is_acknowledged(self):
        # A device app written only with the project's clients: it answers a method and keeps
        # its twin, acknowledging each desired change as {"lastDesiredVersion": N}.
        agent = self.agent("twindev", ["echo"], "--twin", "--method", 'reboot={"ok":true}')
        self.assertIn("and method calls and twin", agent.ready_line)
        # Its GET is sent once it is subscribed: an answer means the hub sees it listening.
        wait_until(lambda: "twin read" in agent.stderr(), what="the device's twin read")
        self.assertRegex(agent.stderr(), TWIN_READ_LINE % 1)
        done = service(self.emu, "twin", "update", "twindev", "--desired", '{"fan":"on"}')
        self.assertEqual(done.returncode, 0, done.stderr)
        desired = json.loads(done.stdout)["properties"]["desired"]
        self.assertEqual(desired["fan"], "on")
        version = desired["$version"]
        self.assertGreater(version, 1)
        line = 'desired properties version %d: {"fan":"on"}' % version
        wait_until(lambda: line in agent.stderr(), what="the device's desired change line")
        wait_until(lambda: self.twin_show("twindev")["properties"]["reported"].get(
            "lastDesiredVersion") == version, what="lastDesiredVersion %d in the twin" % version)
        self.assertRegex(agent.stderr(),
                         TWIN_REPORTED_LINE % (r'\{"lastDesiredVersion":%d\}' % version))
        self.assertEqual(agent.stderr().count("iothub-device: desired properties version"), 1,
                         agent.stderr())
        # The method calls go on alongside.
        done = self.method("twindev", "reboot")
        self.assertEqual(json.loads(done.stdout), {"status": 200, "payload": {"ok": True}},
                         done.stderr)

    def test_twin_reports_etag_and_replace(self):
        agent = self.agent("twinrep", ["echo"], "--report", '{"firmware":"1.2"}',
                           "--report", '{"battery":97}')
        self.assertIn("and twin", agent.ready_line)  # --report implies --twin
        wait_until(lambda: self.twin_show("twinrep")["properties"]["reported"].get(
            "battery") == 97, what="the device's reports in the twin")
        twin = self.twin_show("twinrep")
        self.assertEqual(twin["properties"]["reported"]["firmware"], "1.2")
        self.assertRegex(agent.stderr(), TWIN_REPORTED_LINE % r'\{"firmware":"1\.2"\}')
        # Nothing desired yet: nothing to acknowledge.
        self.assertNotIn("lastDesiredVersion", twin["properties"]["reported"])
        stale = twin["etag"]
        done = service(self.emu, "twin", "update", "twinrep", "--tags", '{"room":"lab"}',
                       "--etag", stale)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["tags"], {"room": "lab"})
        self.assertNotEqual(json.loads(done.stdout)["etag"], stale)
        again = service(self.emu, "twin", "update", "twinrep", "--tags", '{"room":"hall"}',
                        "--etag", stale)
        self.assertEqual((again.returncode, again.stdout), (1, ""), again.stderr)
        self.assertIn("HTTP 412 PreconditionFailed (412001)", again.stderr)
        self.assertIn("iothub-service twin show twinrep", again.stderr)
        self.assertEqual(again.stderr.count("\n"), 1, again.stderr)
        # --replace: what is not given is emptied.
        done = service(self.emu, "twin", "update", "twinrep", "--desired", '{"mode":"eco"}',
                       "--replace")
        self.assertEqual(done.returncode, 0, done.stderr)
        replaced = json.loads(done.stdout)
        self.assertEqual(replaced["tags"], {})
        self.assertEqual(replaced["properties"]["desired"]["mode"], "eco")
        version = replaced["properties"]["desired"]["$version"]
        wait_until(lambda: "desired properties version %d: " % version in agent.stderr(),
                   what="the device's desired change line")

    def test_a_desired_change_made_offline_is_acknowledged_on_connect(self):
        done = service(self.emu, "twin", "update", "twinoff", "--desired", '{"fan":"off"}')
        self.assertEqual(done.returncode, 0, done.stderr)
        version = json.loads(done.stdout)["properties"]["desired"]["$version"]
        agent = self.agent("twinoff", ["echo"], "--twin")
        wait_until(lambda: self.twin_show("twinoff")["properties"]["reported"].get(
            "lastDesiredVersion") == version, what="the acknowledgement after the twin read")
        self.assertRegex(agent.stderr(), TWIN_READ_LINE % version)
        # Read, not told: no notification line.
        self.assertNotIn("iothub-device: desired properties version", agent.stderr())

    def test_module_twin(self):
        agent = self.agent("twinmod/mod1", ["echo"], "--twin")
        wait_until(lambda: "twin read" in agent.stderr(), what="the module's twin read")
        done = service(self.emu, "twin", "update", "twinmod", "--module", "mod1",
                       "--desired", '{"where":"mod1"}')
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["moduleId"], "mod1")
        version = json.loads(done.stdout)["properties"]["desired"]["$version"]
        wait_until(lambda: self.twin_show("twinmod", "--module", "mod1")["properties"][
            "reported"].get("lastDesiredVersion") == version, what="the module's acknowledgement")
        # The device's own twin is another one.
        self.assertNotIn("where", self.twin_show("twinmod")["properties"]["desired"])

    def test_twin_of_an_unknown_device(self):
        done = service(self.emu, "twin", "show", "nosuchdevice")
        self.assertEqual((done.returncode, done.stdout), (1, ""), done.stderr)
        self.assertIn("HTTP 404 DeviceNotFound (404001)", done.stderr)
        self.assertIn("iothub-service device create nosuchdevice", done.stderr)
        self.assertEqual(done.stderr.count("\n"), 1, done.stderr)

    def test_twin_arguments(self):
        for args, says in ((["--desired", "[1]"], "--desired must be a JSON object"),
                           (["--tags", "{room:1}"], "--tags must be a JSON object"),
                           ([], "twin update needs --desired JSON or --tags JSON")):
            done = service(self.emu, "twin", "update", "offline", *args)
            self.assertEqual((done.returncode, done.stdout), (2, ""), done.stderr)
            self.assertIn(says, done.stderr)
        for args in (["twin", "remove", "offline"], ["twin", "show"],
                     ["twin", "show", "offline", "--desired", "{}"]):
            done = service(self.emu, *args)
            self.assertEqual((done.returncode, done.stdout), (2, ""), done.stderr)
        bad = subprocess.run([DEVICE, "--report", "[1]", "echo"], capture_output=True, text=True,
                             timeout=30, env=client_env(self.emu))
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("--report must be a JSON object", bad.stderr)

    def c2d(self, *args, expect=0):
        done = service(self.emu, "c2d", *args)
        self.assertEqual(done.returncode, expect, done.stderr)
        return done

    def c2d_queue(self, device_id):
        return json.loads(self.c2d("list", device_id, "--json").stdout)

    def c2d_line(self, agent, message_id):
        """The agent's line for a message, once it is there."""
        prefix = C2D_LINE % (message_id, "")
        wait_until(lambda: prefix in agent.stderr(), what="the agent's line for %s" % message_id)
        return next(line for line in agent.stderr().splitlines() if line.startswith(prefix))

    def test_c2d_send_reaches_the_device(self):
        agent = self.agent("c2ddev", ["echo"])
        self.assertIn("and cloud-to-device messages", agent.ready_line)
        done = self.c2d("send", "c2ddev", "hello device", "--property", "color=red",
                        "--property", "note=a b&c=d/%", "--message-id", "m-1",
                        "--correlation-id", "corr 1")
        self.assertEqual(done.stdout, "m-1\n")
        line = self.c2d_line(agent, "m-1")
        # The body as a JSON string, then every property decoded ($.to and $.mid left out).
        self.assertTrue(line.startswith(C2D_LINE % ("m-1", '"hello device" ')), line)
        for prop in ("color=red", "note=a b&c=d/%", "$.cid=corr 1"):
            self.assertIn(" " + prop, line)
        self.assertNotIn("$.to=", line)
        # Delivered: completed (the emulator counts it so once the broker holds it).
        wait_until(lambda: self.c2d_queue("c2ddev")[-1]["state"] == "Completed",
                   what="the message completed")
        # The hub names a message sent without an id; a body that is not UTF-8 goes as base64.
        generated = self.c2d("send", "c2ddev", "\udcffok").stdout.strip()
        self.assertNotEqual(generated, "")
        self.assertEqual(self.c2d_line(agent, generated), C2D_LINE % (generated, "base64:/29r"))
        last = self.c2d_queue("c2ddev")[-1]
        self.assertEqual((last["messageId"], last["bodyBase64"]), (generated, "/29r"))

    def test_c2d_sent_before_the_device_connects_reaches_it_once_it_does(self):
        mid = self.c2d("send", "c2dlate", "waited for you").stdout.strip()
        agent = self.agent("c2dlate", ["echo"])
        self.assertEqual(self.c2d_line(agent, mid), C2D_LINE % (mid, '"waited for you"'))

    def test_c2d_to_an_offline_device_is_listed_and_purged(self):
        mid = self.c2d("send", "c2doff", "later", "--property", "k=v").stdout.strip()
        table = self.c2d("list", "c2doff").stdout.splitlines()
        self.assertEqual(len(table), 1, table)
        self.assertRegex(table[0], r'^[0-9]+ +Enqueued +%s +"later"$' % re.escape(mid))
        message, = self.c2d_queue("c2doff")
        self.assertEqual((message["messageId"], message["state"], message["body"],
                          message["properties"]), (mid, "Enqueued", "later", {"k": "v"}))
        self.assertEqual(self.c2d("purge", "c2doff").stdout, "1\n")
        self.assertEqual(self.c2d_queue("c2doff")[-1]["state"], "Purged")
        self.assertEqual(self.c2d("purge", "c2doff").stdout, "0\n")

    def test_c2d_errors(self):
        done = self.c2d("send", "nosuchdevice", "x", expect=1)
        self.assertIn("HTTP 404 DeviceNotFound (404001)", done.stderr)
        self.assertIn("iothub-service device create nosuchdevice", done.stderr)
        self.assertEqual(done.stderr.count("\n"), 1, done.stderr)
        for args, says in ((["send", "c2doff"], "c2d send takes a device id and the message's"),
                           (["send", "c2doff", "x", "--property", "novalue"],
                            "--property takes NAME=VALUE"),
                           (["send", "c2doff", "x", "--property", "a=1", "--property", "a=2"],
                            "--property a is given twice"),
                           (["list", "c2doff", "--message-id", "m"], "go with c2d send"),
                           (["purge"], "c2d purge takes one device id"),
                           (["peek", "c2doff"], "c2d takes send, list or purge"),
                           (["list", "c2dmod", "--module", "m1"], "c2d is for devices")):
            with self.subTest(args=args):
                done = self.c2d(*args, expect=2)
                self.assertEqual(done.stdout, "")
                self.assertIn(says, done.stderr)
        # A module's agent does not subscribe (a module has none) and says so.
        agent = self.agent("c2dmod/m1", ["echo"])
        self.assertNotIn("cloud-to-device", agent.ready_line)

    def test_errors_name_the_fix(self):
        env = client_env(self.emu)
        del env["IOTHUB_CONNECTION_STRING"]
        done = service(self.emu, "device", "list", env=env)
        self.assertEqual(done.returncode, 1)
        self.assertIn("--connection-string", done.stderr)
        done = service(self.emu, "device", "list",
                       env=client_env(self.emu, IOTHUB_CA_FILE="/etc/ssl/certs/ca-certificates.crt"))
        self.assertEqual(done.returncode, 1)
        self.assertIn("--ca", done.stderr)
        done = service(self.emu, "device", "list",
                       env=client_env(self.emu, IOTHUB_HTTPS_PORT=str(free_port())))
        self.assertEqual(done.returncode, 1)
        self.assertIn("--https-port", done.stderr)
        done = service(self.emu, "stream", "nosuchdevice")
        self.assertIn("404 DeviceNotFound", done.stderr)
        done = service(self.emu, "stream", "downdev", "--name", "x")
        self.assertIn("404 DeviceNotOnline", done.stderr)
        self.assertIn("start the device", done.stderr)
        # A wrong key: the agent says the hub refused it, and stops.
        bad = client_env(self.emu, IOTHUB_DEVICE_CONNECTION_STRING=(
            "HostName=127.0.0.1;DeviceId=echodev;SharedAccessKey=" + "A" * 43 + "="))
        refused = subprocess.run([DEVICE, "echo"], capture_output=True, text=True, timeout=30,
                                 env=bad)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("refused 'echodev'", refused.stderr)
        self.assertIn("check the connection string's key", refused.stderr)


# What the emulator logs at --trace for each read of the stored telemetry (the query is not shown).
TELEMETRY_READ = "GET /emulator/telemetry -> 200"
TELEMETRY_DEVICES = ["dev1", "dev2", "dev3", "bigdev", "moddev"]


def events_topic(cid, bag=""):
    """The telemetry topic of a device ("d") or module ("d/m") (docs/protocol.md rule D10)."""
    device, _, module = cid.partition("/")
    prefix = "devices/%s/modules/%s" % (device, module) if module else "devices/" + device
    return "%s/messages/events/%s" % (prefix, bag)


class Follower:
    """iothub-service telemetry ... --follow, its stdout read line by line on a thread."""

    def __init__(self, emu, *args):
        self.child = Child([SERVICE, "telemetry", *args, "--follow"], client_env(emu))
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.child.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_message(self, timeout=TIMEOUT):
        """The next line, as JSON; fails when none comes in time or the process ended."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no line within %.0f s; stderr:\n%s"
                                 % (timeout, self.child.stderr())) from None
        if line is None:
            raise AssertionError("it exited (%s); stderr:\n%s"
                                 % (self.child.proc.wait(), self.child.stderr()))
        return json.loads(line)

    def stop(self, sig=signal.SIGTERM):
        """Sends sig; returns the exit code and the lines printed after those read."""
        if self.child.proc.poll() is None:
            self.child.proc.send_signal(sig)
        self.child.wait_exit()
        self.reader.join(10)
        rest = []
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                rest.append(line)
        self.child.close_files()
        return self.child.proc.returncode, rest


class Telemetry(unittest.TestCase):
    """iothub-service telemetry, like az iot hub monitor-events, and a device app whose telemetry
    goes out with paho (the project's agent sends none): the stored messages, page after page,
    each line the element of GET /emulator/telemetry; --follow printing each new message as it
    arrives until SIGTERM; the errors. An emulator of its own, with --trace: a follower prints
    nothing until a message comes, and the log shows when its reads reached the hub."""

    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator("--trace", *device_args(TELEMETRY_DEVICES)).start()
        cls.addClassCleanup(cls.emu.__exit__, None, None, None)

    def device(self, cid):
        peer = connect_device(self.emu, cid)
        self.addCleanup(peer.close)
        return peer

    def send(self, peer, topic, payload):
        """A QoS 1 publish from paho; returns once the PUBACK came, so the message is stored
        (rule D11)."""
        info = peer.client.publish(topic, payload, 1)
        info.wait_for_publish(timeout=TIMEOUT)
        self.assertTrue(info.is_published(), "no PUBACK for %s" % topic)

    def follower(self, *args):
        f = Follower(self.emu, *args)
        self.addCleanup(f.stop, signal.SIGKILL)
        return f

    def telemetry(self, *args, env=None):
        done = service(self.emu, "telemetry", *args, env=env)
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        return [json.loads(line) for line in done.stdout.splitlines()]

    def test_follow_prints_each_new_message_until_sigterm(self):
        dev = self.device("dev1")
        other = self.device("dev3")
        self.send(dev, events_topic("dev1", "k=old"), b'{"t":0}')
        since = len(self.emu.log())
        follower = self.follower("dev1")
        # Polling, though it prints nothing: two reads to find the newest stored message (a page
        # with {"t":0}, then an empty one), then its first poll after it.
        self.emu.wait_log(TELEMETRY_READ, count=3, since=since)
        self.send(dev, events_topic("dev1", "k=v"), b'{"t":1}')
        first = follower.next_message()
        self.assertEqual(json.loads(first["body"]), {"t": 1})
        self.assertEqual(first["properties"], {"k": "v"})
        self.assertEqual((first["deviceId"], first["moduleId"]), ("dev1", None))
        # Another device's message is not printed; the next of dev1 is, in its order.
        self.send(other, events_topic("dev3"), b"not dev1's")
        self.send(dev, events_topic("dev1", "k=w"), b'{"t":2}')
        second = follower.next_message()
        self.assertEqual((json.loads(second["body"]), second["properties"]), ({"t": 2}, {"k": "w"}))
        self.assertGreater(second["sequenceNumber"], first["sequenceNumber"] + 1)
        code, rest = follower.stop(signal.SIGTERM)
        self.assertEqual((code, rest), (0, []), follower.child.stderr())
        self.assertEqual(follower.child.stderr(), "")

    def test_follow_since_prints_the_stored_ones_first(self):
        dev = self.device("dev3")
        self.send(dev, events_topic("dev3", "n=1"), b"one")
        first = self.telemetry("dev3")[-1]
        self.send(dev, events_topic("dev3", "n=2"), b"two")
        follower = self.follower("dev3", "--since", str(first["sequenceNumber"] - 1))
        self.assertEqual(follower.next_message()["body"], "one")
        self.assertEqual(follower.next_message()["body"], "two")
        self.send(dev, events_topic("dev3", "n=3"), b"three")
        self.assertEqual(follower.next_message()["body"], "three")
        code, rest = follower.stop(signal.SIGINT)
        self.assertEqual((code, rest), (0, []), follower.child.stderr())

    def test_stored_messages_in_order_then_exit(self):
        dev = self.device("dev2")
        self.send(dev, events_topic("dev2", "a=1"), b'{"n":1}')
        self.send(dev, events_topic("dev2", "a=2&%24.mid=m2"), b'{"n":2}')
        done = service(self.emu, "telemetry", "dev2")
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        lines = done.stdout.splitlines()
        self.assertEqual(len(lines), 2, done.stdout)
        messages = [json.loads(line) for line in lines]
        self.assertEqual([json.loads(m["body"]) for m in messages], [{"n": 1}, {"n": 2}])
        self.assertEqual([m["properties"] for m in messages], [{"a": "1"}, {"a": "2"}])
        self.assertEqual(messages[1]["systemProperties"]["messageId"], "m2")
        self.assertLess(messages[0]["sequenceNumber"], messages[1]["sequenceNumber"])
        # Each line is the hub's element, compact.
        res = self.emu.request("GET", "/emulator/telemetry?deviceId=dev2", "registryRead")
        self.assertEqual(messages, res.json())
        for line in lines:
            self.assertEqual(line, json.dumps(json.loads(line), separators=(",", ":"),
                                              ensure_ascii=False))
        # --since: the messages after that sequence number.
        after = self.telemetry("dev2", "--since", str(messages[0]["sequenceNumber"]))
        self.assertEqual(after, messages[1:])
        self.assertEqual(self.telemetry("dev2", "--since", str(messages[1]["sequenceNumber"])), [])

    def test_pages_too_large_for_one_answer(self):
        # 20 messages of about 580 KB of JSON each (the body as text and in base64): more than
        # the library takes in one answer (8 MiB), so it asks for fewer at a time, page after
        # page. One body holds a NUL character, UTF-8 still, so JSON text with \u0000.
        dev = self.device("bigdev")
        bodies = [b"%02d" % i + (b"\x00" if i == 7 else b"") + b"x" * 250000 for i in range(20)]
        for body in bodies:
            self.send(dev, events_topic("bigdev"), body)
        messages = self.telemetry("bigdev")
        self.assertEqual([m["body"].encode() for m in messages], bodies)
        self.assertEqual(len({m["sequenceNumber"] for m in messages}), 20)

    def test_module_messages(self):
        self.send(self.device("moddev"), events_topic("moddev", "from=device"), b"device")
        self.send(self.device("moddev/m1"), events_topic("moddev/m1", "from=module"), b"module")
        both = self.telemetry("moddev")
        self.assertEqual([(m["moduleId"], m["body"]) for m in both],
                         [(None, "device"), ("m1", "module")])
        self.assertEqual(self.telemetry("moddev", "--module", "m1"), both[1:])

    def test_errors(self):
        # A policy without RegistryRead, and one the hub does not have: refused, exit 1.
        cs = "HostName=%s;SharedAccessKeyName=%s;SharedAccessKey=%s"
        for policy in ("service", "nosuch"):
            env = client_env(self.emu, IOTHUB_CONNECTION_STRING=cs % (
                self.emu.host, policy, policy_key(policy)))
            for follow in ([], ["--follow"]):
                done = service(self.emu, "telemetry", "dev1", *follow, env=env)
                self.assertEqual((done.returncode, done.stdout), (1, ""), done.stderr)
                self.assertIn("telemetry of dev1: HTTP 401 IotHubUnauthorizedAccess (401002)",
                              done.stderr)
                self.assertIn("telemetry needs a policy with RegistryRead", done.stderr)
                self.assertEqual(done.stderr.count("\n"), 1, done.stderr)
        # A device's connection string: exit 1, as for the other commands.
        env = client_env(self.emu, IOTHUB_CONNECTION_STRING=(
            "HostName=%s;DeviceId=dev1;SharedAccessKey=%s" % (self.emu.host, policy_key("x"))))
        done = service(self.emu, "telemetry", "dev1", env=env)
        self.assertEqual((done.returncode, done.stdout), (1, ""), done.stderr)
        self.assertIn("not a service connection string", done.stderr)
        self.assertEqual(service(self.emu, "twin", "show", "dev1", env=env).returncode, 1)
        # Usage: exit 2, nothing sent.
        for args, says in ((["dev1", "dev2"], "telemetry takes at most one device id"),
                           (["dev1", "--since", "x"], "--since must be a sequence number"),
                           (["--since", "-1", "--follow"], "--since must be a sequence number")):
            done = service(self.emu, "telemetry", *args)
            self.assertEqual((done.returncode, done.stdout), (2, ""), done.stderr)
            self.assertIn(says, done.stderr)


class Reconnection(unittest.TestCase):
    def test_the_agent_reconnects_when_the_broker_restarts(self):
        with Emulator("--device", "phoenix") as emu:
            agent = device_agent(emu, "phoenix", ["echo"])
            self.addCleanup(agent.stop)
            os.kill(broker_pid(emu), signal.SIGKILL)
            wait_until(lambda: "connected again" in agent.stderr(), timeout=30,
                       what="the agent's reconnection")
            self.assertIn("lost", agent.stderr())
            # The hub reconnects to the new broker on its own schedule (about when the agent
            # does), then hears from it who is connected: wait until it sees the device too.
            wait_until(lambda: emu.device_state("phoenix")["connectionState"] == "Connected",
                       what="the hub to see phoenix again")
            done = service(emu, "echo", "phoenix", input="back again\n")
            self.assertEqual(done.stdout, "back again\n", done.stderr)


class KeepAlive(unittest.TestCase):
    """libiothub-service reuses its connection to the hub's main endpoint, seen from a
    relay in front of it that counts connections and cuts them."""

    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator("--device", "ka-no", "--device", "ka-slow").start()
        cls.addClassCleanup(cls.emu.__exit__, None, None, None)
        # Declines every stream request at once: a stream POST answered 200 without a stream.
        # Answers the method ping at once too.
        cls.declining = device_agent(cls.emu, "ka-no", ["echo"], "--accept", "none",
                                     "--method", "ping=1")
        cls.addClassCleanup(cls.declining.stop)

    def setUp(self):
        self.relay = CountingProxy(self.emu.ready["ports"]["https"])
        self.addCleanup(self.relay.stop)
        self.lib = ServiceCalls(client_env(self.emu, IOTHUB_HTTPS_PORT=str(self.relay.port)))
        self.addCleanup(self.check_exit)

    def check_exit(self):
        self.assertEqual(self.lib.stop(), 0, self.lib.stderr())

    def test_calls_one_after_another_share_one_connection(self):
        # Each call used to make its own TCP and TLS connection, and ask the hub to close it.
        for _ in range(5):
            self.assertEqual(self.lib.call("get ka-no"), "ok")
            self.assertEqual(self.lib.call("stream ka-no one-by-one"), "rejected")
        self.assertEqual(self.lib.call("create ka-new"), "ok")
        self.assertEqual(self.lib.call("get ka-new"), "ok")
        self.assertEqual(self.relay.accepted, 1)
        # libwebsockets pipelines no DELETE: it gets a connection of its own; the kept one stays.
        self.assertEqual(self.lib.call("delete ka-new"), "ok")
        self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.assertEqual(self.relay.accepted, 2)

    def test_method_calls_share_the_kept_connection(self):
        for _ in range(3):
            self.assertEqual(self.lib.call("method ka-no ping"), "status 200")
            self.assertEqual(self.lib.call("get ka-no"), "ok")
            self.assertEqual(self.lib.call("method ka-no other"), "status 501")
        self.assertEqual(self.relay.accepted, 1)

    def test_twin_calls_share_the_kept_connection(self):
        first = self.lib.call("twin ka-no")
        self.assertRegex(first, r"^etag \S+$")  # from the ETag header, or the body's etag
        for _ in range(3):
            self.assertEqual(self.lib.call("twin ka-no"), first)
            self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.assertEqual(self.relay.accepted, 1)
        # libwebsockets pipelines no PATCH: it gets a connection of its own; the kept one stays.
        updated = self.lib.call('twin-update ka-no {"tags":{"kept":true}}')
        self.assertRegex(updated, r"^etag \S+$")
        self.assertNotEqual(updated, first)
        accepted = self.relay.accepted
        self.assertEqual(self.lib.call("twin ka-no"), updated)
        self.assertEqual(self.relay.accepted, accepted)

    def test_telemetry_reads_share_the_kept_connection(self):
        for _ in range(3):
            self.assertEqual(self.lib.call("telemetry ka-no 0"), "messages 0 last 0")
            self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.assertEqual(self.lib.call("telemetry ka-no 5"), "messages 0 last 5")
        self.assertEqual(self.relay.accepted, 1)
        # A read: sent again on a new connection when the kept one fails under it.
        self.relay.cut_next_request()
        self.assertEqual(self.lib.call("telemetry ka-no 0"), "messages 0 last 0")
        self.assertEqual(self.relay.accepted, 2)

    def test_a_method_call_the_hub_got_is_not_sent_again(self):
        self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.relay.cut_next_response()
        self.assertRegex(self.lib.call("method ka-no cut-call"), r"^error 0 no answer from the hub")
        # The device got it, once: a second call would have reached it before the next one.
        self.assertEqual(self.lib.call("method ka-no after-cut"), "status 501")
        wait_until(lambda: "method 'after-cut' called" in self.declining.stderr(),
                   what="the device's answer")
        self.assertEqual(self.declining.stderr().count("method 'cut-call' called"), 1)

    def test_a_connection_the_hub_closed_is_replaced(self):
        self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.relay.drop()  # as the hub does after 60 s idle, or when it stops
        # A stream POST is never sent twice, so it must not go out on the closed connection.
        self.assertEqual(self.lib.call("stream ka-no after-drop"), "rejected")
        self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.assertEqual(self.relay.accepted, 2)

    def test_a_get_goes_out_again_when_the_kept_connection_fails_under_it(self):
        self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.relay.cut_next_request()
        self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.assertEqual(self.lib.call("get ka-no"), "ok")  # a new kept connection
        self.relay.cut_next_response()
        self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.assertEqual(self.relay.accepted, 4)

    def test_a_stream_post_the_hub_got_is_not_sent_again(self):
        self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.relay.cut_next_response()
        self.assertRegex(self.lib.call("stream ka-no cut-post"), r"^error 0 no answer from the hub")
        # The hub had passed it on: the device got it, once. A second request would have
        # reached the device before the next one.
        self.assertEqual(self.lib.call("stream ka-no after-cut"), "rejected")
        wait_until(lambda: "stream 'after-cut' rejected" in self.declining.stderr(),
                   what="the device's answer")
        self.assertEqual(self.declining.stderr().count("stream 'cut-post' rejected"), 1)

    def test_calls_during_a_held_stream_post_do_not_wait_for_it(self):
        agent = device_agent(self.emu, "ka-slow", ["echo"])
        self.addCleanup(agent.stop)
        os.kill(agent.proc.pid, signal.SIGSTOP)  # gets the request and never answers
        self.addCleanup(os.kill, agent.proc.pid, signal.SIGCONT)
        held = self.lib.spawn("stream ka-slow held 3")
        wait_until(lambda: any(s["streamName"] == "held" for s in self.emu.request(
            "GET", "/emulator/streams", "registryRead").json()), what="the held POST at the hub")
        for _ in range(3):
            started = time.monotonic()
            self.assertEqual(self.lib.call("get ka-no"), "ok")
            self.assertLess(time.monotonic() - started, 2.0)
        self.assertRegex(self.lib.wait()[held], r"^error 504 ")
        # The POST's connection, then one each for the calls it held up.
        self.assertEqual(self.relay.accepted, 4)
        self.assertEqual(self.lib.call("get ka-no"), "ok")
        self.assertEqual(self.relay.accepted, 4)

    def test_calls_from_many_threads_at_once(self):
        numbers = [self.lib.spawn("get ka-no" if i % 2 else "stream ka-no threads")
                   for i in range(20)]
        results = self.lib.wait()
        self.assertEqual(sorted(results[n] for n in numbers), ["ok"] * 10 + ["rejected"] * 10)
        self.assertEqual(self.lib.call("get ka-no"), "ok")


class Library(unittest.TestCase):
    """libiothub-service as a user gets it: installed, found with pkg-config, used by the example
    program of its header."""

    def test_installed_library_with_pkg_config(self):
        build = os.environ["IOTHUB_BUILD_DIR"]
        example = os.path.join(os.environ["IOTHUB_SOURCE_DIR"], "client", "examples",
                               "stream_echo.c")
        with tempfile.TemporaryDirectory() as prefix, Emulator("--device", "libdev") as emu:
            subprocess.run(["cmake", "--install", build, "--prefix", prefix], check=True,
                           capture_output=True)
            pc_dirs = [root for root, _, files in os.walk(prefix)
                       if "iothub-service.pc" in files]
            self.assertEqual(len(pc_dirs), 1)
            env = dict(os.environ, PKG_CONFIG_PATH=pc_dirs[0])
            flags = subprocess.run(["pkg-config", "--cflags", "--libs", "iothub-service"],
                                   capture_output=True, text=True, env=env, check=True)
            libdir = subprocess.run(["pkg-config", "--variable=libdir", "iothub-service"],
                                    capture_output=True, text=True, env=env,
                                    check=True).stdout.strip()
            program = os.path.join(prefix, "stream_echo")
            # A sanitized library (the ASan build) needs its runtime in the program too.
            sanitize = (["-fsanitize=address,undefined"]
                        if os.environ.get("IOTHUB_SANITIZED") == "1" else [])
            cc = subprocess.run(["cc", "-Wall", "-Werror", *sanitize, example, "-o", program,
                                 *flags.stdout.split()], capture_output=True, text=True)
            self.assertEqual(cc.returncode, 0, cc.stderr)
            agent = device_agent(emu, "libdev", ["echo"])
            self.addCleanup(agent.stop)
            run = subprocess.run([program, "libdev", "hello from the library"],
                                 capture_output=True, text=True, timeout=60,
                                 env=client_env(emu, LD_LIBRARY_PATH=libdir))
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertEqual(run.stdout, "hello from the library\n")
            # The installed CLI finds its library without LD_LIBRARY_PATH.
            installed = subprocess.run([os.path.join(prefix, "bin", "iothub-service"),
                                        "--version"], capture_output=True, text=True)
            self.assertEqual(installed.returncode, 0, installed.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
