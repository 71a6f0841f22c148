"""Direct methods end to end (docs/protocol.md §12.1, rules D1-D4), their error bodies (§12.6,
D18) and the MQTT session rules they rely on (§12.5, D15).

Independent peers only: curl for the service's POST, paho-mqtt for devices and modules (MQTT 3.1.1
over TLS, as the Azure SDKs connect), and a byte-level MQTT client for packets paho will not send
or for the exact bytes the broker answers. One emulator serves the whole file. The calls that
must wait out a deadline (30 s at the longest) start in the background as the module starts and
are checked last, by the class Timeouts, so the file takes about as long as its slowest call.

Every asynchronous check waits on an event with a deadline. A device is "listening" once its
SUBACK came and the hub has handled every broker event sent before a later one (hub_caught_up):
the hub learns of subscriptions from the broker, on its own thread.
"""
import concurrent.futures
import itertools
import json
import queue
import random
import re
import struct
import subprocess
import time
import unittest
import urllib.parse

from harness import (Emulator, curl, device_args, latency_bound, policy_key, sas_token,
                     wait_until)
from mqtt_peer import TIMEOUT, RawDevice, connect_device, mqtt_packet, mqtt_string

METHODS = "$iothub/methods/POST/#"
API = "api-version=2021-04-12"
JSON_TYPE = "application/json; charset=utf-8"
MAX_BODY = 128 * 1024  # docs/protocol.md rule D1: a request of up to 128 KB
MARKERS = itertools.count(1)
RIDS = itertools.count(900000001)  # $rid values no call is given in this run

# Every device of the file, registered at start. The marker's modules tell when the hub caught
# up; the rest belong to one test (or background scenario) each, so tests cannot disturb each
# other on the shared emulator.
DEVICES = ["marker", "idle", "not-listening", "streams-only", "v-body", "v-name", "v-response",
           "v-connect", "v-types", "v-bounds", "v-size", "v-auth", "v-order", "topic",
           "payloads", "answers", "qos1", "non-json", "rid", "rid-other", "rid-sibling",
           "many", "d1", "d2", "d3", "rules", "rules-closed", "rules-qos2", "rules-res",
           "t-silent", "t-dropper", "t-default", "t-absent", "t-late", "t-subscribes-late"]

EMU = None
SLOW = {}  # name -> future of a background scenario (class Timeouts)
CALLS = concurrent.futures.ThreadPoolExecutor(max_workers=48)
SCENARIOS = concurrent.futures.ThreadPoolExecutor(max_workers=8)


def setUpModule():
    global EMU
    EMU = Emulator(*device_args(DEVICES)).start()
    for name, scenario in BACKGROUND.items():
        SLOW[name] = SCENARIOS.submit(scenario)


def tearDownModule():
    # Each scenario ends by its own deadline; wait for them before the emulator goes.
    concurrent.futures.wait(SLOW.values(), timeout=120)
    EMU.__exit__(None, None, None)


def service_token(policy="service"):
    return sas_token(EMU.host, policy_key(policy), policy)


def call(device_id, body, module_id=None, token=None, api=API, max_time=20):
    """The service's method call, as the SDKs send it (docs/protocol.md rule D1). body: a dict
    (sent as JSON), or the exact text or bytes to send. token: None for the service policy's,
    "" for no Authorization header."""
    path = "/twins/%s" % urllib.parse.quote(device_id, safe="")
    if module_id is not None:
        path += "/modules/%s" % urllib.parse.quote(module_id, safe="")
    path += "/methods?" + api
    headers = {"Content-Type": JSON_TYPE}
    token = service_token() if token is None else token
    if token:
        headers["Authorization"] = token
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    return curl("POST", EMU.url(path), headers, body, cafile=EMU.ca,
                extra=("--max-time", str(max_time)))


def timed_call(*args, **kwargs):
    start = time.monotonic()
    res = call(*args, **kwargs)
    return res, time.monotonic() - start


def pending_call(*args, **kwargs):
    """A call running in the background while the test plays the device; a future of
    (response, seconds it took)."""
    return CALLS.submit(timed_call, *args, **kwargs)


def hub_caught_up():
    """Returns once the hub has handled every event the broker sent it before the call. The
    broker's events reach the hub in order: a client id never seen before (a module of the
    marker device, which changes no registry state) connects, and the line the hub logs for it
    comes after all of them (as in test_mqtt.py)."""
    marker = "marker/caught-up-%d" % next(MARKERS)
    peer = connect_device(EMU, marker)
    EMU.wait_log("'%s' connected" % marker)
    peer.close()


def parse_request(topic):
    """A method request topic by the SDKs' rules (docs/protocol.md rule D3): five levels,
    $iothub/methods/POST/{name}/?$rid={rid}, the rid all that follows `?$rid=` (C, C#), so
    `$rid` must be the one query key, and here a decimal number."""
    levels = topic.split("/")
    assert len(levels) == 5, "a method request has exactly five levels: %r" % topic
    assert levels[:3] == ["$iothub", "methods", "POST"], topic
    assert levels[4].startswith("?$rid="), topic
    rid = levels[4][len("?$rid="):]
    assert re.fullmatch(r"[0-9]+", rid), "the $rid is a decimal number, alone: %r" % topic
    return levels[3], rid


class MethodDevice:
    """A device (or module) that gets method requests; the test decides each answer, or, with
    auto, the device answers each at once with status 200 and {"name": ..., "payload": ...}
    ({"name": ..., "length": ...} for a request body over 1 KiB: the answer stays small)."""

    def __init__(self, device_id, listen=True, qos=0, auto=False):
        self.id = device_id
        self.auto = auto
        self.peer = connect_device(EMU, device_id)
        self.requests = queue.Queue()
        self.peer.client.on_message = self._on_message
        if listen:
            self.listen(qos)

    def _on_message(self, client, userdata, msg):
        # Parsed in the test's thread: an exception in a paho callback stops its network loop.
        got = {"topic": msg.topic, "payload": msg.payload, "qos": msg.qos, "retain": msg.retain,
               "at": time.monotonic()}
        self.requests.put(got)
        if self.auto:
            try:
                name, rid = parse_request(msg.topic)
                answer = {"name": name, "payload": json.loads(msg.payload)} \
                    if len(msg.payload) <= 1024 else {"name": name, "length": len(msg.payload)}
                client.publish("$iothub/methods/res/200/?$rid=" + rid, json.dumps(answer), 0)
            except (AssertionError, ValueError):
                pass  # the test sees the request itself and fails there

    def listen(self, qos=0):
        granted = self.peer.subscribe(METHODS, qos)
        assert granted == (min(qos, 1),), granted
        hub_caught_up()

    def next_request(self, timeout=TIMEOUT):
        got = self.requests.get(timeout=timeout)
        got["name"], got["rid"] = parse_request(got["topic"])
        return got

    def seen(self):
        """The names of the requests received so far, once the last of them was answered."""
        names = []
        while not self.requests.empty():
            names.append(self.next_request()["name"])
        return names

    def answer(self, rid, status=200, body=b"", qos=0):
        topic = "$iothub/methods/res/%d/?$rid=%s" % (status, rid)
        info = self.peer.client.publish(topic, body, qos)
        info.wait_for_publish(timeout=TIMEOUT)
        if qos:
            assert info.is_published(), "no PUBACK for %s" % topic

    def close(self):
        self.peer.close()


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def subscribe_packet(filters, packet_id=1):
    """SUBSCRIBE (MQTT 3.1.1 §3.8): filters is a list of (filter, requested QoS)."""
    body = struct.pack("!H", packet_id)
    for topic, qos in filters:
        body += mqtt_string(topic.encode()) + bytes([qos])
    return mqtt_packet(0x82, body)


def suback_packet(granted, packet_id=1):
    return mqtt_packet(0x90, struct.pack("!H", packet_id) + bytes(granted))


def read_exactly(raw, n):
    data = b""
    raw.tls.settimeout(TIMEOUT)
    while len(data) < n:
        more = raw.tls.recv(n - len(data))
        if not more:
            raise AssertionError("the connection closed after %r" % data)
        data += more
    return data


class MethodTest(unittest.TestCase):
    def device(self, device_id, **kwargs):
        d = MethodDevice(device_id, **kwargs)
        self.addCleanup(d.close)
        return d

    def assertError(self, res, status, code, name=None):
        """A method error (docs/protocol.md rule D18): the nested body, the code's name in
        iothub-errorcode, and the JSON content type."""
        self.assertEqual(res.status, status, res.body)
        self.assertEqual(res.headers.get("content-type"), JSON_TYPE)
        if name is not None:
            self.assertEqual(res.headers.get("iothub-errorcode"), name)
        else:
            self.assertTrue(res.headers.get("iothub-errorcode"), res.headers)
        detail = res.error()
        self.assertEqual(detail["form"], "nested", res.body)
        self.assertEqual(detail["errorCode"], code, res.body)
        return detail

    def assertAnswer(self, res, status, payload):
        """The service's 200 (docs/protocol.md rule D4): exactly status and payload."""
        self.assertEqual(res.status, 200, res.body)
        self.assertEqual(res.headers.get("content-type"), JSON_TYPE)
        self.assertEqual(res.json(), {"status": status, "payload": payload})

    def assertNotAsked(self, dev, expected=()):
        """The device was asked nothing but the expected calls. A last call the device answers
        itself (auto) proves every earlier request has reached it: the hub's requests reach a
        device in order."""
        res = call(dev.id, {"methodName": "probe"})
        self.assertAnswer(res, 200, {"name": "probe", "payload": None})
        self.assertEqual(dev.seen(), list(expected) + ["probe"])


class Calls(MethodTest):
    """Rules D1 and D2: what the call is checked for before anything reaches a device."""

    def test_D1_body_must_be_a_json_object(self):
        dev = self.device("v-body", auto=True)
        for body in ("not json", "", "[]", '["methodName", "m"]', "42", "null", '"m"',
                     '{"methodName":"m"', '{"methodName":"m"} x'):
            with self.subTest(body=body):
                self.assertError(call("v-body", body), 400, 400004, "ArgumentInvalid")
        self.assertNotAsked(dev)

    def test_D1_method_name_must_be_one_topic_level(self):
        dev = self.device("v-name", auto=True)
        for body in ({}, {"methodName": ""}, {"methodName": "a/b"}, {"methodName": "a+b"},
                     {"methodName": "a#b"}, {"methodName": "#"}, {"methodName": "a\u0000b"},
                     {"methodName": 42}, {"methodName": None}, {"methodName": ["m"]},
                     {"payload": {"a": 1}}):
            with self.subTest(body=body):
                self.assertError(call("v-name", body), 400, 400004, "ArgumentInvalid")
        self.assertNotAsked(dev)

    def test_D1_response_timeout_out_of_range_is_400004(self):
        dev = self.device("v-response", auto=True)
        for value in (0, 4, 301, 3000, -1, -30):
            with self.subTest(responseTimeoutInSeconds=value):
                detail = self.assertError(
                    call("v-response", {"methodName": "m", "responseTimeoutInSeconds": value}),
                    400, 400004, "ArgumentInvalid")
                self.assertEqual(detail["message"],
                                 "responseTimeoutInSeconds must be within [5; 300].")
        self.assertNotAsked(dev)

    def test_D1_connect_timeout_out_of_range_is_400004(self):
        dev = self.device("v-connect", auto=True)
        for value in (-1, 301, 3000):
            with self.subTest(connectTimeoutInSeconds=value):
                detail = self.assertError(
                    call("v-connect", {"methodName": "m", "connectTimeoutInSeconds": value}),
                    400, 400004, "ArgumentInvalid")
                self.assertEqual(detail["message"],
                                 "connectTimeoutInSeconds must be within [0; 300].")
        self.assertNotAsked(dev)

    def test_D1_timeouts_must_be_numbers(self):
        dev = self.device("v-types", auto=True)
        for field in ("responseTimeoutInSeconds", "connectTimeoutInSeconds"):
            for value in ("30", True, {}, [30]):
                with self.subTest(field=field, value=value):
                    self.assertError(call("v-types", {"methodName": "m", field: value}), 400,
                                     400004, "ArgumentInvalid")
        self.assertNotAsked(dev)

    def test_D1_timeouts_at_their_bounds_are_taken(self):
        dev = self.device("v-bounds", auto=True)
        cases = [("r5", {"responseTimeoutInSeconds": 5}),
                 ("r300", {"responseTimeoutInSeconds": 300}),
                 ("c0", {"connectTimeoutInSeconds": 0}),
                 ("c300", {"connectTimeoutInSeconds": 300}),
                 ("both", {"responseTimeoutInSeconds": 300, "connectTimeoutInSeconds": 300})]
        for name, timeouts in cases:
            with self.subTest(name=name):
                # A listening device is asked at once, whatever the connect timeout.
                res, took = timed_call("v-bounds", dict({"methodName": name}, **timeouts))
                self.assertAnswer(res, 200, {"name": name, "payload": None})
                self.assertLess(took, latency_bound(2.0))
        self.assertNotAsked(dev, [name for name, _ in cases])

    def test_D1_fields_in_any_order_and_any_api_version(self):
        dev = self.device("v-order", auto=True)
        body = ('{"connectTimeoutInSeconds":0,"payload":{"k":"v"},'
                '"responseTimeoutInSeconds":30,"methodName":"reordered"}')
        for api in (API, "api-version=2018-06-30", "api-version=2020-09-30"):
            with self.subTest(api=api):
                self.assertAnswer(call("v-order", body, api=api), 200,
                                  {"name": "reordered", "payload": {"k": "v"}})
        self.assertNotAsked(dev, ["reordered"] * 3)

    def test_D1_a_body_over_128_kib_is_413001(self):
        dev = self.device("v-size", auto=True)
        head, tail = '{"methodName":"big","payload":"', '"}'
        fill = "x" * (MAX_BODY - len(head) - len(tail))
        exactly = head + fill + tail
        self.assertEqual(len(exactly.encode()), MAX_BODY)
        # 128 KiB exactly is a call (more than the registry's 64 KiB): it reaches the device.
        self.assertAnswer(call("v-size", exactly), 200,
                          {"name": "big", "length": len(compact(fill))})
        # Just over; more than socket buffers hold; and the most the emulator reads and drops
        # before it answers (docs/differences.md: up to 1 MiB past the limit), so a client
        # still sending gets the 413 rather than a reset.
        for extra in (1, 900 * 1024, 1024 * 1024 - 1, 1024 * 1024):
            with self.subTest(over_by=extra):
                body = head + fill + "y" * extra + tail
                try:
                    res = call("v-size", body)
                except subprocess.CalledProcessError as e:
                    self.fail("%d bytes: no answer (curl exit %d: %s)"
                              % (len(body), e.returncode, e.stderr.strip()))
                self.assertError(res, 413, 413001, "MessageTooLarge")
        self.assertNotAsked(dev, ["big"])

    def test_D1_unknown_device_is_404001(self):
        self.assertError(call("nosuchdevice", {"methodName": "m"}), 404, 404001,
                         "DeviceNotFound")
        self.assertError(call("nosuchdevice", {"methodName": "m"}, module_id="m1"), 404,
                         404001, "DeviceNotFound")

    def test_D1_needs_service_connect_401002(self):
        dev = self.device("v-auth", auto=True)
        wrong_key = sas_token(EMU.host, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "service")
        for name, token in (("registryRead", service_token("registryRead")),
                            ("registryReadWrite", service_token("registryReadWrite")),
                            ("device", service_token("device")),
                            ("wrong key", wrong_key),
                            ("garbage", "not a token"),
                            ("none", "")):
            with self.subTest(token=name):
                detail = self.assertError(call("v-auth", {"methodName": "m"}, token=token),
                                          401, 401002, "IotHubUnauthorizedAccess")
                if name in ("registryRead", "registryReadWrite", "device"):
                    self.assertIn("ServiceConnect", detail["message"])
        self.assertNotAsked(dev)

    def test_D2_offline_device_is_404103_at_once(self):
        for body in ({"methodName": "m"},
                     {"methodName": "m", "connectTimeoutInSeconds": 0, "payload": {"a": 1}},
                     {"methodName": "m", "responseTimeoutInSeconds": 300}):
            with self.subTest(body=body):
                res, took = timed_call("idle", body)
                detail = self.assertError(res, 404, 404103, "DeviceNotOnline")
                self.assertEqual(detail.get("info"), {"timeout": "00:00:00"})
                self.assertLess(took, latency_bound(1.0))

    def test_D2_connected_but_not_listening_is_404103_at_once(self):
        # Connected, no subscription at all.
        quiet = self.device("not-listening", listen=False)
        wait_until(lambda: EMU.device_state("not-listening")["connectionState"] == "Connected",
                   what="the hub to see not-listening connected")
        # Connected and listening for stream requests only: that is not methods.
        streams = self.device("streams-only", listen=False)
        self.assertEqual(streams.peer.subscribe("$iothub/streams/POST/#"), (0,))
        hub_caught_up()
        for dev in (quiet, streams):
            with self.subTest(device=dev.id):
                res, took = timed_call(dev.id, {"methodName": "m"})
                detail = self.assertError(res, 404, 404103, "DeviceNotOnline")
                self.assertEqual(detail.get("info"), {"timeout": "00:00:00"})
                self.assertLess(took, latency_bound(1.0))
        for dev in (quiet, streams):  # neither was asked
            self.assertRaises(queue.Empty, dev.requests.get, timeout=0.3)


class Delivery(MethodTest):
    """Rules D3 and D4: the request a device gets and the answer the service gets."""

    def test_D3_request_topic_has_five_levels_and_only_a_decimal_rid(self):
        # Subscribed at QoS 1 (C# v1): requests still come at QoS 0, never retained.
        dev = self.device("topic", qos=1)
        rids = []
        for name in ("reboot", "grüße 1", "a.b-c_d~e$f"):
            pending = pending_call("topic", {"methodName": name, "payload": {"a": 1}})
            request = dev.next_request()
            # The name travels raw, as one topic level (docs/protocol.md rule D1).
            self.assertEqual(request["topic"],
                             "$iothub/methods/POST/%s/?$rid=%s" % (name, request["rid"]))
            self.assertEqual(request["name"], name)
            self.assertEqual((request["qos"], request["retain"]), (0, False))
            self.assertEqual(request["payload"], b'{"a":1}')
            rids.append(request["rid"])
            dev.answer(request["rid"], 200, b'{"ok":true}')
            res, _ = pending.result(timeout=TIMEOUT * 3)
            self.assertAnswer(res, 200, {"ok": True})
        self.assertEqual(len(set(rids)), len(rids), rids)

    def test_D3_payload_is_compact_json_and_never_empty(self):
        dev = self.device("payloads")
        cases = [('{"methodName":"m","payload":{"a":1}}', b'{"a":1}'),
                 ('{"methodName":"m","payload": { "k" : [ 1 , 2 ] , "s" : "a b" } }',
                  b'{"k":[1,2],"s":"a b"}'),
                 ('{"methodName":"m","payload":"foo"}', b'"foo"'),
                 ('{"methodName":"m","payload":42}', b'42'),
                 ('{"methodName":"m","payload":-1.5}', b'-1.5'),
                 ('{"methodName":"m","payload":[1, "x", null, true]}', b'[1,"x",null,true]'),
                 ('{"methodName":"m","payload":{}}', b'{}'),
                 ('{"methodName":"m","payload":""}', b'""'),
                 ('{"methodName":"m","payload":false}', b'false'),
                 ('{"methodName":"m","payload":null}', b'null'),
                 ('{"methodName":"m"}', b'null')]
        for body, expected in cases:
            with self.subTest(body=body):
                pending = pending_call("payloads", body)
                request = dev.next_request()
                self.assertEqual(request["payload"], expected)
                dev.answer(request["rid"])
                self.assertAnswer(pending.result(timeout=TIMEOUT * 3)[0], 200, None)
        # Escapes and characters beyond ASCII survive (written out again, as JSON).
        payload = {"q": 'say "hi"\\', "u": "grüße ✓", "n": "line\nbreak"}
        pending = pending_call("payloads", {"methodName": "m", "payload": payload})
        request = dev.next_request()
        self.assertEqual(json.loads(request["payload"]), payload)
        self.assertNotIn(b": ", request["payload"])
        dev.answer(request["rid"])
        pending.result(timeout=TIMEOUT * 3)

    def test_D4_status_and_payload_reach_the_service(self):
        dev = self.device("answers")
        cases = [(200, b'{"result":"done","n":[1,2]}', {"result": "done", "n": [1, 2]}),
                 (501, b'{"message":"no such method"}', {"message": "no such method"}),
                 (404, b"", None),
                 (200, b"", None),
                 (200, b'"text"', "text"),
                 (200, b"7", 7),
                 (200, b"[1,2,3]", [1, 2, 3]),
                 (200, b"null", None),
                 (500, b'  {"spaced" : true}  ', {"spaced": True}),
                 (201, b"true", True)]
        for status, body, expected in cases:
            with self.subTest(status=status, body=body):
                pending = pending_call("answers", {"methodName": "m"})
                dev.answer(dev.next_request()["rid"], status, body)
                self.assertAnswer(pending.result(timeout=TIMEOUT * 3)[0], status, expected)

    def test_D4_a_qos1_answer_is_acknowledged_and_counts(self):
        dev = self.device("qos1")
        pending = pending_call("qos1", {"methodName": "m", "payload": [1]})
        request = dev.next_request()
        dev.answer(request["rid"], 200, b'{"acked":true}', qos=1)  # asserts the PUBACK
        self.assertAnswer(pending.result(timeout=TIMEOUT * 3)[0], 200, {"acked": True})

    def test_D4_a_non_json_answer_is_502000(self):
        dev = self.device("non-json")
        for body in (b"not json", b"{", b'{"a":1} trailing'):
            with self.subTest(body=body):
                pending = pending_call("non-json", {"methodName": "m"})
                dev.answer(dev.next_request()["rid"], 200, body)
                self.assertError(pending.result(timeout=TIMEOUT * 3)[0], 502, 502000)

    def test_D4_an_answer_with_an_unknown_rid_is_ignored(self):
        dev = self.device("rid")
        pending = pending_call("rid", {"methodName": "m", "responseTimeoutInSeconds": 20})
        request = dev.next_request()
        # Acknowledged (QoS 1) so they are through the broker before the real answer.
        for rid in (str(next(RIDS)), "not-a-number", "", request["rid"] + "0"):
            dev.answer(rid, 200, b'{"wrong":true}', qos=1)
        self.assertFalse(pending.done())
        dev.answer(request["rid"], 200, b'{"right":true}')
        self.assertAnswer(pending.result(timeout=TIMEOUT * 3)[0], 200, {"right": True})

    def test_D4_an_answer_from_another_identity_is_ignored(self):
        dev = self.device("rid-other")
        other = self.device("rid-sibling", listen=False)
        own_module = self.device("rid-other/m1", listen=False)
        pending = pending_call("rid-other", {"methodName": "m", "responseTimeoutInSeconds": 20})
        request = dev.next_request()
        # The right rid from another device and from the device's own module: acknowledged,
        # through the broker before the device's answer, and dropped.
        other.answer(request["rid"], 200, b'{"from":"sibling"}', qos=1)
        own_module.answer(request["rid"], 200, b'{"from":"module"}', qos=1)
        self.assertFalse(pending.done())
        dev.answer(request["rid"], 201, b'{"from":"device"}')
        self.assertAnswer(pending.result(timeout=TIMEOUT * 3)[0], 201, {"from": "device"})

    def test_D4_twenty_calls_at_once_answered_out_of_order(self):
        dev = self.device("many")
        count = 20
        pendings = [pending_call("many", {"methodName": "m%d" % i, "payload": {"i": i},
                                          "responseTimeoutInSeconds": 30})
                    for i in range(count)]
        requests = [dev.next_request() for _ in range(count)]
        self.assertEqual(sorted(r["name"] for r in requests),
                         sorted("m%d" % i for i in range(count)))
        self.assertEqual(len({r["rid"] for r in requests}), count)
        random.Random(7).shuffle(requests)
        for n, request in enumerate(requests):
            i = json.loads(request["payload"])["i"]
            self.assertEqual(request["name"], "m%d" % i)
            dev.answer(request["rid"], 200 + i, compact({"i": i, "twice": 2 * i}), qos=n % 2)
        for i, pending in enumerate(pendings):
            self.assertAnswer(pending.result(timeout=TIMEOUT * 3)[0], 200 + i,
                              {"i": i, "twice": 2 * i})


class Modules(MethodTest):
    """A module is an identity of its own (docs/protocol.md rules D1, D2, D17): client id
    `{device}/{module}`, the device's key, its own calls."""

    def test_D1_module_calls_reach_the_module_only(self):
        device = self.device("d1")
        module = self.device("d1/m1")
        pending = pending_call("d1", {"methodName": "for-module", "payload": {"to": "m1"}},
                               module_id="m1")
        request = module.next_request()
        self.assertEqual((request["name"], request["payload"]), ("for-module", b'{"to":"m1"}'))
        module.answer(request["rid"], 200, b'{"by":"m1"}')
        self.assertAnswer(pending.result(timeout=TIMEOUT * 3)[0], 200, {"by": "m1"})
        # The device was not asked: the hub's requests reach it in order, so the first it gets
        # is the call made to it after the module's.
        pending = pending_call("d1", {"methodName": "for-device"})
        request = device.next_request()
        self.assertEqual(request["name"], "for-device")
        device.answer(request["rid"], 200, b'{"by":"d1"}')
        self.assertAnswer(pending.result(timeout=TIMEOUT * 3)[0], 200, {"by": "d1"})
        self.assertTrue(module.requests.empty())

    def test_D2_a_module_call_needs_the_module_listening(self):
        # Only the device listens: its module is not online for methods.
        self.device("d2")
        res, took = timed_call("d2", {"methodName": "m"}, module_id="m1")
        detail = self.assertError(res, 404, 404103, "DeviceNotOnline")
        self.assertEqual(detail.get("info"), {"timeout": "00:00:00"})
        self.assertLess(took, latency_bound(1.0))
        # Only the module listens: the device is not.
        self.device("d3/m1")
        res, took = timed_call("d3", {"methodName": "m"})
        detail = self.assertError(res, 404, 404103, "DeviceNotOnline")
        self.assertLess(took, latency_bound(1.0))


class MqttRules(MethodTest):
    """Rule D15 (and the QoS 2 case of D11), seen byte by byte."""

    def test_D15_suback_grants_at_most_qos_1(self):
        raw = RawDevice(EMU, "rules")
        self.addCleanup(raw.close)
        cases = [([(METHODS, 0)], [0]), ([(METHODS, 1)], [1]), ([(METHODS, 2)], [1]),
                 # One code per filter, in one SUBSCRIBE (as the C SDK sends them).
                 ([(METHODS, 2), ("$iothub/streams/POST/#", 2), ("$iothub/streams/res/#", 0)],
                  [1, 1, 0])]
        for packet_id, (filters, granted) in enumerate(cases, start=1):
            with self.subTest(filters=filters):
                raw.send(subscribe_packet(filters, packet_id))
                expected = suback_packet(granted, packet_id)
                self.assertEqual(read_exactly(raw, len(expected)), expected)

    def test_D15_a_forbidden_subscribe_closes_the_connection_without_a_suback(self):
        for filters in ([("#", 0)], [("other/topic", 0)], [("$hub/#", 0)],
                        [("$hub/to/rules/#", 0)], [("devices/other/messages/devicebound/#", 1)],
                        # One forbidden filter among allowed ones closes it too.
                        [(METHODS, 0), ("#", 0)]):
            with self.subTest(filters=filters):
                raw = RawDevice(EMU, "rules-closed")
                self.addCleanup(raw.close)
                raw.send(subscribe_packet(filters))
                self.assertEqual(raw.received_until_closed(), b"")

    def test_D15_a_qos2_publish_closes_the_connection_without_a_pubrec(self):
        for topic in (b"$iothub/methods/res/200/?$rid=1", b"$iothub/streams/res/200/?$rid=1"):
            with self.subTest(topic=topic):
                raw = RawDevice(EMU, "rules-qos2")
                self.addCleanup(raw.close)
                raw.send(RawDevice.publish_packet(topic, b"{}", qos=2, packet_id=3))
                self.assertEqual(raw.received_until_closed(), b"")

    def test_D15_answers_under_methods_res_are_allowed(self):
        raw = RawDevice(EMU, "rules-res")
        self.addCleanup(raw.close)
        rid = str(next(RIDS)).encode()  # answers no call: dropped, but the device stays
        raw.send(RawDevice.publish_packet(b"$iothub/methods/res/200/?$rid=" + rid, b'{"a":1}',
                                          qos=1, packet_id=7))
        self.assertEqual(read_exactly(raw, 4), b"\x40\x02\x00\x07")
        raw.send(RawDevice.publish_packet(b"$iothub/methods/res/500/?$rid=" + rid, b"", qos=0) +
                 RawDevice.publish_packet(b"$iothub/methods/res/404/?$rid=" + rid, b"",
                                          qos=1, packet_id=8))
        self.assertEqual(read_exactly(raw, 4), b"\x40\x02\x00\x08")
        raw.send(b"\xc0\x00")  # PINGREQ: the connection is still open
        self.assertEqual(read_exactly(raw, 2), b"\xd0\x00")


# Background scenarios: started by setUpModule, checked by Timeouts. Each returns what its test
# asserts; an exception reaches the test through the future.

def scenario_silent():
    """A listening device that never answers, then answers late; then a call it answers."""
    dev = MethodDevice("t-silent")
    try:
        res, took = timed_call("t-silent", {"methodName": "slow", "responseTimeoutInSeconds": 5})
        request = dev.next_request(timeout=0)  # it was asked (before the 504 came)
        dev.answer(request["rid"], 200, b'{"late":true}', qos=1)
        pending = pending_call("t-silent", {"methodName": "after"})
        after = dev.next_request()
        dev.answer(after["rid"], 200, b'{"late":false}')
        return res, took, request, pending.result(timeout=TIMEOUT * 3)[0]
    finally:
        dev.close()


def scenario_dropper():
    """A device that is asked, then disconnects while the call waits."""
    dev = MethodDevice("t-dropper")
    closed = False
    try:
        pending = pending_call("t-dropper", {"methodName": "m", "responseTimeoutInSeconds": 5})
        dev.next_request()
        dev.close()
        closed = True
        wait_until(lambda: EMU.device_state("t-dropper")["connectionState"] == "Disconnected",
                   what="the hub to see t-dropper disconnected")
        return pending.result(timeout=TIMEOUT * 3)
    finally:
        if not closed:
            dev.close()


def scenario_default():
    """No responseTimeoutInSeconds: 30 s."""
    dev = MethodDevice("t-default")
    try:
        res, took = timed_call("t-default", {"methodName": "m"}, max_time=60)
        return res, took, dev.requests.qsize()
    finally:
        dev.close()


def scenario_absent():
    """connectTimeoutInSeconds 2, and the device never comes."""
    return timed_call("t-absent", {"methodName": "m", "connectTimeoutInSeconds": 2,
                                   "responseTimeoutInSeconds": 5})


def scenario_late():
    """Offline at the POST; connects and subscribes a second later."""
    pending = pending_call("t-late", {"methodName": "m", "payload": {"x": 1},
                                      "connectTimeoutInSeconds": 5,
                                      "responseTimeoutInSeconds": 5})
    time.sleep(1)  # the scenario: the device comes a second after the call
    dev = MethodDevice("t-late", listen=False)
    try:
        subscribed_at = time.monotonic()
        assert dev.peer.subscribe(METHODS) == (0,)
        request = dev.next_request()
        dev.answer(request["rid"], 200, b'{"came":"late"}')
        res, took = pending.result(timeout=TIMEOUT * 3)
        return res, took, request, subscribed_at
    finally:
        dev.close()


def scenario_subscribes_late():
    """Connected at the POST but not subscribed; subscribes a second later."""
    dev = MethodDevice("t-subscribes-late", listen=False)
    try:
        wait_until(lambda: EMU.device_state("t-subscribes-late")["connectionState"] ==
                   "Connected", what="the hub to see t-subscribes-late connected")
        pending = pending_call("t-subscribes-late", {"methodName": "m",
                                                     "connectTimeoutInSeconds": 5,
                                                     "responseTimeoutInSeconds": 5})
        time.sleep(1)  # the scenario: the device subscribes a second after the call
        early = dev.requests.qsize()  # what reached it before it subscribed
        assert dev.peer.subscribe(METHODS) == (0,)
        request = dev.next_request()
        dev.answer(request["rid"], 200, b'{"subscribed":"late"}')
        res, took = pending.result(timeout=TIMEOUT * 3)
        return res, took, early
    finally:
        dev.close()


BACKGROUND = {"silent": scenario_silent, "dropper": scenario_dropper,
              "default": scenario_default, "absent": scenario_absent, "late": scenario_late,
              "subscribes-late": scenario_subscribes_late}


class Timeouts(MethodTest):
    """Rules D1 and D2 with their deadlines; the calls ran in the background from the start."""

    def outcome(self, name):
        return SLOW[name].result(timeout=90)

    def test_D1_absent_response_timeout_is_30_s(self):
        res, took, asked = self.outcome("default")
        detail = self.assertError(res, 504, 504101, "GatewayTimeout")
        self.assertEqual(detail.get("info"), {"timeout": "00:00:30"})
        self.assertGreaterEqual(took, 30.0)
        self.assertLess(took, 30.0 + latency_bound(3.0))
        self.assertEqual(asked, 1)

    def test_D2_silent_device_is_504101_at_the_response_timeout(self):
        res, took, request, after = self.outcome("silent")
        self.assertEqual(request["name"], "slow")
        detail = self.assertError(res, 504, 504101, "GatewayTimeout")
        self.assertEqual(detail["message"], "Timed out waiting for the response from device.")
        self.assertEqual(detail.get("info"), {"timeout": "00:00:05"})
        self.assertGreaterEqual(took, 5.0)
        self.assertLess(took, 5.0 + latency_bound(3.0))
        # The late answer was dropped; the next call got its own.
        self.assertAnswer(after, 200, {"late": False})

    def test_D2_a_device_that_disconnects_still_ends_504_at_the_deadline(self):
        res, took = self.outcome("dropper")
        detail = self.assertError(res, 504, 504101, "GatewayTimeout")
        self.assertEqual(detail.get("info"), {"timeout": "00:00:05"})
        self.assertGreaterEqual(took, 5.0)
        self.assertLess(took, 5.0 + latency_bound(3.0))

    def test_D2_connect_timeout_expires_as_404103(self):
        res, took = self.outcome("absent")
        detail = self.assertError(res, 404, 404103, "DeviceNotOnline")
        self.assertEqual(detail.get("info"), {"timeout": "00:00:02"})
        self.assertGreaterEqual(took, 2.0)
        self.assertLess(took, 2.0 + latency_bound(2.0))

    def test_D2_connect_timeout_waits_for_a_device_that_connects_late(self):
        res, took, request, subscribed_at = self.outcome("late")
        self.assertAnswer(res, 200, {"came": "late"})
        self.assertEqual(request["payload"], b'{"x":1}')
        self.assertGreaterEqual(request["at"], subscribed_at)
        self.assertGreaterEqual(took, 1.0)

    def test_D2_connect_timeout_waits_for_a_device_that_subscribes_late(self):
        res, took, early = self.outcome("subscribes-late")
        self.assertAnswer(res, 200, {"subscribed": "late"})
        self.assertEqual(early, 0, "the request was sent before the device subscribed")
        self.assertGreaterEqual(took, 1.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
