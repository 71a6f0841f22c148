"""Peers of a device stream for the tests: the device (paho-mqtt, as the Azure SDKs talk MQTT),
the service's POST (curl), and both WebSockets (python3-websockets).

Stream requests are parsed here independently of the emulator, by the C# SDK's rules
(docs/protocol.md §2.3: exactly five '/'-separated levels, properties split at the first '=').
"""
import asyncio
import concurrent.futures
import queue
import re
import ssl
import urllib.parse

import websockets

from harness import curl, policy_key, sas_token
from mqtt_peer import TIMEOUT, connect_device

POST_FILTER = "$iothub/streams/POST/#"


def parse_request(topic):
    """The C# SDK's HandleIncomingStreamPost, in Python."""
    levels = topic.split("/")
    assert len(levels) == 5, "a stream request has exactly five levels: %r" % topic
    assert "/".join(levels[:3]) == "$iothub/streams/POST", topic
    props = {}
    for pair in levels[4].lstrip("?").split("&"):
        key, value = pair.split("=", 1)
        props[key] = value
    return {"name": levels[3], "rid": props["$rid"],
            "url": urllib.parse.unquote(props["$url"]), "auth": props["$auth"],
            "raw_url": props["$url"], "topic": topic}


class StreamDevice:
    """A device that receives stream requests; the test decides each answer."""

    def __init__(self, emu, device_id, subscribe=True):
        self.id = device_id
        self.peer = connect_device(emu, device_id)
        self.requests = queue.Queue()
        self.peer.client.on_message = lambda c, u, msg: self.requests.put(
            parse_request(msg.topic))
        if subscribe:
            assert self.peer.subscribe(POST_FILTER) == (0,)

    def next_request(self, timeout=TIMEOUT):
        return self.requests.get(timeout=timeout)

    def answer(self, request, status=200):
        self.peer.publish("$iothub/streams/res/%d/?$rid=%s" % (status, request["rid"]))

    def close(self):
        self.peer.close()


def post_stream(emu, device_id, name="TestStream", module_id=None, response_timeout=None,
                connect_timeout=None, token=None, extra_headers=None):
    """The service's POST, as the Node and C# SDKs send it (docs/protocol.md §1.1). Blocks until the
    emulator answers."""
    path = "/twins/%s" % urllib.parse.quote(device_id, safe="")
    if module_id is not None:
        path += "/modules/%s" % module_id
    path += "/streams/%s?api-version=2020-09-30" % name
    headers = {"Authorization": token if token is not None else
               sas_token(emu.host, policy_key("service"), "service")}
    if connect_timeout is not None:
        headers["iothub-streaming-connect-timeout-in-seconds"] = str(connect_timeout)
    if response_timeout is not None:
        headers["iothub-streaming-response-timeout-in-seconds"] = str(response_timeout)
    headers.update(extra_headers or {})
    return curl("POST", emu.url(path), headers, cafile=emu.ca)


class PendingPost:
    """A POST running in the background while the test plays the device."""

    _pool = concurrent.futures.ThreadPoolExecutor(max_workers=32)

    def __init__(self, emu, device_id, **kwargs):
        self.future = self._pool.submit(post_stream, emu, device_id, **kwargs)

    def result(self, timeout=TIMEOUT * 3):
        return self.future.result(timeout=timeout)


def accepted_stream(emu, device, name="TestStream", **kwargs):
    """POSTs, lets the device accept, and returns (request, response)."""
    pending = PendingPost(emu, device.id, name=name, **kwargs)
    request = device.next_request()
    device.answer(request, 200)
    response = pending.result()
    assert response.status == 200, response.body
    assert response.headers["iothub-streaming-is-accepted"] == "True", response.headers
    return request, response


def tls_context(emu):
    return ssl.create_default_context(cafile=emu.ca)


async def open_socket(emu, url, token, subprotocols=None, **kwargs):
    """A side's WebSocket, as the SDKs open it (docs/protocol.md §3.2)."""
    headers = {"Authorization": "Bearer " + token} if token is not None else {}
    return await websockets.connect(url, ssl=tls_context(emu) if url.startswith("wss") else None,
                                    extra_headers=headers, subprotocols=subprotocols,
                                    max_size=None, open_timeout=TIMEOUT, **kwargs)


async def refused_status(emu, url, token):
    """The HTTP status a refused upgrade gets (the test fails if it is accepted)."""
    try:
        ws = await open_socket(emu, url, token)
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code
    await ws.close()
    raise AssertionError("the upgrade was accepted")


def run(coro, timeout=120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def bridge_id(url):
    match = re.fullmatch(r"wss?://[^/]+:\d+/bridges/([0-9a-f]{20})", url)
    assert match, url
    return match.group(1)


class RawSocket:
    """A WebSocket client that reads frame by frame (python3-websockets only gives whole
    messages): to check that the relay keeps frame boundaries."""

    def __init__(self, emu, url, token):
        import base64
        import os
        import socket
        parts = urllib.parse.urlsplit(url)
        sock = socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT)
        self.sock = tls_context(emu).wrap_socket(sock, server_hostname=parts.hostname) \
            if parts.scheme == "wss" else sock
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n"
                           % (parts.path, parts.hostname, parts.port, key, token)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _exactly(self, n):
        data = b""
        while len(data) < n:
            more = self.sock.recv(n - len(data))
            assert more, "connection closed"
            data += more
        return data

    def frame(self):
        """(fin, opcode, payload) of the next frame."""
        b0, b1 = self._exactly(2)
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(self._exactly(2), "big")
        elif length == 127:
            length = int.from_bytes(self._exactly(8), "big")
        return bool(b0 & 0x80), b0 & 0x0F, self._exactly(length)

    def send_frame(self, opcode, payload, fin=True, masked=True):
        """One client frame (RFC 6455 §5.2), written byte by byte: python3-websockets would
        send neither a text message that is not UTF-8 nor an unmasked frame."""
        import os
        import struct
        head = bytes([(0x80 if fin else 0) | opcode])
        n, mask_bit = len(payload), 0x80 if masked else 0
        if n < 126:
            head += bytes([mask_bit | n])
        elif n < 65536:
            head += bytes([mask_bit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
        if not masked:
            self.sock.sendall(head + payload)
            return
        key = os.urandom(4)
        self.sock.sendall(head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload)))

    def close(self):
        self.sock.close()
