"""The one seam between a stage and whatever runs its encodes, and what crosses it.

A stage submits tasks (a key, an argument, a cost) and iterates `results()`: (key, what the function
returned, or TaskFailed), in the order they finish; `close()` stops everything still running. The local
pool of worker processes (images/encodepool.py) and the Dask pool (daskpool.py) both are TaskPools, so
a stage's plan and the way it takes its results do not change with the executor.

An executor is named `local`, `dask://HOST:PORT` (a running scheduler) or `dask-local[:N]` (a
LocalCluster of N worker processes started for the build). A task reads its input where the worker can
reach it (`Placement`): the build folder itself (the machine's own workers), the path or fsspec URL the
user said the workers see it at, or bytes the client ships with the task.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

LOCAL = "local"
_DASK = re.compile(r"dask://(?P<host>[^\s/:]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})")
_DASK_LOCAL = re.compile(r"dask-local(?::(?P<n>\d{1,3}))?")


@dataclass(frozen=True)
class TaskFailed:
    """A task that produced nothing: over its time limit, or its worker died."""

    reason: str


class TaskPool(Protocol):
    """Where a stage's tasks run: submit them, then iterate their results as they finish."""

    def submit(self, key: Any, argument: Any, cost: float) -> None: ...

    def results(self) -> Iterator[tuple[Any, Any]]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ExecutorSpec:
    """`local`, or a Dask scheduler's address, or a LocalCluster of `workers` processes."""

    kind: str  # "local", "dask", "dask-local"
    address: str = ""  # tcp://HOST:PORT for "dask"
    workers: int = 0  # for "dask-local": 0 means one per core

    @property
    def name(self) -> str:
        if self.kind == "dask":
            return "dask://" + self.address.removeprefix("tcp://")
        if self.kind == "dask-local":
            return f"dask-local:{self.workers}" if self.workers else "dask-local"
        return LOCAL


def parse_executor(text: Any) -> ExecutorSpec:
    """The executor a user named; ValueError with the forms there are."""
    if text == LOCAL:
        return ExecutorSpec(LOCAL)
    if isinstance(text, str) and (m := _DASK.fullmatch(text)) and 0 < int(m["port"]) < 65_536:
        return ExecutorSpec("dask", f"tcp://{m['host']}:{int(m['port'])}")
    if isinstance(text, str) and (m := _DASK_LOCAL.fullmatch(text)) and (m["n"] is None or int(m["n"]) >= 1):
        return ExecutorSpec("dask-local", workers=int(m["n"] or 0))
    raise ValueError(f'expected "local", "dask://HOST:PORT" or "dask-local[:N]" (N worker processes), got {text!r}')


@dataclass(frozen=True)
class Shipped:
    """Input bytes the client sent with a task, by path relative to the build folder."""

    files: Mapping[str, bytes] = field(default_factory=dict)


Where = Path | str | Shipped  # a folder on the worker, an fsspec URL of the folder, or shipped bytes


def read_input(where: Where, rel: str) -> bytes:
    """One input of a task, on the worker: FileNotFoundError when it is not there."""
    if isinstance(where, Shipped):
        if rel not in where.files:
            raise FileNotFoundError(rel)
        return where.files[rel]
    if isinstance(where, str):
        import fsspec  # only a worker told to read the folder at a URL needs it

        with fsspec.open(f"{where.rstrip('/')}/{rel}", "rb") as handle:
            return handle.read()
    return (where / rel).read_bytes()


@dataclass(frozen=True)
class Placement:
    """Where workers find the build folder's files: `shared` maps a folder (by its real path on the
    client) to where the workers read it; `same_machine` workers read every folder where it is."""

    shared: Mapping[str, str] = field(default_factory=dict)
    same_machine: bool = True

    def where(self, root: Path, rels: Iterable[str]) -> Where:
        """Where a task finds `rels` of `root`: there, the user's mapping of it, or shipped bytes
        (a file the client cannot read is left out: the worker reports it gone)."""
        if self.same_machine:
            return root
        seen = self.shared.get(str(root.resolve()))
        if seen is not None:
            return seen if "://" in seen else Path(seen)
        files: dict[str, bytes] = {}
        for rel in rels:
            try:
                files[rel] = (root / rel).read_bytes()
            except OSError:
                continue
        return Shipped(files)
