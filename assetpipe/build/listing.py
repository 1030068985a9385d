"""The delta build's record: every folder's listing (names and stat stamps) as the last build left it.

Kept in the cache folder (`delta-v1.sqlite3`): for each build folder (by its real path) the fingerprint of
the build that recorded it (noop.fingerprint), whether the record may be trusted (`valid`: a delta drops
it before its first write and sets it again after its last, so a build killed in between finds no
record and runs in full), the counts a full build of the folder as recorded would report (`steady`), and
one row per folder under it: its listing packed (each entry's name and lstat stamp: mode, size, mtime,
ctime, inode, device) and a digest of that. A walk compares each folder's digest with the recorded one
and reads a recorded listing only for a folder whose digest differs, so the record is never loaded whole.

Stamps are trusted under the stat memo's racy-timestamp rule (cache/statmemo.py): an entry whose mtime or
ctime is not older than the recording build's start by more than RACY_NS is recorded with its times set
to zero (`Settling`, applied as each folder is read), so it differs from whatever is there next time and
is looked at again; but for a file the build put in place itself and that still shows the ctime its
writer saw right after (build/writer.Stamps): any later change to it moves the ctime (but within the
file system's clock tick, the risk the manifest and the ledger already take), and its bytes are the ones
the ledger records. Without that, every output of a build that wrote many would be looked at again, and
the build after a cold build of a large folder would be a full one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import struct
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING

from . import pageinputs
from .pageinputs import PageInputs
from .scan import _SKIP_DIRS

if TYPE_CHECKING:
    from .writer import Stamps

DB_NAME = "delta-v1.sqlite3"  # its own file, beside noop's
# An entry: its name's length in bytes; its lstat mode (DIR for a folder: only its name counts), size,
# mtime, ctime, inode, device; then the name.
_ENTRY = struct.Struct("<Iqqqqqq")
DIR = -1
_name = attrgetter("name")
Stamp = tuple[int, int, int, int, int, int]  # mode, size, mtime_ns, ctime_ns, inode, device


@dataclass(frozen=True)
class Settling:
    """How a listing is recorded (the racy rule): the times of every file entry not older than `before_ns`
    set to zero, but for the names `trusted` lists in their folder (by its rel) and the files `own` holds
    as the build's writer left them."""

    before_ns: int
    trusted: Mapping[str, frozenset[str]] = field(default_factory=dict)
    own: Stamps | None = None  # the files a build put in place, trusted while they are as it left them


def walk(root: Path, settling: Settling | None = None) -> Iterator[tuple[str, bytes]]:
    """(folder rel, its listing packed) for every folder under `root` (`""` is `root`), `.assetpipe/`
    included, version control's left out, one folder's listing in memory at a time; settled as it is read
    with `settling`. OSError when a folder cannot be listed or an entry vanishes while it is read: the
    caller then builds in full."""
    return walk_from([("", str(root))], settling)


def walk_from(starts: list[tuple[str, str]], settling: Settling | None = None) -> Iterator[tuple[str, bytes]]:
    """`walk` of the folders `starts` ((rel, path) each) and everything under them."""
    folders = list(starts)
    while folders:
        rel, path = folders.pop()
        blob, inner = read_folder(rel, path, settling)
        folders += inner
        yield rel, blob


def read_folder(rel: str, path: str, settling: Settling | None = None) -> tuple[bytes, list[tuple[str, str]]]:
    """One folder's listing packed (settled with `settling` in the same pass, not unpacked and packed again
    after), and its subfolders to walk ((rel, path) each, by name)."""
    pack = _ENTRY.pack
    racy_from = settling.before_ns if settling is not None else None
    trusted = settling.trusted.get(rel, frozenset()) if settling is not None else frozenset()
    own = settling.own if settling is not None else None
    # Listed from an open folder, so each entry's lstat is relative to it (fstatat): the kernel does not
    # look up the folder's path again for every file (about 15 % of the walk's system time at 200,000 files)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with os.scandir(fd) as it:
            entries = sorted(it, key=_name)
        parts: list[bytes] = []
        inner: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name.encode("utf-8", "surrogateescape")
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                parts += (pack(len(name), DIR, 0, 0, 0, 0, 0), name)
                if entry.name not in _SKIP_DIRS:
                    inner.append((f"{rel}/{entry.name}" if rel else entry.name, os.path.join(path, entry.name)))
                continue
            mtime, ctime = st.st_mtime_ns, st.st_ctime_ns
            if (racy_from is not None and max(mtime, ctime) >= racy_from and entry.name not in trusted
                    and not (own is not None and own.holds(st))):
                mtime = ctime = 0
            parts += (pack(len(name), st.st_mode, st.st_size, mtime, ctime, st.st_ino, st.st_dev), name)
    finally:
        os.close(fd)
    return b"".join(parts), inner


def listing_of(root: Path, folder: str, settling: Settling | None = None) -> bytes:
    """One folder's listing, as `walk` packs it (its subfolders named, not entered)."""
    return read_folder(folder, str(root / folder if folder else root), settling)[0]


def entries(blob: bytes) -> dict[str, Stamp]:
    """A packed listing as {name: stamp}."""
    found: dict[str, Stamp] = {}
    at, size, unpack = 0, _ENTRY.size, _ENTRY.unpack_from
    while at < len(blob):
        length, *stamp = unpack(blob, at)
        at += size
        found[blob[at:at + length].decode("utf-8", "surrogateescape")] = tuple(stamp)  # type: ignore[assignment]
        at += length
    return found


def digest(blob: bytes) -> bytes:
    return hashlib.blake2b(blob, digest_size=16).digest()


class Record:
    """The record of one build folder in the cache's `delta-v1.sqlite3`. Errors only cost speed: the
    caller builds in full on any sqlite3.Error or OSError."""

    def __init__(self, cache_dir: Path, root: Path, *, create: bool) -> None:
        self.root = os.path.realpath(root)
        path = cache_dir / DB_NAME
        if not create and not path.exists():
            raise FileNotFoundError(path)
        if create:
            cache_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level="DEFERRED")
        # the rollback journal emptied, not unlinked, after each transaction: as safe, and a build makes the
        # same file-system calls whether or not the record existed (the crash tests kill at each of them)
        self._db.execute("PRAGMA journal_mode=TRUNCATE")
        self._db.execute("CREATE TABLE IF NOT EXISTS build (root TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
                         "valid INTEGER NOT NULL, steady TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS folder (root TEXT NOT NULL, rel TEXT NOT NULL, "
                         "digest BLOB NOT NULL, listing BLOB NOT NULL, PRIMARY KEY (root, rel))")
        # what the pages' rewrite read (build/pageinputs.py), by kind: "images" (one row), "image", "spec", "svg";
        # and what each page shows the image stage (pageinputs.shows), by page and by image
        self._db.execute("CREATE TABLE IF NOT EXISTS page_input (root TEXT NOT NULL, kind TEXT NOT NULL, "
                         "rel TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (root, kind, rel))")
        self._db.execute("CREATE TABLE IF NOT EXISTS page_show (root TEXT NOT NULL, page TEXT NOT NULL, "
                         "image TEXT NOT NULL, width INTEGER NOT NULL, PRIMARY KEY (root, page, image, width))")
        self._db.execute("CREATE INDEX IF NOT EXISTS page_show_image ON page_show (root, image, width)")
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def head(self) -> tuple[str, dict] | None:
        """(fingerprint, steady counts) of a trusted record, else None."""
        row = self._db.execute("SELECT fingerprint, valid, steady FROM build WHERE root = ?", (self.root,)).fetchone()
        if row is None or not row[1]:
            return None
        return row[0], json.loads(row[2])

    def digests(self) -> dict[str, bytes]:
        return dict(self._db.execute("SELECT rel, digest FROM folder WHERE root = ?", (self.root,)))

    def listing(self, rel: str) -> bytes:
        row = self._db.execute("SELECT listing FROM folder WHERE root = ? AND rel = ?", (self.root, rel)).fetchone()
        return b"" if row is None else bytes(row[0])

    def drop(self) -> None:
        """No record: a build that cannot finish recording must leave none to be trusted."""
        with self._db:
            self._delete()

    def _delete(self) -> None:
        for table in ("build", "folder", "page_input", "page_show"):
            self._db.execute(f"DELETE FROM {table} WHERE root = ?", (self.root,))

    def invalidate(self) -> None:
        with self._db:
            self._db.execute("UPDATE build SET valid = 0 WHERE root = ?", (self.root,))

    def replace(self, fingerprint: str, steady: dict, folders: Iterable[tuple[str, bytes]],
                pages: PageInputs | None = None) -> None:
        """A whole new record (after a full build): the old one goes first, in the same transaction.
        `pages`: what the pages' rewrite read (None: pages not rewritten, or not known)."""
        with self._db:
            self._delete()
            self._db.executemany("INSERT INTO folder VALUES (?, ?, ?, ?)",
                                 ((self.root, rel, digest(blob), blob) for rel, blob in folders))
            if pages is not None:
                rows = [("images", "", b"1" if pages.images else b"0")]
                rows += (("image", rel, b"") for rel in pages.images)
                rows += (("spec", rel, pageinputs.spec_text(spec)) for rel, spec in pages.specs.items())
                rows += (("svg", rel, pageinputs.svg_text(size)) for rel, size in pages.svgs.items())
                self._db.executemany("INSERT INTO page_input VALUES (?, ?, ?, ?)",
                                     ((self.root, *row) for row in rows))
                self._db.executemany("INSERT INTO page_show VALUES (?, ?, ?, ?)",
                                     ((self.root, page, image, width) for page, pairs in pages.shows.items()
                                      for image, width in pairs))
            self._db.execute("INSERT INTO build VALUES (?, ?, 1, ?)", (self.root, fingerprint, json.dumps(steady)))

    def page_input(self, kind: str, rel: str) -> bytes | str | None:
        """One row of what the pages' rewrite read (see `replace`), or None."""
        row = self._db.execute("SELECT value FROM page_input WHERE root = ? AND kind = ? AND rel = ?",
                               (self.root, kind, rel)).fetchone()
        return None if row is None else row[0]

    def page_inputs(self, kind: str) -> Iterator[str]:
        """The paths of one kind of row of what the pages' rewrite read."""
        for (rel,) in self._db.execute("SELECT rel FROM page_input WHERE root = ? AND kind = ? ORDER BY rel",
                                       (self.root, kind)):
            yield rel

    def shows(self, page: str) -> frozenset[tuple[str, int]]:
        """What `page` showed the image stage (pageinputs.shows) when recorded."""
        return frozenset(self._db.execute("SELECT image, width FROM page_show WHERE root = ? AND page = ?",
                                          (self.root, page)))

    def shown_by_another(self, image: str, width: int, pages: Collection[str]) -> bool:
        """Whether a page other than `pages` showed (image, width) when recorded."""
        marks = ", ".join("?" * len(pages))
        row = self._db.execute(f"SELECT 1 FROM page_show WHERE root = ? AND image = ? AND width = ? "
                               f"AND page NOT IN ({marks}) LIMIT 1", (self.root, image, width, *pages)).fetchone()
        return row is not None

    def update(self, steady: dict, folders: Iterable[tuple[str, bytes]],
               shows: Mapping[str, frozenset[tuple[str, int]]] | None = None) -> None:
        """The folders a delta changed recorded anew (and what its changed pages show now, `shows`), and the
        record trusted again."""
        with self._db:
            for page, pairs in (shows or {}).items():
                self._db.execute("DELETE FROM page_show WHERE root = ? AND page = ?", (self.root, page))
                self._db.executemany("INSERT INTO page_show VALUES (?, ?, ?, ?)",
                                     ((self.root, page, image, width) for image, width in pairs))
            self._db.executemany("INSERT OR REPLACE INTO folder VALUES (?, ?, ?, ?)",
                                 ((self.root, rel, digest(blob), blob) for rel, blob in folders))
            self._db.execute("UPDATE build SET valid = 1, steady = ? WHERE root = ?", (json.dumps(steady), self.root))
