"""Walk the build folder once into a sorted Inventory.

Every regular file is read once for its sha256 (identity and cache key), its sha384 (Subresource
Integrity) and its first bytes (what it really is). Files the ledger says assetpipe wrote, and that
still hash to what was written, are kept apart from the user's files. Symbolic links are followed
only to files inside the folder; links to folders are not followed, so a loop cannot trap the walk.

A StatMemo (statmemo.py, kept in the cache folder between builds and by `assetpipe watch` between its
runs) spares reading a file whose stat stamp says it did not change, under git's racy-timestamp rule.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import mediatypes
from ..cache.statmemo import Found, StatMemo, stamp_of, vouched
from ..model import Failure, Inventory, Notice, OwnedFile, SourceFile
from . import ledger
from .ledger import Record

# Folders that are never part of a site: version control metadata, and assetpipe's own state.
_SKIP_DIRS = frozenset({".git", ".hg", ".svn"})
_CHUNK = 1 << 20


def scan(root: Path, records: dict[str, Record], *, exclude: tuple[Path, ...] = (),
         memo: StatMemo | None = None, copies_owned: bool = False, take: bool = False) -> Inventory:
    """The files under `root`, sorted by path; `records` is the ledger of what assetpipe wrote there;
    `memo` (optional, kept by the caller between scans) spares reading files that did not change.
    With `take`, each record is removed from `records` as its file is met: a build's ledger is not held
    beside the inventory made from it.

    The copies a `--out` build made of the user's files are the user's files wherever the tree is read
    (built in place, copied, moved, diffed, uploaded): only the `--out` build that keeps the tree up to
    date passes `copies_owned` and may replace or remove them (docs: "What an --out folder's ledger means")."""
    real_root = os.path.realpath(root)
    excluded = {os.path.realpath(p) for p in exclude}
    sources: list[SourceFile] = []
    owned: list[OwnedFile] = []
    failures: list[Failure] = []
    notices: list[Notice] = []
    leftovers: list[str] = []
    for rel, entry in _walk(root, "", excluded, notices):
        name = entry.name
        if name.startswith(".") and name.endswith(ledger.TEMP_SUFFIX):
            leftovers.append(rel)
            continue
        try:
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not os.path.exists(target):
                    failures.append(Failure(rel, "broken symbolic link"))
                    continue
                if not target.startswith(real_root + os.sep):
                    notices.append(Notice(rel, "symbolic link to a file outside the folder; skipped"))
                    continue
            if not entry.is_file():
                notices.append(Notice(rel, "not a regular file; skipped"))
                continue
            found = _read(entry.path) if memo is None else remembered(entry.path, rel, memo)
        except OSError as exc:
            failures.append(Failure(rel, f"cannot read: {exc.strerror or exc}"))
            continue
        record = records.pop(rel, None) if take else records.get(rel)
        match = record.matching(found.sha256, found.size) if record is not None else None
        if match is not None and (copies_owned or not match.key.startswith(ledger.COPY)):
            owned.append(OwnedFile(rel, found.size, found.sha256, match.key))
            continue
        media_type, kind, compressible = mediatypes.classify(rel, found.head)
        sources.append(SourceFile(rel, found.size, found.sha256, found.sha384, media_type, kind, compressible))
    leftovers.extend(_state_leftovers(root))
    if memo is not None:
        memo.keep_only({s.rel for s in sources} | {o.rel for o in owned})
    return Inventory(root, tuple(sources), tuple(owned), tuple(failures), tuple(notices), tuple(leftovers))


def _state_leftovers(root: Path) -> list[str]:
    """Temp files a killed build left in its own state folder (the walk does not enter it)."""
    state = root / ledger.STATE_DIR
    if state.is_symlink() or not state.is_dir():
        return []
    try:
        names = sorted(entry.name for entry in os.scandir(state) if entry.is_file(follow_symlinks=False))
    except OSError:
        return []
    return [f"{ledger.STATE_DIR}/{name}" for name in names
            if name.startswith(".") and name.endswith(ledger.TEMP_SUFFIX)]


def remembered(path: str, rel: str, memo: StatMemo) -> Found:
    """The file at `path` (`rel` in the memo) as the memo knows it, else read and recorded."""
    checked_ns = time.time_ns()  # before the stat: see statmemo's proof
    stamp = stamp_of(os.stat(path))  # not a DirEntry's stat(): scandir's may be older than checked_ns
    known = memo.lookup(rel, stamp)
    if known is not None:
        return known
    found = _read(path)  # after the stat: a write during the read changes the stamp
    if stamp_of(os.stat(path)) == stamp:  # not replaced (renamed over) or changed meanwhile
        memo.record(rel, stamp, checked_ns, found)
    return found


def files(root: Path, exclude: tuple[Path, ...] = ()) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(rel, entry) of every file the scan looks at, sorted; folders it cannot list are left out."""
    yield from _walk(root, "", {os.path.realpath(p) for p in exclude}, [])


def _walk(root: Path, prefix: str, excluded: set[str], notices: list[Notice]) -> Iterator[tuple[str, os.DirEntry[str]]]:
    folder = root / prefix if prefix else root
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        notices.append(Notice(prefix or ".", f"cannot list folder: {exc.strerror or exc}; skipped"))
        return
    for entry in entries:
        rel = f"{prefix}/{entry.name}" if prefix else entry.name
        if entry.is_dir(follow_symlinks=False):
            if entry.name in _SKIP_DIRS or (not prefix and entry.name == ledger.STATE_DIR):
                continue
            if os.path.realpath(entry.path) in excluded:
                continue
            yield from _walk(root, rel, excluded, notices)
        elif entry.is_symlink() and os.path.isdir(entry.path):
            notices.append(Notice(rel, "symbolic link to a folder; not followed"))
        else:
            yield rel, entry


def _read(path: str) -> Found:
    sha256, sha384 = hashlib.sha256(), hashlib.sha384()
    size, head = 0, b""
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            if not head:
                head = chunk[: mediatypes.SNIFF_BYTES]
            size += len(chunk)
            sha256.update(chunk)
            sha384.update(chunk)
    return _found(size, sha256.hexdigest(), sha384, head)


def found_in(data: bytes, sha256: str) -> Found:
    """What reading a file that holds `data`, whose sha256 (hex) is known, gives (_read's answer without
    the read)."""
    return _found(len(data), sha256, hashlib.sha384(data), data[: mediatypes.SNIFF_BYTES])


def learner(memo: StatMemo) -> Callable[[str, os.stat_result, bytes, str], None]:
    """A Writer's `on_write`: each output it puts in place recorded in `memo`, trusted while the file keeps
    the stamp the writer saw right after (statmemo.vouched), so the next build's scan does not read it."""

    def learn(rel: str, st: os.stat_result, data: bytes, sha256: str) -> None:
        stamp = stamp_of(st)
        memo.record(rel, stamp, vouched(stamp), found_in(data, sha256))

    return learn


def _found(size: int, sha256: str, sha384: Any, head: bytes) -> Found:
    return Found(size, sha256, "sha384-" + base64.b64encode(sha384.digest()).decode(), head)
