"""Device-to-cloud telemetry end to end (docs/protocol.md §12.3, rules D10-D12), the MQTT session
rules it relies on (§12.5: D15's retained publish, D17's modules) and how the emulator shows it:
GET /emulator/telemetry, the live event stream, /metrics, the state directory.

Independent peers only: paho-mqtt for devices and modules (MQTT 3.1.1 over TLS, as the Azure SDKs
connect), a byte-level MQTT client where the exact packets the broker answers matter (a PUBACK, or
none and a closed connection), and curl for the REST calls. One emulator serves the file, with
devices of its own for each test so tests cannot disturb each other; the keep limit and the
persistence tests run emulators of their own, one of them killed with SIGKILL in the middle of a
burst of messages.

Rule D11 stores a message before its PUBACK, so what a device saw acknowledged is read back at
once, without waiting. A QoS 0 message, the live event stream and the metrics are told to the hub
after the message is stored, on another thread: those are waited for, each with a deadline.
"""
import base64
import datetime
import json
import os
import re
import signal
import socket
import sqlite3
import ssl
import struct
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import Emulator, device_args, latency_bound, sas_token, wait_until
from mqtt_peer import TIMEOUT, RawDevice, connect_device, mqtt_packet, mqtt_string
from test_methods import read_exactly
from test_mqtt import broker_pid
from test_ui import EventStream, metric_values

API = "api-version=2021-04-12"
JSON_TYPE = "application/json; charset=utf-8"
READ = "registryRead"
RW = "registryReadWrite"
MAX_MESSAGE = 256 * 1024  # rule D11: body, system property values, app property names and values
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{7}Z")
FIELDS = {"deviceId", "moduleId", "enqueuedTimeUtc", "sequenceNumber", "properties",
          "systemProperties", "body", "bodyBase64"}
AUTH_METHOD = '{"scope":"%s","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}'

# What the C SDK 1.9.0 publishes (docs/protocol.md §12.7, traced): no encoding at all, user
# properties first in the app's order, then %24.cid, %24.mid, %24.ct, %24.ce, no trailing '/'.
C_SDK_BAG = ("seq=1&temperatureAlert=false&label=a b/c&expr=x=1&%24.cid=c-corr-1&%24.mid=c-msg-1"
             "&%24.ct=application/json&%24.ce=utf-8")

# Every device of the shared emulator, registered at start: one (or two) per test.
DEVICES = ["c-sdk", "node", "csharp", "empty-bag", "sysprops", "keyless", "bodies", "qos0",
           "pnp", "mod", "ack", "ack-mod", "qos2", "size", "intruder", "victim", "retain",
           "paging", "access", "live", "counted"]

EMU = None


def setUpModule():
    global EMU
    EMU = Emulator(*device_args(DEVICES)).start()


def tearDownModule():
    EMU.__exit__(None, None, None)


def topic_of(cid, bag=""):
    """The telemetry topic of a device ("d") or module ("d/m") (rules D10, D17)."""
    device, _, module = cid.partition("/")
    prefix = "devices/%s/modules/%s" % (device, module) if module else "devices/" + device
    return "%s/messages/events/%s" % (prefix, bag)


def get_telemetry(query="", policy=READ, emu=None):
    return (emu or EMU).request("GET", "/emulator/telemetry" + ("?" + query if query else ""),
                                policy)


def stored(emu=None, **query):
    """The stored messages matching query (deviceId, moduleId, since, top), oldest first."""
    res = get_telemetry(urllib.parse.urlencode(query), emu=emu)
    assert res.status == 200, (res.status, res.body)
    assert res.headers.get("content-type") == JSON_TYPE, res.headers
    messages = res.json()
    assert isinstance(messages, list), res.body
    return messages


def body_of(message):
    return base64.b64decode(message["bodyBase64"])


def ticks(iso):
    """An ISO 8601 UTC time (with 0 to 7 fractional digits) in 100 ns units, for comparing."""
    found = re.fullmatch(r"([0-9-]+T[0-9:]+)(?:\.([0-9]{1,7}))?Z", iso)
    assert found, iso
    whole = datetime.datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S")
    seconds = int(whole.replace(tzinfo=datetime.timezone.utc).timestamp())
    return seconds * 10 ** 7 + int((found.group(2) or "").ljust(7, "0"))


def stamps(device_id, module_id=None, emu=None, enqueued=None):
    """The annotations rule D12 adds to every message of that identity."""
    found = {"iothub-connection-device-id": device_id,
             "iothub-connection-auth-method": AUTH_METHOD % ("module" if module_id else "device"),
             "iothub-connection-auth-generation-id":
                 (emu or EMU).device_state(device_id)["generationId"],
             "iothub-message-source": "Telemetry"}
    if module_id is not None:
        found["iothub-connection-module-id"] = module_id
    if enqueued is not None:
        found["iothub-enqueuedtime"] = enqueued
    return found


def process_gone(pid):
    """Exited: no such process, or a zombie (as test_mqtt.py's broker check)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] == "Z"
    except FileNotFoundError:
        return True


class RawIdentity(RawDevice):
    """RawDevice for a device or a module (client id `d/m`, the device's key, docs/protocol.md
    rule D17), with the user name the test gives."""

    def __init__(self, emu, cid):
        device = cid.split("/")[0]
        token = sas_token("%s/devices/%s" % (emu.host, cid.replace("/", "/modules/", 1)),
                          emu.device_key(device))
        context = ssl.create_default_context(cafile=emu.ca)
        raw = socket.create_connection(("127.0.0.1", emu.ready["ports"]["mqtts"]),
                                       timeout=TIMEOUT)
        self.tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
        connect = (mqtt_string(b"MQTT") + bytes([4, 0xC0]) + struct.pack("!H", 60) +
                   mqtt_string(cid.encode()) +
                   mqtt_string(("%s/%s/?%s" % (emu.host, cid, API)).encode()) +
                   mqtt_string(token.encode()))
        self.tls.sendall(mqtt_packet(0x10, connect))
        connack = read_exactly(self, 4)
        assert connack[:2] == b"\x20\x02" and connack[3] == 0, connack

    def publish(self, topic, payload, qos=1, packet_id=1):
        self.send(RawDevice.publish_packet(topic.encode(), payload, qos, packet_id))

    def next_packet(self):
        """The next 4 bytes the broker sends (a PUBACK is 4)."""
        return read_exactly(self, 4)


def puback(packet_id):
    return b"\x40\x02" + struct.pack("!H", packet_id)


class TelemetryTest(unittest.TestCase):
    def device(self, cid, **kwargs):
        peer = connect_device(EMU, cid, **kwargs)
        self.addCleanup(peer.close)
        return peer

    def raw(self, cid):
        raw = RawIdentity(EMU, cid)
        self.addCleanup(raw.close)
        return raw

    def send(self, peer, topic, payload=b"", qos=1, retain=False):
        """A publish from paho; QoS 1 returns once the PUBACK came."""
        info = peer.client.publish(topic, payload, qos, retain)
        info.wait_for_publish(timeout=TIMEOUT)
        if qos:
            self.assertTrue(info.is_published(), "no PUBACK for %s" % topic)

    def only(self, device_id, **query):
        messages = stored(deviceId=device_id, **query)
        self.assertEqual(len(messages), 1, messages)
        return messages[0]

    def assertMessage(self, message, device_id, module_id=None, properties=None, system=None,
                      body=b""):
        """One stored message, whole (docs/protocol.md rules D10 and D12): every field, the
        properties exactly, and the hub's stamps exactly as the identity earns them."""
        self.assertEqual(set(message) | {"body"}, FIELDS, message)
        self.assertEqual(message["deviceId"], device_id)
        self.assertEqual(message["moduleId"], module_id)
        self.assertRegex(message["enqueuedTimeUtc"], TIME)
        self.assertIsInstance(message["sequenceNumber"], int)
        self.assertEqual(message["properties"], properties or {})
        self.assertEqual(message["systemProperties"],
                         dict(system or {}, **stamps(device_id, module_id,
                                                     enqueued=message["enqueuedTimeUtc"])))
        self.assertEqual(body_of(message), body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            self.assertNotIn("body", message)
        else:
            self.assertEqual(message.get("body"), text, "the body is UTF-8: shown as text")


class PropertyBags(TelemetryTest):
    """Rule D10: the bag as each SDK writes it, read back as the app set it."""

    def test_D10_c_sdk_bag_unencoded(self):
        peer = self.device("c-sdk")
        before = time.time()
        self.send(peer, topic_of("c-sdk", C_SDK_BAG), b'{"temperature":21.5}')
        message = self.only("c-sdk")
        # Values hold ' ', '/' and '=' raw: the bag is the whole rest of the topic (§12.7).
        self.assertMessage(message, "c-sdk",
                           properties={"seq": "1", "temperatureAlert": "false", "label": "a b/c",
                                       "expr": "x=1"},
                           system={"correlationId": "c-corr-1", "messageId": "c-msg-1",
                                   "contentType": "application/json",
                                   "contentEncoding": "utf-8"},
                           body=b'{"temperature":21.5}')
        enqueued = ticks(message["enqueuedTimeUtc"]) / 10 ** 7
        self.assertGreaterEqual(enqueued, before - 1)
        self.assertLessEqual(enqueued, time.time() + 1)

    def test_D10_node_bag_percent_encoded(self):
        # Node's _getEventTopicFromMessage: encodeURIComponent on keys and values.
        peer = self.device("node")
        self.send(peer, topic_of("node", "%24.mid=abc&%24.ct=application%2Fjson&k=v%20w"),
                  b'{"n":1}')
        self.assertMessage(self.only("node"), "node", properties={"k": "v w"},
                           system={"messageId": "abc", "contentType": "application/json"},
                           body=b'{"n":1}')

    def test_D10_csharp_trailing_slash_after_a_bag(self):
        # C#'s MqttIotHubAdapter ends a non-empty bag with '/': it is no part of the last value.
        peer = self.device("csharp")
        self.send(peer, topic_of("csharp", "%24.mid=1&k=v/"), b"cs")
        self.assertMessage(self.only("csharp"), "csharp", properties={"k": "v"},
                           system={"messageId": "1"}, body=b"cs")

    def test_D10_empty_bag(self):
        # Node and C# without properties: devices/{id}/messages/events/ and nothing after.
        peer = self.device("empty-bag")
        self.send(peer, topic_of("empty-bag"), b"plain")
        self.assertMessage(self.only("empty-bag"), "empty-bag", body=b"plain")

    def test_D10_python_percent_encodes_the_device_id(self):
        # The Python SDK's mqtt_topic_iothub.py quotes the id in the topic (quote(id, safe="")):
        # device a+b publishes on devices/a%2Bb/... (a raw '+' cannot be in a PUBLISH topic).
        created = EMU.request("PUT", "/devices/a%2Bb?" + API, RW,
                              headers={"Content-Type": JSON_TYPE},
                              body=json.dumps({"deviceId": "a+b"}))
        if created.status != 200:
            self.skipTest("the registry refused the id 'a+b' (%d: %s), so the Python SDK's "
                          "encoded topic cannot be tried" % (created.status, created.body))
        peer = self.device("a+b")
        self.send(peer, "devices/a%2Bb/messages/events/%24.mid=py-1&k=v", b"py")
        self.assertMessage(self.only("a+b"), "a+b", properties={"k": "v"},
                           system={"messageId": "py-1"}, body=b"py")

    def test_D10_every_system_property_under_its_stored_name(self):
        bag = ("%24.mid=m&%24.cid=c&%24.uid=u&%24.to=%2Fdevices%2Fx&%24.ct=text%2Fplain"
               "&%24.ce=utf-8&%24.exp=2030-01-01T00%3A00%3A00Z&%24.ctime=2026-01-01T00%3A00%3A00Z"
               "&%24.on=out1&%24.sub=thermostat1&%24.ifid=urn%3Aazureiot%3AModelDiscovery&%24.x=1")
        peer = self.device("sysprops")
        self.send(peer, topic_of("sysprops", bag + "&app=1"), b"s")
        self.assertMessage(self.only("sysprops"), "sysprops", properties={"app": "1"},
                           system={"messageId": "m", "correlationId": "c", "userId": "u",
                                   "to": "/devices/x", "contentType": "text/plain",
                                   "contentEncoding": "utf-8",
                                   "absoluteExpiryTime": "2030-01-01T00:00:00Z",
                                   "iothub-creation-time-utc": "2026-01-01T00:00:00Z",
                                   "iothub-outputname": "out1", "dt-subject": "thermostat1",
                                   "iothub-interface-id": "urn:azureiot:ModelDiscovery",
                                   "x": "1"},
                           body=b"s")

    def test_D10_a_key_without_equals_is_null(self):
        peer = self.device("keyless")
        self.send(peer, topic_of("keyless", "flag&k=&n=1"), b"k")
        self.assertMessage(self.only("keyless"), "keyless",
                           properties={"flag": None, "k": "", "n": "1"}, body=b"k")

    def test_D10_body_as_text_when_utf8_and_always_base64(self):
        peer = self.device("bodies")
        bodies = ["grüße ✓ \"q\"\n".encode(), b"\xff\xfe\x00binary", b"", b"a\x00b",
                  bytes(range(256))]
        for payload in bodies:
            self.send(peer, topic_of("bodies"), payload)
        messages = stored(deviceId="bodies")
        self.assertEqual(len(messages), len(bodies), messages)
        for payload, message in zip(bodies, messages):
            with self.subTest(body=payload[:20]):
                self.assertMessage(message, "bodies", body=payload)

    def test_D10_qos0_is_stored_too(self):
        peer = self.device("qos0")
        self.send(peer, topic_of("qos0", "k=0"), b"zero", qos=0)
        # No PUBACK to wait for: the message is stored as the broker reads it.
        message = wait_until(lambda: stored(deviceId="qos0"), what="the QoS 0 message stored")
        self.assertEqual(len(message), 1, message)
        self.assertMessage(message[0], "qos0", properties={"k": "0"}, body=b"zero")

    def test_D12_model_id_of_the_user_name_is_dt_dataschema(self):
        # The model id travels in the CONNECT user name, escaped (C#: Uri.EscapeDataString).
        model = "dtmi:com:example:Thermostat;1"
        username = "%s/pnp/?%s&DeviceClientType=tests%%2F1.0&model-id=%s" % (
            EMU.host, API, urllib.parse.quote(model, safe=""))
        peer = self.device("pnp", username=username)
        self.send(peer, topic_of("pnp", "%24.sub=thermostat1"), b"{}")
        self.assertMessage(self.only("pnp"), "pnp",
                           system={"dt-subject": "thermostat1", "dt-dataschema": model},
                           body=b"{}")

    def test_D17_module_telemetry_and_the_filters(self):
        device = self.device("mod")
        module = self.device("mod/m1")
        self.send(module, topic_of("mod/m1", "%24.on=out1&k=module"), b"from m1")
        self.send(device, topic_of("mod", "k=device"), b"from mod")
        only_module = stored(deviceId="mod", moduleId="m1")
        self.assertEqual(len(only_module), 1, only_module)
        self.assertMessage(only_module[0], "mod", "m1", properties={"k": "module"},
                           system={"iothub-outputname": "out1"}, body=b"from m1")
        # deviceId alone: the device's own and its modules', oldest first.
        both = stored(deviceId="mod")
        self.assertEqual([m["moduleId"] for m in both], ["m1", None])
        self.assertEqual(both[0], only_module[0])
        self.assertMessage(both[1], "mod", properties={"k": "device"}, body=b"from mod")
        self.assertEqual(stored(deviceId="mod", moduleId="m2"), [])
        self.assertEqual(stored(deviceId="nosuchdevice"), [])


class Acknowledgement(TelemetryTest):
    """Rule D11: a PUBACK only once stored; anything refused closes the connection, with no
    PUBACK, and nothing of it is stored."""

    def test_D11_stored_before_the_puback(self):
        for cid in ("ack", "ack-mod/m1"):
            raw = self.raw(cid)
            device, _, module = cid.partition("/")
            for i in range(1, 16):
                with self.subTest(cid=cid, message=i):
                    raw.publish(topic_of(cid, "i=%d" % i), b"n%d" % i, qos=1, packet_id=i)
                    self.assertEqual(raw.next_packet(), puback(i))
                    # No waiting: the PUBACK promised it is stored.
                    last = stored(deviceId=device)[-1]
                    self.assertEqual((last["moduleId"], last["properties"], body_of(last)),
                                     (module or None, {"i": str(i)}, b"n%d" % i))

    def assertClosed(self, raw, what):
        self.assertEqual(raw.received_until_closed(), b"",
                         "%s: the connection stays open, or the broker answered" % what)

    def assertLogged(self, since, cid, *words):
        """One line names the identity and the reason."""
        log = EMU.wait_log(re.compile(r"refused '%s'.*%s" % (
            re.escape(cid), ".*".join(re.escape(w) for w in words))), since=since)
        lines = [l for l in log.splitlines()
                 if "refused '%s'" % cid in l and all(w in l for w in words)]
        self.assertEqual(len(lines), 1, lines)

    def test_D11_qos2_closes_the_connection_unacknowledged(self):
        raw = self.raw("qos2")
        raw.publish(topic_of("qos2", "k=v"), b"two", qos=2, packet_id=3)
        # mosquitto closes it itself (the listeners' max_qos 1) before the plugin sees it, so
        # no refusal line is logged for this one (docs/protocol.md rule D11, "Emulated").
        self.assertClosed(raw, "QoS 2")
        self.assertEqual(stored(deviceId="qos2"), [])

    def test_D11_a_message_over_256_kib_closes_the_connection(self):
        # (bag, body size, stored?): the body, system property values and application property
        # names and values count; system property names do not.
        cases = [("k=v", MAX_MESSAGE - 2, True),
                 ("", MAX_MESSAGE, True),
                 ("%24.mid=abcde", MAX_MESSAGE - 5, True),
                 ("k=v", MAX_MESSAGE, False),
                 ("k=v", MAX_MESSAGE - 1, False),
                 ("", MAX_MESSAGE + 1, False),
                 ("%24.mid=abcde", MAX_MESSAGE - 4, False),
                 ("long-name=", MAX_MESSAGE - 8, False)]
        kept = []
        for n, (bag, size, fits) in enumerate(cases):
            marker = b"%02d" % n
            body = marker + b"x" * (size - len(marker))
            with self.subTest(bag=bag, body=size):
                since = len(EMU.log())
                raw = self.raw("size")
                raw.publish(topic_of("size", bag), body, qos=1, packet_id=n + 1)
                if fits:
                    self.assertEqual(raw.next_packet(), puback(n + 1))
                    kept.append(marker)
                else:
                    self.assertClosed(raw, "%d bytes" % size)
                    total = size + sum(len(part) for part in
                                       re.split("[=&]", bag.replace("%24.mid", "")))
                    self.assertLogged(since, "size", "%d bytes" % total, str(MAX_MESSAGE))
        # QoS 0 too: closed, since nothing else tells the device.
        since = len(EMU.log())
        raw = self.raw("size")
        raw.publish(topic_of("size"), b"q0" + b"x" * (MAX_MESSAGE - 1), qos=0)
        self.assertClosed(raw, "QoS 0 over the limit")
        self.assertLogged(since, "size", "%d bytes" % (MAX_MESSAGE + 1))
        self.assertEqual([body_of(m)[:2] for m in stored(deviceId="size")], kept)

    def test_D11_another_identitys_topic_closes_the_connection(self):
        cases = [("intruder", "devices/victim/messages/events/"),
                 ("intruder", "devices/victim/messages/events/%24.mid=x"),
                 ("intruder", "devices/victim/modules/m1/messages/events/"),
                 # A device is not its module, nor a module its device (rule D17).
                 ("intruder", "devices/intruder/modules/m1/messages/events/"),
                 ("intruder/m1", "devices/intruder/messages/events/"),
                 ("intruder/m1", "devices/intruder/modules/m2/messages/events/")]
        for n, (cid, topic) in enumerate(cases):
            with self.subTest(cid=cid, topic=topic):
                since = len(EMU.log())
                raw = self.raw(cid)
                raw.publish(topic, b"stolen", qos=1, packet_id=n + 1)
                self.assertClosed(raw, topic)
                self.assertLogged(since, cid, topic)
        self.assertEqual(stored(deviceId="victim"), [])
        self.assertEqual(stored(deviceId="intruder"), [])


class Retain(TelemetryTest):
    """Rule D15: nothing is retained; a retained publish is telemetry marked so."""

    def test_D15_a_retained_publish_is_telemetry_with_mqtt_retain(self):
        peer = self.device("retain")
        self.send(peer, topic_of("retain", "k=v"), b"kept?", retain=True)
        self.send(peer, topic_of("retain", "k=w"), b"plain")
        first, second = stored(deviceId="retain")
        self.assertMessage(first, "retain", properties={"k": "v", "mqtt-retain": "true"},
                           body=b"kept?")
        self.assertMessage(second, "retain", properties={"k": "w"}, body=b"plain")


class Query(TelemetryTest):
    """GET /emulator/telemetry: RegistryRead, the filters, since and top."""

    def assertError(self, res, status, code, name):
        self.assertEqual(res.status, status, res.body)
        self.assertEqual(res.headers.get("iothub-errorcode"), name)
        self.assertEqual(res.headers.get("content-type"), JSON_TYPE)
        detail = res.error()
        self.assertEqual((detail["form"], detail["errorCode"]), ("nested", code), res.body)
        return detail

    def test_needs_registry_read(self):
        peer = self.device("access")
        self.send(peer, topic_of("access"), b"a")
        for policy in (READ, RW, "iothubowner"):
            with self.subTest(policy=policy):
                res = get_telemetry("deviceId=access", policy)
                self.assertEqual(res.status, 200, res.body)
                self.assertEqual(len(res.json()), 1)
        for policy in (None, "service", "device"):
            with self.subTest(policy=policy):
                self.assertError(get_telemetry("deviceId=access", policy), 401, 401002,
                                 "IotHubUnauthorizedAccess")

    def test_since_a_sequence_number_or_a_time_and_top(self):
        peer = self.device("paging")
        for i in range(5):
            self.send(peer, topic_of("paging"), b"p%d" % i)
        messages = stored(deviceId="paging")
        self.assertEqual([body_of(m) for m in messages], [b"p%d" % i for i in range(5)])
        seqs = [m["sequenceNumber"] for m in messages]

        def bodies(**query):
            return [body_of(m) for m in stored(deviceId="paging", **query)]
        everything = [b"p%d" % i for i in range(5)]
        # A sequence number: the messages after it, as a reader follows without gaps or repeats.
        self.assertEqual(bodies(since=0), everything)
        self.assertEqual(bodies(since=seqs[1]), everything[2:])
        self.assertEqual(bodies(since=seqs[4]), [])
        self.assertEqual(bodies(top=2), everything[:2])
        self.assertEqual(bodies(top=1), everything[:1])
        self.assertEqual(bodies(since=seqs[0], top=2), everything[1:3])
        self.assertEqual(bodies(top=10000), everything)
        # A time: the messages enqueued at or after it, to the 100 ns or to the second.
        times = [ticks(m["enqueuedTimeUtc"]) for m in messages]
        at = messages[2]["enqueuedTimeUtc"]
        self.assertEqual(bodies(since=at), [b for b, t in zip(everything, times)
                                            if t >= ticks(at)])
        self.assertIn(b"p2", bodies(since=at))
        second = at[:19] + "Z"
        self.assertEqual(bodies(since=second), [b for b, t in zip(everything, times)
                                                if t >= ticks(second)])
        self.assertEqual(bodies(since="2999-01-01T00:00:00Z"), [])
        self.assertEqual(bodies(since="2000-01-01T00:00:00Z"), everything)

    def test_bad_since_or_top_is_400004(self):
        for query in ("since=abc", "since=-1", "since=1.5", "since=", "since=2026-13-45T99:00:00Z",
                      "top=0", "top=10001", "top=-1", "top=x", "top=", "top=1.5"):
            with self.subTest(query=query):
                self.assertError(get_telemetry(query), 400, 400004, "ArgumentInvalid")

    def test_sequence_numbers_count_from_1_across_the_hub(self):
        messages = stored(top=10000)
        self.assertTrue(messages)
        self.assertEqual([m["sequenceNumber"] for m in messages],
                         list(range(1, len(messages) + 1)))
        times = [ticks(m["enqueuedTimeUtc"]) for m in messages]
        self.assertEqual(times, sorted(times))


class Observers(TelemetryTest):
    """The hub hears of each stored message: the live event stream and /metrics."""

    def test_each_message_is_a_telemetry_event(self):
        events = EventStream(EMU)
        self.addCleanup(events.close)
        self.assertEqual(events.response.status, 200)
        self.assertEqual(events.next()[0], "snapshot")
        peer = self.device("live")
        sent = [(topic_of("live", "k=1"), b"one"), (topic_of("live", "%24.mid=2"), b"\xff\xfe"),
                (topic_of("live"), b"")]
        for topic, payload in sent:
            self.send(peer, topic, payload)
        messages = stored(deviceId="live")
        self.assertEqual(len(messages), len(sent))
        seen = []
        while len(seen) < len(sent):
            name, data, _ = events.next("telemetry", timeout=latency_bound(5))
            self.assertEqual(name, "telemetry", "the event stream ended")
            if data["deviceId"] == "live":  # an earlier test's may come late
                seen.append(data)
        self.assertEqual(seen, messages)

    def test_metrics_count_every_stored_message_and_its_body(self):
        peer = self.device("counted")
        for size in (0, 1, 1000, 4096):
            self.send(peer, topic_of("counted"), b"c" * size)
        messages = stored(top=10000)
        expected = (len(messages), sum(len(body_of(m)) for m in messages))
        found = []

        def counted():
            res = EMU.request("GET", "/metrics")
            self.assertEqual(res.status, 200)
            values = metric_values(res.body)
            found[:] = [(values["iothub_telemetry_messages_total"],
                         values["iothub_telemetry_bytes_total"])]
            return found[0] == expected
        try:
            wait_until(counted, what="the metrics to count %d messages, %d bytes" % expected)
        except AssertionError as e:
            self.fail("%s; /metrics says %r" % (e, found))


class Keep(TelemetryTest):
    def test_only_the_newest_messages_are_kept(self):
        with Emulator("--telemetry-keep", "300", "--device", "keeper") as emu:
            peer = connect_device(emu, "keeper")
            try:
                infos = [peer.client.publish(topic_of("keeper"), b"m%d" % i, 1)
                         for i in range(700)]
                for info in infos:
                    info.wait_for_publish(timeout=TIMEOUT * 3)
                    self.assertTrue(info.is_published())
            finally:
                peer.close()
            messages = stored(emu=emu, top=10000)
            self.assertEqual([m["sequenceNumber"] for m in messages], list(range(401, 701)))
            self.assertEqual([body_of(m) for m in messages], [b"m%d" % i for i in range(400, 700)])
            self.assertEqual(stored(emu=emu), messages)  # the default top (1000) holds them
            self.assertEqual(stored(emu=emu, since=0, top=1)[0]["sequenceNumber"], 401)


class Persistence(TelemetryTest):
    """Telemetry lives in the state directory: a restart keeps it, and kill -9 loses no
    acknowledged message."""

    def create_device(self, emu, device_id):
        res = emu.request("PUT", "/devices/%s?%s" % (device_id, API), RW,
                          headers={"Content-Type": JSON_TYPE},
                          body=json.dumps({"deviceId": device_id}))
        self.assertEqual(res.status, 200, res.body)

    def test_messages_survive_a_restart(self):
        with tempfile.TemporaryDirectory() as state:
            with Emulator(state_dir=state) as emu:
                self.create_device(emu, "p1")
                device = connect_device(emu, "p1")
                module = connect_device(emu, "p1/m1")
                try:
                    self.send(device, topic_of("p1", C_SDK_BAG), b'{"a":1}')
                    self.send(module, topic_of("p1/m1", "k=v"), b"\x00\xff")
                    self.send(device, topic_of("p1"), b"", retain=True)
                finally:
                    device.close()
                    module.close()
                before = stored(emu=emu)
                self.assertEqual(len(before), 3)
            with Emulator(state_dir=state) as emu:
                self.assertEqual(stored(emu=emu), before)
                # The count goes on from the last message.
                peer = connect_device(emu, "p1")
                try:
                    self.send(peer, topic_of("p1"), b"after")
                finally:
                    peer.close()
                after = stored(emu=emu)
                self.assertEqual(after[:3], before)
                self.assertEqual(after[3]["sequenceNumber"], before[-1]["sequenceNumber"] + 1)
                self.assertEqual(body_of(after[3]), b"after")

    def test_a_telemetry_file_of_version_1_keeps_its_messages_and_loses_its_index(self):
        with tempfile.TemporaryDirectory() as state:
            path = os.path.join(state, "telemetry.db")
            db = sqlite3.connect(path)
            db.executescript(
                "CREATE TABLE telemetry (seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
                " module_id TEXT, enqueued_time TEXT NOT NULL, properties TEXT NOT NULL,"
                " system_properties TEXT NOT NULL, body BLOB NOT NULL);"
                "CREATE INDEX telemetry_by_device ON telemetry (device_id, seq);"
                "INSERT INTO telemetry VALUES (7, 'old', NULL, '2026-12-01T00:00:00.0000000Z',"
                " '{\"k\":\"v\"}', '{}', X'6869');"
                "PRAGMA user_version = 1;")
            db.close()
            with Emulator(state_dir=state) as emu:
                (message,) = stored(emu=emu)
                self.assertEqual((message["sequenceNumber"], message["deviceId"],
                                  message["properties"], body_of(message)),
                                 (7, "old", {"k": "v"}, b"hi"))
            db = sqlite3.connect(path)
            try:
                self.assertEqual(db.execute("PRAGMA index_list(telemetry)").fetchall(), [])
                self.assertEqual(db.execute("PRAGMA user_version").fetchone(), (2,))
            finally:
                db.close()

    def test_kill_9_during_a_burst_keeps_every_acknowledged_message(self):
        count, kill_after = 3000, 200
        with tempfile.TemporaryDirectory() as state:
            emu = Emulator(state_dir=state).start()
            peer = None
            try:
                self.create_device(emu, "burst")
                broker = broker_pid(emu)
                peer = connect_device(emu, "burst")
                acknowledged, enough = [0], threading.Event()

                def on_publish(client, userdata, mid):
                    acknowledged[0] += 1
                    if acknowledged[0] == kill_after:
                        os.kill(emu.proc.pid, signal.SIGKILL)  # at once, from paho's thread
                        enough.set()
                peer.client.on_publish = on_publish
                infos = [peer.client.publish(topic_of("burst", "i=%d" % i), b"b%d" % i, 1)
                         for i in range(count)]
                self.assertTrue(enough.wait(timeout=30), "%d of %d acknowledged"
                                % (acknowledged[0], count))
                emu.proc.wait(timeout=20)
                wait_until(lambda: process_gone(broker), what="mosquitto to exit with the emulator")
                peer.wait_disconnected()
                peer.close()
                acked = [i for i, info in enumerate(infos) if info.is_published()]
                peer = None
            finally:
                if peer is not None:
                    peer.close()
                emu.discard()
            self.assertGreaterEqual(len(acked), kill_after)
            self.assertLess(len(acked), count, "every message went through before the kill")
            with Emulator(state_dir=state) as again:
                kept = stored(emu=again, deviceId="burst", top=10000)
            # Stored in the order sent, from 1, without a gap; every acknowledged one is there
            # (and maybe a few stored whose PUBACK the kill stopped).
            self.assertEqual([body_of(m) for m in kept], [b"b%d" % i for i in range(len(kept))])
            self.assertEqual([m["sequenceNumber"] for m in kept], list(range(1, len(kept) + 1)))
            self.assertGreaterEqual(len(kept), max(acked) + 1,
                                    "acknowledged up to b%d, stored up to b%d"
                                    % (max(acked), len(kept) - 1))


if __name__ == "__main__":
    unittest.main(verbosity=2)
