"""Loads a page in Debian's headless `chromium` and reports what a person would see: console
messages, exceptions, network requests, the result of a script, a PNG screenshot and a PDF print.

It speaks the Chrome DevTools Protocol over --remote-debugging-pipe (file descriptors 3 and 4,
JSON messages ended by a NUL byte), so it needs nothing beyond the Python standard library.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class ChromiumError(Exception):
    pass


class Page:
    """One headless browser with one page. Use as a context manager."""

    def __init__(self, width=1100, height=900, timeout=60):
        if CHROMIUM is None:
            raise ChromiumError("chromium is not installed (./run.sh installs Debian's chromium package)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="sovgw-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds():
            # Fresh copies first: either pipe end may itself be descriptor 3 or 4.
            commands, replies = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=wire_fds,
            pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events = []
        self.session = None
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.session = None
                self._send("Browser.close", {})
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stderr.close()
        os.close(self._to_child)
        os.close(self._from_child)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _send(self, method, params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.time()
            if left <= 0:
                raise ChromiumError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise ChromiumError(f"chromium exited: {self.proc.stderr.read().decode(errors='replace')[-2000:]}")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, **params):
        """Sends a command and returns its result; events that arrive meanwhile are kept."""
        sent = self._send(method, params)
        deadline = time.time() + self.timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == sent:
                if "error" in message:
                    raise ChromiumError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for_event(self, method):
        deadline = time.time() + self.timeout
        while not any(e["method"] == method for e in self.events):
            message = self._read_message(deadline)
            if "method" in message:
                self.events.append(message)

    def load(self, path):
        """Navigates to a local file and waits for its load event."""
        self.url = "file://" + os.path.abspath(path)
        result = self.call("Page.navigate", url=self.url)
        if result.get("errorText"):
            raise ChromiumError(f"loading {path}: {result['errorText']}")
        self.wait_for_event("Page.loadEventFired")
        # A round trip after the load event, so that messages logged during it have arrived.
        self.evaluate("1")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise ChromiumError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self):
        """Console errors and warnings, uncaught exceptions, log entries at warning or error level
        (CSP violations, failed loads) and requests for anything but the page itself."""
        found = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                found.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p['args']]}")
            elif e["method"] == "Runtime.exceptionThrown":
                found.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                found.append(f"log {p['entry']['level']} ({p['entry']['source']}): {p['entry']['text']}")
            elif e["method"] == "Network.requestWillBeSent" and p["request"]["url"] != self.url:
                found.append(f"network request: {p['request']['url']}")
        return found

    def screenshot(self, path):
        """The whole page (not only the viewport) as a PNG."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return size

    def print_pdf(self):
        return base64.b64decode(self.call("Page.printToPDF", printBackground=True)["data"])


def main():
    import sys
    if len(sys.argv) != 3:
        sys.exit("usage: chromium_page.py PAGE.html OUT.png   (screenshot of the whole page; exit 1 on any "
                 "console error, exception or fetch)")
    with Page() as page:
        page.load(sys.argv[1])
        page.screenshot(sys.argv[2])
        problems = page.problems()
    for p in problems:
        print(p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
