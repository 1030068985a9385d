"""Both sides of a diff on disk (SQLite), matched and ordered there: `diff` in flat memory.

The in-memory compare (diff.compare) holds a record per file of each side, the maps that match them and
the list of changes it sorts by |Δ|: about 1.4 kB a file. Here the files go into one table as they are
read (a manifest streams in key order, sidecar sizes computed a batch at a time), and the matching
(Vite name learnt from either side, hash-stripped path, several files of one build on one key compared by
full path) and the order (|Δ| of the headline metric, largest first, then name, then key) are SQL; the
changes and each side's files are read back a row at a time, as often as a writer asks. The result is
exactly diff.compare's: the same keys, names, statuses, order, totals and warnings (a test compares
every format). What SQLite cannot hold as Python had it (a size past 2**62, a name that is not valid
Unicode, a Vite name that is not a string, two files of one side left on one key) raises Unstorable,
and the caller compares in memory instead.

The database is SQLite's private temporary one (`connect("")`): a file in SQLite's temp folder
($SQLITE_TMPDIR, $TMPDIR, /var/tmp, /tmp), unlinked the moment it is opened, so nothing is left behind
however the process ends; a small one never leaves SQLite's page cache at all.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from ..model import Notice
from .diff import LOGICAL_PREFIX, _status, strip_hash
from .measure import _image
from .model import CATEGORIES, FileChange, ImageInfo, MeasuredFile, Sizes, Total

_LABELS = ("base", "head")  # as diff.identities names the sides in its warnings
_LIMIT = 2 ** 62  # sizes and their sums stay SQLite integers
_COLUMNS = "path, category, media_type, sha256, raw, gzip, brotli, logical, image"
_SCHEMA = """
CREATE TABLE files (side INTEGER NOT NULL, path TEXT NOT NULL, stripped TEXT NOT NULL, key TEXT NOT NULL,
                    initial INTEGER NOT NULL, category TEXT NOT NULL, media_type TEXT NOT NULL,
                    sha256 TEXT NOT NULL, raw INTEGER NOT NULL, gzip INTEGER NOT NULL, brotli INTEGER NOT NULL,
                    logical TEXT, image TEXT);
CREATE TABLE changes (b INTEGER, h INTEGER, name TEXT NOT NULL, key TEXT NOT NULL, d INTEGER NOT NULL);
"""


class Unstorable(Exception):
    """These files cannot be compared on disk exactly as in memory; compare them in memory."""


class DiffStore:
    """One diff's files on disk. Use as a context manager: closing it deletes everything."""

    def __init__(self, hash_pattern: str) -> None:
        self._pattern = re.compile(hash_pattern)
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -8192;"
                               + _SCHEMA)
        self._db.execute("BEGIN")

    def __enter__(self) -> DiffStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def add(self, side: int, files: Iterable[MeasuredFile], initial: frozenset[str] | None) -> None:
        """Files of one side (0: base, 1: head), in the order that side lists them."""
        rows = (self._row(side, f, initial) for f in files)
        try:
            self._db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except (sqlite3.Error, UnicodeEncodeError, OverflowError) as exc:
            raise Unstorable(str(exc)) from None

    def forget(self, side: int) -> None:
        """Drop what a side added so far (its manifest is to be read whole instead)."""
        self._db.execute("DELETE FROM files WHERE side = ?", (side,))

    def _row(self, side: int, f: MeasuredFile, initial: frozenset[str] | None) -> tuple[Any, ...]:
        sizes = (f.sizes.raw, f.sizes.gzip, f.sizes.brotli)
        if any(type(n) is not int or not -_LIMIT < n < _LIMIT for n in sizes):
            raise Unstorable(f"{f.path}: size {sizes}")
        if f.logical is not None and not isinstance(f.logical, str):
            raise Unstorable(f"{f.path}: logical {f.logical!r}")
        stripped = strip_hash(f.path, self._pattern)
        key = LOGICAL_PREFIX + f.logical if f.logical else stripped
        return (side, f.path, stripped, key, initial is not None and f.path in initial, f.category, f.media_type,
                f.sha256, *sizes, f.logical, _image_text(f.image))

    def match(self, metric: str) -> tuple[Notice, ...]:
        """Give every file its key, as diff.identities does, order the changes, and return the warnings."""
        if metric not in ("raw", "gzip", "brotli"):
            raise ValueError(metric)
        db = self._db
        try:
            # a Vite name learnt from either side: the first file (base, then head, each in order) that has it
            db.execute("CREATE TEMP TABLE learnt AS SELECT stripped, logical, min(rowid) FROM files "
                       "WHERE logical IS NOT NULL AND logical <> '' GROUP BY stripped")
            db.execute("CREATE INDEX learnt_by_name ON learnt (stripped)")
            db.execute("UPDATE files SET key = ? || (SELECT l.logical FROM learnt l WHERE l.stripped = files.stripped) "
                       "WHERE (logical IS NULL OR logical = '') AND stripped IN (SELECT stripped FROM learnt)",
                       (LOGICAL_PREFIX,))
            db.execute("CREATE INDEX by_key ON files (side, key, path)")
            notices = self._crowded()
            if db.execute("SELECT 1 FROM files GROUP BY side, key HAVING count(*) > 1 LIMIT 1").fetchone():
                raise Unstorable("two files of one side on one key")
            db.execute(f"""INSERT INTO changes
                SELECT b.rowid, h.rowid, coalesce(h.stripped, b.stripped), b.key,
                       abs(coalesce(h.{metric}, 0) - b.{metric})
                  FROM files b LEFT JOIN files h ON h.side = 1 AND h.key = b.key WHERE b.side = 0
                UNION ALL
                SELECT NULL, h.rowid, h.stripped, h.key, abs(h.{metric}) FROM files h
                 WHERE h.side = 1 AND NOT EXISTS (SELECT 1 FROM files b WHERE b.side = 0 AND b.key = h.key)
                ORDER BY 5 DESC, 3, 4""")
        except sqlite3.Error as exc:
            raise Unstorable(str(exc)) from None
        return notices

    def _crowded(self) -> tuple[Notice, ...]:
        """A warning per key several files of one side share; those files are known by their paths."""
        db = self._db
        db.execute("CREATE TEMP TABLE crowded AS SELECT side, key, count(*) AS n FROM files "
                   "GROUP BY side, key HAVING count(*) > 1")
        notices = []
        for side, key, n in db.execute("SELECT side, key, n FROM crowded ORDER BY side, key").fetchall():
            paths = [p for (p,) in db.execute("SELECT path FROM files WHERE side = ? AND key = ? ORDER BY path",
                                              (side, key))]
            notices.append(Notice(key, f"{n} files in {_LABELS[side]} share this name ({', '.join(paths)}); "
                                       "compared by full path"))
        db.execute("UPDATE files SET key = path WHERE key IN (SELECT key FROM crowded)")
        return tuple(notices)

    def changes(self, metric: str, min_change: int) -> Changes:
        return Changes(self._db, metric, min_change)

    def files(self, side: int) -> SideFiles:
        return SideFiles(self._db, side)

    def totals(self, base_initial: bool | None, head_initial: bool) -> tuple[Total, ...]:
        """diff._totals: base_initial None without a base, else whether the base's initial JS is known."""
        def side(side: int, where: str) -> tuple[int, Sizes]:
            n, raw, gzip, brotli = self._db.execute(
                "SELECT count(*), coalesce(sum(raw), 0), coalesce(sum(gzip), 0), coalesce(sum(brotli), 0) "
                f"FROM files WHERE side = ? AND {where}", (side,)).fetchone()
            return n, Sizes(raw, gzip, brotli)

        def total(name: str, where: str) -> Total:
            head_n, head = side(1, where)
            base_n, base = side(0, where) if base_initial is not None else (0, Sizes())
            base_known = base_initial is not None and (name != "initial" or base_initial)
            head_known = name != "initial" or head_initial
            return Total(name, base if base_known else None, head if head_known else None, base_n, head_n)

        try:
            return (total("total", "1"), total("initial", "initial"),
                    *(total(c, f"category = '{c}'") for c in CATEGORIES))
        except sqlite3.Error as exc:
            raise Unstorable(str(exc)) from None


class _Rows(Sequence[Any]):
    """A read-only sequence over a query's rows in order, read from disk at each pass."""

    _db: sqlite3.Connection
    _query: str
    _params: tuple[Any, ...]

    def _make(self, row: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    _count: str  # the query that counts the rows

    def __len__(self) -> int:
        (count,) = self._db.execute(self._count, self._params).fetchone()
        return int(count)

    def __iter__(self) -> Iterator[Any]:
        return map(self._make, self._db.execute(self._query, self._params))

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        count = len(self)
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(count))]
        position = index + count if index < 0 else index
        if not 0 <= position < count:
            raise IndexError(index)
        return self._make(self._db.execute(f"{self._query} LIMIT 1 OFFSET ?", (*self._params, position)).fetchone())


class SideFiles(_Rows):
    """One side's files in its own order: Measured.files."""

    def __init__(self, db: sqlite3.Connection, side: int) -> None:
        self._db, self._query, self._params = db, f"SELECT {_COLUMNS} FROM files WHERE side = ? ORDER BY rowid", (side,)
        self._count = "SELECT count(*) FROM files WHERE side = ?"

    def _make(self, row: tuple[Any, ...]) -> MeasuredFile:
        return _file(row)


class Changes(_Rows):
    """SizeDiff.files: by |Δ| of the metric, largest first, then by name and key."""

    def __init__(self, db: sqlite3.Connection, metric: str, min_change: int) -> None:
        b = ", ".join(f"b.{c}" for c in _COLUMNS.split(", "))
        h = ", ".join(f"h.{c}" for c in _COLUMNS.split(", "))
        self._db, self._params = db, ()
        self._query = (f"SELECT c.key, c.name, b.rowid, {b}, h.rowid, {h} FROM changes c "
                       "LEFT JOIN files b ON b.rowid = c.b LEFT JOIN files h ON h.rowid = c.h ORDER BY c.rowid")
        self._count = "SELECT count(*) FROM changes"
        self._metric, self._min_change = metric, min_change

    def _make(self, row: tuple[Any, ...]) -> FileChange:
        width = len(_COLUMNS.split(", ")) + 1
        old = _file(row[3:2 + width]) if row[2] is not None else None
        new = _file(row[3 + width:]) if row[2 + width] is not None else None
        return FileChange(row[0], row[1], _status(old, new, self._metric, self._min_change), old, new)


def _file(row: Sequence[Any]) -> MeasuredFile:
    path, category, media_type, sha256, raw, gzip, brotli, logical, image = row
    return MeasuredFile(path, category, media_type, sha256, Sizes(raw, gzip, brotli), logical,
                        _image(json.loads(image)) if image is not None else None)


def _image_text(image: ImageInfo | None) -> str | None:
    """ImageInfo as the manifest's `image` object, which measure._image reads back equal."""
    if image is None:
        return None
    return json.dumps({"width": image.width, "height": image.height, "format": image.format,
                       "variants": [{"file": v.file, "format": v.format, "width": v.width, "height": v.height,
                                     "size": v.size} for v in image.variants]}, ensure_ascii=False)
