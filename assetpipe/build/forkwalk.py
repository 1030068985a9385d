"""The delta's comparison walk (`delta.changed_folders`) shared among this machine's cores.

Finding what changed since the recorded build is one lstat per file, and every unchanged build of a large
folder is that walk and nothing else (at 600,000 files, 1.3 s of Python and kernel time in one process).
Threads cannot share it: the GIL passes between them at every stat, and two threads took longer than one
(measured: 1.9-2.0 s against 1.3-1.4 s). So the folders are shared among forked processes: this process
lists the top of the tree until there are enough subtrees to share, and each worker walks whole subtrees
and compares each folder's listing with the record itself, so only the changed folders' listings come
back. The result is the one-process walk's, in the same order (tests compare both).

A small folder is walked here: below PARALLEL_FROM recorded folders, starting processes costs more than
it saves. So is a walk in a process that runs threads (`assetpipe watch`'s observer, a library caller's):
forking a process with threads is not safe, and a watcher names its changed folders anyway.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from . import listing

PARALLEL_FROM = 400  # recorded folders: about 40,000 files at a hundred a folder
_TASKS_PER_WORKER = 8  # subtrees handed out one at a time, so a large one does not leave a worker idle


@dataclass(frozen=True)
class Comparison:
    """What a walk found against the record."""

    changed: tuple[tuple[str, bytes], ...]  # (rel, listing now) of each folder whose digest differs, by rel
    seen: int  # folders walked that the record has
    new: str | None  # the first folder (by rel) the record does not have


def compare(root: Path, recorded: Mapping[str, bytes], workers: int) -> Comparison:
    """Walk `root` and compare each folder's listing with `recorded` (rel -> digest), on up to `workers`
    processes. OSError as `listing.walk` raises it."""
    workers = min(workers, os.cpu_count() or 1)
    if workers < 2 or len(recorded) < PARALLEL_FROM or threading.active_count() > 1 or not hasattr(os, "fork"):
        return _compare(listing.walk(root), recorded)
    heads: list[tuple[str, bytes]] = []
    frontier = [("", str(root))]
    while frontier and len(frontier) < _TASKS_PER_WORKER * workers:
        rel, path = frontier.pop(0)  # breadth first: the subtrees left are of like depth
        blob, inner = listing.read_folder(rel, path)
        heads.append((rel, blob))
        frontier += inner
    parts = [_compare(heads, recorded)]
    if frontier:
        subset = partial(_compare_from, recorded=recorded)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            parts += pool.map(subset, ([start] for start in frontier))
    return _merged(parts)


def _compare_from(starts: list[tuple[str, str]], recorded: Mapping[str, bytes]) -> Comparison:
    return _compare(listing.walk_from(starts), recorded)


def _compare(folders: Iterable[tuple[str, bytes]], recorded: Mapping[str, bytes]) -> Comparison:
    changed: list[tuple[str, bytes]] = []
    seen, new = 0, None
    for rel, blob in folders:
        old = recorded.get(rel)
        if old is None:
            new = rel if new is None else min(new, rel)
            continue
        seen += 1
        if old != listing.digest(blob):
            changed.append((rel, blob))
    return Comparison(tuple(sorted(changed)), seen, new)


def _merged(parts: Iterable[Comparison]) -> Comparison:
    parts = list(parts)
    news = [p.new for p in parts if p.new is not None]
    return Comparison(tuple(sorted(c for p in parts for c in p.changed)), sum(p.seen for p in parts),
                      min(news) if news else None)
