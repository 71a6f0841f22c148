"""Devices connect over MQTT: the real mosquitto with the emulator's plugin.

Peers are independent: paho-mqtt devices over TLS (as the Azure SDKs connect), curl for the
registry, and for the plugin-alone tests a mosquitto the test starts itself.
"""
import itertools
import json
import os
import queue
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import Emulator, policy_key, sas_token, wait_until
from mqtt_peer import (HUB_ID, PluginBroker, Peer, RawDevice, bus_id, connect_device,
                       device_peer)

RW = "registryReadWrite"
POST = "$iothub/streams/POST/#"
MARKERS = itertools.count(1)  # client ids never seen before, for Devices.hub_caught_up


def connection_state(emu, device_id):
    return emu.device_state(device_id)["connectionState"]


def wait_state(emu, device_id, state):
    wait_until(lambda: connection_state(emu, device_id) == state,
               what="%s to be %s" % (device_id, state))


class Devices(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator("--device", "dev1", "--device", "dev2", "--device", "dev3",
                           "--mqtt-ws-port", "0").start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.__exit__(None, None, None)

    def setUp(self):
        # The emulator is shared: a test is over once the hub has handled the events of its
        # connections (registered first, this runs after the test's own cleanups close them).
        self.addCleanup(self.hub_caught_up)

    def connect(self, device_id, **kwargs):
        peer = connect_device(self.emu, device_id, **kwargs)
        self.addCleanup(peer.close)
        return peer

    def hub_caught_up(self):
        """Returns once the hub has handled every event the broker sent it before the call. The
        events of one broker reach the hub in order: a client id never seen before (a module of
        dev1, which changes no registry state) connects, and the line the hub logs for it comes
        after all of them."""
        marker = "dev1/caught-up-%d" % next(MARKERS)
        peer = connect_device(self.emu, marker)
        self.emu.wait_log("'%s' connected" % marker)
        peer.close()

    def connack(self, device_id, **kwargs):
        peer = device_peer(self.emu, device_id, **kwargs)
        try:
            return peer.connect("127.0.0.1", self.emu.ready["ports"]["mqtts"])
        finally:
            peer.close()

    def test_connects_subscribes_and_shows_in_the_registry(self):
        self.assertEqual(connection_state(self.emu, "dev1"), "Disconnected")
        before = self.emu.device_state("dev1")["connectionStateUpdatedTime"]
        peer = self.connect("dev1")
        # Both filters the SDKs use, granted at QoS 0 (docs/protocol.md rule 7).
        self.assertEqual(peer.subscribe(POST), (0,))
        self.assertEqual(peer.subscribe("$iothub/streams/res/#"), (0,))
        wait_state(self.emu, "dev1", "Connected")
        state = self.emu.device_state("dev1")
        self.assertNotEqual(state["connectionStateUpdatedTime"], before)
        self.assertNotEqual(state["lastActivityTime"], "0001-01-01T00:00:00")
        peer.close()
        wait_state(self.emu, "dev1", "Disconnected")

    def test_publishes_count_as_activity(self):
        peer = self.connect("dev2")
        wait_state(self.emu, "dev2", "Connected")
        first = self.emu.device_state("dev2")["lastActivityTime"]

        # lastActivityTime is written at most once a second per device: keep answering until
        # it moves.
        def moved():
            peer.publish("$iothub/streams/res/200/?$rid=1")
            return self.emu.device_state("dev2")["lastActivityTime"] != first
        wait_until(moved, interval=0.1, what="lastActivityTime to move")

    def test_bad_credentials_get_connack_5(self):
        host = self.emu.host
        key = self.emu.device_key("dev1")
        other_key = self.emu.device_key("dev2")
        wrong = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        cases = {
            "wrong key": sas_token(host + "/devices/dev1", wrong),
            "expired": sas_token(host + "/devices/dev1", key, expiry=int(time.time()) - 400),
            "other device's token": sas_token(host + "/devices/dev2", other_key),
            "garbage": "not a token",
            "service policy": sas_token(host, policy_key("service"), "service"),
        }
        start = len(self.emu.log())
        for name, token in cases.items():
            self.assertEqual(self.connack("dev1", token=token), 5, name)
        self.assertEqual(self.connack("nosuchdevice", key=key), 5)
        self.assertEqual(self.connack("dev1", token=cases["wrong key"].replace("sig=", "sig=x")),
                         5)
        # Each refusal is logged once with its reason. The broker reports it to the hub, whose
        # own MQTT client logs it, maybe after the device has its CONNACK: each line is waited
        # for, then counted once the hub has caught up with the broker.
        expected = {"'dev1': wrong key": 1, "'dev1': expired": 1, "'dev1': wrong audience": 1,
                    "'nosuchdevice': unknown device": 1,
                    "'dev1': the password is not a SAS token": 2,  # garbage, and a bad sig=
                    "'dev1': policy 'service' lacks the DeviceConnect": 1}
        for reason, count in expected.items():
            self.emu.wait_log("refused " + reason, count=count, since=start)
        self.hub_caught_up()
        log = self.emu.log()[start:]
        for reason, count in expected.items():
            self.assertEqual(log.count("refused " + reason), count, reason)

    def test_token_and_user_name_shapes_of_the_sdks(self):
        host, key = self.emu.host, self.emu.device_key("dev3")
        # The C SDK signs an unencoded sr; C# encodes it; a DeviceConnect policy works too.
        for token in (sas_token(host + "/devices/dev3", key, sr_style="raw"),
                      sas_token(host + "/devices/dev3", key, sr_style="lower", order="node"),
                      sas_token(host + "/devices/dev3", policy_key("device"), "device")):
            self.assertEqual(self.connack("dev3", token=token), 0)
        c_username = host + "/dev3/?api-version=2017-11-08-preview&DeviceClientType=iothubclient%2F1.3.1"
        self.assertEqual(self.connack("dev3", username=c_username), 0)
        self.assertEqual(self.connack("dev3", username=host + "/dev1/?api-version=x"), 5)

    def test_modules_connect_with_the_device_key(self):
        peer = self.connect("dev3/mod1")
        self.assertEqual(peer.subscribe(POST), (0,))
        self.emu.wait_log("'dev3/mod1' connected")
        # A module's connection does not make its device Connected: once the hub has handled
        # every event sent so far, the module's included, dev3 is still Disconnected.
        self.hub_caught_up()
        self.assertEqual(connection_state(self.emu, "dev3"), "Disconnected")

    def test_a_will_cannot_reach_other_devices(self):
        victim = self.connect("dev2")
        self.assertEqual(victim.subscribe(POST), (0,))
        self.assertEqual(victim.subscribe("$iothub/streams/res/#"), (0,))
        for will in ("$iothub/streams/POST/ssh/?$rid=1&$url=wss%3A%2F%2Fevil%3A1%2Fb&$auth=x",
                     "$iothub/streams/res/200/?$rid=1"):
            attacker = device_peer(self.emu, "dev1")
            attacker.client.will_set(will, b"", 0, False)
            self.assertEqual(attacker.connect("127.0.0.1", self.emu.ready["ports"]["mqtts"]), 0)
            wait_state(self.emu, "dev1", "Connected")
            attacker.client.loop_stop()
            attacker.client.socket().shutdown(socket.SHUT_RDWR)  # no DISCONNECT: the will fires
            wait_state(self.emu, "dev1", "Disconnected")
            victim.nothing_received(within=0.5)

    def test_a_forbidden_subscribe_closes_the_connection_without_a_suback(self):
        # docs/protocol.md rule D15: a filter the device may not use ends the connection; the
        # hub does not answer SUBACK 0x80. paho hands packets over in order, so a SUBACK sent
        # before the connection closed would have been reported before the disconnect.
        for topic in ("$hub/#", "$hub/to/dev2/#", "#", "other/topic"):
            peer = device_peer(self.emu, "dev1")
            self.assertEqual(peer.connect("127.0.0.1", self.emu.ready["ports"]["mqtts"]), 0)
            peer.client.subscribe(topic, 0)
            try:
                self.assertNotEqual(peer.wait_disconnected(), 0, topic)  # not a DISCONNECT of ours
            finally:
                peer.close()  # before paho reconnects on its own
            self.assertTrue(peer.subacks.empty(), (topic, list(peer.subacks.queue)))
        # The allowed filter is still granted on a new connection.
        self.assertEqual(self.connect("dev1").subscribe(POST), (0,))
        # The hub logs the refusal when the broker's report comes.
        self.emu.wait_log("may not subscribe to '$hub/#'")

    def test_a_publish_outside_closes_the_connection_unacknowledged(self):
        # Inside: acknowledged, and the connection stays (PUBACK of packet 7).
        inside = RawDevice(self.emu, "dev3")
        self.addCleanup(inside.close)
        inside.send(RawDevice.publish_packet(b"$iothub/streams/res/200/?$rid=1", qos=1,
                                             packet_id=7))
        self.assertEqual(inside.tls.recv(4), b"\x40\x02\x00\x07")
        # Outside (the hub's own topics, another device's telemetry): the connection is closed
        # and nothing is acknowledged, so no SDK takes it as delivered.
        # ($SYS/ is the one exception: mosquitto refuses it itself, before the plugin is asked,
        # and acknowledges it; docs/differences.md.)
        for topic in (b"$hub/to/dev2/$iothub/streams/POST/x/?$rid=1&$url=u&$auth=a",
                      b"devices/dev2/messages/events/", b"other/topic"):
            outside = RawDevice(self.emu, "dev3")
            self.addCleanup(outside.close)
            outside.send(RawDevice.publish_packet(topic, b"{}", qos=1, packet_id=8) +
                         RawDevice.publish_packet(b"$iothub/streams/res/200/?$rid=2", qos=1,
                                                  packet_id=9))
            self.assertEqual(outside.received_until_closed(), b"", topic)
        log = self.emu.wait_log("may not publish to 'devices/dev2/messages/events/'")
        line = next(l for l in log.splitlines()
                    if "may not publish to 'devices/dev2/messages/events/'" in l)
        self.assertIn("refused 'dev3'", line)
        self.assertIn("the connection is closed", line)

    def test_reconnect_with_the_same_id_stays_connected(self):
        first = self.connect("dev2")
        wait_state(self.emu, "dev2", "Connected")
        second = self.connect("dev2")
        # The broker drops the first connection; the device stays Connected.
        first.wait_disconnected()
        first.close()
        self.assertEqual(connection_state(self.emu, "dev2"), "Connected")
        # A disconnect event for the old session would arrive right after the takeover: once
        # the hub has handled every event sent so far, the registry has not (wrongly) changed.
        self.hub_caught_up()
        self.assertEqual(connection_state(self.emu, "dev2"), "Connected")
        second.close()
        wait_state(self.emu, "dev2", "Disconnected")

    def test_disabling_or_deleting_a_device_disconnects_it(self):
        start = len(self.emu.log())
        res = self.emu.request("PUT", "/devices/victim", RW, body=json.dumps({}))
        self.assertEqual(res.status, 200)
        key = res.json()["authentication"]["symmetricKey"]["primaryKey"]
        peer = self.connect("victim")
        wait_state(self.emu, "victim", "Connected")
        res = self.emu.request("PUT", "/devices/victim", RW, headers={"If-Match": "*"},
                               body=json.dumps({"status": "disabled"}))
        self.assertEqual(res.status, 200, res.body)
        peer.wait_disconnected()
        peer.close()  # paho would keep reconnecting; stop it before the device is enabled again
        self.assertEqual(self.connack("victim"), 5)
        self.emu.wait_log("disabled: device 'victim'")
        res = self.emu.request("PUT", "/devices/victim", RW, headers={"If-Match": "*"},
                               body=json.dumps({"status": "enabled"}))
        peer = self.connect("victim")
        module = self.connect("victim/m1")
        wait_state(self.emu, "victim", "Connected")
        self.assertEqual(self.emu.request("DELETE", "/devices/victim", RW).status, 204)
        peer.wait_disconnected()
        module.wait_disconnected()
        peer.close()
        module.close()
        # The device disconnected twice (disabled, then deleted); the broker reports each to
        # the hub, which logs it on its own thread: wait for both, then count them once the hub
        # has handled every report.
        self.emu.wait_log("'victim' disconnected", count=2, since=start)
        self.hub_caught_up()
        self.assertEqual(self.emu.log()[start:].count("'victim' disconnected"), 2)
        self.assertEqual(self.connack("victim", key=key), 5)

    def test_mqtt_over_websockets(self):
        peer = device_peer(self.emu, "dev3", transport="websockets")
        self.addCleanup(peer.close)
        rc = peer.connect("127.0.0.1", self.emu.ready["ports"]["mqttWs"],
                          path="/$iothub/websocket")
        self.assertEqual(rc, 0)
        self.assertEqual(peer.subscribe(POST), (0,))

    def test_health_reports_the_broker(self):
        res = self.emu.request("GET", "/health")
        self.assertEqual(res.json()["components"]["mqtt"], "up")


class Supervision(unittest.TestCase):
    def test_a_killed_broker_is_restarted_and_devices_reconnect(self):
        with Emulator("--device", "dev1") as emu:
            peer = connect_device(emu, "dev1")
            peer.subscribe(POST)
            wait_state(emu, "dev1", "Connected")
            broker = broker_pid(emu)
            os.kill(broker, signal.SIGKILL)
            peer.wait_disconnected()
            wait_state(emu, "dev1", "Disconnected")
            # paho reconnects on its own, as the SDKs do; it must get in again.
            wait_until(lambda: emu.request("GET", "/health").json()["brokerRestarts"] == 1,
                       what="the broker restart")
            self.assertNotEqual(broker_pid(emu), broker)
            self.assertEqual(peer.connacks.get(timeout=30), 0)
            wait_state(emu, "dev1", "Connected")
            wait_until(lambda: emu.request("GET", "/health").json()["components"]["mqtt"] == "up",
                       what="the hub to reconnect")
            peer.close()
            self.assertIn("starting it again", emu.log())

    def test_the_broker_dies_with_the_emulator(self):
        emu = Emulator()
        with emu:
            broker = broker_pid(emu)
            emu.proc.kill()  # no chance to stop its child: the kernel must (PR_SET_PDEATHSIG)
            emu.proc.wait(timeout=20)
            emu.expect_ready = False  # its exit code is SIGKILL's, not a clean shutdown's
            wait_until(lambda: not os.path.exists("/proc/%d" % broker) or
                       open("/proc/%d/stat" % broker).read().split()[2] == "Z",
                       what="mosquitto to exit")

    def test_missing_mosquitto_or_plugin_is_a_clear_error(self):
        for flag in ("--broker-plugin", "--mosquitto"):
            emu = Emulator(flag, "/nonexistent/file", expect_ready=False)
            with emu:
                self.assertEqual(emu.proc.wait(timeout=20), 1)
                self.assertIn(flag + " /nonexistent/file", emu.log())
                if flag == "--mosquitto":
                    self.assertIn("apt-get install mosquitto", emu.log())

    def test_a_taken_mqtts_port_is_explained(self):
        import socket
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            emu = Emulator("--mqtts-port", str(port), expect_ready=False)
            with emu:
                self.assertEqual(emu.proc.wait(timeout=20), 1)
                self.assertIn("--mqtts-port", emu.log())


def broker_pid(emu):
    """The emulator's mosquitto child."""
    children = subprocess.run(["pgrep", "-P", str(emu.proc.pid), "-x", "mosquitto"],
                              capture_output=True, text=True).stdout.split()
    assert len(children) == 1, children
    return int(children[0])


class PluginAlone(unittest.TestCase):
    """The plugin in a mosquitto the test runs, the test playing the hub (its privileged client)."""

    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.TemporaryDirectory()
        # The emulator makes the registry (devices a, b, c/m keys) and stops.
        with Emulator("--device", "a", "--device", "b", "--device", "c+1",
                      state_dir=cls.state.name) as emu:
            cls.keys = {d: emu.device_key(d) for d in ("a", "b", "c+1")}
            cls.host = emu.host
        cls.broker = PluginBroker(cls.state.name).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        cls.state.cleanup()

    def device(self, cid, subscribe=True, clean_session=False):
        device_id = cid.split("/")[0]
        resource = "%s/devices/%s" % (self.host, cid.replace("/", "/modules/", 1))
        peer = Peer(cid, "%s/%s/?api-version=1" % (self.host, cid),
                    sas_token(resource, self.keys[device_id]), clean_session)
        self.assertEqual(peer.connect("127.0.0.1", self.broker.port), 0)
        self.addCleanup(peer.close)
        if subscribe:
            self.assertEqual(peer.subscribe(POST), (0,))
        return peer

    def hub(self):
        hub = self.broker.hub()
        self.addCleanup(hub.close)
        self.assertEqual(hub.subscribe("$hub/evt/#"), (0,))
        self.assertEqual(hub.subscribe("$hub/from/#"), (0,))
        return hub

    def expect(self, hub, topic, payload=None):
        while True:
            got_topic, got_payload = hub.receive()
            if got_topic == topic and (payload is None or got_payload == payload):
                return
            # Events of other tests' clients may be interleaved; skip them.

    def test_delivery_reaches_one_device_only(self):
        hub = self.hub()
        a, b = self.device("a"), self.device("b")
        request = "$iothub/streams/POST/ssh/?$rid=7&$url=wss%3A%2F%2Fh%3A1%2Fbridges%2Fx&$auth=t"
        hub.publish("$hub/to/a/" + request)
        self.assertEqual(a.receive(), (request, b""))
        b.nothing_received(within=0.3)
        # Direct delivery needs no subscription and skips the read ACL, so the plugin itself
        # refuses anything outside $iothub/.
        hub.publish("$hub/to/a/other/topic")
        hub.publish("$hub/to/a/$hub/evt/connected/b")
        a.nothing_received(within=0.3)
        # mosquitto's log reaches the test through a pipe and a reader thread.
        wait_until(lambda: "ignored hub topic" in "".join(self.broker.log),
                   what="the plugin's 'ignored hub topic' line")

    def test_ids_with_special_characters(self):
        hub = self.hub()
        c = self.device("c+1")
        module = self.device("c+1/m#2")
        request = "$iothub/streams/POST/x/?$rid=1&$url=u&$auth=a"
        hub.publish("$hub/to/%s/%s" % (bus_id("c+1/m#2"), request))
        self.assertEqual(module.receive()[0], request)
        c.nothing_received(within=0.3)

    def test_replies_are_tagged_with_the_device(self):
        hub = self.hub()
        a = self.device("a")
        a.publish("$iothub/streams/res/200/?$rid=7")
        self.expect(hub, "$hub/from/a/$iothub/streams/res/200/?$rid=7")
        # A device cannot pose as another: the tag comes from the broker, not the topic.
        b = self.device("b")
        b.publish("$iothub/streams/res/400/?$rid=a")
        self.expect(hub, "$hub/from/b/$iothub/streams/res/400/?$rid=a")

    def next_event_for(self, hub, cid):
        """The next event about cid, strictly: nothing about cid may be skipped."""
        while True:
            topic, payload = hub.receive()
            if topic.startswith("$hub/evt/") and topic.rsplit("/", 1)[1] == bus_id(cid):
                return topic.split("/")[2], payload

    def test_events_and_takeover(self):
        hub = self.hub()
        a = self.device("a", subscribe=False, clean_session=True)
        self.assertEqual(self.next_event_for(hub, "a"), ("connected", b"0"))
        a.subscribe(POST)
        self.assertEqual(self.next_event_for(hub, "a"), ("listens", b"1"))  # streams
        a.subscribe("$iothub/methods/POST/#")
        self.assertEqual(self.next_event_for(hub, "a"), ("listens", b"3"))  # and methods
        a.client.unsubscribe("$iothub/methods/POST/#")
        self.assertEqual(self.next_event_for(hub, "a"), ("listens", b"1"))
        # Same id again: the new connection is reported, then nothing for the old one. A clean
        # session hands no subscriptions on, so the new one does not listen yet.
        again = self.device("a", subscribe=False)
        self.assertEqual(self.next_event_for(hub, "a"), ("connected", b"0"))
        a.wait_disconnected()
        a.close()
        again.subscribe(POST)
        self.assertEqual(self.next_event_for(hub, "a"), ("listens", b"1"))
        again.close()
        self.assertEqual(self.next_event_for(hub, "a"), ("disconnected", b""))
        # A persistent session (the SDKs' clean session false) comes back subscribed.
        back = self.device("a", subscribe=False)
        self.assertEqual(self.next_event_for(hub, "a"), ("connected", b"1"))
        back.close()
        self.assertEqual(self.next_event_for(hub, "a"), ("disconnected", b""))
        self.no_more(hub, "$hub/evt/disconnected/a")

    def no_more(self, hub, topic):
        try:
            while True:
                got, _ = hub.receive(timeout=0.3)
                self.assertNotEqual(got, topic, "reported twice")
        except queue.Empty:
            pass

    def test_sync_repeats_who_is_connected(self):
        b = self.device("b")
        hub = self.hub()
        hub.publish("$hub/sync")
        self.expect(hub, "$hub/evt/connected/b", b"1")
        b.close()

    def test_refusals_reach_the_hub(self):
        hub = self.hub()
        peer = Peer("a", "x/a/?", "SharedAccessSignature sr=x&sig=AAAA&se=1")
        self.assertEqual(peer.connect("127.0.0.1", self.broker.port), 5)
        peer.close()
        self.expect(hub, "$hub/evt/refused/a")

    def test_the_hub_role_needs_the_secret_and_the_socket(self):
        wrong = Peer(HUB_ID, HUB_ID, "wrong", clean_session=True,
                     unix_path=self.broker.socket)
        self.assertEqual(wrong.connect(), 5)
        wrong.close()
        # The right secret over TCP is refused too.
        tcp = Peer(HUB_ID, HUB_ID, self.broker.secret, clean_session=True)
        self.assertEqual(tcp.connect("127.0.0.1", self.broker.port), 5)
        tcp.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
