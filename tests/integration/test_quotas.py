"""The hub's operation throttles and daily message quota (docs/protocol.md rule D19): off by
default, the S1 tier's with --fidelity strict, each set by --quota NAME=N. Past a throttle a call
gets 429 429001 (ThrottlingException), past the daily quota 403 403002 (IotHubQuotaExceeded), in
the error form of its endpoint; a device's twin request gets the same codes on its $rid, and a
device's telemetry closes its connection unacknowledged.

Independent peers only: curl and http.client for the service's calls, paho-mqtt and raw MQTT
packets for devices. Each test runs an emulator of its own with small limits, so a test needs
only a handful of calls; the strict tier's own values are shown by the C2D throttle (100 a
minute). The throttles' window is a minute that starts with its first operation, so every test's
calls fall in one window however slow the machine.
"""
import http.client
import json
import os
import re
import ssl
import tempfile
import unittest
import urllib.parse

from harness import Emulator, device_args, policy_key, sas_token
from mqtt_peer import TIMEOUT, connect_device
from test_telemetry import RawIdentity, puback, topic_of

API = "api-version=2021-04-12"
JSON_TYPE = "application/json; charset=utf-8"
RES = "$iothub/twin/res/#"


def twin_path(device_id):
    return "/twins/%s?%s" % (urllib.parse.quote(device_id, safe=""), API)


def devicebound_path(device_id):
    return "/emulator/devices/%s/messages/devicebound?%s" % (
        urllib.parse.quote(device_id, safe=""), API)


def method_call(emu, device_id, payload=None):
    """A call to a device that is not online: answered 404 404103 at once (rule D2)."""
    body = {"methodName": "reboot", "responseTimeoutInSeconds": 5,
            "connectTimeoutInSeconds": 0}
    if payload is not None:
        body["payload"] = payload
    return emu.request("POST", "/twins/%s/methods?%s" % (device_id, API), "service",
                       headers={"Content-Type": JSON_TYPE}, body=json.dumps(body))


def c2d_send(emu, device_id, text="hello"):
    return emu.request("POST", devicebound_path(device_id), "service",
                       headers={"Content-Type": "application/json"},
                       body=json.dumps({"body": text}))


def patch_twin(emu, device_id, desired):
    return emu.request("PATCH", twin_path(device_id), "registryReadWrite",
                       headers={"Content-Type": "application/json"},
                       body=json.dumps({"properties": {"desired": desired}}))


def telemetry_count(emu, device_id):
    res = emu.request("GET", "/emulator/telemetry?deviceId=" + device_id, "registryRead")
    assert res.status == 200, (res.status, res.body)
    return len(res.json())


class QuotaTest(unittest.TestCase):
    def emulator(self, *args, state_dir=None):
        emu = Emulator(*args, state_dir=state_dir).start()
        self.addCleanup(emu.__exit__, None, None, None)
        return emu

    def device(self, emu, cid):
        peer = connect_device(emu, cid)
        self.addCleanup(peer.close)
        self.assertEqual(peer.subscribe(RES, 0), (0,))
        return peer

    def assertRefused(self, res, status, name, *words):
        """The hub's error, in the endpoint's form, naming the limit that refused it."""
        self.assertEqual(res.status, status, res.body)
        self.assertEqual(res.headers.get("iothub-errorcode"), name)
        error = res.error()
        if error["form"] == "nested":
            self.assertEqual(error["errorCode"], int("%d00%d" % (status, 1 if status == 429
                                                                 else 2)))
        for word in words:
            self.assertIn(word, error["message"])
        return error

    def assertThrottled(self, res, *words):
        return self.assertRefused(res, 429, "ThrottlingException", "throttled", *words)

    def assertQuotaExceeded(self, res):
        return self.assertRefused(res, 403, "IotHubQuotaExceeded", "daily quota", "00:00 UTC")

    def twin_request(self, peer, topic):
        peer.publish(topic, b"{}" if "PATCH" in topic else b"", qos=0)
        got_topic, body = peer.receive()
        return got_topic, body

    def test_D19_relaxed_has_no_quotas(self):
        state = tempfile.TemporaryDirectory()
        self.addCleanup(state.cleanup)
        emu = self.emulator("--device", "free", "--quota", "twin-updates=0", state_dir=state.name)
        for i in range(30):
            self.assertEqual(patch_twin(emu, "free", {"n": i}).status, 200)
        # Nothing is counted either: without a daily quota there is no file of its count.
        self.assertFalse(os.path.exists(os.path.join(state.name, "quota.db")))

    def test_D19_method_calls_are_throttled_by_4_kb_units(self):
        emu = self.emulator("--device", "m1", "--quota", "methods=4")
        # A payload of 8,202 bytes serialized takes 3 units of 4 KB, a small one 1: the 4 left.
        self.assertEqual(method_call(emu, "m1", "x" * 8200).status, 404)
        self.assertEqual(method_call(emu, "m1", {"small": 1}).status, 404)
        error = self.assertThrottled(method_call(emu, "m1"), "4 KB", "--quota methods")
        self.assertEqual(error["form"], "nested")
        self.assertIn("throttled", emu.log())

    def test_D19_service_twin_reads_and_updates_are_throttled(self):
        emu = self.emulator("--device", "t1", "--quota", "twin-reads=2",
                            "--quota=twin-updates=1")
        for _ in range(2):
            self.assertEqual(emu.request("GET", twin_path("t1"), "registryRead").status, 200)
        error = self.assertThrottled(emu.request("GET", twin_path("t1"), "registryRead"),
                                     "twin reads")
        self.assertEqual(error["form"], "flat")  # rule D18: twins answer flat
        self.assertEqual(patch_twin(emu, "t1", {"a": 1}).status, 200)
        self.assertThrottled(patch_twin(emu, "t1", {"a": 2}), "twin updates")
        res = emu.request("PUT", twin_path("t1"), "registryReadWrite",
                          headers={"Content-Type": "application/json"},
                          body=json.dumps({"properties": {"desired": {"a": 3}}}))
        self.assertThrottled(res, "twin updates")
        # Reads are still used up (a refused update took none of theirs, nor they of it).
        self.assertThrottled(emu.request("GET", twin_path("t1"), "service"), "twin reads")

    def test_D19_device_twin_requests_get_429_on_their_rid(self):
        emu = self.emulator("--device", "d1", "--quota", "twin-reads=1,twin-updates=1")
        peer = self.device(emu, "d1")
        topic, _ = self.twin_request(peer, "$iothub/twin/GET/?$rid=1")
        self.assertEqual(topic, "$iothub/twin/res/200/?$rid=1")
        topic, body = self.twin_request(peer, "$iothub/twin/GET/?$rid=2")
        self.assertEqual(topic, "$iothub/twin/res/429/?$rid=2")
        error = json.loads(body)  # rule D7: the bare error object
        self.assertEqual(error["errorCode"], 429001)
        self.assertIn("twin reads", error["message"])
        topic, _ = self.twin_request(peer, "$iothub/twin/PATCH/properties/reported/?$rid=3")
        self.assertTrue(topic.startswith("$iothub/twin/res/204/?$rid=3&$version="), topic)
        topic, body = self.twin_request(peer, "$iothub/twin/PATCH/properties/reported/?$rid=4")
        self.assertEqual(topic, "$iothub/twin/res/429/?$rid=4")
        self.assertEqual(json.loads(body)["errorCode"], 429001)
        self.assertIn("refused the twin request of 'd1' ($rid=2): throttled", emu.log())

    def test_D19_strict_sends_100_c2d_messages_a_minute(self):
        devices = ["c%d" % i for i in range(3)]  # 50 queued at most per device (rule D14)
        emu = self.emulator("--fidelity", "strict", *device_args(devices))
        token = sas_token(emu.host, policy_key("service"), "service")
        conn = http.client.HTTPSConnection(
            "127.0.0.1", emu.ready["ports"]["https"],
            context=ssl.create_default_context(cafile=emu.ca), timeout=TIMEOUT)
        self.addCleanup(conn.close)

        def send(device_id):
            conn.request("POST", devicebound_path(device_id), json.dumps({"body": "m"}),
                         {"Authorization": token, "Content-Type": "application/json"})
            res = conn.getresponse()
            return res.status, res.getheader("iothub-errorcode"), res.read()
        answers = [send(devices[i // 40]) for i in range(100)]
        self.assertEqual({a[0] for a in answers}, {202}, answers[-1])
        status, name, body = send(devices[2])
        self.assertEqual((status, name), (429, "ThrottlingException"), body)
        self.assertIn("100 cloud-to-device sends a minute", body.decode())

    def test_D19_telemetry_past_its_throttle_closes_the_connection(self):
        emu = self.emulator("--device", "tel", "--quota", "d2c=2")
        raw = RawIdentity(emu, "tel")
        self.addCleanup(raw.close)
        for i in (1, 2):
            raw.publish(topic_of("tel"), b"m%d" % i, qos=1, packet_id=i)
            self.assertEqual(raw.next_packet(), puback(i))
        raw.publish(topic_of("tel"), b"m3", qos=1, packet_id=3)
        self.assertEqual(raw.received_until_closed(), b"", "no PUBACK, and closed")
        emu.wait_log(re.compile(
            r"refused 'tel'.*throttled: more than 2 device-to-cloud sends a minute"))
        self.assertEqual(telemetry_count(emu, "tel"), 2)

    def test_D19_the_daily_quota_counts_every_kind_and_survives_a_restart(self):
        state = tempfile.TemporaryDirectory()
        self.addCleanup(state.cleanup)
        args = ("--device", "q1", "--quota", "daily=5")
        emu = self.emulator(*args, state_dir=state.name)
        raw = RawIdentity(emu, "q1")
        self.addCleanup(raw.close)
        # 9,000 bytes of telemetry are 3 messages of 4 KB; a C2D send and a method call 1 each.
        raw.publish(topic_of("q1"), b"t" * 9000, qos=1, packet_id=1)
        self.assertEqual(raw.next_packet(), puback(1))
        self.assertEqual(c2d_send(emu, "q1").status, 202)
        self.assertEqual(method_call(emu, "q1").status, 404)
        # The day's 5 are used: every kind is refused now, each in its endpoint's form.
        self.assertEqual(self.assertQuotaExceeded(method_call(emu, "q1"))["form"], "nested")
        self.assertEqual(self.assertQuotaExceeded(patch_twin(emu, "q1", {"a": 1}))["form"],
                         "flat")
        self.assertQuotaExceeded(c2d_send(emu, "q1"))
        peer = self.device(emu, "q1/m1")
        topic, body = self.twin_request(peer, "$iothub/twin/GET/?$rid=7")
        self.assertEqual(topic, "$iothub/twin/res/403/?$rid=7")
        self.assertEqual(json.loads(body)["errorCode"], 403002)
        raw.publish(topic_of("q1"), b"late", qos=1, packet_id=2)
        self.assertEqual(raw.received_until_closed(), b"", "no PUBACK, and closed")
        emu.wait_log(re.compile(r"refused 'q1'.*daily quota of 5 messages is used up"))
        self.assertEqual(telemetry_count(emu, "q1"), 1)
        # The count is the day's, not the process's.
        emu.stop()
        again = self.emulator(*args, state_dir=state.name)
        self.assertQuotaExceeded(again.request("GET", twin_path("q1"), "registryRead"))
        # Without the quota, the same state serves again.
        again.stop()
        free = self.emulator("--device", "q1", state_dir=state.name)
        self.assertEqual(free.request("GET", twin_path("q1"), "registryRead").status, 200)

    def test_D19_bad_quota_values_are_refused_at_start(self):
        for value, words in (("methods", "NAME=N"), ("minutes=3", "NAME=N"),
                             ("c2d=-1", "whole number"), ("daily=x", "whole number")):
            with self.subTest(value=value):
                emu = Emulator("--quota", value, expect_ready=False).start()
                self.addCleanup(emu.__exit__, None, None, None)
                self.assertNotEqual(emu.proc.wait(timeout=TIMEOUT), 0)
                self.assertIn(words, emu.log())


if __name__ == "__main__":
    unittest.main()
