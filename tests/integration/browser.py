"""Headless Chromium driven over the Chrome DevTools Protocol, stdlib only.

Chromium comes from Debian (``apt-get install -y chromium``; CI's ``.ci/run`` installs it;
chromedriver is not needed). The protocol runs over ``--remote-debugging-pipe``: Chromium
reads commands from its fd 3 and writes replies and events to its fd 4, each message one
JSON text ended by a NUL byte - no port, no websocket. A missing Chromium fails the test that
asks for it, with the command that installs it; it is never skipped.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get install -y chromium"
COMMAND_TIMEOUT_S = 30.0
LOAD_TIMEOUT_S = 30.0

FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--no-proxy-server",
    "--remote-debugging-pipe",
)  # fmt: skip


# Puts the pipe ends where Chromium expects them, fds 3 and 4, then becomes Chromium (via
# copies first: either end may already be fd 3 or 4).
_TRAMPOLINE = (
    "import os, sys; r, w = os.dup(int(sys.argv[1])), os.dup(int(sys.argv[2])); "
    "os.dup2(r, 3); os.dup2(w, 4); os.set_inheritable(3, True); os.set_inheritable(4, True); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


def chromium_path() -> Path:
    """Debian's Chromium, or fail (not skip) saying how to install it."""
    found = CHROMIUM if CHROMIUM.is_file() else None
    if found is None and (which := shutil.which("chromium")):
        found = Path(which)
    if found is None:
        pytest.fail(f"headless Chromium is needed at {CHROMIUM}: run `{INSTALL}` (CI does)")
    return found


class BrowserError(RuntimeError):
    """Chromium answered a command with an error, went away, or did not answer in time."""


class Browser:
    """One Chromium process; ``page()`` opens a tab to drive."""

    def __init__(self, profile_dir: Path, window: tuple[int, int] = (1280, 900)) -> None:
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        self.log_path = profile_dir.with_suffix(".log")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TRAMPOLINE, str(commands_read), str(replies_write),
             str(chromium_path()), *FLAGS, f"--user-data-dir={profile_dir}",
             f"--window-size={window[0]},{window[1]}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            pass_fds=(commands_read, replies_write),
        )  # fmt: skip
        os.close(commands_read)
        os.close(replies_write)
        self._writer: IO[bytes] = os.fdopen(self._commands, "wb")
        self._next_id = 0
        self._lock = threading.Lock()
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._replies, "rb", buffering=0) as replies:
            while chunk := replies.read(1 << 16):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self._messages.put(json.loads(message))
        self._messages.put(None)

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send a command and wait for its result; events that arrive meanwhile are kept."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            self._writer.write(json.dumps(message).encode() + b"\0")
            self._writer.flush()
            deadline = time.monotonic() + COMMAND_TIMEOUT_S
            while True:
                reply = self._next_message(deadline, method)
                if reply.get("id") == ident:
                    if "error" in reply:
                        raise BrowserError(f"{method}: {reply['error']}")
                    result: dict[str, Any] = reply.get("result", {})
                    return result
                self.events.append(reply)

    def wait_for(self, method: str, session: str, timeout_s: float = LOAD_TIMEOUT_S) -> None:
        """Wait until the event ``method`` of ``session`` has arrived (then forget it)."""
        with self._lock:
            deadline = time.monotonic() + timeout_s
            while True:
                for event in self.events:
                    if event.get("method") == method and event.get("sessionId") == session:
                        self.events.remove(event)
                        return
                self.events.append(self._next_message(deadline, method))

    def _next_message(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        try:
            message = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise BrowserError(f"no answer to {waiting_for} in time") from None
        if message is None:
            raise BrowserError(f"Chromium went away; its log: {self.log_path}")
        return message

    def page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        return Page(self, str(session["sessionId"]))

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self._writer, self._log):
            with contextlib.suppress(OSError):
                stream.close()
        self._reader.join(10)


class Page:
    """A tab, with the Page, Network, Runtime and Log domains on."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def navigate(self, url: str) -> None:
        """Load ``url`` and wait for its load event (every image loaded or failed)."""
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"{url}: {result['errorText']}")
        self.browser.wait_for("Page.loadEventFired", self.session)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression, run by DevTools (not by the page, so
        the page's Content-Security-Policy does not apply to it)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(data["data"]))

    def events(self, method: str) -> list[dict[str, Any]]:
        """The parameters of every ``method`` event of this tab so far."""
        return [
            e["params"]
            for e in self.browser.events
            if e.get("method") == method and e.get("sessionId") == self.session
        ]

    def responses(self) -> dict[str, dict[str, Any]]:
        """URL -> the last response (Network.Response) received for it."""
        return {
            r["response"]["url"]: r["response"] for r in self.events("Network.responseReceived")
        }

    def request_headers(self, url: str) -> dict[str, str]:
        """The headers Chromium really sent for ``url`` (lower-cased names)."""
        ids = {
            e["requestId"] for e in self.events("Network.requestWillBeSent")
            if e["request"]["url"] == url
        }  # fmt: skip
        for extra in self.events("Network.requestWillBeSentExtraInfo"):
            if extra["requestId"] in ids:
                return {k.lower(): v for k, v in extra["headers"].items()}
        raise BrowserError(f"no request headers seen for {url}")

    def console(self) -> list[str]:
        """Log entries (CSP violations land here) and console messages."""
        entries = [e["entry"]["text"] for e in self.events("Log.entryAdded")]
        calls = self.events("Runtime.consoleAPICalled")
        return entries + [str(c.get("args")) for c in calls]
