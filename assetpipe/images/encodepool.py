"""Worker processes for the image encodes: a small pool whose tasks can be stopped.

A thread cannot be stopped in the middle of a C encoder; a process can. Each worker runs one task at a
time. A task still running after `timeout` seconds has its worker killed (and replaced when more work
waits); so does every worker when the pool closes (`close()`, the end of a `with`, Ctrl-C), within a
second. Workers only compute and send their result back: they write no files, so killing one leaves
nothing behind.

Memory is bounded by admission: each task has a cost (the image's megapixels) and a task starts only
while the costs of the running tasks stay within `budget` (one task always runs, whatever its cost).
Smaller tasks fill in beside a large one. A task that has the machine to itself, because its cost
takes the whole budget or because it is the last one and nothing else runs, is told so: the function
is called as `function(argument, cores)`, with `cores` the pool's size then and 1 otherwise, so it
may use the cores that would otherwise sit idle (the image encodes run side by side).

One pool may serve many runs of `results()` (`assetpipe watch` keeps its workers from one run to
the next, and `prestart()`s them while it waits for a change, so a changed photo does not wait for a
fresh interpreter). The workers are spawned (a fresh interpreter, about 0.3 s to start, in
parallel): forking the caller, which may run watchdog's threads, could copy a lock held
by another thread, and a forkserver's workers would not be the caller's children, so their CPU time
would be missing from the caller's (what `time` and the benchmarks report).
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ..executors.seam import TaskFailed

__all__ = ["EncodePool", "TaskFailed"]

_READY = "ready"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True)
class _Task:
    key: Any
    argument: Any
    cost: float


class _Worker:
    def __init__(self, context: Any, function: Callable[[Any, int], Any]) -> None:
        self.connection, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, function, os.getpid()), daemon=True,
                                       name="assetpipe-encode")
        self.process.start()
        theirs.close()
        self.ready = False
        self.task: _Task | None = None
        self.deadline = 0.0

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(1)
        self.connection.close()


def _serve(connection: Connection, function: Callable[[Any, int], Any], parent: int) -> None:
    """A worker's loop: receive an argument, send back what `function` returns; None ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it kills us
    _die_with(parent)
    connection.send(_READY)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        argument, cores = message
        try:
            result = function(argument, cores)
        except Exception as exc:  # a bug or an encoder's unforeseen error: this task fails, not the build
            result = TaskFailed(f"failed: {type(exc).__name__}: {exc}".splitlines()[0])
        try:
            connection.send(result)
        except OSError:  # the parent is gone (it ended without closing the pool): nobody wants the result
            return
        del result
        _give_back_memory()


def _die_with(parent: int) -> None:
    """On Linux, have the kernel kill this worker when the thread that started it ends, however it ends
    (`assetpipe watch` leaves with os._exit on Ctrl-C; a SIGKILL skips every clean-up): an orphaned
    worker would otherwise finish a long encode for nobody. Elsewhere the pipe's end does it, later."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: prctl is not there
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the request above was in place
        os._exit(0)


def _give_back_memory() -> None:
    """glibc keeps freed heap memory for reuse: after a large image an idle worker would go on holding
    tens of megabytes (55 MB after a 9 MP photo). malloc_trim returns it to the system."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(None).malloc_trim(0)


class EncodePool:
    """This machine's TaskPool (executors/seam.py) for the image encodes: `submit` tasks, then iterate
    `results()`: (key, what the function returned | TaskFailed), in the order they finish. Use as a
    context manager, or call `close()`."""

    def __init__(self, function: Callable[[Any, int], Any], workers: int, timeout: float, budget: float) -> None:
        self._function = function
        self._size = max(1, workers)
        self._timeout = timeout
        self._budget = budget
        self._context = multiprocessing.get_context("spawn")
        self._queue: list[_Task] = []
        self._workers: list[_Worker] = []

    def __enter__(self) -> EncodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, key: Any, argument: Any, cost: float) -> None:
        """Queue a task; tasks start in the order submitted, as far as the memory budget allows."""
        self._queue.append(_Task(key, argument, cost))

    def prestart(self) -> None:
        """Start every worker now, replacing any that ended meanwhile; they get ready in the background."""
        self._prune()
        while len(self._workers) < self._size:
            self._workers.append(_Worker(self._context, self._function))

    def pids(self) -> tuple[int, ...]:
        """The worker processes' ids (none before the first task or `prestart()`)."""
        return tuple(w.process.pid for w in self._workers if w.process.pid is not None)

    def results(self) -> Iterator[tuple[Any, Any]]:
        self._prune()
        while self._queue or any(w.task for w in self._workers):
            self._dispatch()
            busy = [w for w in self._workers if w.task is not None or not w.ready]
            now = time.monotonic()
            deadlines = [w.deadline for w in busy if w.task is not None and w.deadline != math.inf]
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            ready = wait([w.connection for w in busy] + [w.process.sentinel for w in busy], timeout)
            now = time.monotonic()
            for worker in busy:
                if worker.connection in ready or worker.process.sentinel in ready:
                    finished = self._receive(worker)
                elif worker.task is not None and now >= worker.deadline:
                    finished = (worker.task.key, TaskFailed(
                        f"took longer than images.timeout ({self._timeout:g} s); stopped"))
                    self._retire(worker)
                else:
                    continue
                if finished is not None:
                    yield finished

    def close(self) -> None:
        """Stop every worker now (a running encode included) and forget the queued tasks."""
        self._queue.clear()
        for worker in self._workers:
            worker.kill()
        self._workers.clear()

    def _dispatch(self) -> None:
        """Start workers for the work there is, then tasks on the idle ones within the memory budget."""
        wanted = min(self._size, len(self._queue) + sum(w.task is not None for w in self._workers))
        while len(self._workers) < wanted:
            self._workers.append(_Worker(self._context, self._function))
        while self._queue:
            running = [w.task for w in self._workers if w.task is not None]
            spent = sum(t.cost for t in running)
            task = next((t for t in self._queue if not running or spent + t.cost <= self._budget), None)
            idle = next((w for w in self._workers if w.task is None and w.ready), None)
            if task is None or idle is None:
                return  # a worker still starting says when it is ready
            self._queue.remove(task)
            alone = not running and (task.cost >= self._budget or not self._queue)
            idle.task = task
            idle.deadline = time.monotonic() + self._timeout if self._timeout > 0 else math.inf  # 0: no limit
            idle.connection.send((task.argument, self._size if alone else 1))

    def _receive(self, worker: _Worker) -> tuple[Any, Any] | None:
        try:
            message = worker.connection.recv()
        except (EOFError, OSError):
            task = worker.task
            self._retire(worker)
            if task is None and worker.ready:  # an idle worker ended: another is started when needed
                return None
            if task is None:
                raise RuntimeError("an image worker could not start") from None
            code = worker.process.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            return task.key, TaskFailed(f"the encoder process died ({how})")
        if message == _READY and worker.task is None:
            worker.ready = True
            return None
        task, worker.task = worker.task, None
        assert task is not None
        return task.key, message

    def _prune(self) -> None:
        """Let go of idle workers that ended (killed from outside, or their starting thread ended)."""
        for worker in [w for w in self._workers if w.task is None and not w.process.is_alive()]:
            self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        self._workers.remove(worker)
