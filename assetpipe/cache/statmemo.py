"""What reading a file found, remembered by its stat stamp, so an unchanged file is not read again.

A file's stamp is (size, mtime_ns, ctime_ns, inode, device). The memo trusts an entry only when the
stamp is the same AND the entry was recorded when the file's times were already older than
`RACY_NS` (git's "racily clean" rule, the index's answer to the same problem):

- Every change of a file's content (or a rename over it, or a `touch -d` setting its mtime back)
  sets its ctime to the kernel's clock at that moment, which userspace cannot set. The filesystem's
  clock is coarse (a tick, up to 10 ms on Linux; 2 s on FAT) and lags the wall clock by less than
  `RACY_NS`.
- An entry records `checked_ns`, the wall clock read before the stat. Any change after that moment
  gets a ctime >= checked_ns - RACY_NS. An entry is trusted only if the recorded ctime (and mtime) is
  below checked_ns - RACY_NS, so a later change always gives a different stamp. The read happens after
  the stat, so what was read is at least as new as the stamp; a change during the read changes the
  stamp too, and the next look reads again. The scan also stats the file again after reading it and
  records nothing when the stamp moved (a file renamed over it, or written, meanwhile).
- A file changed within `RACY_NS` before it was recorded is simply read again next time (and recorded
  anew, by then old enough).
- But for a file the build's writer put in place itself (build/writer.py), recorded with the stamp the
  writer saw right after the rename and what it wrote there (`vouched`): any later change moves the
  ctime, so an equal stamp means those bytes but for a change within the same clock tick, the trust the
  delta's record gives such a file too (build/listing.py). Without it, the first full build after one
  that wrote every sidecar would read every sidecar again (400,000 at 200,000 files).

This holds where file times come from the same clock as the machine's (local filesystems); a network
filesystem whose server's clock runs behind by more than RACY_NS could defeat it, as it defeats git.
The entries live in the cache folder (outside the build folder, see store.py); `assetpipe watch`
keeps one memo across its runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

RACY_NS = 2_000_000_000  # FAT's 2 s timestamps are the coarsest a local filesystem gives
# An attached memo hands what it recorded to its store every this many entries, so a build that reads
# every file (the first, or one after a `vite build` replaced them all) holds a batch, not the folder.
SPILL_AT = 5_000

Stamp = tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, inode, device


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class Found:
    """What reading a file gave: its size, sha256 (hex), SRI sha384 and first bytes."""

    size: int
    sha256: str
    sha384: str
    head: bytes


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class Entry:
    stamp: Stamp
    checked_ns: int  # the wall clock before the stat that gave `stamp`
    found: Found


def stamp_of(st: os.stat_result) -> Stamp:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def vouched(stamp: Stamp) -> int:
    """The `checked_ns` of an entry for a file the writer put in place, trusted while its stamp is `stamp`
    (see the module docstring)."""
    return max(stamp[1], stamp[2]) + RACY_NS + 1


def trusted(entry: Entry, stamp: Stamp) -> bool:
    """The entry still describes the file whose stamp this is (see the module docstring)."""
    return entry.stamp == stamp and max(stamp[1], stamp[2]) < entry.checked_ns - RACY_NS


class StatMemo:
    """rel -> Entry, and which entries changed since it was loaded (for the cache to save).

    Attached to where the entries are kept (`attach`: a build's memo, and the one `assetpipe watch` keeps
    across its runs), it reads each entry as it is asked for and holds only those recorded since: its
    memory does not grow with the folder. Loaded (`load`), it holds what it was given and what it records
    (a folder whose real path SQLite cannot keep: see cache/store.py)."""

    def __init__(self) -> None:
        self.loaded = False  # attached to (or loaded from) the cache yet
        self._entries: dict[str, Entry] = {}
        self._dirty: set[str] = set()
        self._gone: set[str] = set()
        self._fetch: Callable[[str], Entry | None] | None = None
        self._stored: Callable[[], Iterable[str]] | None = None
        self._spill: Callable[[], None] | None = None

    def load(self, entries: dict[str, Entry]) -> None:
        self._entries = dict(entries)
        self._dirty, self._gone, self.loaded = set(), set(), True
        self._fetch = self._stored = self._spill = None

    def attach(self, fetch: Callable[[str], Entry | None], stored: Callable[[], Iterable[str]],
               spill: Callable[[], None] | None = None) -> None:
        """Read entries one at a time: `fetch(rel)` gives one (None if unknown), `stored()` every rel kept.
        `spill`, when given, saves what was recorded (it takes the changes) each time SPILL_AT entries wait;
        without it (a dry run, which writes nothing) they wait for the caller's save.

        A memo may be attached again, to another connection to the same store (`assetpipe watch` keeps one
        memo across its runs, each of which attaches it to its own cache): what it recorded or forgot and
        has not saved yet is kept (a path forgotten stays unknown until saved), the rest is read anew."""
        self._entries = {rel: self._entries[rel] for rel in self._dirty}
        self.loaded = True
        self._fetch, self._stored, self._spill = fetch, stored, spill

    def lookup(self, rel: str, stamp: Stamp) -> Found | None:
        entry = self._entries.get(rel)
        if entry is None and self._fetch is not None and rel not in self._gone:
            entry = self._fetch(rel)
        return entry.found if entry is not None and trusted(entry, stamp) else None

    def record(self, rel: str, stamp: Stamp, checked_ns: int, found: Found) -> None:
        self._entries[rel] = Entry(stamp, checked_ns, found)
        self._dirty.add(rel)
        self._gone.discard(rel)
        if self._spill is not None and len(self._dirty) >= SPILL_AT:
            self._spill()

    def forget(self, rel: str) -> None:
        if self._entries.pop(rel, None) is not None or self._fetch is not None:
            self._gone.add(rel)
        self._dirty.discard(rel)

    def keep_only(self, present: set[str]) -> None:
        for rel in self._entries.keys() - present:
            self.forget(rel)
        if self._stored is not None:
            self._gone.update(rel for rel in self._stored() if rel not in present)

    def clear(self) -> None:
        for rel in list(self._entries):
            self.forget(rel)
        if self._stored is not None:
            self._gone.update(self._stored())

    def entries(self) -> dict[str, Entry]:
        """The entries in memory (an attached memo's: those recorded since it was attached)."""
        return dict(self._entries)

    def take_changes(self) -> tuple[dict[str, Entry], set[str]]:
        """The entries recorded and the paths forgotten since the last call (what to save)."""
        changed = {rel: self._entries[rel] for rel in self._dirty}
        gone = self._gone
        self._dirty, self._gone = set(), set()
        if self._fetch is not None:  # saved: what an attached memo recorded is read from the store again
            self._entries = {}
        return changed, gone
