"""The emulator's web page, its event stream and /metrics.

The page is driven in a real headless Chromium over the DevTools protocol; the event stream is
read by Python's own HTTP client; /metrics by prometheus_client's parser of the exposition
format. Streams are run with the project's clients (iothub-device, iothub-service)."""
import concurrent.futures
import http.client
import json
import os
import queue
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest
import urllib.parse

from prometheus_client.parser import text_string_to_metric_families

from browser import Browser
from client_peers import SERVICE, client_env, device_agent, service
from harness import Emulator, curl, policy_key, sas_token, wait_until
from mqtt_peer import connect_device
from stream_peer import StreamDevice, run
from test_mqtt import broker_pid

STEPS = ["post", "request", "answer", "response", "device-ws", "service-ws", "relay", "close"]
API = "?api-version=2021-04-12"
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class EventStream:
    """GET /emulator/events with Python's HTTP client; events arrive on a queue as
    (name, data, monotonic time)."""

    def __init__(self, emu, path="/emulator/events", source="127.0.0.1"):
        context = ssl.create_default_context(cafile=emu.ca)
        self.conn = http.client.HTTPSConnection("127.0.0.1", emu.ready["ports"]["https"],
                                                context=context, timeout=30,
                                                source_address=(source, 0))
        self.conn.request("GET", path)
        self.sock = self.conn.sock
        self.response = self.conn.getresponse()
        self.events = queue.Queue()
        self.reader = None
        if self.response.status == 200:
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()

    def _read(self):
        name, data = None, []
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line == "":
                    if name is not None:
                        self.events.put((name, json.loads("\n".join(data)), time.monotonic()))
                    name, data = None, []
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
        except (OSError, ValueError, http.client.HTTPException):
            pass  # the connection ended
        self.events.put(("end", None, time.monotonic()))

    def next(self, name=None, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if name is None or event[0] == name or event[0] == "end":
                return event

    def close(self):
        # The reader thread holds the response while it waits for the next event, which may be
        # 15 s away: end the connection under it and let it finish first, or close() waits.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the emulator closed it already
        if self.reader is not None:
            self.reader.join(timeout=10)
        self.conn.close()


class HeldStream:
    """iothub-service proxy --stdio to an echo device: open until stdin closes."""

    def __init__(self, emu, device, name):
        self.proc = subprocess.Popen([SERVICE, "proxy", device, "--stdio", "--name", name],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=client_env(emu))
        self.proc.stdin.write(b"ping\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.read(5) == b"ping\n", self.proc.stderr.read()

    def end(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=20) == 0, self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()


def artifacts_dir():
    path = os.environ.get("IOTHUB_ARTIFACTS_DIR", os.path.join(os.getcwd(), "artifacts"))
    os.makedirs(path, exist_ok=True)
    return path


class WebPage(unittest.TestCase):
    def test_the_page_follows_a_device_and_a_stream(self):
        with Emulator("--device", "dev1", "--device", "idle") as emu:
            agent = device_agent(emu, "dev1", ["echo"])
            self.addCleanup(agent.stop)
            browser = Browser()
            self.addCleanup(browser.close)
            shot = os.path.join(artifacts_dir(), "web-page.png")

            async def scenario():
                page = await browser.open(emu.url("/"))
                await page.wait_for("document.getElementById('status').textContent === 'live'",
                                    what="its event stream live")
                row = "document.querySelector('tr[data-device=\"%s\"] td.state')"
                await page.wait_for((row % "dev1") + "?.textContent === 'Connected'",
                                    what="dev1 Connected")
                self.assertEqual(await page.evaluate((row % "idle") + ".textContent"),
                                 "Disconnected")
                held = HeldStream(emu, "dev1", "ui-demo")
                stream_state = ("[...document.querySelectorAll('#streams tbody tr')].find("
                                "r => r.children[2].textContent === 'ui-demo')"
                                "?.querySelector('.state').textContent")
                await page.wait_for(stream_state + " === 'connected'", what="the stream connected")
                held.end()
                await page.wait_for(stream_state + " === 'closed'", what="the stream closed")
                await page.wait_for("document.querySelector('g.step[data-step=\"close\"]') !== null",
                                    what="the close step")
                steps = await page.evaluate(
                    "[...document.querySelectorAll('#diagram g.step')].map(g => "
                    "[g.dataset.step, Number(g.dataset.ms), g.textContent])")
                logged = await page.evaluate(
                    "[...document.querySelectorAll('#log tbody tr')].map(r => "
                    "r.children[1].textContent)")
                await page.screenshot(shot)
                await page.close()
                return steps, logged
            steps, logged = run(scenario(), timeout=120)
            # The diagram's times are the emulator's own, step by step.
            listed = [s for s in emu.request("GET", "/emulator/streams", "registryRead").json()
                      if s["streamName"] == "ui-demo"][0]["stepsMs"]
            expected = {"post": 0, "request": 0, "answer": listed["answered"],
                        "response": listed["answered"], "device-ws": listed["deviceConnected"],
                        "service-ws": listed["serviceConnected"], "relay": listed["connected"],
                        "close": listed["closed"]}
            self.assertEqual({key: ms for key, ms, _ in steps}, expected)
            keys = [s[0] for s in steps]
            self.assertEqual(sorted(keys), sorted(STEPS))
            # The sides may connect in either order, and the device's WebSocket may come before
            # the hub has its answer: the agent publishes the answer and opens the WebSocket at
            # once, and the two travel different ways (the broker, the streaming endpoint).
            self.assertEqual(keys[:2], STEPS[:2])
            self.assertEqual(keys.index("response"), keys.index("answer") + 1)
            self.assertEqual(keys[-2:], STEPS[-2:])
            times = [s[1] for s in steps]
            self.assertEqual(times, sorted(times), steps)
            for key, ms, text in steps:
                # Every step shows its time of day and its ms since the POST.
                self.assertRegex(text, r"\d\d:\d\d:\d\d\.\d{3}\s+\+%d ms" % ms, key)
            text_of = {key: text for key, _, text in steps}
            self.assertIn("POST /twins/dev1/streams/ui-demo", text_of["post"])
            self.assertIn("$iothub/streams/res/200", text_of["answer"])
            self.assertIn("closed: service_closed (1000)", text_of["close"])
            for op in ("requested", "accepted", "connected", "closed"):
                self.assertIn(op, logged)
            self.assertGreater(os.path.getsize(shot), 10000)
            print("screenshot: " + shot)


    def test_the_page_follows_a_devices_methods_twin_and_telemetry(self):
        with Emulator("--device", "dev1", "--device", "idle") as emu:
            browser = Browser()
            self.addCleanup(browser.close)
            calls = concurrent.futures.ThreadPoolExecutor(max_workers=2)
            self.addCleanup(calls.shutdown)
            shot = os.path.join(artifacts_dir(), "ui-device-surface.png")
            card = "document.querySelector('[data-twin=\"dev1\"] [data-section=\"%s\"]')"
            call = "document.querySelector('#calls g.call[data-call=\"%s\"]')"

            def method_call(device, body):
                return emu.request("POST", "/twins/%s/methods%s" % (device, API), "service",
                                   headers=JSON_HEADERS, body=json.dumps(body))

            async def scenario():
                page = await browser.open(emu.url("/"))
                await page.wait_for("document.getElementById('status').textContent === 'live'",
                                    what="its event stream live")
                device = connect_device(emu, "dev1")
                self.addCleanup(device.close)
                for topic in ("$iothub/methods/POST/#", "$iothub/twin/res/#",
                              "$iothub/twin/PATCH/properties/desired/#"):
                    self.assertEqual(device.subscribe(topic), (0,), topic)
                # The hub hears of the subscription from the broker, on its own thread: the
                # page shows when it has.
                await page.wait_for("document.querySelector('tr[data-device=\"dev1\"] "
                                    "td.methods')?.textContent === 'listening'",
                                    what="dev1 listening for methods")

                # A direct method, answered by the device.
                answered = calls.submit(method_call, "dev1", {
                    "methodName": "reboot", "payload": {"delay": 1},
                    "responseTimeoutInSeconds": 10})
                topic, payload = device.receive()
                self.assertTrue(topic.startswith("$iothub/methods/POST/reboot/?$rid="), topic)
                self.assertEqual(json.loads(payload), {"delay": 1})
                rid = topic.split("?$rid=")[1]
                device.publish("$iothub/methods/res/200/?$rid=" + rid, b'{"rebooted":true}')
                res = answered.result(timeout=20)
                self.assertEqual((res.status, res.json()),
                                 (200, {"status": 200, "payload": {"rebooted": True}}))
                # One that fails: nobody listens on "idle" within its connect timeout.
                refused = calls.submit(method_call, "idle", {
                    "methodName": "ping", "responseTimeoutInSeconds": 5,
                    "connectTimeoutInSeconds": 1})

                # A reported patch from the device, a desired one from the service.
                device.publish("$iothub/twin/PATCH/properties/reported/?$rid=1", b'{"fw":"1.2"}')
                topic, _ = device.receive()
                self.assertTrue(topic.startswith("$iothub/twin/res/204/?$rid=1&$version="),
                                topic)
                reported_version = int(topic.rsplit("=", 1)[1])
                res = emu.request("PATCH", "/twins/dev1" + API, "service", headers=JSON_HEADERS,
                                  body=b'{"properties":{"desired":{"fan":"on"}}}')
                self.assertEqual(res.status, 200, res.body)
                topic, payload = device.receive()
                self.assertTrue(topic.startswith("$iothub/twin/PATCH/properties/desired/"),
                                topic)
                desired_version = json.loads(payload)["$version"]

                # Telemetry, stored before its PUBACK (rule D11).
                device.publish("devices/dev1/messages/events/%24.ct=application%2Fjson&k=v",
                               b'{"t":21}', qos=1)
                stored = emu.request("GET", "/emulator/telemetry?deviceId=dev1",
                                     "registryRead").json()
                self.assertEqual(len(stored), 1)
                sequence = stored[0]["sequenceNumber"]
                self.assertEqual(refused.result(timeout=20).status, 404)

                await page.wait_for((card % "reported") + "?.dataset.version === '%d'"
                                    % reported_version, what="the reported version")
                await page.wait_for((card % "desired") + "?.dataset.version === '%d'"
                                    % desired_version, what="the desired version")
                await page.wait_for("document.querySelector('#telemetry tr[data-seq=\"%d\"]')"
                                    " !== null" % sequence, what="the message")
                await page.wait_for((call % ("dev1 " + rid)) + "?.dataset.result === 'answered'",
                                    what="the method call answered")
                await page.wait_for("document.querySelector('#calls g.call[data-client=\"idle\"]')"
                                    "?.dataset.result === 'not_online'",
                                    what="the method call not online")
                twin = await page.evaluate(
                    "Object.fromEntries(['desired', 'reported'].map(s => { const e = %s; "
                    "return [s, [e.querySelector('.version').textContent, "
                    "e.querySelector('pre').textContent]]; }))"
                    % (card % "' + s + '"))
                message = await page.evaluate(
                    "[...document.querySelector('#telemetry tr[data-seq=\"%d\"]').children]"
                    ".map(td => td.textContent)" % sequence)
                methods = await page.evaluate(
                    "[...document.querySelectorAll('#calls g.call')].map(g => ({"
                    "client: g.dataset.client, method: g.dataset.method, "
                    "result: g.dataset.result, status: g.dataset.status, "
                    "title: g.querySelector('.call-title').textContent, "
                    "steps: [...g.querySelectorAll('g.step')].map(s => "
                    "[s.dataset.step, s.classList.contains('fail'), s.textContent]), "
                    "times: [...g.querySelectorAll('.when')].map(t => t.textContent)}))")
                await page.screenshot(shot)
                # A page opened now has the twin and the message from its snapshot.
                later = await browser.open(emu.url("/"))
                await later.wait_for((card % "desired") + "?.dataset.version === '%d'"
                                     % desired_version, what="the twin in a new page")
                again = await later.wait_for(
                    "document.querySelector('#telemetry tr[data-seq=\"%d\"] td.body')"
                    "?.textContent" % sequence, what="the message in a new page")
                await later.close()
                await page.close()
                return twin, message, methods, again, reported_version, desired_version, rid
            twin, message, methods, again, reported_version, desired_version, rid = \
                run(scenario(), timeout=120)
            self.assertEqual(twin["reported"][0], "v%d" % reported_version)
            self.assertIn('"fw": "1.2"', twin["reported"][1])
            self.assertEqual(twin["desired"][0], "v%d" % desired_version)
            self.assertIn('"fan": "on"', twin["desired"][1])
            self.assertNotIn("$version", twin["desired"][1] + twin["reported"][1])
            _, device, sequence, properties, body = message
            self.assertEqual((device, body), ("dev1", '{"t":21}'))
            self.assertIn("k=v", properties)
            self.assertIn("contentType=application/json", properties)
            self.assertEqual(again, '{"t":21}')
            # Newest first: the failed call, then the answered one.
            self.assertEqual([(m["client"], m["method"], m["result"]) for m in methods],
                             [("idle", "ping", "not_online"), ("dev1", "reboot", "answered")])
            failed, ok = methods
            self.assertEqual(ok["status"], "200")
            self.assertIn("answered: status 200", ok["title"])
            self.assertEqual([(key, fail) for key, fail, _ in ok["steps"]],
                             [("post", False), ("request", False), ("answer", False),
                              ("response", False)])
            text_of = {key: text for key, _, text in ok["steps"]}
            self.assertIn("POST /twins/dev1/methods: reboot", text_of["post"])
            self.assertIn("$iothub/methods/POST/reboot/?$rid=" + rid, text_of["request"])
            self.assertIn("$iothub/methods/res/200/?$rid=" + rid, text_of["answer"])
            for when in ok["times"]:
                self.assertRegex(when, r"\d\d:\d\d:\d\d\.\d{3}\s+\+\d+ ms")
            # Never sent, and the POST's reply looks failed.
            self.assertEqual([(key, fail) for key, fail, _ in failed["steps"]],
                             [("post", False), ("response", True)])
            self.assertIn("404103", failed["steps"][1][2])
            self.assertIn("not_online", failed["title"])
            self.assertGreater(os.path.getsize(shot), 10000)
            print("screenshot: " + shot)

    def test_a_token_in_the_address_reaches_the_event_stream(self):
        with Emulator("--device", "dev1", "--ui-access", "token") as emu:
            browser = Browser()
            self.addCleanup(browser.close)
            token = urllib.parse.quote(sas_token(emu.host, policy_key("registryRead"),
                                                 "registryRead"), safe="")

            async def scenario():
                refused = await browser.open(emu.url("/"))
                body = await refused.wait_for("document.body && document.body.innerText",
                                              what="the refusal")
                await refused.close()
                page = await browser.open(emu.url("/?token=" + token))
                await page.wait_for("document.getElementById('status')?.textContent === 'live'",
                                    what="its event stream live with the token")
                device = await page.wait_for(
                    "document.querySelector('tr[data-device=\"dev1\"]')?.textContent",
                    what="the device")
                await page.close()
                return body, device
            body, device = run(scenario(), timeout=60)
            self.assertIn("401002", body)
            self.assertIn("dev1", device)


class Access(unittest.TestCase):
    def get(self, emu, path, extra=(), headers=None):
        return curl("GET", emu.url(path), headers or {}, cafile=emu.ca,
                    extra=["--max-time", "5", *extra])

    def test_loopback_by_default_token_otherwise(self):
        with Emulator() as emu:
            for path in ("/", "/metrics"):
                self.assertEqual(self.get(emu, path).status, 200, path)
            # Another address on this machine is not the loopback client a browser here is.
            away = ["--interface", "127.0.0.2"]
            refused = self.get(emu, "/metrics", away)
            self.assertEqual(refused.status, 401)
            self.assertEqual(refused.headers["iothub-errorcode"], "IotHubUnauthorizedAccess")
            self.assertIn("--ui-access open", refused.error()["message"])
            token = sas_token(emu.host, policy_key("registryRead"), "registryRead")
            self.assertEqual(self.get(emu, "/?token=" + urllib.parse.quote(token, safe=""),
                                      away).status, 200)
            self.assertEqual(self.get(emu, "/metrics", away, {"Authorization": token}).status,
                             200)
            device = sas_token(emu.host, policy_key("device"), "device")
            self.assertEqual(self.get(emu, "/metrics", away, {"Authorization": device}).status,
                             401)
            events = EventStream(emu, "/emulator/events?token=" +
                                 urllib.parse.quote(sas_token(emu.host, policy_key("service"),
                                                              "service"), safe=""),
                                 source="127.0.0.2")
            self.assertEqual(events.response.status, 401)  # ServiceConnect cannot read
            events.close()

    def test_open_and_token_modes(self):
        with Emulator("--ui-access", "open") as emu:
            self.assertEqual(self.get(emu, "/metrics", ["--interface", "127.0.0.2"]).status,
                             200)
        with Emulator("--ui-access", "token") as emu:
            self.assertEqual(self.get(emu, "/").status, 401)
            token = sas_token(emu.host, policy_key("iothubowner"), "iothubowner")
            self.assertEqual(self.get(emu, "/", headers={"Authorization": token}).status, 200)


class Events(unittest.TestCase):
    def test_snapshot_then_every_step_then_traffic_once_a_second(self):
        with Emulator("--device", "dev1") as emu:
            agent = device_agent(emu, "dev1", ["echo"])
            self.addCleanup(agent.stop)

            # The agent listens once the broker grants its subscription; the hub hears of that
            # from the broker on its own thread, maybe later. Each connection gets a snapshot of
            # its own: connect until one shows dev1 listening.
            def listening():
                events = EventStream(emu)
                name, snapshot, _ = events.next()
                self.assertEqual(name, "snapshot")
                self.assertEqual([d["deviceId"] for d in snapshot["devices"]], ["dev1"])
                if snapshot["devices"][0]["presence"] == "listening":
                    return events, snapshot
                events.close()
            events, snapshot = wait_until(listening, what="a snapshot with dev1 listening")
            self.addCleanup(events.close)
            self.assertEqual(snapshot["hub"]["httpsPort"], emu.ready["ports"]["https"])
            held = HeldStream(emu, "dev1", "watched")
            steps = []
            while "connected" not in steps:
                name, data, _ = events.next("stream")
                steps.append(data["step"] if data["step"] != "side_connected"
                             else data["side"] + " connected")
            # The agent opens its WebSocket as it sends its answer (as the C SDK does), and the
            # two reach the hub by different paths: the device's side may come before the
            # answer. The service's side comes only after it, since the POST's 200 waits for it.
            self.assertEqual(steps[0], "requested")
            self.assertEqual(sorted(steps[1:4]), ["accepted", "device connected",
                                                  "service connected"])
            self.assertLess(steps.index("accepted"), steps.index("service connected"))
            self.assertEqual(steps[4:], ["connected"])
            ticks = [events.next("traffic")[2] for _ in range(3)]
            # Pushed by the emulator, never faster than once a second.
            gaps = [b - a for a, b in zip(ticks, ticks[1:])]
            self.assertTrue(all(g > 0.8 for g in gaps), gaps)
            held.end()
            name, data, _ = events.next("stream")
            self.assertEqual((data["step"], data["stream"]["state"]), ("closed", "closed"))
            self.assertEqual(data["stream"]["bytesServiceToDevice"], 5)


def metric_values(text):
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name + ("{%s}" % ",".join("%s=%s" % kv for kv in
                                                   sorted(sample.labels.items()))
                                 if sample.labels else "")
            values[key] = sample.value
    return values


class Metrics(unittest.TestCase):
    def test_counters_after_a_scripted_run(self):
        with Emulator("--device", "echoer", "--device", "picky", "--device", "mute") as emu:
            echoer = device_agent(emu, "echoer", ["echo"])
            self.addCleanup(echoer.stop)
            picky = device_agent(emu, "picky", ["echo"], "--accept", "only-this")
            self.addCleanup(picky.stop)
            mute = StreamDevice(emu, "mute")  # listens, never answers
            self.addCleanup(mute.close)
            sent = "x" * 1000 + "\n"
            self.assertEqual(service(emu, "echo", "echoer", input=sent).stdout, sent)
            self.assertEqual(service(emu, "stream", "picky", "--name", "other").returncode, 3)
            self.assertNotEqual(service(emu, "stream", "mute", "--response-timeout", "1")
                                .returncode, 0)
            # A stream's end is counted once its WebSockets are released, just after the
            # clients are done: wait for it.
            values = wait_until(lambda: self.settled(emu, initiated=3), what="every stream over")
            self.assertEqual(values["iothub_streams_initiated_total"], 3)
            self.assertEqual(values["iothub_streams_accepted_total"], 1)
            self.assertEqual(values["iothub_streams_rejected_total"], 1)
            self.assertEqual(values["iothub_streams_timed_out_total"], 1)
            self.assertEqual(values["iothub_streams_active"], 0)
            self.assertEqual(values["iothub_stream_handshake_seconds_count"], 1)
            self.assertEqual(values['iothub_stream_handshake_seconds_bucket{le=+Inf}'], 1)
            self.assertLess(values["iothub_stream_handshake_seconds_sum"], 5)
            self.assertEqual(values["iothub_stream_bytes_relayed_total{direction=service_to_device}"],
                             len(sent))
            self.assertEqual(values["iothub_stream_bytes_relayed_total{direction=device_to_service}"],
                             len(sent))
            self.assertEqual(values["iothub_devices_connected"], 3)
            self.assertEqual(values["iothub_broker_restarts_total"], 0)
            os.kill(broker_pid(emu), signal.SIGKILL)
            wait_until(lambda: metric_values(self.get_metrics(emu))
                       ["iothub_broker_restarts_total"] == 1, timeout=30, what="the restart")

    def settled(self, emu, initiated):
        values = metric_values(self.get_metrics(emu))
        done = values["iothub_streams_initiated_total"] == initiated and \
            values["iothub_streams_active"] == 0
        return values if done else None

    def get_metrics(self, emu):
        res = curl("GET", emu.url("/metrics"), {}, cafile=emu.ca)
        self.assertEqual(res.status, 200)
        self.assertTrue(res.headers["content-type"].startswith("text/plain; version=0.0.4"))
        return res.body


if __name__ == "__main__":
    unittest.main(verbosity=2)
