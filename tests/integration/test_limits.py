"""Limits and the strict-fidelity mode: each limit answers with the real hub's error
(403 403002 for a quota, 429 429001 for throttling) or closes with 1009 for a message too big;
--fidelity strict has the real hub's quotas."""
import asyncio
import http.client
import ssl
import threading
import time
import unittest

import websockets

from client_peers import device_agent
from harness import Emulator, Response, policy_key, sas_token
from stream_peer import (PendingPost, StreamDevice, accepted_stream, open_socket, post_stream,
                         run)


class Limits(unittest.TestCase):
    def assertError(self, res, status, name):
        self.assertEqual(res.status, status, res.body)
        self.assertEqual(res.headers.get("iothub-errorcode"), name)
        return res.error()

    def test_streams_at_once(self):
        with Emulator("--device", "dev1", "--max-streams", "2") as emu:
            dev = StreamDevice(emu, "dev1")
            self.addCleanup(dev.close)
            accepted_stream(emu, dev, connect_timeout=3)
            accepted_stream(emu, dev, connect_timeout=3)
            detail = self.assertError(post_stream(emu, "dev1", name="refused"), 403,
                                      "IotHubQuotaExceeded")
            self.assertEqual(detail["errorCode"], 403002)
            self.assertIn("--max-streams", detail["message"])
            # Once they end (their connect deadline passes), streams are possible again.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                res = post_stream(emu, "dev1", name="later", response_timeout=1)
                if res.status != 403:
                    break
            self.assertEqual(res.status, 504, res.body)  # asked, and not answered this time
            # The device was never asked for the refused one. An empty queue right after the 403
            # would not show it (a request could still be on its way); the hub's requests reach
            # the device in order, so the first after the accepted streams' must be the later one.
            self.assertEqual(dev.next_request()["name"], "later")

    def test_handshakes_under_way(self):
        with Emulator("--device", "dev1", "--max-pending-handshakes", "1") as emu:
            dev = StreamDevice(emu, "dev1")
            self.addCleanup(dev.close)
            waiting = PendingPost(emu, "dev1", response_timeout=5)
            request = dev.next_request()
            detail = self.assertError(post_stream(emu, "dev1"), 429, "ThrottlingException")
            self.assertEqual(detail["errorCode"], 429001)
            dev.answer(request, 400)
            self.assertEqual(waiting.result().status, 200)

    def test_connection_memory(self):
        with Emulator("--device", "slow", "--max-connection-memory", "131072") as emu:
            dev = StreamDevice(emu, "slow")
            self.addCleanup(dev.close)
            request, res = accepted_stream(emu, dev)
            # More than the kernel's socket buffers on loopback take (the device's receive and
            # the emulator's send buffer grow to 6 and 4 MiB): the relay's own queue must build.
            total = 32 * 1024 * 1024

            async def scenario():
                d = await open_socket(emu, request["url"], request["auth"], max_queue=1,
                                      read_limit=65536)
                s = await open_socket(emu, res.headers["iothub-streaming-url"],
                                      res.headers["iothub-streaming-auth-token"],
                                      write_limit=65536)

                async def write():
                    for _ in range(total // 16384):
                        await s.send(b"m" * 16384)
                sending = asyncio.create_task(write())
                await asyncio.sleep(1)  # the reader is slow on purpose: the queue fills up
                got = 0
                while got < total:
                    got += len(await d.recv())
                await sending
                await s.close()
                await d.close()
                return got
            self.assertEqual(run(scenario(), timeout=300), total)
            peak = [s for s in emu.request("GET", "/emulator/streams", "registryRead").json()
                    if s["deviceId"] == "slow"][0]["peakQueuedBytes"]["toDevice"]
            self.assertLessEqual(peak, 131072)
            self.assertGreater(peak, 16384)


class Answer:
    """What the tests read of a response: its status, headers and error body."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def error(self):
        return Response(self.status, self.headers, self.body).error()


def burst_of_posts(emu, device_id, count):
    """count stream POSTs at once, each on a connection opened beforehand. Returns the answers
    and the seconds from the first to the last one sent."""
    token = sas_token(emu.host, policy_key("service"), "service")
    context = ssl.create_default_context(cafile=emu.ca)
    conns = [http.client.HTTPSConnection("127.0.0.1", emu.ready["ports"]["https"],
                                         context=context, timeout=60) for _ in range(count)]
    for c in conns:
        c.connect()
    start, sent, answers = threading.Barrier(count), [], [None] * count

    def post(i):
        start.wait()
        conns[i].request("POST", "/twins/%s/streams/s%d?api-version=2020-09-30" % (device_id, i),
                         headers={"Authorization": token, "Content-Length": "0"})
        sent.append(time.monotonic())
        res = conns[i].getresponse()
        answers[i] = Answer(res.status, dict((k.lower(), v) for k, v in res.getheaders()),
                            res.read().decode())
        conns[i].close()
    threads = [threading.Thread(target=post, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers, max(sent) - min(sent)


class StrictFidelity(unittest.TestCase):
    def test_five_new_streams_a_second(self):
        with Emulator("--device", "picky", "--fidelity", "strict") as emu:
            agent = device_agent(emu, "picky", ["echo"], "--accept", "nothing-by-this-name")
            self.addCleanup(agent.stop)
            # Twelve connections are opened first and their POSTs then go at once: a curl per
            # POST takes long enough to start, on a loaded machine, for the bucket to refill.
            answers, elapsed = burst_of_posts(emu, "picky", 12)
            throttled = [r for r in answers if r.status == 429]
            # A full bucket of 5, and 5 more for every second the burst took.
            allowed = 5 + int(elapsed * 5) + 1
            self.assertGreaterEqual(len(throttled), 12 - allowed, (elapsed, answers))
            self.assertEqual(len(answers) - len(throttled),
                             len([r for r in answers if r.status == 200]))
            self.assertEqual(throttled[0].headers["iothub-errorcode"], "ThrottlingException")
            self.assertEqual(throttled[0].error()["errorCode"], 429001)
            time.sleep(1.1)  # a second's worth comes back
            self.assertEqual(post_stream(emu, "picky", name="later").status, 200)

    def test_messages_of_64_kib(self):
        with Emulator("--device", "dev1", "--fidelity", "strict") as emu:
            dev = StreamDevice(emu, "dev1")
            self.addCleanup(dev.close)

            async def send(size):
                request, res = accepted_stream(emu, dev)
                d = await open_socket(emu, request["url"], request["auth"])
                s = await open_socket(emu, res.headers["iothub-streaming-url"],
                                      res.headers["iothub-streaming-auth-token"])
                await s.send(b"k" * size)
                try:
                    got = await d.recv()
                    await s.close()
                    await d.close()
                    return len(got), None
                except websockets.exceptions.ConnectionClosed as closed:
                    try:
                        await s.recv()
                    except websockets.exceptions.ConnectionClosed as sender_closed:
                        return closed.code, sender_closed.code
            self.assertEqual(run(send(65536)), (65536, None))
            self.assertEqual(run(send(65537)), (1009, 1009))
            self.assertIn("larger than 65536 bytes", emu.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
