"""The delta's comparison walk (`delta.changed_folders`) shared among this machine's cores.

Finding what changed since the recorded build is one lstat per file, and every unchanged build of a large
folder is that walk and nothing else (at 600,000 files, 1.3 s of Python and kernel time in one process).
Threads cannot share it: the GIL passes between them at every stat, and two threads took longer than one
(measured: 1.9-2.0 s against 1.3-1.4 s). So the folders are shared among forked processes: this process
lists the top of the tree until there are enough subtrees to share, deals them out to one forked child a
core, and each child walks its subtrees and compares each folder's listing with the record itself, so
only the changed folders' listings come back (pickled, through a pipe). The result is the one-process
walk's, in the same order (tests compare both). A child that fails for any reason gives no answer, and
this process walks the folder itself.

A small folder is walked here: below PARALLEL_FROM recorded folders, starting processes costs more than
it saves. So is a walk in a process that runs threads (`assetpipe watch`'s observer, a library caller's):
forking a process with threads is not safe, and a watcher names its changed folders anyway.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from . import listing

PARALLEL_FROM = 400  # recorded folders: about 40,000 files at a hundred a folder
_SUBTREES_PER_WORKER = 8  # dealt out in turn: one large subtree is an eighth of a worker's share


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
    while frontier and len(frontier) < _SUBTREES_PER_WORKER * workers:
        rel, path = frontier.pop(0)  # breadth first: the subtrees left are of like depth
        blob, inner = listing.read_folder(rel, path)
        heads.append((rel, blob))
        frontier += inner
    parts = [_compare(heads, recorded)]
    if frontier:
        found = _in_children([frontier[i::workers] for i in range(workers)], recorded)
        if found is None:  # a worker that gave no answer: walked here, which raises its OSError if it had one
            return _compare(listing.walk(root), recorded)
        parts += found
    return _merged(parts)


def _in_children(groups: list[list[tuple[str, str]]], recorded: Mapping[str, bytes]) -> list[Comparison] | None:
    """Each group of subtrees compared in a forked child; None when any child failed (an OSError, killed,
    out of memory) or none could be started. The children ignore Ctrl-C: this process takes it, ends
    them and waits for them, so none is left behind (a pool's workers that took Ctrl-C mid-queue were)."""
    children: list[tuple[int, int]] = []  # (pid, the read end of its pipe)
    try:
        for group in groups:
            read, write = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                os.close(read)
                os.close(write)
                raise
            if pid == 0:  # the child: it never returns into this process's stack
                _child(read, write, group, recorded)
            os.close(write)
            children.append((pid, read))
        answers: list[Comparison] = []
        for _pid, read in children:
            with os.fdopen(read, "rb", closefd=False) as handle:
                answer = handle.read()
            if not answer:
                return None
            answers.append(pickle.loads(answer))
        return answers
    except OSError:  # no pipe or process to be had
        return None
    finally:
        for pid, read in children:
            os.close(read)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)  # ended already, but for a Ctrl-C or an error above
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)


def _child(read: int, write: int, group: list[tuple[str, str]], recorded: Mapping[str, bytes]) -> NoReturn:
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.close(read)
        answer = pickle.dumps(_compare(listing.walk_from(group), recorded), pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write, "wb") as out:
            out.write(answer)
        code = 0
    finally:  # an OSError, or anything: no answer, and the parent walks itself
        os._exit(code)


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
