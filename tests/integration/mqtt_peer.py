"""MQTT peers for the tests: devices as the Azure SDKs connect (paho-mqtt, MQTT 3.1.1 over TLS),
and a standalone mosquitto running the emulator's plugin, for tests of the plugin on its own.

Every wait is on an event with a deadline: a CONNACK, a SUBACK, a message, a log line.
"""
import os
import queue
import re
import secrets
import signal
import socket
import ssl
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
    """A device as the Azure SDKs connect one (protocol.md §2.1, rule 6)."""
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


class PluginBroker:
    """mosquitto with the emulator's plugin and a registry made by the emulator, but no emulator:
    the test plays the hub itself, over the plugin's private socket."""

    def __init__(self, state_dir, plain=False):
        self.state_dir = state_dir
        self.plain = plain  # a plain mosquitto, without the plugin: the benchmark's baseline
        self.dir = tempfile.TemporaryDirectory(prefix="plugin-broker-")
        self.socket = os.path.join(self.dir.name, "hub.sock")
        self.secret = secrets.token_hex(16)
        self.port = free_port()
        self.proc = None

    def config(self):
        lines = ["per_listener_settings false", "set_tcp_nodelay true", "persistence false",
                 "log_dest stderr", "log_type error", "log_type warning", "log_type notice",
                 "log_type information", "log_timestamp false"]
        if os.geteuid() == 0:
            lines.append("user root")
        lines += ["listener 0 " + self.socket, "listener %d 127.0.0.1" % self.port]
        if self.plain:
            lines.append("allow_anonymous true")
        else:
            lines += ["allow_anonymous false", "plugin " + PLUGIN,
                      "plugin_opt_registry " + os.path.join(self.state_dir, "registry.db"),
                      "plugin_opt_hub_secret " + self.secret,
                      "plugin_opt_hosts 127.0.0.1,localhost"]
        return "\n".join(lines) + "\n"

    def start(self):
        conf = os.path.join(self.dir.name, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.log = []
        self.running = threading.Event()
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self.running.wait(TIMEOUT):
            self.stop()
            raise AssertionError("mosquitto did not start:\n" + "".join(self.log))
        return self

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
