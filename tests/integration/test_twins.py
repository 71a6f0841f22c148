"""Device and module twins end to end (docs/protocol.md §12.2, rules D5-D9), their error bodies
(§12.6, D18) and their persistence.

Independent peers only: curl for the service's REST calls, paho-mqtt for devices and modules (MQTT
3.1.1 over TLS, as the Azure SDKs connect). One emulator serves the file, with one device per test
so tests cannot disturb each other; the persistence tests run emulators of their own on a state
directory, one of them killed with SIGKILL in the middle of a burst of reported patches.

Every asynchronous check waits on an event with a deadline. What the hub sends one identity
reaches it in order, so "nothing was sent" is shown by a later message arriving first. A device
is listening for desired properties once its SUBACK came and the hub has handled every broker
event sent before a later one (hub_caught_up): the hub learns of subscriptions from the broker.
"""
import base64
import datetime
import itertools
import json
import os
import queue
import re
import signal
import sqlite3
import struct
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import Emulator, device_args, latency_bound, wait_until
from mqtt_peer import TIMEOUT, connect_device
from test_mqtt import broker_pid

API = "api-version=2021-04-12"
JSON_TYPE = "application/json; charset=utf-8"
RW = "registryReadWrite"
RES = "$iothub/twin/res/#"
DESIRED = "$iothub/twin/PATCH/properties/desired/#"
GET_TOPIC = "$iothub/twin/GET/?$rid=%s"
REPORTED_TOPIC = "$iothub/twin/PATCH/properties/reported/?$rid=%s"
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}Z")
NEVER = "0001-01-01T00:00:00"  # the hub's "never" (docs/protocol.md §5)
FIELDS = ["deviceId", "etag", "deviceEtag", "status", "statusUpdateTime", "connectionState",
          "lastActivityTime", "cloudToDeviceMessageCount", "authenticationType",
          "x509Thumbprint", "modelId", "version", "tags", "properties", "capabilities"]
MODULE_FIELDS = FIELDS[:1] + ["moduleId"] + FIELDS[1:]
VOLATILE = ("connectionState", "lastActivityTime")  # may change without a twin write
MAX_INTEGER = 2 ** 52 - 1  # 4503599627370495
MARKERS = itertools.count(1)

# Every device of the shared emulator, registered at start: one per test.
DEVICES = ["marker", "r-new", "r-mod", "r-perm", "r-merge", "r-ignore", "r-noop", "r-put",
           "r-etag", "r-format", "r-sections", "r-keys", "r-depth", "r-values", "r-size-tags",
           "r-size-desired", "r-conn", "r-alone", "m-get", "m-rid", "m-qos", "m-unsub", "m-module",
           "m-rep", "m-bad", "m-des", "m-des-none", "m-des-module", "m-des-put", "m-offline"]

EMU = None


def setUpModule():
    global EMU
    EMU = Emulator(*device_args(DEVICES)).start()


def tearDownModule():
    EMU.__exit__(None, None, None)


def etag(n):
    """The twin etag the hub writes for counter n: base64 of its big-endian 64 bits."""
    return base64.b64encode(struct.pack(">q", n)).decode()


def etag_number(text):
    return struct.unpack(">q", base64.b64decode(text))[0]


def twin_path(device_id, module_id=None):
    path = "/twins/" + urllib.parse.quote(device_id, safe="")
    if module_id is not None:
        path += "/modules/" + urllib.parse.quote(module_id, safe="")
    return path + "?" + API


def get_twin(device_id, module_id=None, policy="registryRead", emu=None):
    return (emu or EMU).request("GET", twin_path(device_id, module_id), policy)


def write_twin(method, device_id, body, module_id=None, policy=RW, if_match=None, emu=None):
    """PATCH or PUT. body: a dict (sent as JSON) or the exact text to send."""
    headers = {"Content-Type": "application/json"}
    if if_match is not None:
        headers["If-Match"] = if_match
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body, ensure_ascii=False)
    return (emu or EMU).request(method, twin_path(device_id, module_id), policy,
                                headers=headers, body=body)


def parse_time(text):
    """A time as the hub writes it: ISO 8601, UTC, 7 fractional digits."""
    assert TIME.fullmatch(text), "not a hub time: %r" % text
    return datetime.datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def twin_size(value):
    """The size rule D9 counts: key lengths plus values (strings by characters, numbers 8,
    booleans 4, null 0), recursively, keys starting with '$' left out."""
    if isinstance(value, dict):
        return sum(len(k) + twin_size(v) for k, v in value.items() if not k.startswith("$"))
    if isinstance(value, list):
        return sum(twin_size(v) for v in value)
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool):
        return 4
    if isinstance(value, (int, float)):
        return 8
    return 0


def section_of_size(total):
    """An object whose rule-D9 size is exactly total: a number, a boolean, a string whose
    characters take two bytes each, and strings of 4096 characters (the longest allowed)."""
    value = {"n": 1, "t": True, "é": "é" * 2048}
    for i in itertools.count():
        left = total - twin_size(value)
        if left == 0:
            return value
        key = "s%d" % i
        assert left > len(key), "cannot fill %d more" % left
        value[key] = "x" * min(4096, left - len(key))


def one_more(section):
    """The section one character bigger: its last string one longer (all are under 4096)."""
    bigger = dict(section)
    last = list(bigger)[-1]
    assert len(bigger[last]) < 4096
    bigger[last] += "x"
    return bigger


def nested(levels, leaf=1):
    """{"l1": {"l2": ... {"l<levels>": {"property": leaf}}}}: `levels` objects below the
    section, as tags.one.two...ten.property has ten."""
    value = {"property": leaf}
    for i in range(levels, 0, -1):
        value = {"l%d" % i: value}
    return value


def hub_caught_up():
    """Returns once the hub has handled every event the broker sent it before the call: a client
    id never seen before (a module of the marker device) connects, and the line the hub logs for
    it comes after all of them (as in test_methods.py)."""
    marker = "marker/caught-up-%d" % next(MARKERS)
    peer = connect_device(EMU, marker)
    EMU.wait_log("'%s' connected" % marker)
    peer.close()


class Message:
    def __init__(self, msg):
        self.topic, self.payload, self.qos, self.retain = (msg.topic, msg.payload, msg.qos,
                                                           msg.retain)

    def __repr__(self):
        return "<%s qos %d %r>" % (self.topic, self.qos, self.payload[:200])


class TwinDevice:
    """A device or module (client id `d/m`) that uses its twin over MQTT."""

    def __init__(self, client_id, answers=True, desired=False, qos=0, emu=None):
        self.id = client_id
        self.emu = emu or EMU
        self.peer = connect_device(self.emu, client_id)
        self.messages = queue.Queue()
        self.peer.client.on_message = lambda c, u, msg: self.messages.put(Message(msg))
        if answers:
            self.subscribe(RES, qos)
        if desired:
            self.subscribe(DESIRED, qos)

    def subscribe(self, topic_filter, qos=0):
        granted = self.peer.subscribe(topic_filter, qos)
        assert granted == (min(qos, 1),), "SUBACK %r for %s at QoS %d" % (granted, topic_filter,
                                                                          qos)

    def send(self, topic, body=b"", qos=0):
        info = self.peer.client.publish(topic, body, qos)
        info.wait_for_publish(timeout=TIMEOUT)
        if qos:
            assert info.is_published(), "no PUBACK for %s" % topic

    def get(self, rid, body=b"", qos=0):
        """Asks for the twin and returns the next message received."""
        self.send(GET_TOPIC % rid, body, qos)
        return self.next()

    def report(self, rid, patch, qos=0):
        """Sends a reported patch (a dict, or the exact bytes) and returns the next message."""
        if isinstance(patch, (dict, list)):
            patch = json.dumps(patch)
        self.send(REPORTED_TOPIC % rid, patch, qos)
        return self.next()

    def next(self, timeout=TIMEOUT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s received nothing within %.0f s" % (self.id, timeout)) \
                from None

    def nothing(self, within):
        try:
            got = self.messages.get(timeout=within)
        except queue.Empty:
            return
        raise AssertionError("%s received %r" % (self.id, got))

    def close(self):
        self.peer.close()


class TwinTest(unittest.TestCase):
    maxDiff = None

    def device(self, client_id, **kwargs):
        d = TwinDevice(client_id, **kwargs)
        self.addCleanup(d.close)
        return d

    def assertTwin(self, res, device_id, module_id=None):
        """A 200 with a whole twin (rule D9): the content type, the ETag header, the fields in
        the hub's order and those that never change. Returns the twin."""
        self.assertEqual(res.status, 200, res.body)
        self.assertEqual(res.headers.get("content-type"), JSON_TYPE)
        twin = res.json()
        self.assertEqual(list(twin), MODULE_FIELDS if module_id is not None else FIELDS)
        self.assertEqual(res.headers.get("etag"), '"%s"' % twin["etag"])
        self.assertEqual(twin["deviceId"], device_id)
        if module_id is not None:
            self.assertEqual(twin["moduleId"], module_id)
        etag_number(twin["etag"])  # base64 of 8 bytes
        self.assertEqual(len(base64.b64decode(twin["etag"])), 8, twin["etag"])
        self.assertIn(twin["status"], ("enabled", "disabled"))
        parse_time(twin["statusUpdateTime"])
        self.assertIn(twin["connectionState"], ("Connected", "Disconnected"))
        if twin["lastActivityTime"] != NEVER:
            parse_time(twin["lastActivityTime"])
        self.assertEqual(twin["cloudToDeviceMessageCount"], 0)
        self.assertEqual(twin["authenticationType"], "sas")
        self.assertEqual(twin["x509Thumbprint"],
                         {"primaryThumbprint": None, "secondaryThumbprint": None})
        self.assertEqual(twin["modelId"], "")
        self.assertIsInstance(twin["version"], int)
        self.assertIsInstance(twin["tags"], dict)
        self.assertEqual(list(twin["properties"]), ["desired", "reported"])
        for section in ("desired", "reported"):
            props = twin["properties"][section]
            self.assertIsInstance(props["$version"], int)
            self.assertIn("$lastUpdated", props["$metadata"])
            parse_time(props["$metadata"]["$lastUpdated"])
        self.assertEqual(twin["capabilities"], {"iotEdge": False})
        return twin

    def twin(self, device_id, module_id=None):
        return self.assertTwin(get_twin(device_id, module_id), device_id, module_id)

    def assertFlatError(self, res, status, name):
        """A twin error (rule D18): flat, with the code's name in the header and the body."""
        self.assertEqual(res.status, status, res.body)
        self.assertEqual(res.headers.get("content-type"), JSON_TYPE)
        self.assertEqual(res.headers.get("iothub-errorcode"), name)
        detail = res.error()
        self.assertEqual(detail["form"], "flat", res.body)
        self.assertEqual(detail["name"], name, res.body)
        return detail

    def assertUnauthorized(self, res):
        """A refused token: 401 401002, nested, as everywhere (rule D18)."""
        self.assertEqual(res.status, 401, res.body)
        self.assertEqual(res.headers.get("iothub-errorcode"), "IotHubUnauthorizedAccess")
        detail = res.error()
        self.assertEqual(detail["form"], "nested", res.body)
        self.assertEqual(detail["errorCode"], 401002, res.body)
        return detail

    def assertSame(self, twin, other):
        """The same twin, apart from what changes without a write."""
        strip = lambda t: {k: v for k, v in t.items() if k not in VOLATILE}
        self.assertEqual(strip(twin), strip(other))

    def assertRefused(self, device_id, method, body, status, name, module_id=None, before=None,
                      **kwargs):
        """A refused write answers the flat error and changes nothing (before: the twin as it
        is, when the test has it)."""
        before = before or self.twin(device_id, module_id)
        detail = self.assertFlatError(write_twin(method, device_id, body, module_id, **kwargs),
                                      status, name)
        self.assertSame(self.twin(device_id, module_id), before)
        return detail

    def write(self, method, device_id, body, module_id=None, desired_bump=0, **kwargs):
        """A write to the twin as it is now, checked by assertWritten."""
        before = self.twin(device_id, module_id)
        return self.assertWritten(write_twin(method, device_id, body, module_id, **kwargs),
                                  device_id, before, module_id, desired_bump)

    def assertWritten(self, res, device_id, before, module_id=None, desired_bump=0):
        """A write that changed the twin: the twin after it, version and etag one further, the
        desired $version desired_bump further, and the same twin on a later GET."""
        twin = self.assertTwin(res, device_id, module_id)
        self.assertEqual(twin["version"], before["version"] + 1)
        self.assertEqual(twin["etag"], etag(etag_number(before["etag"]) + 1))
        self.assertEqual(twin["properties"]["desired"]["$version"],
                         before["properties"]["desired"]["$version"] + desired_bump)
        # Reported is left alone; its root $lastUpdated is test_D9_a_write_leaves_the_other_
        # sections_alone's, so that one cause fails one test.
        self.assertEqual(without_root_time(twin["properties"]["reported"]),
                         without_root_time(before["properties"]["reported"]))
        self.assertSame(self.twin(device_id, module_id), twin)
        return twin


def without_root_time(section):
    meta = {k: v for k, v in section["$metadata"].items() if k != "$lastUpdated"}
    return dict(section, **{"$metadata": meta})


def desired_patch(desired):
    return {"properties": {"desired": desired}}


def members(section):
    return {k: v for k, v in section.items() if not k.startswith("$")}


class Rest(TwinTest):
    """Rule D9 and the flat errors of D18."""

    def test_D18_flat_for_registry_and_twins_nested_for_methods_and_streams(self):
        # One unknown device, four endpoints: each answers 404 in its own form, always with the
        # code's name in iothub-errorcode and the hub's content type.
        self.assertFlatError(EMU.request("GET", "/devices/no-such?" + API, "registryRead"), 404,
                             "DeviceNotFound")
        self.assertFlatError(get_twin("no-such"), 404, "DeviceNotFound")
        for path, body in (("/twins/no-such/methods?" + API, '{"methodName":"m"}'),
                           ("/twins/no-such/streams/s?" + API, None)):
            with self.subTest(path=path):
                res = EMU.request("POST", path, "service", body=body,
                                  headers={"Content-Type": "application/json"})
                self.assertEqual(res.status, 404, res.body)
                self.assertEqual(res.headers.get("content-type"), JSON_TYPE)
                self.assertEqual(res.headers.get("iothub-errorcode"), "DeviceNotFound")
                detail = res.error()
                self.assertEqual((detail["form"], detail["errorCode"]), ("nested", 404001))

    def test_D9_a_new_twin_has_every_field_in_the_hubs_order(self):
        twin = self.twin("r-new")
        device = EMU.device_state("r-new")
        self.assertEqual(twin["etag"], "AAAAAAAAAAE=")
        self.assertEqual(twin["deviceEtag"], device["etag"])
        self.assertEqual(twin["status"], "enabled")
        self.assertEqual(twin["connectionState"], "Disconnected")
        self.assertEqual(twin["version"], 2)
        self.assertEqual(twin["tags"], {})
        props = twin["properties"]
        desired_time = props["desired"]["$metadata"]["$lastUpdated"]
        reported_time = props["reported"]["$metadata"]["$lastUpdated"]
        self.assertEqual(props, {
            "desired": {"$metadata": {"$lastUpdated": desired_time, "$lastUpdatedVersion": 1},
                        "$version": 1},
            "reported": {"$metadata": {"$lastUpdated": reported_time}, "$version": 1}})
        self.assertLessEqual(parse_time(desired_time), utc_now())
        self.assertLessEqual(parse_time(reported_time), utc_now())
        # In the hub's order too: $metadata, then $version.
        self.assertEqual(list(props["desired"]), ["$metadata", "$version"])
        self.assertEqual(list(props["desired"]["$metadata"]),
                         ["$lastUpdated", "$lastUpdatedVersion"])
        self.assertEqual(list(props["reported"]), ["$metadata", "$version"])
        # Reading changes nothing, and any policy that may read gets the same.
        for policy in ("registryRead", RW, "service", "iothubowner"):
            with self.subTest(policy=policy):
                self.assertSame(self.assertTwin(get_twin("r-new", policy=policy), "r-new"), twin)

    def test_D9_any_module_of_an_existing_device_has_a_fresh_twin(self):
        device_twin = self.twin("r-mod")
        for module_id in ("m1", "another-module", "m:2"):
            with self.subTest(module=module_id):
                twin = self.twin("r-mod", module_id)
                self.assertEqual(twin["etag"], "AAAAAAAAAAE=")
                self.assertEqual(twin["version"], 2)
                self.assertEqual(twin["tags"], {})
                self.assertEqual(twin["deviceEtag"], device_twin["deviceEtag"])
                self.assertEqual(twin["properties"]["desired"]["$version"], 1)
                self.assertEqual(twin["properties"]["reported"]["$version"], 1)
                self.assertEqual(twin["connectionState"], "Disconnected")
        # A module twin is its own: a write to it leaves the device's and a sibling's alone.
        before = self.twin("r-mod", "m1")
        written = self.assertWritten(
            write_twin("PATCH", "r-mod", dict(desired_patch({"who": "m1"}), tags={"m": 1}),
                       module_id="m1"), "r-mod", before, "m1", desired_bump=1)
        self.assertEqual(written["tags"], {"m": 1})
        self.assertSame(self.twin("r-mod"), device_twin)
        self.assertEqual(self.twin("r-mod", "another-module")["etag"], "AAAAAAAAAAE=")

    def test_D9_unknown_device_is_404001_flat(self):
        cases = [get_twin("nosuch"), get_twin("nosuch", "m1"),
                 write_twin("PATCH", "nosuch", {"tags": {"a": 1}}),
                 write_twin("PATCH", "nosuch", {"tags": {"a": 1}}, module_id="m1"),
                 write_twin("PUT", "nosuch", {"tags": {"a": 1}})]
        for res in cases:
            with self.subTest(body=res.body):
                self.assertFlatError(res, 404, "DeviceNotFound")
        self.assertTrue(cases[0].json()["Message"].startswith("ErrorCode:DeviceNotFound;"))
        self.assertTrue(cases[0].json()["ExceptionMessage"].startswith("Tracking ID:"))
        self.assertEqual(EMU.request("GET", "/devices/nosuch", RW).status, 404)

    def test_D9_policies_read_with_registry_read_or_service_write_with_registry_write(self):
        twin = self.twin("r-perm")
        for policy in ("device", None):
            with self.subTest(get=policy):
                self.assertUnauthorized(get_twin("r-perm", policy=policy))
                self.assertUnauthorized(get_twin("r-perm", "m1", policy=policy))
        for method in ("PATCH", "PUT"):
            for policy in ("registryRead", "device", None):
                with self.subTest(method=method, policy=policy):
                    self.assertUnauthorized(write_twin(method, "r-perm", {"tags": {"p": 1}},
                                                       policy=policy))
                    self.assertUnauthorized(write_twin(method, "r-perm", {"tags": {"p": 1}},
                                                       module_id="m1", policy=policy))
        self.assertSame(self.twin("r-perm"), twin)
        for n, policy in enumerate((RW, "service", "iothubowner")):
            for method in ("PATCH", "PUT"):
                with self.subTest(method=method, policy=policy):
                    twin = self.write(method, "r-perm", {"tags": {"p": n}}, policy=policy,
                                      desired_bump=1 if method == "PUT" else 0)
                    self.assertEqual(twin["tags"], {"p": n})

    def test_D9_patch_merges_tags_and_desired(self):
        dev = "r-merge"
        twin = self.twin(dev)
        # Tags: members replace, objects merge, null deletes, arrays are replaced whole.
        twin = self.assertWritten(write_twin("PATCH", dev, {"tags": {
            "a": 1, "o": {"x": 1, "y": 2}, "arr": [1, 2, 3], "s": "v"}}), dev, twin)
        self.assertEqual(twin["tags"], {"a": 1, "o": {"x": 1, "y": 2}, "arr": [1, 2, 3], "s": "v"})
        self.assertEqual(twin["version"], 3)
        self.assertEqual(twin["etag"], "AAAAAAAAAAI=")
        desired_before = twin["properties"]["desired"]
        twin = self.assertWritten(write_twin("PATCH", dev, {"tags": {
            "o": {"y": None, "z": 3}, "arr": [9], "a": None, "new": {"deep": {"er": True}}}}),
            dev, twin)
        self.assertEqual(twin["tags"], {"o": {"x": 1, "z": 3}, "arr": [9], "s": "v",
                                        "new": {"deep": {"er": True}}})
        self.assertEqual(twin["etag"], "AAAAAAAAAAM=")
        self.assertEqual(twin["properties"]["desired"], desired_before)  # tags only
        # Desired: the same merge, a $version one further, metadata per member and level.
        start = utc_now() - datetime.timedelta(seconds=2)
        twin = self.assertWritten(write_twin("PATCH", dev, desired_patch(
            {"d1": 1, "n": {"a": {"b": "deep"}}, "arr": [1, {"k": "v"}]})), dev, twin,
            desired_bump=1)
        end = utc_now() + datetime.timedelta(seconds=2)
        desired = twin["properties"]["desired"]
        self.assertEqual(desired["$version"], 2)
        self.assertEqual(members(desired), {"d1": 1, "n": {"a": {"b": "deep"}},
                                            "arr": [1, {"k": "v"}]})
        meta = desired["$metadata"]
        self.assertEqual(meta["$lastUpdatedVersion"], 2)
        self.assertEqual(set(meta), {"$lastUpdated", "$lastUpdatedVersion", "d1", "n", "arr"})
        self.assertEqual(meta["d1"], {"$lastUpdated": meta["d1"]["$lastUpdated"],
                                      "$lastUpdatedVersion": 2})
        self.assertTrue(start <= parse_time(meta["d1"]["$lastUpdated"]) <= end,
                        meta["d1"]["$lastUpdated"])
        self.assertEqual(set(meta["arr"]), {"$lastUpdated", "$lastUpdatedVersion"})
        self.assertEqual(set(meta["n"]), {"$lastUpdated", "$lastUpdatedVersion", "a"})
        self.assertEqual(set(meta["n"]["a"]), {"$lastUpdated", "$lastUpdatedVersion", "b"})
        self.assertEqual(meta["n"]["a"]["b"]["$lastUpdatedVersion"], 2)
        parse_time(meta["n"]["a"]["b"]["$lastUpdated"])
        self.assertEqual(twin["tags"]["o"], {"x": 1, "z": 3})  # desired only
        # A nested member added, one deleted (its metadata too), an array replaced.
        twin = self.assertWritten(write_twin("PATCH", dev, desired_patch(
            {"n": {"a": {"c": True}}, "d1": None, "arr": [2]})), dev, twin, desired_bump=1)
        desired = twin["properties"]["desired"]
        self.assertEqual(members(desired), {"n": {"a": {"b": "deep", "c": True}}, "arr": [2]})
        meta = desired["$metadata"]
        self.assertNotIn("d1", meta)
        self.assertEqual(meta["$lastUpdatedVersion"], 3)
        self.assertEqual(meta["n"]["a"]["c"]["$lastUpdatedVersion"], 3)
        self.assertEqual(meta["n"]["a"]["b"]["$lastUpdatedVersion"], 2)  # not written again
        self.assertEqual(meta["arr"]["$lastUpdatedVersion"], 3)
        # Tags and desired in one PATCH: one version further, not two.
        twin = self.assertWritten(write_twin("PATCH", dev, dict(
            desired_patch({"both": 1}), tags={"both": 1})), dev, twin, desired_bump=1)
        self.assertEqual((twin["tags"]["both"], twin["properties"]["desired"]["both"]), (1, 1))
        # Desired that changes nothing still counts as a desired update.
        same = members(twin["properties"]["desired"])
        for patch in ({}, {"both": 1}):
            with self.subTest(patch=patch):
                twin = self.write("PATCH", dev, desired_patch(patch), desired_bump=1)
                self.assertEqual(members(twin["properties"]["desired"]), same)
        self.assertEqual(twin["properties"]["desired"]["$version"], 6)
        self.assertEqual(twin["version"], 9)
        self.assertEqual(twin["etag"], "AAAAAAAAAAg=")

    def test_D9_a_write_leaves_the_other_sections_alone(self):
        dev = "r-alone"
        fresh = self.twin(dev)
        # Tags only: neither properties section changes, $metadata included.
        twin = self.write("PATCH", dev, {"tags": {"t": 1}})
        self.assertEqual(twin["properties"], fresh["properties"])
        # Desired: reported stays as it was, $metadata included; and the other way round.
        twin = self.write("PATCH", dev, desired_patch({"d": 1}), desired_bump=1)
        self.assertEqual(twin["properties"]["reported"], fresh["properties"]["reported"])
        twin = self.write("PUT", dev, {"tags": {"u": 1}}, desired_bump=1)
        self.assertEqual(twin["properties"]["reported"], fresh["properties"]["reported"])
        device = self.device(dev)
        msg = device.report("1", {"r": 1})
        self.assertEqual(msg.topic, "$iothub/twin/res/204/?$rid=1&$version=2", msg)
        after = self.twin(dev)
        self.assertEqual((after["tags"], after["properties"]["desired"]),
                         (twin["tags"], twin["properties"]["desired"]))
        twin = self.write("PATCH", dev, {"tags": {"v": 1}})
        self.assertEqual(twin["properties"], after["properties"])

    def test_D9_patch_takes_only_tags_and_desired(self):
        dev = "r-ignore"
        before = self.twin(dev)
        body = {"deviceId": "someone-else", "moduleId": "m1", "etag": "bogus",
                "deviceEtag": "bogus", "version": 99, "status": "disabled",
                "connectionState": "Connected", "cloudToDeviceMessageCount": 5,
                "authenticationType": "selfSigned", "modelId": "dtmi:x;1",
                "capabilities": {"iotEdge": True}, "tags": {"t": 1},
                "properties": {"desired": {"k": 1, "$metadata": {"k": {
                    "$lastUpdated": "2000-01-01T00:00:00.0000000Z", "$lastUpdatedVersion": 40}},
                    "$version": 50},
                    "reported": {"r": 1, "$version": 9}}}
        twin = self.assertWritten(write_twin("PATCH", dev, body), dev, before, desired_bump=1)
        self.assertNotIn("moduleId", twin)
        self.assertEqual((twin["status"], twin["modelId"], twin["capabilities"]),
                         ("enabled", "", {"iotEdge": False}))
        self.assertEqual(twin["tags"], {"t": 1})
        desired = twin["properties"]["desired"]
        self.assertEqual(members(desired), {"k": 1})
        self.assertEqual(desired["$version"], 2)
        self.assertEqual(desired["$metadata"]["k"]["$lastUpdatedVersion"], 2)
        self.assertNotEqual(desired["$metadata"]["k"]["$lastUpdated"],
                            "2000-01-01T00:00:00.0000000Z")
        self.assertEqual(EMU.device_state(dev)["status"], "enabled")
        # The same whole twin sent back by PUT (as C# does): reported is still left alone.
        twin = self.assertWritten(write_twin("PUT", dev, body), dev, twin, desired_bump=1)
        self.assertEqual(members(twin["properties"]["desired"]), {"k": 1})

    def test_D9_patch_without_tags_or_desired_changes_nothing(self):
        dev = "r-noop"
        before = self.write("PATCH", dev, {"tags": {"keep": 1}})
        for body in ({}, {"deviceId": dev}, {"properties": {}},
                     {"properties": {"reported": {"r": 1}}}, {"etag": before["etag"]},
                     {"version": 1}):
            with self.subTest(body=body):
                twin = self.assertTwin(write_twin("PATCH", dev, body), dev)
                self.assertSame(twin, before)
                self.assertSame(self.twin(dev), before)
        for body in ({"tags": None}, {"properties": None}, {"properties": {"desired": None}}):
            with self.subTest(body=body):  # null where an object may be: not an error
                self.assertTwin(write_twin("PATCH", dev, body), dev)

    def test_D9_put_replaces_tags_and_desired(self):
        dev = "r-put"
        twin = self.write("PATCH", dev, dict(desired_patch({"x": 1, "y": {"z": 2}}),
                                             tags={"a": 1, "b": {"c": 2}}), desired_bump=1)
        twin = self.assertWritten(write_twin("PUT", dev, {"tags": {"c": 3}}), dev, twin,
                                  desired_bump=1)
        self.assertEqual(twin["tags"], {"c": 3})
        self.assertEqual(members(twin["properties"]["desired"]), {})
        self.assertEqual(twin["properties"]["desired"]["$metadata"]["$lastUpdatedVersion"], 3)
        twin = self.assertWritten(write_twin("PUT", dev, desired_patch({"z": {"deep": 1}})), dev,
                                  twin, desired_bump=1)
        self.assertEqual(twin["tags"], {})
        desired = twin["properties"]["desired"]
        self.assertEqual(members(desired), {"z": {"deep": 1}})
        self.assertEqual(desired["$metadata"]["z"]["deep"]["$lastUpdatedVersion"], 4)
        twin = self.assertWritten(write_twin("PUT", dev, {}), dev, twin, desired_bump=1)
        self.assertEqual((twin["tags"], members(twin["properties"]["desired"])), ({}, {}))
        self.assertEqual(twin["properties"]["desired"]["$version"], 5)

    def test_D9_if_match_quoted_or_bare_must_be_the_etag(self):
        dev = "r-etag"
        twin = self.twin(dev)
        first = twin["etag"]
        twin = self.assertWritten(write_twin("PATCH", dev, {"tags": {"n": 1}},
                                             if_match='"%s"' % first), dev, twin)
        twin = self.assertWritten(write_twin("PATCH", dev, {"tags": {"n": 2}},
                                             if_match=twin["etag"]), dev, twin)
        for method in ("PATCH", "PUT"):
            for stale in ('"%s"' % first, first, '"bogus"', "bogus", '""',
                          'W/"%s"' % twin["etag"], '"%s' % twin["etag"],
                          "'%s'" % twin["etag"]):
                with self.subTest(method=method, if_match=stale):
                    self.assertRefused(dev, method, {"tags": {"n": 3}}, 412,
                                       "PreconditionFailed", before=twin, if_match=stale)
        for n, anything in enumerate(("*", '"*"')):
            with self.subTest(if_match=anything):
                self.write("PATCH", dev, {"tags": {"any": n}}, if_match=anything)
        twin = self.twin(dev)
        twin = self.assertWritten(write_twin("PUT", dev, {"tags": {"put": 1}},
                                             if_match='"%s"' % twin["etag"]), dev, twin,
                                  desired_bump=1)
        self.assertEqual(twin["tags"], {"put": 1})
        self.assertRefused(dev, "PATCH", {"tags": {"n": 4}}, 412, "PreconditionFailed",
                           module_id="m1", if_match='"%s"' % twin["etag"])

    def test_D9_a_body_that_is_not_a_json_object_is_400006(self):
        dev = "r-format"
        twin = self.write("PATCH", dev, {"tags": {"keep": 1}})
        bodies = ["not json", "", "[]", '[{"tags":{}}]', "42", "null", '"tags"', "true",
                  '{"tags":{}', '{"tags":{}} x', "{'tags':{}}"]
        for method, some in (("PATCH", bodies), ("PUT", bodies[::3])):
            for body in some:
                with self.subTest(method=method, body=body):
                    self.assertRefused(dev, method, body, 400, "IotHubFormatError",
                                       before=twin)

    def test_D9_sections_must_be_objects_400004(self):
        dev = "r-sections"
        twin = self.write("PATCH", dev, dict(desired_patch({"keep": 1}), tags={"keep": 1}),
                          desired_bump=1)
        bodies = [{"tags": value} for value in (1, "x", [], [1], True, 0)]
        bodies += [{"properties": value} for value in (1, "x", [], False)]
        bodies += [desired_patch(value) for value in (1, "x", [], [{"a": 1}], True)]
        bodies += [dict(desired_patch({"ok": 1}), tags=[1])]  # the good half is not taken
        for method, some in (("PATCH", bodies), ("PUT", bodies[::3])):
            for body in some:
                with self.subTest(method=method, body=body):
                    self.assertRefused(dev, method, body, 400, "ArgumentInvalid", before=twin)

    def test_D9_invalid_keys_are_400004(self):
        dev = "r-keys"
        bad = ["a.b", ".", "a$b", "$x", "$", "a b", " ", "a\u0001b", "a\tb", "a\nb", "a\u007fb",
               "k" * 1025, "é" * 513]  # 1026 bytes in 513 characters
        twin = self.twin(dev)
        for section in ("tags", "desired"):
            for n, key in enumerate(bad):
                for where in ("top", "nested") if n % 3 == 0 else ("top",):
                    value = {key: 1} if where == "top" else {"o": {"p": {key: 1}}}
                    body = {"tags": value} if section == "tags" else desired_patch(value)
                    with self.subTest(section=section, key=key[:20], where=where):
                        self.assertRefused(dev, "PATCH", body, 400, "ArgumentInvalid",
                                           before=twin)
        # The longest keys, other characters beyond ASCII, and the ignored $-keys are fine.
        good = {"k" * 1024: 1, "é" * 512: 2, "a-b_c:d@e/f#g%h": 3, "grüße✓": 4}
        for section in ("tags", "desired"):
            with self.subTest(section=section, keys="good"):
                body = {"tags": good} if section == "tags" else desired_patch(
                    dict(good, **{"$metadata": {}, "$version": 7}))
                twin = self.write("PATCH", dev, body,
                                  desired_bump=1 if section == "desired" else 0)
                got = twin["tags"] if section == "tags" else members(
                    twin["properties"]["desired"])
                self.assertEqual(got, good)

    def test_D9_objects_nest_at_most_10_levels(self):
        dev = "r-depth"
        for section in ("tags", "desired"):
            with self.subTest(section=section, levels=10):
                body = {"tags": nested(10)} if section == "tags" else desired_patch(nested(10))
                desired_bump = 1 if section == "desired" else 0
                self.write("PATCH", dev, body, desired_bump=desired_bump)
            twin = self.twin(dev)
            for levels, methods in ((11, ("PATCH", "PUT")), (40, ("PATCH",))):
                for method in methods:
                    with self.subTest(section=section, levels=levels, method=method):
                        value = nested(levels)
                        body = {"tags": value} if section == "tags" else desired_patch(value)
                        self.assertRefused(dev, method, body, 400, "ArgumentInvalid",
                                           before=twin)
            with self.subTest(section=section, levels="10, then 11 over them"):
                # Ten levels already there; the same path one level deeper is still refused.
                body = {"tags": nested(10, {"more": 1})} if section == "tags" else \
                    desired_patch(nested(10, {"more": 1}))
                self.assertRefused(dev, "PATCH", body, 400, "ArgumentInvalid", before=twin)

    def test_D9_strings_and_integers_have_bounds(self):
        dev = "r-values"
        good = {"s": "x" * 4096, "u": "é" * 2048, "max": MAX_INTEGER, "min": -MAX_INTEGER,
                "f": 1.5e300, "neg": -0.0, "b": False}
        for section in ("tags", "desired"):
            with self.subTest(section=section, values="good"):
                body = {"tags": good} if section == "tags" else desired_patch(good)
                twin = self.write("PATCH", dev, body,
                                  desired_bump=1 if section == "desired" else 0)
                got = twin["tags"] if section == "tags" else members(
                    twin["properties"]["desired"])
                self.assertEqual(got, good)
        twin = self.twin(dev)
        bad = [("s", '"%s"' % ("x" * 4097)),
               ("u", '"%s"' % ("é" * 2049)),  # 4098 bytes in 2049 characters
               ("arr", '["%s"]' % ("x" * 4097)),
               ("over", str(MAX_INTEGER + 1)), ("under", str(-MAX_INTEGER - 1)),
               ("big", str(2 ** 62)), ("huge", str(2 ** 63)), ("nested", '{"i":%d}' % 2 ** 53)]
        for section in ("tags", "desired"):
            for key, value in bad:
                text = '{"%s":%s}' % (key, value)
                body = ('{"tags":%s}' % text if section == "tags"
                        else '{"properties":{"desired":%s}}' % text)
                with self.subTest(section=section, key=key):
                    self.assertRefused(dev, "PATCH", body, 400, "ArgumentInvalid", before=twin)

    def test_D9_tags_over_8192_are_400004(self):
        dev = "r-size-tags"
        exactly = section_of_size(8192)
        twin = self.write("PUT", dev, {"tags": exactly}, desired_bump=1)
        self.assertEqual(twin["tags"], exactly)
        over = one_more(exactly)
        self.assertEqual(twin_size(over), 8193)
        self.assertRefused(dev, "PUT", {"tags": over}, 400, "ArgumentInvalid")
        # Counted after the merge: one more member is too much, once room is made it fits.
        self.assertRefused(dev, "PATCH", {"tags": {"m": "xy"}}, 400, "ArgumentInvalid")
        twin = self.assertWritten(write_twin("PATCH", dev, {"tags": {"n": None}}), dev, twin)
        self.assertRefused(dev, "PATCH", {"tags": {"n2": 2}}, 400, "ArgumentInvalid")  # 10 > 9
        twin = self.assertWritten(write_twin("PATCH", dev, {"tags": {"m": 2}}), dev, twin)
        self.assertEqual(twin_size(twin["tags"]), 8192)

    def test_D9_desired_over_32768_are_400004(self):
        dev = "r-size-desired"
        exactly = section_of_size(32768)
        # $-keys do not count: desired's own $metadata is far bigger than the room left.
        twin = self.write("PUT", dev, desired_patch(exactly), desired_bump=1)
        self.assertEqual(members(twin["properties"]["desired"]), exactly)
        self.assertRefused(dev, "PATCH", desired_patch({"z": True}), 400, "ArgumentInvalid")
        over = one_more(exactly)
        self.assertRefused(dev, "PUT", desired_patch(over), 400, "ArgumentInvalid")
        twin = self.assertWritten(write_twin("PATCH", dev, desired_patch({"t": None})), dev,
                                  twin, desired_bump=1)
        twin = self.assertWritten(write_twin("PATCH", dev, desired_patch({"z": True})), dev,
                                  twin, desired_bump=1)
        # Tags have their own limit: the desired section being full leaves them room.
        self.assertWritten(write_twin("PATCH", dev, {"tags": section_of_size(8192)}), dev, twin)

    def test_D9_deleting_the_device_deletes_its_twins(self):
        dev = "r-del"
        created = EMU.request("PUT", "/devices/%s?%s" % (dev, API), RW,
                              headers={"Content-Type": JSON_TYPE},
                              body=json.dumps({"deviceId": dev}))
        self.assertEqual(created.status, 200, created.body)
        self.write("PATCH", dev, dict(desired_patch({"d": 1}), tags={"t": 1}), desired_bump=1)
        self.write("PATCH", dev, {"tags": {"mt": 1}}, module_id="m1")
        deleted = EMU.request("DELETE", "/devices/%s?%s" % (dev, API), RW,
                              headers={"If-Match": "*"})
        self.assertEqual(deleted.status, 204, deleted.body)
        self.assertFlatError(get_twin(dev), 404, "DeviceNotFound")
        self.assertFlatError(get_twin(dev, "m1"), 404, "DeviceNotFound")
        again = EMU.request("PUT", "/devices/%s?%s" % (dev, API), RW,
                            headers={"Content-Type": JSON_TYPE},
                            body=json.dumps({"deviceId": dev}))
        self.assertEqual(again.status, 200, again.body)
        for module_id in (None, "m1"):
            with self.subTest(module=module_id):
                twin = self.twin(dev, module_id)
                self.assertEqual((twin["version"], twin["etag"], twin["tags"]),
                                 (2, "AAAAAAAAAAE=", {}))
                self.assertEqual(twin["properties"]["desired"]["$version"], 1)
                self.assertEqual(members(twin["properties"]["desired"]), {})
                self.assertEqual(twin["deviceEtag"], again.json()["etag"])

    def test_D9_connection_state_follows_the_mqtt_client(self):
        def state(module_id=None):
            return self.twin("r-conn", module_id)["connectionState"]
        device = TwinDevice("r-conn", answers=False)
        try:
            wait_until(lambda: state() == "Connected", what="the device twin to be Connected")
            parse_time(self.twin("r-conn")["lastActivityTime"])
            self.assertEqual(state("m1"), "Disconnected")
            module = TwinDevice("r-conn/m1", answers=False)
            try:
                wait_until(lambda: state("m1") == "Connected",
                           what="the module twin to be Connected")
                self.assertEqual(state("m2"), "Disconnected")
            finally:
                module.close()
            wait_until(lambda: state("m1") == "Disconnected",
                       what="the module twin to be Disconnected")
            self.assertEqual(state(), "Connected")
        finally:
            device.close()
        wait_until(lambda: state() == "Disconnected", what="the device twin to be Disconnected")


class DeviceTwin(TwinTest):
    """Rules D5-D7: the device's GET and reported PATCH over MQTT."""

    def assertAnswer(self, msg, topic, body=None):
        self.assertEqual(msg.topic, topic, msg)
        self.assertEqual((msg.qos, msg.retain), (0, False), msg)
        if body is not None:
            self.assertEqual(msg.payload, body)

    def test_D5_get_answers_desired_and_reported_without_metadata(self):
        self.write("PATCH", "m-get", dict(desired_patch({"x": {"y": 1}}), tags={"not": "sent"}),
                   desired_bump=1)
        # As the C SDK: the GET right after the SUBACK.
        twin = self.twin("m-get")
        dev = self.device("m-get")
        expected = b'{"desired":{"x":{"y":1},"$version":2},"reported":{"$version":1}}'
        for body in (b" ", b"", b"{}"):  # Node, C, others
            with self.subTest(body=body):
                start = time.monotonic()
                self.assertAnswer(dev.get("abc", body), "$iothub/twin/res/200/?$rid=abc",
                                  expected)
                self.assertLess(time.monotonic() - start, latency_bound(1.0))
        self.assertAnswer(dev.get("q1", b"", qos=1), "$iothub/twin/res/200/?$rid=q1", expected)
        self.assertSame(self.twin("m-get"), twin)  # a GET writes nothing

    def test_D5_the_rid_is_echoed_byte_for_byte(self):
        dev = self.device("m-rid")
        rids = ["3", "ab12cd34-0000-4e5f-9a8b-0123456789ab", "word", "a-B_9.~", "0", "007",
                "%24x", "x" * 64]
        for rid in rids:
            dev.send(GET_TOPIC % rid)
        for rid in rids:  # answered in order
            with self.subTest(rid=rid):
                self.assertAnswer(dev.next(), "$iothub/twin/res/200/?$rid=" + rid)

    def test_D5_suback_grants_at_most_qos_1_and_answers_come_at_qos_0(self):
        for qos, module in ((0, "q0"), (1, "q1"), (2, "q2")):
            with self.subTest(qos=qos):
                dev = self.device("m-qos/" + module, answers=False)
                self.assertEqual(dev.peer.subscribe(RES, qos), (min(qos, 1),))
                self.assertEqual(dev.peer.subscribe(DESIRED, qos), (min(qos, 1),))
                self.assertAnswer(dev.get("g%d" % qos), "$iothub/twin/res/200/?$rid=g%d" % qos)
                self.assertAnswer(dev.report("r%d" % qos, {"qos": qos}),
                                  "$iothub/twin/res/204/?$rid=r%d&$version=2" % qos, b"")
                hub_caught_up()
                res = write_twin("PATCH", "m-qos", desired_patch({"qos": qos}),
                                 module_id=module)
                self.assertEqual(res.status, 200, res.body)
                self.assertAnswer(dev.next(),
                                  "$iothub/twin/PATCH/properties/desired/?$version=2",
                                  b'{"qos":%d,"$version":2}' % qos)

    def test_D5_without_a_subscription_a_get_gets_no_answer(self):
        dev = self.device("m-unsub", answers=False)
        since = len(EMU.log())
        dev.send(GET_TOPIC % "unsub-1", b"", qos=1)  # acknowledged: the broker has it
        EMU.wait_log("'m-unsub' is not subscribed to $iothub/twin/res/#", since=since)
        dev.subscribe(RES)
        # The first answer the device gets is the one to its later GET.
        self.assertAnswer(dev.get("sub-2"), "$iothub/twin/res/200/?$rid=sub-2")
        dev.nothing(within=1.0)

    def test_D5_a_module_gets_its_module_twin(self):
        for module_id, who in ((None, "device"), ("m1", "module")):
            res = write_twin("PATCH", "m-module", desired_patch({"who": who}),
                             module_id=module_id)
            self.assertEqual(res.status, 200, res.body)
        device = self.device("m-module")
        module = self.device("m-module/m1")
        self.assertAnswer(module.get("1"), "$iothub/twin/res/200/?$rid=1",
                          b'{"desired":{"who":"module","$version":2},"reported":{"$version":1}}')
        self.assertAnswer(device.get("1"), "$iothub/twin/res/200/?$rid=1",
                          b'{"desired":{"who":"device","$version":2},"reported":{"$version":1}}')
        # Its reported patch goes to the module twin only (rule D6).
        self.assertAnswer(module.report("2", {"by": "module"}),
                          "$iothub/twin/res/204/?$rid=2&$version=2", b"")
        reported = self.twin("m-module", "m1")["properties"]["reported"]
        self.assertEqual(members(reported), {"by": "module"})
        self.assertEqual(members(self.twin("m-module")["properties"]["reported"]), {})
        self.assertEqual(members(self.twin("m-module", "m2")["properties"]["reported"]), {})

    def test_D6_reported_patch_is_merged_committed_then_answered_204(self):
        dev = self.device("m-rep")
        start = utc_now() - datetime.timedelta(seconds=2)
        self.assertAnswer(dev.report("7", b'{"a":1,"b":{"c":2}}', qos=1),
                          "$iothub/twin/res/204/?$rid=7&$version=2", b"")
        end = utc_now() + datetime.timedelta(seconds=2)
        # Committed before the 204: the service sees it at once, no waiting.
        reported = self.twin("m-rep")["properties"]["reported"]
        self.assertEqual(members(reported), {"a": 1, "b": {"c": 2}})
        self.assertEqual(reported["$version"], 2)
        self.assertAnswer(dev.report("8", b'{"a":null}', qos=0),
                          "$iothub/twin/res/204/?$rid=8&$version=3", b"")
        twin = self.twin("m-rep")
        reported = twin["properties"]["reported"]
        self.assertEqual(members(reported), {"b": {"c": 2}})
        self.assertEqual(reported["$version"], 3)
        meta = reported["$metadata"]
        self.assertNotIn("a", meta)
        self.assertTrue(start <= parse_time(meta["b"]["c"]["$lastUpdated"]) <= end, meta)
        self.assertNotIn("$lastUpdatedVersion", meta["b"]["c"])  # reported: $lastUpdated only
        self.assertNotIn("$lastUpdatedVersion", meta)
        self.assertEqual(twin["tags"], {})
        self.assertEqual(twin["properties"]["desired"]["$version"], 1)
        # Nested merge, arrays whole, and the device's GET shows the same.
        self.assertAnswer(dev.report("a-B_9.~", {"b": {"d": [1, 2]}, "s": "x"}),
                          "$iothub/twin/res/204/?$rid=a-B_9.~&$version=4", b"")
        self.assertAnswer(dev.report("9", {"b": {"d": [3]}}),
                          "$iothub/twin/res/204/?$rid=9&$version=5", b"")
        self.assertEqual(json.loads(dev.get("10").payload)["reported"],
                         {"b": {"c": 2, "d": [3]}, "s": "x", "$version": 5})

    def test_D7_a_refused_reported_patch_is_400_with_the_bare_error(self):
        dev = self.device("m-bad")
        before = self.twin("m-bad")
        bad = [b"not json", b"", b" ", b"[1,2]", b"[]", b"42", b"null", b'"s"', b'{"a":1',
               b'{"a.b":1}', b'{"$x":1}', b'{"a b":1}', b'{"o":{"a\\u0001b":1}}',
               b'{"s":"%s"}' % (b"x" * 4097), b'{"i":%d}' % (MAX_INTEGER + 1),
               json.dumps(nested(11)).encode(),
               json.dumps(one_more(section_of_size(32768))).encode()]
        schema_detail = re.compile(r"[0-9a-f]{32}-G:[0-9]+-TimeStamp:[0-9]{2}/[0-9]{2}/[0-9]{4} "
                                   r"[0-9]{2}:[0-9]{2}:[0-9]{2}")
        for n, body in enumerate(bad):
            with self.subTest(body=body[:40]):
                msg = dev.report("bad-%d" % n, body)
                self.assertAnswer(msg, "$iothub/twin/res/400/?$rid=bad-%d" % n)
                error = json.loads(msg.payload)
                self.assertEqual(list(error), ["errorCode", "trackingId", "message",
                                               "timestampUtc"], msg.payload)
                self.assertEqual(error["errorCode"], 400004)
                self.assertRegex(error["trackingId"], schema_detail)
                self.assertTrue(error["message"])
                parse_time(error["timestampUtc"])
        self.assertSame(self.twin("m-bad"), before)
        # The largest allowed still goes through, and the connection stayed up throughout.
        self.assertAnswer(dev.report("ok", section_of_size(32768)),
                          "$iothub/twin/res/204/?$rid=ok&$version=2", b"")


class Desired(TwinTest):
    """Rule D8: the service's desired changes reach the devices that listen."""

    def assertNotice(self, msg, version, body=None):
        self.assertEqual(msg.topic, "$iothub/twin/PATCH/properties/desired/?$version=%d"
                         % version, msg)
        self.assertEqual((msg.qos, msg.retain), (0, False), msg)
        if body is not None:
            self.assertEqual(msg.payload, body)
        return json.loads(msg.payload)

    def listening(self, client_id, answers=True):
        dev = self.device(client_id, answers=answers, desired=True)
        hub_caught_up()
        return dev

    def test_D8_a_desired_patch_reaches_a_subscribed_device(self):
        dev = self.listening("m-des")
        twin = self.assertTwin(write_twin("PATCH", "m-des", desired_patch({"x": 1, "y": None})),
                               "m-des")
        answered = time.monotonic()
        version = twin["properties"]["desired"]["$version"]
        self.assertEqual(version, 2)
        self.assertNotice(dev.next(), 2, b'{"x":1,"y":null,"$version":2}')
        self.assertLess(time.monotonic() - answered, latency_bound(1.0))
        # Tags only: nothing. The next notice the device gets is the next desired change.
        self.assertTwin(write_twin("PATCH", "m-des", {"tags": {"t": 1}}), "m-des")
        self.assertTwin(write_twin("PATCH", "m-des", desired_patch(
            {"o": {"deep": "s", "gone": None}})), "m-des")
        self.assertNotice(dev.next(), 3, b'{"o":{"deep":"s","gone":null},"$version":3}')
        # Of a body, only desired is sent, without what the hub ignores.
        self.assertTwin(write_twin("PATCH", "m-des", {
            "tags": {"t": 2}, "properties": {"desired": {"z": [1, 2], "$metadata": {},
                                                         "$version": 40},
                                             "reported": {"r": 1}}}), "m-des")
        notice = self.assertNotice(dev.next(), 4)
        self.assertEqual(notice, {"z": [1, 2], "$version": 4})
        # An empty desired patch is still a change of version.
        self.assertTwin(write_twin("PATCH", "m-des", desired_patch({})), "m-des")
        self.assertNotice(dev.next(), 5, b'{"$version":5}')
        dev.nothing(within=0.5)

    def test_D8_a_device_not_subscribed_gets_nothing(self):
        dev = self.device("m-des-none")  # twin answers only
        hub_caught_up()
        self.assertTwin(write_twin("PATCH", "m-des-none", desired_patch({"x": 1})), "m-des-none")
        # The first message it gets is the answer to a GET sent after the change.
        msg = dev.get("after")
        self.assertEqual(msg.topic, "$iothub/twin/res/200/?$rid=after", msg)
        self.assertEqual(json.loads(msg.payload)["desired"], {"x": 1, "$version": 2})
        dev.nothing(within=0.5)

    def test_D8_device_and_module_get_only_their_own_changes(self):
        device = self.listening("m-des-module")
        module = self.listening("m-des-module/m1")
        other = self.listening("m-des-module/m2")
        res = write_twin("PATCH", "m-des-module", desired_patch({"for": "device"}))
        self.assertEqual(res.status, 200, res.body)
        res = write_twin("PATCH", "m-des-module", desired_patch({"for": "m1"}), module_id="m1")
        self.assertEqual(res.status, 200, res.body)
        for dev in (device, module, other):
            dev.send(GET_TOPIC % "after")
        self.assertNotice(device.next(), 2, b'{"for":"device","$version":2}')
        self.assertNotice(module.next(), 2, b'{"for":"m1","$version":2}')
        for dev in (device, module, other):
            with self.subTest(client=dev.id):
                self.assertEqual(dev.next().topic, "$iothub/twin/res/200/?$rid=after")

    def test_D8_a_put_sends_the_new_section_and_nulls_for_removed_members(self):
        res = write_twin("PATCH", "m-des-put", desired_patch({"a": 1, "b": {"c": 2},
                                                              "keep": "x"}))
        self.assertEqual(res.status, 200, res.body)
        dev = self.listening("m-des-put")
        twin = self.assertTwin(write_twin("PUT", "m-des-put", dict(
            desired_patch({"keep": "y", "new": True, "o": {"p": 1}}), tags={"t": 1})),
            "m-des-put")
        self.assertEqual(twin["properties"]["desired"]["$version"], 3)
        msg = dev.next()
        notice = self.assertNotice(msg, 3)
        self.assertEqual(notice, {"keep": "y", "new": True, "o": {"p": 1}, "a": None,
                                  "b": None, "$version": 3})
        self.assertEqual(msg.payload, json.dumps(json.loads(msg.payload),
                                                 separators=(",", ":")).encode())  # compact
        # Without desired, a PUT empties it: every member goes.
        self.assertTwin(write_twin("PUT", "m-des-put", {"tags": {"t": 2}}), "m-des-put")
        self.assertEqual(self.assertNotice(dev.next(), 4),
                         {"keep": None, "new": None, "o": None, "$version": 4})

    def test_D8_a_change_while_the_device_is_offline_is_not_kept_for_it(self):
        dev = self.listening("m-offline")
        dev.close()
        wait_until(lambda: self.twin("m-offline")["connectionState"] == "Disconnected",
                   what="m-offline to be Disconnected")
        res = write_twin("PATCH", "m-offline", desired_patch({"while": "away"}))
        self.assertEqual(res.status, 200, res.body)
        # The same client id, session kept (clean session 0), subscribed again.
        dev = self.listening("m-offline")
        msg = dev.get("back")
        self.assertEqual(msg.topic, "$iothub/twin/res/200/?$rid=back", msg)
        self.assertEqual(json.loads(msg.payload)["desired"], {"while": "away", "$version": 2})
        dev.nothing(within=0.5)


def exited(pid):
    """The process is gone, or a zombie its parent has not waited for."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


class Persistence(TwinTest):
    """Twins live in the state directory: a restart keeps them, and kill -9 loses no
    acknowledged reported patch."""

    def create_device(self, emu, device_id):
        res = emu.request("PUT", "/devices/%s?%s" % (device_id, API), RW,
                          headers={"Content-Type": JSON_TYPE},
                          body=json.dumps({"deviceId": device_id}))
        self.assertEqual(res.status, 200, res.body)

    def test_D9_twins_survive_a_restart(self):
        with tempfile.TemporaryDirectory() as state:
            with Emulator(state_dir=state) as emu:
                self.create_device(emu, "p1")
                res = write_twin("PATCH", "p1", dict(desired_patch({"d": {"e": 1}}),
                                                     tags={"t": [1, 2]}), emu=emu)
                self.assertEqual(res.status, 200, res.body)
                res = write_twin("PATCH", "p1", {"tags": {"mt": 1}}, module_id="m1", emu=emu)
                self.assertEqual(res.status, 200, res.body)
                dev = TwinDevice("p1", emu=emu)
                try:
                    msg = dev.report("1", {"r": {"s": "v"}})
                    self.assertEqual(msg.topic, "$iothub/twin/res/204/?$rid=1&$version=2")
                finally:
                    dev.close()
                wait_until(lambda: get_twin("p1", emu=emu).json()["connectionState"] ==
                           "Disconnected", what="p1 to be Disconnected")
                before = {m: self.assertTwin(get_twin("p1", m, emu=emu), "p1", m)
                          for m in (None, "m1")}
            with Emulator(state_dir=state) as emu:
                for module_id in (None, "m1"):
                    with self.subTest(module=module_id):
                        after = self.assertTwin(get_twin("p1", module_id, emu=emu), "p1",
                                                module_id)
                        self.assertSame(after, before[module_id])
                # The counters go on from where they were.
                res = write_twin("PATCH", "p1", desired_patch({"d": None}), emu=emu)
                twin = self.assertTwin(res, "p1")
                self.assertEqual(twin["etag"], etag(etag_number(before[None]["etag"]) + 1))
                self.assertEqual(twin["properties"]["desired"]["$version"], 3)

    def test_D6_kill_9_during_a_burst_of_reported_patches_keeps_every_acknowledged_one(self):
        count, kill_after = 200, 30
        with tempfile.TemporaryDirectory() as state:
            emu = Emulator(state_dir=state).start()
            dev = None
            try:
                self.create_device(emu, "burst")
                broker = broker_pid(emu)
                dev = TwinDevice("burst", emu=emu)
                acknowledged, other, enough = set(), [], threading.Event()
                answer = re.compile(r"\$iothub/twin/res/204/\?\$rid=(k[0-9]+)&\$version=[0-9]+")

                def on_message(client, userdata, msg):
                    found = answer.fullmatch(msg.topic)
                    if found:
                        acknowledged.add(found.group(1))
                    else:
                        other.append(msg.topic)
                    if len(acknowledged) == kill_after:
                        os.kill(emu.proc.pid, signal.SIGKILL)  # at once, from paho's thread
                        enough.set()
                dev.peer.client.on_message = on_message
                for i in range(count):
                    dev.peer.client.publish(REPORTED_TOPIC % ("k%d" % i),
                                            json.dumps({"k%d" % i: i}), 0)
                self.assertTrue(enough.wait(timeout=30), "%d of %d patches acknowledged"
                                % (len(acknowledged), count))
                emu.proc.wait(timeout=TIMEOUT)
                dev.close()
                dev = None
                wait_until(lambda: exited(broker), what="mosquitto to exit")
                acked = set(acknowledged)
                self.assertEqual(other, [])
            finally:
                if dev is not None:
                    dev.close()
                emu.discard()
            with sqlite3.connect(os.path.join(state, "registry.db")) as conn:
                self.assertEqual(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            with Emulator(state_dir=state) as again:
                reported = self.assertTwin(get_twin("burst", emu=again),
                                           "burst")["properties"]["reported"]
                present = members(reported)
                missing = sorted(acked - set(present), key=lambda k: int(k[1:]))
                self.assertEqual(missing, [], "acknowledged with a 204, then lost")
                for key, value in present.items():
                    self.assertEqual(value, int(key[1:]))
                # Each stored patch added one key and one version: nothing half-stored.
                self.assertEqual(reported["$version"], 1 + len(present))
            print("\n%d reported patches sent, %d acknowledged before kill -9, %d stored"
                  % (count, len(acked), len(present)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
