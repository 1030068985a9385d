"""How each run of `assetpipe watch` is carried out: on one builder thread for the watcher's life, and
told to the user through an Observer that shows no progress and repeats no failure or warning the last
run already reported (unless its file has just changed).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..model import Failure, Notice, Observer

T = TypeVar("T")


class _RunObserver:
    """A run's Observer: no progress (one line per run says enough), and a failure or a warning only
    when the last run did not report it too, or its file has just changed."""

    def __init__(self, inner: Observer) -> None:
        self.inner = inner
        self.progress = True  # the first build may show progress; the runs after it do not
        self._before: set[tuple[str, str]] = set()
        self._now: set[tuple[str, str]] = set()
        self._changed: set[str] = set()

    def begin(self, changed: list[str], *, progress: bool) -> None:
        self._before, self._now, self._changed, self.progress = self._now, set(), set(changed), progress

    def start(self, total: int, label: str) -> None:
        if self.progress:
            self.inner.start(total, label)

    def advance(self, output: str, outcome: str) -> None:
        if self.progress:
            self.inner.advance(output, outcome)

    def done(self) -> None:
        if self.progress:
            self.inner.done()

    def failure(self, failure: Failure) -> None:
        if self._new((failure.file, "error: " + failure.reason)):
            self.inner.failure(failure)

    def notice(self, notice: Notice) -> None:
        if self._new((notice.file, notice.message)):
            self.inner.notice(notice)

    def _new(self, key: tuple[str, str]) -> bool:
        self._now.add(key)
        return key not in self._before or key[0] in self._changed


class _Builder:
    """One thread, for the watcher's life, that runs its builds one at a time. The image workers a build
    starts are tied to the thread that started them (they die when it ends: encodepool.py), so one
    thread for every run keeps them from run to run."""

    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[tuple[Callable[[], Any], list[Any], threading.Event]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="assetpipe-run", daemon=True).start()

    def call(self, task: Callable[[], T]) -> T:
        """Run `task` on the builder's thread and return what it returns (or raise what it raised)."""
        outcome: list[Any] = []
        finished = threading.Event()
        self._tasks.put((task, outcome, finished))
        finished.wait()
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def _serve(self) -> None:
        while True:
            task, outcome, finished = self._tasks.get()
            try:
                outcome.append(task())
            except BaseException as exc:  # handed to the waiting thread
                outcome.append(exc)
            finished.set()
            # not held while the next task is awaited: a full run's result (its plan: every file's job)
            del task, outcome, finished
