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

import hashlib
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


@dataclass(frozen=True)
class Mirror:
    """The build folder as the workers see it elsewhere (`--workers-dir`): a folder at another path, or an
    fsspec URL. A copy the user keeps in step with the folder, so its bytes may lag behind."""

    location: str
    files: Mapping[str, bytes] = field(default_factory=dict)  # what this build wrote: no mirror has it yet

    @property
    def url(self) -> bool:
        return "://" in self.location

    def read(self, rel: str) -> bytes:
        if rel in self.files:
            return self.files[rel]
        if not self.url:
            return (Path(self.location) / rel).read_bytes()
        import fsspec  # only a worker told to read the folder at a URL needs it

        with fsspec.open(f"{self.location.rstrip('/')}/{rel}", "rb") as handle:
            return handle.read()


Where = Path | Mirror | Shipped  # the build folder itself (this machine's workers), a mirror of it, or bytes


def read_input(where: Where, rel: str) -> bytes:
    """One input of a task, on the worker: FileNotFoundError when it is not there."""
    if isinstance(where, Shipped):
        if rel not in where.files:
            raise FileNotFoundError(rel)
        return where.files[rel]
    if isinstance(where, Mirror):
        return where.read(rel)
    return (where / rel).read_bytes()


def read_planned(where: Where, rel: str, sha256: str) -> bytes | str:
    """A task's input with the bytes the plan hashed (`sha256`), or why not, in one line: read where the
    worker finds it and checked there, so a file changed since the scan (or a stale mirror) never encodes."""
    mirror = where.location if isinstance(where, Mirror) else None
    try:
        data = read_input(where, rel)
    except FileNotFoundError:
        return f"not found at {mirror} (--workers-dir)" if mirror else "vanished during the build"
    except OSError as exc:
        return f"cannot read{f' at {mirror}' if mirror else ''}: {exc.strerror or exc}"
    except Exception as exc:  # an fsspec back end's own errors (credentials, a bucket) are one file's failure
        if mirror is None:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return f"cannot read at {mirror}: {type(exc).__name__}{f': {first}' if first else ''}"
    if hashlib.sha256(data).hexdigest() != sha256:
        if mirror:
            return (f"the copy at {mirror} (--workers-dir) is not the build folder's file (another sha256); "
                    "bring it up to date and run the build again")
        return "changed during the build; run the build again"
    return data


@dataclass(frozen=True)
class Placement:
    """Where workers find the build folder's files: `shared` maps a folder (by its real path on the
    client) to where the workers read it; `same_machine` workers read every folder where it is."""

    shared: Mapping[str, str] = field(default_factory=dict)
    same_machine: bool = True

    def where(self, root: Path, rels: Iterable[str], made: Iterable[str] = ()) -> Where:
        """Where a task finds `rels` of `root`: there, the user's mirror of it (with the bytes of `made`,
        the files among them this build wrote, which a mirror cannot hold yet), or shipped bytes (a file
        the client cannot read is left out: the worker reports it gone)."""
        if self.same_machine:
            return root
        seen = self.shared.get(str(root.resolve()))
        if seen is not None:
            return Mirror(seen, _read(root, made))
        return Shipped(_read(root, rels))


def _read(root: Path, rels: Iterable[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for rel in rels:
        try:
            files[rel] = (root / rel).read_bytes()
        except OSError:
            continue
    return files
