"""The content-addressed cache of encoded outputs, kept outside the build folder.

An entry's key is the hash of the source's sha256, the codec, the settings that change its bytes and
the library version, so a wiped and rebuilt `dist/` or a CI job that restores only this folder gets
every unchanged output back without encoding.

The entries live in one SQLite file (`cache-v1.sqlite3`), not one file each: a build makes thousands
of small sidecars, and on ext4 creating a file costs 0.1-0.5 ms of kernel time, which made a
file-per-entry cache cost as much CPU as Brotli itself on the benchmark site. Each entry carries the
sha256 of its payload, so a damaged entry reads as a miss (encoded again and stored anew), never as
wrong bytes. WAL mode and a busy
timeout let two builds share one cache. One Cache object belongs to one thread (the pipeline's).

The entries' table (`blobs`) is an ordinary rowid table: its rows are appended in the order they are
put, and only the small index on the key takes the random keys. Until 2026-12-07 they went to
`entries`, a WITHOUT ROWID table, whose B-tree held every payload in the keys' random order: putting
100,000 payloads of 40 B to 8 kB took 2.3 times as long (4.56 s against 1.99 s) and the file was 30 %
larger. A cache written then is still read (a key not in `blobs` is looked up in `entries`); new
entries go to `blobs` only.

The same file keeps the scan's stat memo (statmemo.py) of each build folder, keyed by its real path:
what hashing each file found, so a warm build reads only the files whose stamp changed. Each row
carries a digest of its own fields: a row altered on disk is dropped and its file read again.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from .statmemo import Entry, Found, StatMemo

CACHE_VERSION = 1
DB_NAME = f"cache-v{CACHE_VERSION}.sqlite3"
_COMMIT_SECONDS = 2.0  # a killed build loses at most this much finished work
_BUSY_MS = 30_000
_BLOBS = "blobs"
_LEGACY_BLOBS = "entries"  # the WITHOUT ROWID table of caches written before 2026-12-07, read only
_STATS = "stat_memo"  # the stat memo's table; "stats", its version without a row check, is no longer read


def library_version(distribution: str) -> str:
    """An installed distribution's version for a cache key ("missing" when it is not installed)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "missing"


def _storable(*texts: str) -> bool:
    """SQLite keeps UTF-8 text: a path whose name is not valid UTF-8 (kept by Python as surrogates) is
    not remembered, so that file is simply read on every build."""
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _stat_digest(root: str, rel: str, entry: Entry) -> bytes:
    """A stat memo row's own check: a row altered or damaged on disk no longer matches it, and is dropped
    (the file is read again), so a wrong sha256 or SRI never reaches the manifest."""
    found = entry.found
    size, mtime, ctime, ino, dev = entry.stamp
    # every field as str() gives it, joined by NULs: one f-string (a join over a generator cost 2.5 µs a row)
    text = (f"{root}\0{rel}\0{size}\0{mtime}\0{ctime}\0{ino}\0{dev}\0{entry.checked_ns}\0{found.size}\0"
            f"{found.sha256}\0{found.sha384}\0").encode("utf-8", "surrogateescape")
    return hashlib.sha256(text + found.head).digest()[:16]


_STAT_FIELDS = "size, mtime_ns, ctime_ns, ino, dev, checked_ns, found_size, sha256, sha384, head, digest"


def _checked_entry(root: str, rel: str, fields: tuple | list) -> Entry | None:
    """A stat memo row as an Entry; None when its digest says it was altered or damaged (the file is read again)."""
    size, mtime, ctime, ino, dev, checked, found_size, sha256, sha384, head, digest = fields
    try:
        entry = Entry((size, mtime, ctime, ino, dev), checked, Found(found_size, sha256, sha384, bytes(head)))
        return entry if _stat_digest(root, rel, entry) == digest else None
    except (TypeError, ValueError):
        return None


def key(source_sha256: str, codec: str, settings: str) -> str:
    """The cache key of one output; it names the output's whole recipe, nothing else."""
    recipe = f"{CACHE_VERSION}\0{source_sha256}\0{codec}\0{settings}"
    return hashlib.sha256(recipe.encode()).hexdigest()


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / DB_NAME
        self._db: sqlite3.Connection | None = None
        self._last_commit = time.monotonic()
        self._broken = False
        self._tables: tuple[str, ...] = (_BLOBS,)  # where a key is looked up, in order

    def _open(self, *, create: bool) -> sqlite3.Connection | None:
        if self._db is not None or self._broken:
            return self._db
        if not create and not self.path.exists():
            return None  # reading an absent cache must not create one (--dry-run writes nothing)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level="DEFERRED")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"CREATE TABLE IF NOT EXISTS {_BLOBS} (key TEXT PRIMARY KEY, digest BLOB NOT NULL, "
                       "payload BLOB NOT NULL)")
            legacy = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (_LEGACY_BLOBS,)).fetchone()
            db.execute(f"CREATE TABLE IF NOT EXISTS {_STATS} (root TEXT NOT NULL, rel TEXT NOT NULL, "
                       "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, ino INTEGER, dev INTEGER, "
                       "checked_ns INTEGER, found_size INTEGER, sha256 TEXT, sha384 TEXT, head BLOB, "
                       "digest BLOB NOT NULL, PRIMARY KEY (root, rel)) WITHOUT ROWID")
            db.commit()
        except (OSError, sqlite3.Error):
            self._broken = True  # an unusable cache only costs speed
            return None
        self._db = db
        self._tables = (_BLOBS, _LEGACY_BLOBS) if legacy else (_BLOBS,)
        return db

    def has(self, key: str) -> bool:
        db = self._open(create=False)
        if db is None:
            return False
        try:
            return any(db.execute(f"SELECT 1 FROM {table} WHERE key = ?", (key,)).fetchone() is not None
                       for table in self._tables)
        except sqlite3.Error:
            return False

    def get(self, key: str) -> bytes | None:
        db = self._open(create=False)
        if db is None:
            return None
        for table in self._tables:
            try:
                row = db.execute(f"SELECT digest, payload FROM {table} WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error:
                return None
            if row is not None and hashlib.sha256(row[1]).digest() == row[0]:
                return bytes(row[1])
        return None

    def put(self, key: str, payload: bytes) -> None:
        """Store an entry; a cache that cannot be written only costs speed, so errors are ignored."""
        db = self._open(create=True)
        if db is None:
            return
        try:
            db.execute(f"INSERT OR REPLACE INTO {_BLOBS} (key, digest, payload) VALUES (?, ?, ?)",
                       (key, hashlib.sha256(payload).digest(), payload))
            if time.monotonic() - self._last_commit > _COMMIT_SECONDS:
                self.flush()
        except sqlite3.Error:
            pass

    def attach_stats(self, root: str, memo: StatMemo, *, save: bool = True) -> None:
        """Let `memo` read what the cache remembers of the folder at real path `root` one file at a time,
        as the scan asks, and (with `save`) store what it records a batch at a time: a build's memory does
        not grow with the folder's size. A memo attached before (to another connection: a watcher's, for
        each of its runs) keeps what it has not saved yet. A folder whose real path is not UTF-8 is not
        remembered: its memo holds what it records in memory (the watcher's, across its runs)."""
        if not _storable(root):
            if not memo.loaded:
                memo.load({})
            return

        current: dict[str, dict[str, tuple]] = {}  # the folder read last: its rows by rel

        def fetch(rel: str) -> Entry | None:
            """One row, from its folder's rows, read in one query when the scan first asks for that folder
            (the scan reads a folder's files one after another)."""
            parent = rel.rpartition("/")[0]
            if parent not in current:
                current.clear()
                current[parent] = self._folder_rows(root, parent)
            found = current[parent].get(rel)
            return None if found is None else _checked_entry(root, rel, found)

        def stored() -> Iterator[str]:
            """Every rel stored for `root`, a row at a time (a million rows would be 100 MB as a list)."""
            db = self._open(create=False)
            if db is None:
                return
            rows = db.cursor()  # its own cursor: the caller's deletions go through the connection
            try:
                for (rel,) in rows.execute(f"SELECT rel FROM {_STATS} WHERE root = ?", (root,)):
                    yield rel
            except sqlite3.Error:
                return

        memo.attach(fetch, stored, (lambda: self.save_stats(root, memo)) if save else None)

    def _folder_rows(self, root: str, parent: str) -> dict[str, tuple]:
        """The stat memo's rows of the files directly in folder `parent` ("" for the top) of `root`."""
        db = self._open(create=False)
        if db is None or not _storable(parent):
            return {}
        low, high = (parent + "/", parent + "0") if parent else ("", "\U0010ffff")  # "0" follows "/"
        try:
            rows = db.execute(f"SELECT rel, {_STAT_FIELDS} FROM {_STATS} WHERE root = ? AND rel >= ? AND rel < ? "
                              "AND instr(substr(rel, ?), '/') = 0", (root, low, high, len(low) + 1))
            return {row[0]: row[1:] for row in rows}
        except sqlite3.Error:
            return {}

    def save_stats(self, root: str, memo: StatMemo) -> None:
        """Store what changed in `memo` since it was loaded or last saved (errors only cost speed)."""
        changed, gone = memo.take_changes()
        if (not changed and not gone) or not _storable(root):
            return
        db = self._open(create=True)
        if db is None:
            return
        try:
            db.executemany(f"DELETE FROM {_STATS} WHERE root = ? AND rel = ?",
                           [(root, rel) for rel in gone if _storable(root, rel)])
            db.executemany(f"INSERT OR REPLACE INTO {_STATS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(root, rel, *e.stamp, e.checked_ns, e.found.size, e.found.sha256, e.found.sha384,
                             e.found.head, _stat_digest(root, rel, e)) for rel, e in changed.items()
                            if _storable(root, rel)])
            self.flush()
        except sqlite3.Error:
            pass

    def flush(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.commit()
            self._last_commit = time.monotonic()

    def close(self) -> None:
        if self._db is not None:
            self.flush()
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
