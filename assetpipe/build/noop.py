"""The cheap no-op: a build of a folder in which nothing changed since a build that changed nothing.

A build that wrote and removed nothing, and failed on no file, leaves a record in the cache folder
(`noop-v1.sqlite3`, one row per build folder, by its real path): a digest of every name and stat stamp
under the folder, folders' own and `.assetpipe/` included (tree_digest), the build's fingerprint (the
config, the request's switches, assetpipe's own sources and the versions of the libraries it declares),
and what that build reported (its counts and warnings).

The next build with the same fingerprint walks the folder and computes the digest again, one folder's
listing in memory at a time. Equal: a full build would read the same bytes, plan every output as up to
date and write nothing, so it is not run, and its report is given again. Anything else (one stamp, one
file more or less, another config) runs the full build, which records anew when it too changed nothing.

Stamps are trusted under the stat memo's racy-timestamp rule (cache/statmemo.py): the record is kept only
when every file's and folder's times are older than the build's start by more than RACY_NS, so the digest
describes what the build's scan saw (a change during the build moves a time past that), and any later
change gives a different stamp. What the record cannot see (the cache folder's content) only decides how
an output would be made, never its bytes, so it cannot change what the folder holds.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import sqlite3
import struct
from importlib import metadata
from pathlib import Path
from typing import Any

from ..cache.statmemo import RACY_NS
from ..model import BuildResult, BuildStats, Notice, Plan
from .request import BuildRequest
from .scan import _SKIP_DIRS

DB_NAME = "noop-v1.sqlite3"  # its own file: the cache's is store.py's
_ASSETPIPE = Path(__file__).resolve().parents[1]
# An entry of tree_digest: its name's length in bytes; its mode (-1 a folder, -2 unreadable), size, mtime,
# ctime, inode, device.
_ENTRY = struct.Struct("<Iqqqqqq")


def fingerprint(request: BuildRequest) -> str | None:
    """What, besides the folder's files, decides a build's outputs; None for a build that is never
    skipped (--out, --dry-run, a caller's check of the folder, `assetpipe watch`)."""
    return digest(request) if skippable(request) else None


def skippable(request: BuildRequest) -> bool:
    """Whether a build of this request may be skipped on a record (see `fingerprint`)."""
    return not (request.out is not None or request.dry_run or request.check is not None
                or request.scan_memo is not None or request.encoders is not None
                or not isinstance(request.cache_dir, Path))


def digest(request: BuildRequest) -> str:
    """`fingerprint`'s digest, whether or not the build may be skipped: a watcher's memo, pool and events
    are not part of it."""
    summed = hashlib.sha256()
    # Not --allow-delete: a recorded build removed nothing and was refused nothing (a refusal fails the
    # build, which records nothing), so the net has nothing to decide on an unchanged folder either way, and
    # the delta asks the request's own switch (deltarun.py). A watcher's runs, which allow deletions after
    # its first, then build on that first run's record.
    switches = {"config": _canonical(request.config), "images": request.images, "compress": request.compress,
                "force": request.force, "libraries": _libraries()}
    summed.update(json.dumps(switches, sort_keys=True).encode())
    for path in sorted(_ASSETPIPE.rglob("*.py")):  # an edited assetpipe may build differently
        st = path.stat()
        summed.update(f"{path.relative_to(_ASSETPIPE)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return summed.hexdigest()


def replay(request: BuildRequest, fingerprint_: str, seconds: float) -> BuildResult | None:
    """The result of the recorded build when the folder is exactly as it left it; None otherwise."""
    db = _connect(request.cache_dir, create=False)
    if db is None:
        return None
    try:
        row = db.execute("SELECT fingerprint, tree, report FROM noop WHERE root = ?",
                         (os.path.realpath(request.source),)).fetchone()
        if row is None or row[0] != fingerprint_ or tree_digest(request.source, newest=False)[0] != row[1]:
            return None
        report = json.loads(row[2])
        stats = BuildStats(**{**report["stats"], "seconds": seconds})
        notices = tuple(Notice(str(file), str(message)) for file, message in report["notices"])
    except (sqlite3.Error, ValueError, TypeError, KeyError, OSError):
        return None
    finally:
        db.close()
    return BuildResult(request.source, Plan((), (), (), ()), (), notices, stats)


def remember(request: BuildRequest, fingerprint_: str, result: BuildResult, started_ns: int, *,
             covered: bool = False) -> None:
    """Record the folder after a build that changed nothing (else forget any record); `started_ns` is the
    wall clock before the build began. `covered`: the delta's record, made by this build with the same
    fingerprint, already replays the folder while nothing changes (it is tried first), so no walk of the
    folder is spent on a second record; any earlier record is forgotten. Errors only cost speed."""
    s = result.stats
    records = not (result.failures or s.written or s.removed or covered)  # a dropped sidecar is encoded
    db = _connect(request.cache_dir, create=records)
    if db is None:
        return
    root = os.path.realpath(request.source)
    try:
        with db:
            db.execute("DELETE FROM noop WHERE root = ?", (root,))
            if not records:
                return
            digest, newest_ns = tree_digest(request.source)
            # Every file and folder must be older than the build by more than the racy window: then what
            # the build's scan saw is what the digest describes (a file written, added, removed or renamed
            # during the build moves a time past `started_ns - RACY_NS`), and any later change moves one
            # too. Else nothing is recorded, and the next build runs in full.
            if newest_ns >= started_ns - RACY_NS:
                return
            report = {"stats": {k: v for k, v in dataclasses.asdict(s).items() if k != "seconds"},
                      "notices": [[n.file, n.message] for n in result.notices]}
            db.execute("INSERT INTO noop VALUES (?, ?, ?, ?)", (root, fingerprint_, digest, json.dumps(report)))
    except (sqlite3.Error, OSError, UnicodeEncodeError):
        pass
    finally:
        db.close()


def tree_digest(root: Path, *, newest: bool = True) -> tuple[str, int]:
    """A digest of every name and stat stamp under `root`, folders' own included (`.assetpipe/` too;
    `.git`, `.hg` and `.svn` left out, as the scan leaves them), folder by folder, and (with `newest`) the
    newest mtime or ctime seen (ns).

    A superset of what the scan reads: links are followed to what they name (a link to a folder is only
    named), so a change to anything a build reads changes the digest. One folder's listing in memory at a
    time; each entry packed as bytes (its name's length, its stamp, its name), not formatted as text:
    a third of the time, at three stats a source file."""
    digest = hashlib.sha256()
    pack = _ENTRY.pack
    top = os.stat(root)
    latest = max(top.st_mtime_ns, top.st_ctime_ns)
    folders = [(b"", str(root), top)]
    while folders:
        rel, folder, st = folders.pop()
        parts = [pack(len(rel), st.st_mode, 0, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev), rel]
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            digest.update(b"".join([*parts, pack(0, -2, exc.errno or 0, 0, 0, 0, 0)]))
            continue
        for entry in entries:
            name = entry.name.encode("utf-8", "surrogateescape")
            try:
                if entry.is_dir(follow_symlinks=False):
                    parts += (pack(len(name), -1, 0, 0, 0, 0, 0), name)
                    if entry.name not in _SKIP_DIRS:
                        inner = entry.stat(follow_symlinks=False)
                        folders.append((rel + b"/" + name, entry.path, inner))
                        latest = max(latest, inner.st_mtime_ns, inner.st_ctime_ns)
                    continue
                st = entry.stat()  # a link: what it names
            except OSError as exc:
                parts += (pack(len(name), -2, exc.errno or 0, 0, 0, 0, 0), name)
                continue
            stamp = pack(len(name), st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
            parts += (stamp, name)
            if newest:
                latest = max(latest, st.st_mtime_ns, st.st_ctime_ns)
        digest.update(b"".join(parts))
    return digest.hexdigest(), latest


def _connect(cache_dir: Path, *, create: bool) -> sqlite3.Connection | None:
    path = cache_dir / DB_NAME
    if not create and not path.exists():
        return None
    try:
        if create:
            cache_dir.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, isolation_level="DEFERRED")
        db.execute("PRAGMA journal_mode=TRUNCATE")  # as listing.py's: emptied, not unlinked
        db.execute("CREATE TABLE IF NOT EXISTS noop (root TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
                   "tree TEXT NOT NULL, report TEXT NOT NULL)")
        db.commit()
    except (OSError, sqlite3.Error):
        return None
    return db


def _libraries() -> dict[str, str]:
    """The installed version of every library assetpipe declares (encoders are part of every cache key)."""
    found: dict[str, str] = {}
    try:
        requirements = metadata.requires("assetpipe") or []
    except metadata.PackageNotFoundError:  # run from its sources: assetpipe's modules are fingerprinted anyway
        requirements = []
    for requirement in requirements:
        name = requirement.split(";")[0].split("[")[0]
        for stop in "<>=!~ ":
            name = name.split(stop)[0]
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def _canonical(value: Any) -> Any:
    """A config as plain JSON, the same for equal configs."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, enum.Enum):
        return _canonical(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
