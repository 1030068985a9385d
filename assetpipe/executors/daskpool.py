"""A TaskPool over a Dask cluster's futures: the same tasks as the local pools, run on its workers.

Each task is one future, submitted with what it needs and nothing more: its light argument (the plan's
job), where its input is (the folder the workers read, or the bytes themselves),
its memory cost as the `MP` resource when every worker declares one (a worker runs tasks side by side
only while their megapixels fit its own `MP`; a task larger than any worker's runs alone), and a
priority in the order submitted (the stages submit the largest first). A bounded window of tasks is on
the cluster at once (a few per worker thread), topped up as results come back, so a catalogue's bytes
are never all in the client's or the scheduler's memory together. A worker that dies takes its
task with it: the scheduler runs the task again on another worker, up to Dask's
`distributed.scheduler.allowed-failures` times (3), and only then is it a TaskFailed. Results come
back in the order they finish, so the caller's progress bar moves over completed futures; `close()`
cancels every future still pending or running.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import testhooks
from .seam import Placement, TaskFailed, Where

# Shipped inputs travel in the task itself, through the scheduler, and not scattered to one worker
# ahead: a worker that dies would take scattered bytes with it, and its task could not run again.
# Dask's warning about a large task is for graphs that could be built on the workers; these cannot.
_LARGEST = "2GiB"

# Where a task's input is: (the folder on this machine, the files of it the task reads, the argument
# the worker's function gets with the input's location)
# A task's inputs: the folder, the files it reads there, those of them this build wrote, the function's argument.
Inputs = Callable[[Any], tuple[Path, tuple[str, ...], tuple[str, ...], Any]]
WorkerFunction = Callable[[Any, Where, int], Any]


@dataclass(frozen=True)
class _Queued:
    key: Any
    argument: Any
    cost: float


def _run(function: WorkerFunction, argument: Any, where: Where, timeout: float) -> Any:
    """On a worker: one task; an unforeseen error is this task's failure, not the build's. With a
    `timeout` (images.timeout), the task gives up waiting for its work after that many seconds: a thread
    inside an encoder cannot be stopped without ending the worker, which assetpipe does not own on a shared
    cluster, so the work runs on to its end in the background and its result is dropped."""
    testhooks.maybe_die()
    if timeout <= 0:
        return _attempt(function, argument, where)
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(_attempt(function, argument, where, stall=True)),
                              name="assetpipe-task", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return TaskFailed(f"took longer than images.timeout ({timeout:g} s) on a Dask worker; stopped waiting")
    return outcome[0]


def _attempt(function: WorkerFunction, argument: Any, where: Where, stall: bool = False) -> Any:
    try:
        if stall:
            testhooks.maybe_stall()
        return function(argument, where, 1)
    except Exception as exc:
        return TaskFailed(f"failed on a Dask worker: {type(exc).__name__}: {exc}".splitlines()[0])


class DaskPool:
    """`submit` tasks, then iterate `results()`: (key, what the function returned | TaskFailed)."""

    def __init__(self, client: Any, placement: Placement, function: WorkerFunction, inputs: Inputs,
                 budget: float | None, window: int, timeout: float = 0.0) -> None:
        self._client = client
        self._timeout = timeout  # seconds a task waits for its work on the worker; 0: no limit
        self._placement = placement
        self._function = function
        self._inputs = inputs
        self._budget = budget  # the smallest worker's MP, or None: the workers declare no MP
        self._window = max(1, window)  # tasks on the cluster at once: shipped bytes are held for these only
        self._queue: deque[_Queued] = deque()
        self._running: dict[str, tuple[Any, Any]] = {}  # future key -> (task key, future)
        self._order = itertools.count()
        self._prefix = f"assetpipe-{uuid.uuid4().hex[:12]}"  # one scheduler may serve many builds

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, key: Any, argument: Any, cost: float) -> None:
        self._queue.append(_Queued(key, argument, cost))

    def results(self) -> Iterator[tuple[Any, Any]]:
        from distributed import as_completed

        finished = as_completed()
        self._send(finished)
        for future in finished:
            key, _ = self._running.pop(future.key)
            yield key, _outcome(future)
            future.release()
            self._send(finished)  # tasks submitted while the caller had this result

    def close(self) -> None:
        self._queue.clear()
        futures = [future for _, future in self._running.values()]
        self._running.clear()
        if futures:
            self._client.cancel(futures, force=True)

    def _send(self, finished: Any) -> None:
        import dask

        while self._queue and len(self._running) < self._window:
            task = self._queue.popleft()
            root, rels, made, argument = self._inputs(task.argument)
            where = self._placement.where(root, rels, made)
            resources = None
            if self._budget is not None and task.cost > 0:
                resources = {"MP": min(task.cost, self._budget)}
            order = next(self._order)
            with dask.config.set({"distributed.admin.large-graph-warning-threshold": _LARGEST}):
                future = self._client.submit(_run, self._function, argument, where, self._timeout,
                                             key=f"{self._prefix}-{order}", resources=resources, priority=-order,
                                             pure=False)
            self._running[future.key] = (task.key, future)
            finished.add(future)


def _outcome(future: Any) -> Any:
    if future.status == "finished":
        return future.result()
    if future.status == "cancelled":
        return TaskFailed("cancelled")
    exc = future.exception()
    if type(exc).__name__ == "KilledWorker":
        return TaskFailed("its Dask worker died on every try (distributed.scheduler.allowed-failures); "
                          "it may need more memory than a worker has")
    return TaskFailed(f"failed on a Dask worker: {type(exc).__name__}: {exc}".splitlines()[0])
