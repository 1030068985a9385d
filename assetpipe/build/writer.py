"""The one module that writes into the target folder.

Every file goes to a temp file in its own folder and is put in place with `os.replace`, so a reader
(or a build that was killed) never sees half a file. Before a file is put in place the journal
records it, so the next build knows it is assetpipe's. A path held by a file the user made is never
written over; a path outside the target is never touched.

A WriteGate lets another thread stop the writes at a safe point (`assetpipe watch` on Ctrl-C): once
`close` returns, no file is half-written and no write will begin, whatever the encoders still do.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import hashlib
import os
import secrets
import shutil
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..model import Minified, WriteStopped
from . import ledger
from .ledger import COPY, Record, copy_key

# A write that fails for want of space stops the whole build: every later write would fail the same way.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class WriteRefused(Exception):
    """The path is held by a file assetpipe did not write, or lies outside the target."""


class Interrupted(Exception):
    """The build's writes were stopped from another thread (see WriteGate)."""


@dataclass(frozen=True)
class Puts:
    """What the writer saw of the files it put in place, in the order it put them: each file's inode and its
    ctime right after (-1: removed by the writer), on `device`. Two arrays, 16 bytes a put (a dict of ints
    took 124: 50 MB at 200,000 files with two sidecars each); handed over by `Writer.take_puts`."""

    device: int
    inodes: array[int]
    ctimes: array[int]


@dataclass(frozen=True)
class Stamps:
    """`Puts` looked up by inode (`inodes` sorted, each once, its last put's ctime in step in `ctimes`). A
    file that still shows that ctime has not been changed since the writer's last change to it (but within
    the file system's clock tick), so a listing can trust its stamp although it was written moments ago
    (build/listing.py: the racy rule)."""

    device: int
    inodes: Sequence[int]
    ctimes: Sequence[int]

    @classmethod
    def of(cls, puts: Puts) -> Stamps:
        order = sorted(range(len(puts.inodes)), key=puts.inodes.__getitem__)  # stable: the puts in their order
        inodes, ctimes = array("Q"), array("q")
        for at in order:
            if inodes and inodes[-1] == puts.inodes[at]:
                ctimes[-1] = puts.ctimes[at]
            else:
                inodes.append(puts.inodes[at])
                ctimes.append(puts.ctimes[at])
        return cls(puts.device, memoryview(inodes).toreadonly(), memoryview(ctimes).toreadonly())

    def holds(self, st: os.stat_result) -> bool:
        if st.st_dev != self.device:
            return False
        at = bisect.bisect_left(self.inodes, st.st_ino)
        return at < len(self.inodes) and self.inodes[at] == st.st_ino and self.ctimes[at] == st.st_ctime_ns


class WriteGate:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Wait for the write in progress, if any, and let no other begin."""
        with self._lock:
            self._closed = True

    @contextlib.contextmanager
    def open(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise Interrupted("stopped")
            yield


class Writer:
    def __init__(self, target: Path, owned: dict[str, Record], minified: dict[str, Minified] | None = None,
                 optimized: dict[str, Minified] | None = None, gate: WriteGate | None = None,
                 on_write: Callable[[str, os.stat_result, bytes, str], None] | None = None) -> None:
        """`on_write(rel, st, data, sha256)`: told of each output `write` put in place, with its lstat right
        after and its sha256 (hex) (what the build's stat memo learns of it: cache/statmemo.vouched)."""
        self.target = target
        self._on_write = on_write
        self._gate = gate or WriteGate()
        self._real_target = os.path.realpath(target)
        self._records = dict(owned)  # every output assetpipe may replace, and what it holds
        self._minified = dict(minified or {})  # user files assetpipe minified in place (opt-in)
        self._optimized = dict(optimized or {})  # image originals assetpipe optimised in place (opt-in)
        self._journal: IO[str] | None = None
        self._checked_dirs: set[Path] = set()  # folders known to exist and to lie inside the target
        self._device = os.stat(target).st_dev if os.path.isdir(target) else -1
        # each put in place, in order: the file's inode and its ctime right after (-1 when the writer removed it)
        self._inodes, self._ctimes = array("Q"), array("q")

    # --- writing ------------------------------------------------------------------------------

    def write(self, rel: str, data: bytes, key: str) -> bool:
        """Put `data` at `rel`, recorded as assetpipe's output made from cache key `key`.

        A file already there that assetpipe has no record of is refused, unless it holds exactly
        `data`: then it is the output of a build whose record was lost, and it is adopted as it is."""
        record = Record(key, hashlib.sha256(data).hexdigest(), len(data))
        previous = self._records.get(rel)
        if previous is not None and previous.sha256 == record.sha256 and previous.size == record.size:
            if previous.key != key:  # the same bytes, now made from another recipe
                self._log(rel, record)
                self._records[rel] = record
            return False
        if previous is None and self._holds(rel, data):
            self._log(rel, record)
            self._records[rel] = record
            return False
        path = self._checked(rel)
        self._log(rel, record)
        st = self._atomic(path, lambda handle: handle.write(data))
        self._records[rel] = record
        if st is not None and self._on_write is not None:
            self._on_write(rel, st, data, record.sha256)
        return True

    def link(self, rel: str, existing: str, key: str) -> bool:
        """Make `rel` a second name (a hard link) of `existing`, an output of this build, recorded as made
        from cache key `key`; False when it already is one. OSError when the file system cannot link
        (the caller then names `existing` instead)."""
        record = self._records.get(existing)
        if record is None:
            raise WriteRefused(f"{existing}: not written by assetpipe; not linked to")
        path, target = self._checked(rel), self._inside(existing)
        linked = Record(key, record.sha256, record.size)
        with contextlib.suppress(OSError):
            if os.path.samefile(path, target):
                if self._records.get(rel) != linked:
                    self._log(rel, linked)
                    self._records[rel] = linked
                return False
        self._log(rel, linked)
        with self._gate.open():
            temp = os.path.join(path.parent, f".{path.name}.{secrets.token_hex(4)}{ledger.TEMP_SUFFIX}")
            self._put(temp, path, lambda: os.link(target, temp))
        self._records[rel] = linked
        return True

    def copy(self, source: Path, rel: str, sha256: str, size: int) -> None:
        """Copy a source file into the target (for --out), recorded as assetpipe's copy."""
        path = self._checked(rel)
        record = Record(copy_key(sha256), sha256, size)
        self._log(rel, record)
        with source.open("rb") as src:
            self._atomic(path, lambda handle: shutil.copyfileobj(src, handle, 1 << 20))
        self._records[rel] = record

    def rewrite_user_file(self, rel: str, data: bytes, original_sha256: str, record: Minified | None,
                          section: str = ledger.MINIFIED) -> None:
        """The deliberate exceptions to "never over a user's file" (SPEC §2): a page's `<picture>`
        rewrite (`record` None: rewriting is idempotent, so nothing needs remembering), a file's
        minified form for the opt-in `[minify]` and an image's optimised form for the opt-in
        `images.optimize_originals` (`section` OPTIMIZED). Only while the file still holds exactly the
        bytes the new ones were made from (`original_sha256`); a replaced file's record is journalled
        first, so a killed build still knows it; the file keeps its permission bits."""
        if rel in self._records:
            raise WriteRefused(f"{rel}: an output of assetpipe's, not a user's file")
        path = self._inside(rel)
        try:
            current = path.read_bytes()
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            raise WriteRefused(f"{rel}: vanished during the build") from None
        if hashlib.sha256(current).hexdigest() != original_sha256:
            raise WriteRefused(f"{rel}: changed during the build; left alone")
        if record is not None:
            self._log_line(ledger.journal_minified_line(record, section))

        def fill(handle: IO[bytes]) -> None:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)

        self._atomic(path, fill)
        replaced = self._optimized if section == ledger.OPTIMIZED else self._minified
        if record is not None:
            replaced[rel] = record
        elif section == ledger.OPTIMIZED:  # an image original put back
            replaced.pop(rel, None)

    def take_puts(self) -> Puts:
        """What this writer saw of the files it put in place so far (see Puts), handed over: it keeps no copy,
        so the caller can index them once the build's own data is gone (Stamps.of)."""
        puts = Puts(self._device, self._inodes, self._ctimes)
        self._inodes, self._ctimes = array("Q"), array("q")
        return puts

    @property
    def records(self) -> dict[str, Record]:
        """Every output assetpipe wrote here and what it holds (what the ledger records at `finish()`): a
        copy, of every output; `owns` asks after one."""
        return dict(self._records)

    def owns(self, rel: str) -> bool:
        """Whether `rel` is an output assetpipe wrote here (what `records` holds, without copying it)."""
        return rel in self._records

    def record(self, rel: str) -> Record | None:
        """What `rel` holds when it is an output assetpipe wrote here (its entry in `records`), else None."""
        return self._records.get(rel)

    @property
    def minified(self) -> dict[str, Minified]:
        return dict(self._minified)

    def keep_minified(self, minified: dict[str, Minified]) -> None:
        """The minified user files the ledger goes on recording (those still present and unchanged)."""
        self._minified = dict(minified)

    def add_minified(self, rel: str, record: Minified) -> None:
        """One more minified file the ledger records (a --out copy just minified)."""
        self._minified[rel] = record

    def keep_optimized(self, optimized: dict[str, Minified]) -> None:
        """The optimised image originals the ledger goes on recording (those still present and unchanged)."""
        self._optimized = dict(optimized)

    def transform_copy(self, rel: str, data: bytes) -> bool:
        """--out: replace a copy with what a later stage made of it (its <picture> rewrite, its minified
        form); the record keeps naming the source it was copied from. False when it already holds `data`."""
        previous = self._records.get(rel)
        if previous is None or not previous.key.startswith(COPY):
            raise WriteRefused(f"{rel}: not a copy assetpipe made")
        return self.write(rel, data, previous.key)

    def write_state(self, name: str, data: bytes | Callable[[], Iterable[str | bytes]], *,
                    differs: bool = False) -> None:
        """Write a file of assetpipe's own inside `.assetpipe/` (the manifest, the ledger), unless it
        already holds exactly these bytes (so an unchanged build leaves it, and its mtime, alone).
        `data` may be a function giving the text (or its UTF-8 bytes) piece by piece: it is compared with
        the file as it comes, then written the same way, and never held whole (the manifest of 200,000
        files is 90 MB). `differs`: the caller knows the bytes are not the file's (a delta's splice of a
        changed row): not compared."""
        path = self._state_folder() / name
        pieces = (lambda: (data,)) if isinstance(data, bytes) else data
        if not differs and _holds_text(path, pieces()):
            return
        replaced = _held(path)
        try:
            self._atomic(path, lambda handle: _write_text(handle, pieces()))
        except OSError as exc:
            raise WriteStopped(f"{ledger.STATE_DIR}/{name}: cannot write: {exc.strerror or exc}; the files "
                               "written are whole and the journal keeps them assetpipe's: fix that and build "
                               "again") from None
        finally:
            if replaced is not None:
                threading.Thread(target=os.close, args=(replaced,), name="assetpipe-free", daemon=True).start()

    def remove(self, rel: str) -> None:
        """Delete an earlier output of assetpipe's that this build no longer makes."""
        if rel not in self._records:
            raise WriteRefused(f"{rel}: not written by assetpipe; left alone")
        path = self._checked(rel)
        with self._gate.open(), contextlib.suppress(FileNotFoundError):
            inode = os.lstat(path).st_ino
            os.unlink(path)
            self._stamp(inode, -1)  # its number may be another file's next
        del self._records[rel]

    def finish(self, pieces: Callable[[], Iterable[str | bytes]] | None = None, *, differs: bool = False) -> None:
        """Record the finished set of outputs and drop the journal. `pieces`: the ledger's text when this
        writer knows only some of the outputs (a delta build splices the rest from the ledger in place);
        `differs` as for write_state."""
        self.write_state(ledger.OUTPUTS, pieces or (lambda: ledger.pieces(self._records, self._minified,
                                                                          self._optimized)), differs=differs)
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.target / ledger.STATE_DIR / ledger.JOURNAL)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def remove_leftover(self, rel: str) -> None:
        """Delete a temp file an interrupted build left behind (named so no user file can match)."""
        if not rel.rsplit("/", 1)[-1].endswith(ledger.TEMP_SUFFIX):
            raise WriteRefused(f"{rel}: not an assetpipe temp file")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._inside(rel))

    # --- internals ----------------------------------------------------------------------------

    def _holds(self, rel: str, data: bytes) -> bool:
        path = self._inside(rel)
        try:
            return not path.is_symlink() and path.stat().st_size == len(data) and path.read_bytes() == data
        except OSError:
            return False

    def _checked(self, rel: str) -> Path:
        path = self._inside(rel)
        if rel not in self._records and os.path.lexists(path):
            raise WriteRefused(f"{rel}: exists and was not written by assetpipe; left alone")
        return path

    def _inside(self, rel: str) -> Path:
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise WriteRefused(f"{rel}: not a plain relative path")
        path = self.target.joinpath(*parts)
        if path.parent not in self._checked_dirs:
            parent = os.path.realpath(path.parent)
            if parent != self._real_target and not parent.startswith(self._real_target + os.sep):
                raise WriteRefused(f"{rel}: its folder lies outside {self.target}")
            path.parent.mkdir(parents=True, exist_ok=True)
            self._checked_dirs.add(path.parent)
        return path

    def _state_folder(self) -> Path:
        """`.assetpipe/`, made if missing; never followed out of the target (a link there is refused)."""
        folder = self.target / ledger.STATE_DIR
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            self._stop_if_full(exc, folder)
            raise WriteStopped(f"{ledger.STATE_DIR}: cannot create: {exc.strerror or exc}") from None
        if folder.is_symlink() or os.path.realpath(folder) != os.path.join(self._real_target, ledger.STATE_DIR):
            raise WriteRefused(f"{ledger.STATE_DIR}: a symbolic link or outside {self.target}; state not written")
        return folder

    def _log(self, rel: str, record: Record) -> None:
        self._log_line(ledger.journal_line(rel, record))

    def _log_line(self, line: str) -> None:
        path = self.target / ledger.STATE_DIR / ledger.JOURNAL
        try:
            if self._journal is None:  # the state folder is checked once, when the journal opens
                self._journal = (self._state_folder() / ledger.JOURNAL).open("a", encoding="utf-8")
            with self._gate.open():
                self._journal.write(line)
                self._journal.flush()
        except OSError as exc:
            self._stop_if_full(exc, path)
            raise WriteStopped(f"{ledger.STATE_DIR}/{ledger.JOURNAL}: cannot write: {exc.strerror or exc}; "
                               "nothing more was written") from None

    def _atomic(self, path: Path, fill: Callable[[IO[bytes]], object]) -> os.stat_result | None:
        with self._gate.open():
            try:
                fd, temp = _create_temp(path)
            except OSError as exc:
                self._stop_if_full(exc, path)
                raise

            def write() -> None:
                with os.fdopen(fd, "wb") as handle:
                    fill(handle)

            return self._put(temp, path, write)

    def _put(self, temp: str, path: Path, make: Callable[[], object]) -> os.stat_result | None:
        """Make the temp file, then put it in place; on any failure the temp file goes (a full disk stops
        the build). The file's lstat right after (None: gone already, or on another device)."""
        try:
            make()
            os.replace(temp, path)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            if isinstance(exc, OSError):
                self._stop_if_full(exc, path)
            raise
        # after the rename, which moves the ctime (as a link does): any later change to the file moves it again
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if st.st_dev != self._device:
            return None
        self._stamp(st.st_ino, st.st_ctime_ns)
        return st

    def _stamp(self, inode: int, ctime_ns: int) -> None:
        with contextlib.suppress(OverflowError):  # an inode number past 64 bits: not trusted
            self._inodes.append(inode)
            self._ctimes.append(ctime_ns)

    def _stop_if_full(self, exc: OSError, path: Path) -> None:
        """A full disk (or quota) stops the build at this write, with the file system named."""
        if exc.errno not in _NO_SPACE:
            return
        rel = os.path.relpath(path, self.target)
        raise WriteStopped(f"{rel}: {exc.strerror or 'no space left'} on {_mount_of(self._real_target)}; the build "
                           "stopped there: every file in place is whole and the journal keeps them assetpipe's; free "
                           "space and build again") from None


_BLOCK = 1 << 20


def _blocks(pieces: Iterable[str | bytes]) -> Iterator[bytes]:
    """Text pieces (or their UTF-8 bytes) as blocks of about a MiB: few system calls, little memory."""
    buffered: list[str | bytes] = []
    size = 0
    for piece in pieces:
        buffered.append(piece)
        size += len(piece)
        if size >= _BLOCK:
            yield _joined(buffered)
            buffered, size = [], 0
    if buffered:
        yield _joined(buffered)


def _joined(pieces: list[str | bytes]) -> bytes:
    texts = [piece for piece in pieces if isinstance(piece, str)]
    if len(texts) == len(pieces):  # the full build's manifest and ledger: text
        return "".join(texts).encode("utf-8")
    return b"".join(piece.encode("utf-8") if isinstance(piece, str) else piece for piece in pieces)


def _held(path: Path) -> int | None:
    """A large file about to be replaced, held open (a descriptor), else None. The kernel frees a file's
    pages and blocks when its last name and descriptor go: left to the rename, that is about 50 ms for the
    90 MB manifest of 200,000 files, on every build that changes it (a delta's too); closed on a thread of
    its own after the rename, it is done beside the rest of the build."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_size >= _BLOCK:
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _holds_text(path: Path, pieces: Iterable[str | bytes]) -> bool:
    """The file holds exactly these pieces' bytes (read a block at a time; False at the first difference)."""
    try:
        with open(path, "rb") as handle:
            for block in _blocks(pieces):
                if handle.read(len(block)) != block:
                    return False
            return handle.read(1) == b""
    except OSError:
        return False


def _write_text(handle: IO[bytes], pieces: Iterable[str | bytes]) -> None:
    for block in _blocks(pieces):
        handle.write(block)


def _mount_of(path: str) -> str:
    """`the file system mounted at /mnt/x (device 0:53)`: where a full disk is, for the error line."""
    mount = path
    while not os.path.ismount(mount) and os.path.dirname(mount) != mount:
        mount = os.path.dirname(mount)
    try:
        device = os.stat(mount).st_dev
        return f"the file system mounted at {mount} (device {os.major(device)}:{os.minor(device)})"
    except OSError:
        return f"the file system mounted at {mount}"


def _create_temp(path: Path) -> tuple[int, str]:
    """A new temp file beside `path`, with the mode a plain `open` would give (umask applied)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        temp = os.path.join(path.parent, f".{path.name}.{secrets.token_hex(4)}{ledger.TEMP_SUFFIX}")
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
