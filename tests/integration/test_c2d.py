"""Cloud-to-device messages end to end (docs/protocol.md §12.4, rules D13-D16), their error
bodies, and their persistence.

Independent peers only: curl for the service's calls (POST and GET
/emulator/devices/{id}/messages/devicebound, the emulator's own, and the hub's purge DELETE
/devices/{id}/commands), paho-mqtt for devices (MQTT 3.1.1 over TLS, as the Azure SDKs connect).
One emulator serves the file, with one device per test; the persistence tests run emulators of
their own on a state directory, one of them killed with SIGKILL.

Every asynchronous check waits on an event with a deadline. What the hub sends a device reaches it
in queue order, so "that one was not delivered" is shown by a later message arriving first.
"""
import base64
import datetime
import json
import os
import queue
import re
import signal
import tempfile
import unittest
import urllib.parse

from harness import Emulator, device_args, wait_until
from mqtt_peer import TIMEOUT, connect_device, device_peer
from test_mqtt import broker_pid
from test_twins import exited

API = "api-version=2021-04-12"
JSON_TYPE = "application/json; charset=utf-8"
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}Z")

DEVICES = ["c-basic", "c-bare", "c-props", "c-binary", "c-offline", "c-depth", "c-size",
           "c-ttl", "c-errors", "c-others", "c-module", "c-persistent", "c-clean", "c-perm",
           "c-delete", "c-count", "c-other-target"]

EMU = None


def setUpModule():
    global EMU
    EMU = Emulator(*device_args(DEVICES)).start()


def tearDownModule():
    EMU.__exit__(None, None, None)


def devicebound_path(device_id):
    return "/emulator/devices/%s/messages/devicebound?%s" % (
        urllib.parse.quote(device_id, safe=""), API)


def send(device_id, message, policy="service", emu=None):
    """POST a message (a dict, sent as JSON, or the exact text)."""
    body = message if isinstance(message, (str, bytes)) else json.dumps(message)
    return (emu or EMU).request("POST", devicebound_path(device_id), policy,
                                headers={"Content-Type": "application/json"}, body=body)


def sent_ok(device_id, message, emu=None):
    res = send(device_id, message, emu=emu)
    assert res.status == 202, (res.status, res.body)
    return res.json()


def queue_of(device_id, emu=None):
    res = (emu or EMU).request("GET", devicebound_path(device_id), "service")
    assert res.status == 200, (res.status, res.body)
    return res.json()


def states(device_id, emu=None):
    return [m["state"] for m in queue_of(device_id, emu)]


def to_bag(device_id):
    return "%24.to=%2Fdevices%2F" + device_id + "%2Fmessages%2FdeviceBound"


class C2dDevice:
    """A device that listens for its cloud-to-device messages, keeping topic, payload, QoS and
    retain of each."""

    def __init__(self, device_id, emu=None, clean_session=False, subscribe=True):
        self.id = device_id
        emu = emu or EMU
        self.peer = device_peer(emu, device_id, clean_session=clean_session)
        self.received = queue.Queue()
        # Before CONNECT: a resumed session (rule D16) gets its queue as soon as it is connected.
        self.peer.client.on_message = lambda c, u, msg: self.received.put(
            (msg.topic, msg.payload, msg.qos, msg.retain))
        rc = self.peer.connect("127.0.0.1", emu.ready["ports"]["mqtts"])
        assert rc == 0, "device %s got CONNACK %d" % (device_id, rc)
        if subscribe:
            granted = self.peer.subscribe("devices/%s/messages/devicebound/#" % device_id, 1)
            assert granted == (1,), granted

    def receive(self, timeout=TIMEOUT):
        return self.received.get(timeout=timeout)

    def close(self):
        self.peer.close()


class CloudToDevice(unittest.TestCase):
    def test_D13_delivered_at_qos_1_with_the_hubs_property_bag(self):
        dev = C2dDevice("c-basic")
        try:
            answer = sent_ok("c-basic", {"body": "hello device", "messageId": "m-1",
                                         "correlationId": "c/1",
                                         "properties": {"color": "dark blue", "a&b": "x=y"}})
            self.assertEqual(answer["messageId"], "m-1")
            self.assertEqual(answer["deviceId"], "c-basic")
            self.assertIsInstance(answer["sequenceNumber"], int)
            self.assertRegex(answer["expiryTimeUtc"], TIME)
            topic, payload, qos, retain = dev.receive()
            self.assertEqual(topic, "devices/c-basic/messages/devicebound/%24.mid=m-1&" +
                             to_bag("c-basic") + "&%24.cid=c%2F1&color=dark%20blue&a%26b=x%3Dy")
            self.assertEqual(payload, b"hello device")
            self.assertEqual(qos, 1)
            self.assertFalse(retain)
            wait_until(lambda: states("c-basic") == ["Completed"], what="Completed")
            m = queue_of("c-basic")[0]
            self.assertEqual(m["messageId"], "m-1")
            self.assertEqual(m["body"], "hello device")
            self.assertEqual(m["properties"], {"color": "dark blue", "a&b": "x=y"})
            self.assertEqual(m["systemProperties"]["correlationId"], "c/1")
            for field in ("enqueuedTimeUtc", "expiryTimeUtc", "endTimeUtc"):
                self.assertRegex(m[field], TIME)
        finally:
            dev.close()

    def test_D13_a_bare_message_still_has_a_bag_and_a_generated_id(self):
        dev = C2dDevice("c-bare")
        try:
            answer = sent_ok("c-bare", {})
            self.assertRegex(answer["messageId"],
                             r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
            topic, payload, _, _ = dev.receive()
            self.assertEqual(topic, "devices/c-bare/messages/devicebound/%24.mid=" +
                             answer["messageId"] + "&" + to_bag("c-bare"))
            self.assertEqual(payload, b"")
            self.assertFalse(topic.endswith("/"))
        finally:
            dev.close()

    def test_D13_property_values_null_dropped_numbers_as_text_system_properties_in_order(self):
        dev = C2dDevice("c-props")
        try:
            sent_ok("c-props", {"body": "{}", "messageId": "p1", "userId": "u1",
                                "contentType": "application/json", "contentEncoding": "utf-8",
                                "ack": "full",
                                "properties": {"n": 5, "t": True, "gone": None, "e": ""}})
            topic, _, _, _ = dev.receive()
            bag = topic.split("/", 4)[4]
            self.assertEqual(bag.split("&"), [
                "%24.mid=p1", to_bag("c-props"), "%24.uid=u1",
                "%24.ct=application%2Fjson", "%24.ce=utf-8", "iothub-ack=full", "n=5",
                "t=true", "e="])
        finally:
            dev.close()

    def test_D13_a_binary_body_arrives_byte_for_byte(self):
        dev = C2dDevice("c-binary")
        data = bytes(range(256)) * 4
        try:
            sent_ok("c-binary", {"bodyBase64": base64.b64encode(data).decode()})
            self.assertEqual(dev.receive()[1], data)
            wait_until(lambda: states("c-binary") == ["Completed"], what="Completed")
            m = queue_of("c-binary")[0]
            self.assertNotIn("body", m)
            self.assertEqual(base64.b64decode(m["bodyBase64"]), data)
        finally:
            dev.close()

    def test_D13_an_offline_device_gets_its_queue_in_order_when_it_subscribes(self):
        ids = [sent_ok("c-offline", {"body": "m%d" % i})["messageId"] for i in range(3)]
        self.assertEqual(states("c-offline"), ["Enqueued"] * 3)
        device = EMU.request("GET", "/devices/c-offline?" + API, "registryRead").json()
        self.assertEqual(device["cloudToDeviceMessageCount"], 3)
        dev = C2dDevice("c-offline")
        try:
            got = [dev.receive() for _ in ids]
            self.assertEqual([p for _, p, _, _ in got], [b"m0", b"m1", b"m2"])
            self.assertEqual([t.split("%24.mid=")[1].split("&")[0] for t, _, _, _ in got], ids)
            wait_until(lambda: states("c-offline") == ["Completed"] * 3, what="Completed")
            device = EMU.request("GET", "/devices/c-offline?" + API, "registryRead").json()
            self.assertEqual(device["cloudToDeviceMessageCount"], 0)
        finally:
            dev.close()

    def test_D14_the_51st_queued_message_is_refused_with_403004(self):
        for i in range(50):
            sent_ok("c-depth", {"body": str(i)})
        res = send("c-depth", {"body": "one too many"})
        self.assertEqual(res.status, 403)
        self.assertEqual(res.headers["iothub-errorcode"], "DeviceMaximumQueueDepthExceeded")
        self.assertEqual(res.headers["content-type"], JSON_TYPE)
        err = res.error()
        self.assertEqual(err["form"], "nested")
        self.assertEqual(err["errorCode"], 403004)
        self.assertEqual(len(queue_of("c-depth")), 50)
        # The hub's purge empties the queue; then it takes messages again.
        res = EMU.request("DELETE", "/devices/c-depth/commands?" + API, "service")
        self.assertEqual(res.status, 200, res.body)
        self.assertEqual(res.json(), {"totalMessagesPurged": 50, "deviceId": "c-depth",
                                      "moduleId": None})
        self.assertEqual(set(states("c-depth")), {"Purged"})
        sent_ok("c-depth", {"body": "after the purge"})
        self.assertEqual(states("c-depth").count("Enqueued"), 1)

    def test_D14_a_message_may_be_64_KiB_and_no_more(self):
        res = send("c-size", {"bodyBase64": base64.b64encode(b"x" * 65536).decode()})
        self.assertEqual(res.status, 202, res.body)
        res = send("c-size", {"body": "x" * 65531, "properties": {"abc": "def"}})
        self.assertEqual(res.status, 413, res.body)
        self.assertEqual(res.error()["errorCode"], 413001)
        self.assertEqual(res.headers["iothub-errorcode"], "MessageTooLarge")
        self.assertEqual(len(queue_of("c-size")), 1)

    def test_D14_an_expired_message_is_never_delivered(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        soon = (now + datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        sent_ok("c-ttl", {"body": "too late", "expiryTimeUtc": soon})
        default = sent_ok("c-ttl", {"body": "kept"})
        expiry = datetime.datetime.strptime(default["expiryTimeUtc"][:26],
                                            "%Y-%m-%dT%H:%M:%S.%f")
        self.assertAlmostEqual((expiry - now.replace(tzinfo=None)).total_seconds(), 3600,
                               delta=60)
        wait_until(lambda: states("c-ttl") == ["Expired", "Enqueued"], timeout=15,
                   what="the first message expired")
        metrics = EMU.request("GET", "/metrics").body
        self.assertRegex(metrics, r'iothub_c2d_messages_total\{outcome="expired"\} [1-9]')
        dev = C2dDevice("c-ttl")
        try:
            self.assertEqual(dev.receive()[1], b"kept")
        finally:
            dev.close()

    def test_D14_errors_of_the_send(self):
        res = send("no-such-device", {"body": "x"})
        self.assertEqual(res.status, 404)
        self.assertEqual(res.error()["errorCode"], 404001)
        cases = [
            ("not json", 400, 400006),
            ("[1]", 400, 400004),
            (json.dumps({"body": "x", "bodyBase64": "eA=="}), 400, 400004),
            (json.dumps({"bodyBase64": "not base64!"}), 400, 400004),
            (json.dumps({"body": 5}), 400, 400004),
            (json.dumps({"propeties": {}}), 400, 400004),
            (json.dumps({"properties": {"k": [1]}}), 400, 400004),
            (json.dumps({"ack": "sometimes"}), 400, 400004),
            (json.dumps({"expiryTimeUtc": "tomorrow"}), 400, 400004),
            (json.dumps({"messageId": "m" * 129}), 400, 400004),
        ]
        for body, status, code in cases:
            res = send("c-errors", body)
            self.assertEqual((res.status, res.error()["errorCode"]), (status, code), body)
            self.assertIn("iothub-errorcode", res.headers)
        self.assertEqual(queue_of("c-errors"), [])
        # ServiceConnect is needed; registryRead has not got it.
        self.assertEqual(send("c-errors", {"body": "x"}, policy="registryRead").status, 401)
        self.assertEqual(EMU.request("DELETE", "/devices/nobody/commands?" + API,
                                     "service").error()["form"], "flat")

    def test_D15_subscribing_to_another_devices_messages_closes_the_connection(self):
        dev = C2dDevice("c-others", subscribe=False)
        try:
            dev.peer.client.subscribe("devices/c-other-target/messages/devicebound/#", 1)
            dev.peer.wait_disconnected()
            self.assertTrue(dev.peer.subacks.empty())
        finally:
            dev.close()

    def test_D17_a_module_has_no_cloud_to_device_messages(self):
        peer = connect_device(EMU, "c-module/m1")
        try:
            peer.client.subscribe("devices/c-module/messages/devicebound/#", 1)
            peer.wait_disconnected()
        finally:
            peer.close()

    def test_D16_a_persistent_session_gets_its_queue_without_subscribing_again(self):
        dev = C2dDevice("c-persistent", clean_session=False)
        dev.close()
        EMU.wait_log("'c-persistent' disconnected")
        sent_ok("c-persistent", {"body": "while away"})
        self.assertEqual(states("c-persistent"), ["Enqueued"])
        dev = C2dDevice("c-persistent", clean_session=False, subscribe=False)
        try:
            self.assertEqual(dev.receive()[1], b"while away")
        finally:
            dev.close()

    def test_D16_a_clean_session_must_subscribe_again(self):
        dev = C2dDevice("c-clean", clean_session=True)
        dev.close()
        EMU.wait_log("'c-clean' disconnected")
        sent_ok("c-clean", {"body": "first"})
        dev = C2dDevice("c-clean", clean_session=True, subscribe=False)
        try:
            # Not listening: the message stays queued until it subscribes.
            self.assertEqual(states("c-clean"), ["Enqueued"])
            dev.peer.subscribe("devices/c-clean/messages/devicebound/#", 1)
            self.assertEqual(dev.receive()[1], b"first")
        finally:
            dev.close()

    def test_a_deleted_device_takes_its_queue_with_it(self):
        sent_ok("c-delete", {"body": "x"})
        res = EMU.request("DELETE", "/devices/c-delete?" + API, "registryReadWrite",
                          headers={"If-Match": "*"})
        self.assertEqual(res.status, 204, res.body)
        res = EMU.request("GET", devicebound_path("c-delete"), "service")
        self.assertEqual((res.status, res.error()["errorCode"]), (404, 404001))
        res = EMU.request("PUT", "/devices/c-delete?" + API, "registryReadWrite",
                          headers={"Content-Type": "application/json"},
                          body=json.dumps({"deviceId": "c-delete"}))
        self.assertEqual(res.status, 200, res.body)
        self.assertEqual(queue_of("c-delete"), [])

    def test_metrics_count_sent_and_completed(self):
        def count(outcome):
            m = re.search(r'iothub_c2d_messages_total\{outcome="%s"\} (\d+)' % outcome,
                          EMU.request("GET", "/metrics").body)
            return int(m.group(1))
        sent, completed = count("sent"), count("completed")
        dev = C2dDevice("c-count")
        try:
            sent_ok("c-count", {"body": "x"})
            dev.receive()
            wait_until(lambda: count("completed") >= completed + 1, what="completed counted")
            self.assertGreaterEqual(count("sent"), sent + 1)
        finally:
            dev.close()


class Persistence(unittest.TestCase):
    """Queued messages live in the state directory: a restart and kill -9 keep them."""

    def test_D14_queued_messages_survive_a_restart_and_kill_9(self):
        with tempfile.TemporaryDirectory(prefix="iothub-c2d-") as state:
            with Emulator("--device", "p1", state_dir=state) as emu:
                for i in range(3):
                    sent_ok("p1", {"body": "before restart %d" % i}, emu=emu)
            emu = Emulator(state_dir=state).start()
            try:
                broker = broker_pid(emu)
                self.assertEqual(states("p1", emu), ["Enqueued"] * 3)
                sent_ok("p1", {"body": "before kill"}, emu=emu)
                os.kill(emu.proc.pid, signal.SIGKILL)  # right after the 202
                emu.proc.wait(timeout=TIMEOUT)
                wait_until(lambda: exited(broker), what="mosquitto to exit")
            finally:
                emu.discard()
            with Emulator(state_dir=state) as emu:
                dev = C2dDevice("p1", emu=emu)
                try:
                    got = [dev.receive()[1] for _ in range(4)]
                    self.assertEqual(got, [b"before restart 0", b"before restart 1",
                                           b"before restart 2", b"before kill"])
                finally:
                    dev.close()


if __name__ == "__main__":
    unittest.main()
