"""MQTT peers for the tests: devices as the Azure SDKs connect (paho-mqtt, MQTT 3.1.1 over TLS),
and a standalone mosquitto running the emulator's plugin, for tests of the plugin on its own.

Every wait is on an event with a deadline: a CONNACK, a SUBACK, a message, a log line.
"""
import os
import queue
import secrets
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse

import paho.mqtt.client as mqtt

from harness import sas_token

TIMEOUT = 10.0
MOSQUITTO = os.environ.get("IOTHUB_MOSQUITTO", "/usr/sbin/mosquitto")
PLUGIN = os.environ.get("IOTHUB_PLUGIN", "iothub_mosquitto_plugin.so")
HUB_ID = "~iothub-emulator"


class UnixClient(mqtt.Client):
    """paho 1.6 (Debian 12) has no Unix-socket transport; its one socket factory is replaced."""

    def __init__(self, path, **kwargs):
        super().__init__(**kwargs)
        self._unix_path = path

    def _create_socket_connection(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self._unix_path)
        return sock


class Peer:
    """One MQTT client with a queue of what it receives. connect() returns the CONNACK code."""

    def __init__(self, client_id, username=None, password=None, clean_session=False,
                 transport="tcp", unix_path=None):
        kwargs = dict(client_id=client_id, clean_session=clean_session, protocol=mqtt.MQTTv311)
        if unix_path is not None:
            self.client = UnixClient(unix_path, **kwargs)
        else:
            self.client = mqtt.Client(transport=transport, **kwargs)
        if username is not None or password is not None:
            self.client.username_pw_set(username, password)
        self.messages = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.disconnects = queue.Queue()
        self.client.on_connect = lambda c, u, f, rc: self.connacks.put(rc)
        self.client.on_subscribe = lambda c, u, mid, granted: self.subacks.put(granted)
        self.client.on_message = lambda c, u, msg: self.messages.put((msg.topic, msg.payload))
        self.client.on_disconnect = lambda c, u, rc: self.disconnects.put(rc)

    def tls(self, cafile):
        self.client.tls_set_context(ssl.create_default_context(cafile=cafile))
        return self

    def connect(self, host="localhost", port=1, path=None):
        if path is not None:
            self.client.ws_set_options(path=path)
        self.client.connect(host, port, keepalive=60)
        self.client.loop_start()
        return self.connacks.get(timeout=TIMEOUT)

    def subscribe(self, topic, qos=0):
        self.client.subscribe(topic, qos)
        return self.subacks.get(timeout=TIMEOUT)

    def publish(self, topic, payload=b"", qos=0):
        info = self.client.publish(topic, payload, qos)
        info.wait_for_publish(timeout=TIMEOUT)

    def receive(self, timeout=TIMEOUT):
        return self.messages.get(timeout=timeout)

    def nothing_received(self, within):
        try:
            got = self.messages.get(timeout=within)
        except queue.Empty:
            return True
        raise AssertionError("unexpected message %r" % (got,))

    def wait_disconnected(self, timeout=TIMEOUT):
        return self.disconnects.get(timeout=timeout)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def device_peer(emu, device_id, key=None, token=None, username=None, clean_session=False,
                transport="tcp"):
    """A device as the Azure SDKs connect one (docs/protocol.md §2.1, rule 6)."""
    if token is None:
        key = key if key is not None else emu.device_key(device_id.split("/")[0])
        resource = "%s/devices/%s" % (emu.host, device_id.replace("/", "/modules/", 1))
        token = sas_token(resource, key)
    if username is None:
        username = "%s/%s/?api-version=2018-06-30&DeviceClientType=tests%%2F1.0" % (
            emu.host, device_id)
    return Peer(device_id, username, token, clean_session, transport).tls(emu.ca)


def connect_device(emu, device_id, **kwargs):
    peer = device_peer(emu, device_id, **kwargs)
    rc = peer.connect("127.0.0.1", emu.ready["ports"]["mqtts"])
    if rc != 0:
        peer.close()
        raise AssertionError("device %s got CONNACK %d" % (device_id, rc))
    return peer


def mqtt_string(data):
    return struct.pack("!H", len(data)) + data


def mqtt_packet(kind, body):
    """A fixed header (type and flags, remaining length) and body."""
    length, n = b"", len(body)
    while True:
        byte, n = n % 128, n // 128
        length += bytes([byte | (0x80 if n else 0)])
        if not n:
            return bytes([kind]) + length + body


class RawDevice:
    """A device that speaks MQTT 3.1.1 byte by byte over TLS: for packets client libraries
    refuse to send, and to see every packet the broker sends back."""

    def __init__(self, emu, device_id):
        token = sas_token("%s/devices/%s" % (emu.host, device_id),
                          emu.device_key(device_id))
        context = ssl.create_default_context(cafile=emu.ca)
        raw = socket.create_connection(("127.0.0.1", emu.ready["ports"]["mqtts"]),
                                       timeout=TIMEOUT)
        self.tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
        connect = (mqtt_string(b"MQTT") + bytes([4, 0xC0]) + struct.pack("!H", 60) +
                   mqtt_string(device_id.encode()) +
                   mqtt_string(("%s/%s/?api-version=2020-09-30" % (emu.host, device_id))
                               .encode()) + mqtt_string(token.encode()))
        self.tls.sendall(mqtt_packet(0x10, connect))
        connack = self.tls.recv(4)
        assert connack[:2] == b"\x20\x02" and connack[3] == 0, connack

    @staticmethod
    def publish_packet(topic, payload=b"", qos=0, packet_id=1):
        body = mqtt_string(topic) + (struct.pack("!H", packet_id) if qos else b"") + payload
        return mqtt_packet(0x30 | (qos << 1), body)

    def send(self, data):
        self.tls.sendall(data)

    def received_until_closed(self, within=TIMEOUT):
        """Everything the broker sends until it closes the connection; None if it is still
        open after `within` seconds."""
        data, deadline = b"", time.monotonic() + within
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.tls.settimeout(left)
                more = self.tls.recv(4096)
                if not more:
                    return data
                data += more
        except TimeoutError:
            return None
        except (ConnectionError, ssl.SSLError):
            return data

    def close(self):
        self.tls.close()


class PluginBroker:
    """mosquitto with the emulator's plugin and a registry made by the emulator, but no emulator:
    the test plays the hub itself, over the plugin's private socket. The configuration is the
    one the emulator wrote into its state directory, with the test's own socket, secret and
    plain listener."""

    def __init__(self, state_dir, plain=False):
        self.state_dir = state_dir
        self.plain = plain  # a plain mosquitto, without the plugin: the benchmark's baseline
        self.dir = tempfile.TemporaryDirectory(prefix="plugin-broker-")
        self.socket = os.path.join(self.dir.name, "hub.sock")
        self.secret = secrets.token_hex(16)
        self.port = None
        self.proc = None

    def config(self):
        with open(os.path.join(self.state_dir, "broker", "mosquitto.conf")) as f:
            written = f.read().splitlines()
        lines, in_listener = [], False
        for line in written:
            in_listener = (in_listener or line.startswith("listener ")) and \
                not line.startswith("plugin")
            if in_listener or (self.plain and line.startswith("plugin")):
                continue
            if line.startswith("plugin_opt_hub_secret "):
                line = "plugin_opt_hub_secret " + self.secret
            if self.plain and line == "allow_anonymous false":
                line = "allow_anonymous true"
            lines.append(line)
        listeners = ["listener 0 " + self.socket, "listener %d 127.0.0.1" % self.port]
        at = next((i for i, l in enumerate(lines) if l.startswith("plugin ")), len(lines))
        return "\n".join(lines[:at] + listeners + lines[at:]) + "\n"

    def start(self):
        for attempt in range(3):  # a free port picked here may be taken before mosquitto binds it
            self.port = free_port()
            if self._run():
                return self
        raise AssertionError("mosquitto did not start:\n" + "".join(self.log))

    def _run(self):
        conf = os.path.join(self.dir.name, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
        self.log = []
        self.running = threading.Event()
        threading.Thread(target=self._read_log, daemon=True).start()
        if self.running.wait(TIMEOUT):
            return True
        self.proc.kill()
        self.proc.wait()
        return False

    def _read_log(self):
        for line in self.proc.stderr:
            self.log.append(line)
            if " running" in line:
                self.running.set()

    def hub(self):
        """The hub's own client, as the emulator connects it."""
        peer = Peer(HUB_ID, HUB_ID, self.secret, clean_session=True, unix_path=self.socket)
        rc = peer.connect()
        assert rc == 0, "the hub got CONNACK %d" % rc
        return peer

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=TIMEOUT)
        self.dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bus_id(cid):
    """A client id as the hub bus writes it in a topic level (hub_bus.h)."""
    return urllib.parse.quote(cid, safe="-._")


def die_with_parent():
    """In a child before exec: the kernel sends it SIGKILL when the test process dies."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
