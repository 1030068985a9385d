"""A Dask cluster for one build: connected to (`dask://HOST:PORT`) or started (`dask-local[:N]`), its
workers' encoder versions checked against this machine's before any task is sent, closed at the end.

Everything that can stop a build here does so before anything is written, as a UsageError (one line,
exit 2): dask not installed, no scheduler at the address, a scheduler without workers, a worker whose
encoders differ (their versions are in every cache key, so a worker with another libavif would put
other bytes under the same key). Dask's own log lines (a worker lost, a task run again) are kept off
the terminal while the build runs: what matters reaches the build's report as a failure.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import UsageError
from .daskpool import DaskPool, Inputs, WorkerFunction
from .seam import ExecutorSpec, Placement

CONNECT_SECONDS = 5.0  # a scheduler that does not answer within this is a wrong address or a down host
WORKERS_SECONDS = 30.0  # a scheduler with no worker after this has none coming
WINDOW_PER_THREAD = 4  # tasks on the cluster per worker thread: enough that no worker waits for the next
_LOGGERS = ("distributed", "tornado")


@dataclass(frozen=True)
class Session:
    """A connected cluster: TaskPools on it, and how its workers read the build folder."""

    client: Any
    placement: Placement
    budget: float | None  # the smallest worker's `MP` resource, None when a worker declares none

    def pool(self, function: WorkerFunction, inputs: Inputs, timeout: float = 0.0) -> DaskPool:
        threads = sum(self.client.nthreads().values())
        return DaskPool(self.client, self.placement, function, inputs, self.budget, WINDOW_PER_THREAD * threads,
                        timeout)


@contextmanager
def session(spec: ExecutorSpec, versions: Callable[[], dict[str, str]], *, source: Path,
            workers_dir: str | None, megapixels: float, cores: int) -> Iterator[Session]:
    """Connect to (or start) the cluster `spec` names, check it, and close it on leaving."""
    try:
        import distributed
    except ImportError:
        raise UsageError(f"--executor {spec.name}: needs dask and distributed, which are not installed; "
                         "pip install 'assetpipe[dask]'") from None
    quiet = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cluster = None
    client = None
    try:
        if spec.kind == "dask-local":
            cluster = distributed.LocalCluster(n_workers=spec.workers or cores, threads_per_worker=1,
                                               processes=True, dashboard_address=":0",  # any free port: no warning
                                               resources={"MP": megapixels}, silence_logs=logging.CRITICAL)
            client = distributed.Client(cluster)
            placement = Placement()
        else:
            client = _connect(distributed, spec)
            shared = {os.path.realpath(source): workers_dir} if workers_dir else {}
            placement = Placement(shared, same_machine=False)
        yield Session(client, placement, _check(client, spec, versions))
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)


def _connect(distributed: Any, spec: ExecutorSpec) -> Any:
    try:
        return distributed.Client(spec.address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--executor {spec.name}: no Dask scheduler answers at {spec.address} "
                         f"({reason[:160]})") from None


def _check(client: Any, spec: ExecutorSpec, versions: Callable[[], dict[str, str]]) -> float | None:
    """Every worker's encoder versions against this machine's; the smallest worker's `MP`."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_SECONDS)
    except (OSError, TimeoutError):
        raise UsageError(f"--executor {spec.name}: the scheduler has no workers") from None
    ours = versions()
    theirs = client.run(versions, on_error="return")
    for worker, found in sorted(theirs.items()):
        if isinstance(found, BaseException):  # no assetpipe there, or no Pillow
            raise UsageError(f"--executor {spec.name}: worker {worker} cannot report its encoders "
                             f"({type(found).__name__}: {str(found).splitlines()[0][:160] if str(found) else ''}); "
                             "every worker needs assetpipe and the client's encoders")
        differ = [f"{name} {ours.get(name)} here, {found.get(name)} there"
                  for name in sorted(set(ours) | set(found)) if ours.get(name) != found.get(name)]
        if differ:
            raise UsageError(f"--executor {spec.name}: worker {worker} has other encoders ({'; '.join(differ)}); "
                             "every worker needs the client's versions (they are part of the cache key)")
    budgets = [info.get("resources", {}).get("MP") for info in client.scheduler_info()["workers"].values()]
    return None if not budgets or None in budgets else float(min(budgets))
