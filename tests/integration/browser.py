"""A real headless Chromium driven over the DevTools protocol (python3-websockets), for the web
page's test. Ready when Chromium prints its DevTools address; nothing sleeps."""
import asyncio
import base64
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

import websockets

from mqtt_peer import die_with_parent

CHROMIUM = os.environ.get("IOTHUB_CHROMIUM", "/usr/bin/chromium")
READY_TIMEOUT = 30.0


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="iothub-chromium-")
        # The page's certificate comes from the emulator's throwaway CA, made for this run.
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--ignore-certificate-errors", "--no-first-run", "--remote-debugging-port=0",
             "--window-size=1400,1000", "--user-data-dir=" + self.profile, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            preexec_fn=die_with_parent, start_new_session=True)
        self.ws_url = self._devtools_url()
        self.ids = itertools.count(1)

    def _devtools_url(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.proc.stderr], [], [], 0.5)
            if readable:
                line = self.proc.stderr.readline()
                if line == "":
                    break
                if line.startswith("DevTools listening on "):
                    return line.split(" on ", 1)[1].strip()
        self.close()
        raise AssertionError("chromium did not start")

    async def open(self, url):
        """A new tab at url; returns a Page."""
        conn = await websockets.connect(self.ws_url, max_size=None)
        page = Page(self, conn)
        target = await page.call("Target.createTarget", url="about:blank")
        attached = await page.call("Target.attachToTarget", targetId=target["targetId"],
                                   flatten=True)
        page.session = attached["sessionId"]
        await page.call("Page.enable")
        await page.call("Page.navigate", url=url)
        return page

    def close(self):
        # Chromium's helper processes share its process group: all of them go.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc.stderr.close()
        for _ in range(50):  # a helper may still be writing its last file as it dies
            shutil.rmtree(self.profile, ignore_errors=True)
            if not os.path.exists(self.profile):
                break
            time.sleep(0.1)


class Page:
    def __init__(self, browser, conn):
        self.browser = browser
        self.conn = conn
        self.session = None

    async def call(self, method, **params):
        message_id = next(self.browser.ids)
        message = {"id": message_id, "method": method, "params": params}
        if self.session is not None:
            message["sessionId"] = self.session
        await self.conn.send(json.dumps(message))
        while True:
            reply = json.loads(await self.conn.recv())
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise AssertionError("%s: %s" % (method, reply["error"]))
                return reply["result"]

    async def evaluate(self, expression):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError("%s: %s" % (expression, result["exceptionDetails"]))
        return result["result"].get("value")

    async def wait_for(self, expression, timeout=15.0, what=None):
        """Re-evaluates until it is truthy: the page updates from its event stream, on its own
        time."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = await self.evaluate(expression)
            except AssertionError:
                value = None  # the page is still loading
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("the page never showed %s" % (what or expression))
            await asyncio.sleep(0.05)

    async def screenshot(self, path):
        shot = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    async def close(self):
        await self.conn.close()
