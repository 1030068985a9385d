"""Headless Chromium driven through the DevTools protocol over `--remote-debugging-pipe`.

Chromium reads commands from its fd 3 and writes answers and events to its fd 4, one JSON message each,
ended by a NUL byte. That needs no driver binary, no websocket and no package beyond the standard
library. One reader thread splits what arrives: an answer wakes the caller waiting for its id, an event
goes to the queue of the tab (session) it belongs to. The browser is started with a new empty profile
in a temporary folder and with every background service off, so it never reaches the network by
itself; hosts other than localhost do not resolve at all.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome")
ENV = "ASSETPIPE_CHROMIUM"
_START_S = 30.0  # a cold start on a busy 2-core machine takes 1-3 s
_CALL_S = 30.0
_CLOSE_S = 5.0

# Headless, a throwaway profile, and nothing that calls home: without the background-networking flags
# Chromium opens connections of its own at every start (RECIPES.md). Only 127.0.0.1/localhost resolve.
FLAGS = (
    "--headless=new",
    "--remote-debugging-pipe",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication",
    "--metrics-recording-only",
    "--no-service-autorun",
    "--password-store=basic",
    "--use-mock-keychain",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
)


class ChromiumMissing(Exception):
    """No Chromium to run; the message (one line) says what was looked for."""


class BrowserError(Exception):
    """Chromium would not start, died, or answered a command with an error (one line)."""


class BrowserTimeout(BrowserError):
    """Chromium did not answer (or a page did not load) in time."""


@dataclass(frozen=True)
class Event:
    method: str
    params: dict[str, Any]


def _executable(candidate: str) -> str | None:
    if os.sep in candidate:
        return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None
    return shutil.which(candidate)


def find_chromium(explicit: str | None) -> str:
    """The Chromium to run: `explicit` (a path or a name on PATH), else $ASSETPIPE_CHROMIUM, else the
    first of chromium, chromium-browser, google-chrome on PATH."""
    for given, where in ((explicit, "--chromium"), (os.environ.get(ENV) or None, f"${ENV}")):
        if given:
            found = _executable(given)
            if found is None:
                raise ChromiumMissing(f"{where} {given!r} is not an executable file")
            return found
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumMissing(f"none of {', '.join(NAMES)} is on PATH (install Chromium, or give --chromium PATH "
                          f"or ${ENV})")


class Browser:
    """A headless Chromium for the length of a `with` block. `call` sends one command and returns its
    result; `tab()` opens a page in a fresh browser context (no cache, no cookies shared with any other)."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._answers: dict[int, dict[str, Any]] = {}
        self._queues: dict[str, collections.deque[Event]] = {}
        self._closed = False
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._to_browser = -1
        self._from_browser = -1
        self._reader: threading.Thread | None = None

    def __enter__(self) -> Browser:
        self._folder = tempfile.TemporaryDirectory(prefix="assetpipe-chromium-")
        folder = Path(self._folder.name)
        args = [self.executable, *FLAGS, f"--user-data-dir={folder / 'profile'}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        args.append("about:blank")
        command_read, command_write = os.pipe()
        answer_read, answer_write = os.pipe()
        try:
            with open(folder / "stderr.log", "wb") as log:
                # the shell only moves the two pipe ends to fds 3 and 4, then becomes Chromium (exec)
                self._process = subprocess.Popen(
                    ["/bin/sh", "-c", 'exec "$@" 3<&0 4>&1 </dev/null >/dev/null', "sh", *args],
                    stdin=command_read, stdout=answer_write, stderr=log, start_new_session=True)
        except OSError as exc:
            for fd in (command_read, command_write, answer_read, answer_write):
                os.close(fd)
            self._folder.cleanup()
            raise BrowserError(f"{self.executable}: cannot start: {exc.strerror or exc}") from None
        os.close(command_read)
        os.close(answer_write)
        self._to_browser, self._from_browser = command_write, answer_read
        self._reader = threading.Thread(target=self._read, name="chromium-pipe", daemon=True)
        self._reader.start()
        try:
            self.call("Browser.getVersion", timeout_s=_START_S)
        except BrowserError as exc:
            tail = self._stderr_tail()
            self.__exit__(None, None, None)
            raise BrowserError(f"{self.executable} did not start: {exc}{tail}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is not None and process.poll() is None and not self._closed:
            with contextlib.suppress(BrowserError):
                self.call("Browser.close", timeout_s=_CLOSE_S)
        if process is not None:
            try:
                process.wait(timeout=_CLOSE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for fd in (self._to_browser, self._from_browser):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to_browser = self._from_browser = -1
        if self._reader is not None:
            self._reader.join(timeout=_CLOSE_S)
        if self._folder is not None:
            shutil.rmtree(self._folder.name, ignore_errors=True)  # Chromium's helpers may still be writing
            with contextlib.suppress(OSError):
                self._folder.cleanup()
        self._process = self._reader = self._folder = None

    def _stderr_tail(self) -> str:
        if self._folder is None:
            return ""
        try:
            lines = (Path(self._folder.name) / "stderr.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return f" ({lines[-1].strip()})" if lines else ""

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue  # not JSON: nothing of ours can wait for it
                self._dispatch(message)
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _dispatch(self, message: dict[str, Any]) -> None:
        with self._lock:
            if "id" in message:
                self._answers[message["id"]] = message
            else:
                queue = self._queues.get(message.get("sessionId", ""))
                if queue is None:
                    return  # an event nobody listens to (browser-level, or a tab already closed)
                queue.append(Event(message.get("method", ""), message.get("params", {})))
            self._lock.notify_all()

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             *, timeout_s: float = _CALL_S) -> dict[str, Any]:
        """Send one command (to a tab's session when given) and return its result."""
        with self._lock:
            if self._closed or self._to_browser < 0:
                raise BrowserError(f"Chromium is gone (sending {method})")
            ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._to_browser, data):]
        except OSError as exc:
            raise BrowserError(f"Chromium is gone (sending {method}: {exc.strerror})") from None
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if self._closed:
                    raise BrowserError(f"Chromium closed the pipe (waiting for {method})")
                if left <= 0:
                    raise BrowserTimeout(f"Chromium did not answer {method} within {timeout_s:g} s")
                self._lock.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error'].get('message', answer['error'])}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def next_event(self, session: str, timeout_s: float) -> Event | None:
        """The tab's next event, waiting at most `timeout_s`; None when none came."""
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._lock:
            queue = self._queues.get(session)
            if queue is None:
                raise BrowserError(f"no open tab has session {session}")
            while not queue:
                left = deadline - time.monotonic()
                if self._closed:
                    raise BrowserError("Chromium closed the pipe")
                if left <= 0:
                    return None
                self._lock.wait(left)
            return queue.popleft()

    @contextlib.contextmanager
    def tab(self) -> Iterator[str]:
        """A new page in a new, empty browser context; yields its session id, closes both afterwards."""
        context = self.call("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
        try:
            target = self.call("Target.createTarget", {"url": "about:blank", "browserContextId": context})
            session = self.call("Target.attachToTarget",
                                {"targetId": target["targetId"], "flatten": True})["sessionId"]
            with self._lock:
                self._queues[session] = collections.deque()
            try:
                yield session
            finally:
                with self._lock:
                    self._queues.pop(session, None)
                with contextlib.suppress(BrowserError):
                    self.call("Target.closeTarget", {"targetId": target["targetId"]}, timeout_s=_CLOSE_S)
        finally:
            with contextlib.suppress(BrowserError):
                self.call("Target.disposeBrowserContext", {"browserContextId": context}, timeout_s=_CLOSE_S)
