"""`assetpipe watch`: one filesystem observer, a quiet period, then the same pipeline on the folder.

The observer's handler only records the paths that events name. The loop waits for an event, then
for a quiet period with none (capped, so a steady stream of writes still gets runs), takes the paths,
keeps those whose content differs from what the last run left (so assetpipe's own writes, its
sidecars, variants and the pages' `<picture>` rewrite, start no run), and runs `pipeline.build` on
the folder. The pipeline is incremental by construction: outputs whose inputs did not change are not
touched, the rest comes from the content cache, and the scan reads again only the files that changed
(a memo kept across runs, from which every path an event named is dropped first). So a run does the
work of what changed, and leaves what a clean build would.

Content changes are seen when the writer closes the file (inotify's IN_CLOSE_WRITE), not at every
write(2): a build tool writes whole files, and a per-write event cost more CPU than the run itself when
thousands of files are written (Vite's emptyOutDir rebuild, and a run's own outputs). So the quiet
period is the short `settle` while every event of the burst put a whole file in place (closed after
writing, or renamed into place), and the longer `quiet` once a file was created and is not closed yet,
or something was deleted (a wipe, whose deleting can pause longer than `settle`, rewrites the
site). A change made without closing a file (a truncate(2) by path, a write through mmap) is seen at
the next event or run.

The folder is not watched while a run for many changed paths builds it: such a run writes thousands
of files in a wipe (three or four inotify events each, every one a few Python objects on two threads,
which cost as much CPU as the writes), and none of them is a change. (A run for a few paths keeps the
watch: the events of its few writes cost less than the walk below, and are found to be no change.)
Right after the run the watch is made again and the folder is walked once: a file whose stat stamp the
scan memo trusts (statmemo.py) holds what the run read; any other file is hashed; a file that is not
what the run left, one the run did not know, or one that went, is recorded as if an event had named it.
So nothing written during a run is missed.

The builds go on a thread of their own (one for the watcher's life, which keeps the image workers
from one run to the next, started before they are needed), so Ctrl-C, on the main thread, never waits
for an encode: `interrupt()` closes the run's WriteGate (after the file being written, if any; no other is
begun), and the caller may then end the process at once.

The folder may be deleted and made again (`rm -rf dist && vite build`): its parent is watched for
that, and checked every second, and the folder's watch is then made anew.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from watchdog.observers import Observer as FolderObserver
from watchdog.observers.api import ObservedWatch

from .. import naming
from ..build import ledger, noop, scan
from ..build.pipeline import BuildRequest, build
from ..build.writer import WriteGate
from ..cache import shared
from ..cache.statmemo import RACY_NS, Stamp, StatMemo, stamp_of
from ..images import stage as imagestage
from ..model import BuildResult, FileSums, Observer
from .recorder import _IN_FOLDER, _IN_PARENT, _STATE, _Recorder
from .runs import _Builder, _RunObserver

QUIET_CAP = 2.0  # seconds: the longest a steady stream of writes waits for a run
# A run for at most this many changed paths keeps the watch: its own writes are few (a file's sidecars,
# an image's variants and the pages that show it), and their events cost less than walking the folder.
SMALL_RUN = 64
CHECK_EVERY = 1.0  # seconds: how often an idle watcher checks that the folder is still the same folder

Say = Callable[[str], None]


class Watcher:
    """`start()` builds once and starts watching; `loop()` runs until `stop()` (from another thread)
    or KeyboardInterrupt; `close()` stops the observer. One line per run goes to `say`."""

    def __init__(self, request: BuildRequest, observer: Observer, say: Say, *, quiet: float, settle: float,
                 cap: float = QUIET_CAP) -> None:
        self.gate = WriteGate()
        encoders = imagestage.encode_pool(request.jobs, request.config.images.timeout) if request.images else None
        self._scan_memo = StatMemo()
        self.request = replace(request, scan_memo=self._scan_memo, gate=self.gate, encoders=encoders,
                               reports_left=True, fingerprint=noop.digest(request))
        # The memo is kept in the cache, a row read as it is asked for (never loaded whole: 600,000 files'
        # entries were about 450 MB): each run attaches it to its own cache, and the watcher, between runs,
        # to a connection of its own for the while it looks (`_memo`).
        self._memo_root = os.path.realpath(request.source)
        self._builder = _Builder()
        self.root = os.path.abspath(request.source)
        self.say = say
        self.quiet, self.settle, self.cap = quiet, min(settle, quiet), max(cap, quiet)
        self._observer = _RunObserver(observer)
        cache = os.path.abspath(request.cache_dir)
        inside = (cache,) if cache.startswith(self.root + os.sep) else ()
        self._recorder = _Recorder(self.root, inside)
        self._folders = FolderObserver()
        self._watch: ObservedWatch | None = None
        self._identity: tuple[int, int] | None = None
        # What the last run left (rel -> size and sha256, packed: model.FileSums) and its outputs (the ledger):
        # the watcher's own copies, patched in place after a delta (a copy per run would cost more than the
        # delta at 200,000 files)
        self._baseline: dict[str, bytes] | None = None
        self._unsettled: set[str] = set()  # failed files the last run could not list: any event is a change
        self._outputs: set[str] = set()
        self._stopping = threading.Event()
        self._interrupted = False

    # --- the loop ---------------------------------------------------------------------------------

    def start(self) -> BuildResult:
        """Build the whole folder once, then watch it (what changed during that build is caught up)."""
        self._folders.start()
        parent = os.path.dirname(self.root)
        if parent != self.root:
            with contextlib.suppress(OSError):  # the once-a-second check still sees the folder come back
                self._folders.schedule(self._recorder, parent, recursive=False, event_filter=_IN_PARENT)
        self._identity = _identity(self.root)
        self._observer.begin([], progress=True)
        since = time.time_ns()
        result = self._build()
        # The removal net (safety.py) guards the first build, which meets the folder as an earlier run
        # left it; after that, every removal follows a deletion this watcher saw.
        self.request = replace(self.request, allow_delete=True)
        self._settle(result)
        self._resume(since)
        return result

    def loop(self) -> None:
        while not self._stopping.is_set():
            paths = self._settled()
            if self._stopping.is_set():
                return
            identity = _identity(self.root)
            if identity is None:
                if self._identity is not None:
                    self.say(f"{_clock()} {self.request.source}: gone; waiting for it to come back")
                    self._identity, self._baseline = None, None
                continue
            if identity != self._identity:
                if self._rewatch():
                    with self._memo() as memo:
                        memo.clear()
                    self._run([], f"{self.request.source} replaced")
                continue
            changed = self._changed(paths)
            shown = [rel for rel in changed if self._is_source(rel)]
            own = f"{len(changed) - len(shown)} of assetpipe's own files" if len(changed) > len(shown) else ""
            if shown:
                names = ", ".join(shown[:3]) + (", …" if len(shown) > 3 else "")
                self._run(changed, f"{len(shown)} changed ({names})" + (f" + {own}" if own else ""))
            elif changed:  # outputs deleted, or assetpipe's state: a run puts them back
                self._run(changed, f"{own} changed")

    def stop(self) -> None:
        self._stopping.set()
        self._recorder.wake.set()

    def interrupt(self) -> None:
        """Ctrl-C: stop, and stop the running build's writes after the file being written, if any.
        When this returns, no file is half-written and none will be begun: the process may end now,
        whatever the build's encoders are still doing."""
        self._interrupted = True
        self.stop()
        self.gate.close()

    def close(self) -> None:
        self._folders.stop()
        with contextlib.suppress(RuntimeError):  # never started
            self._folders.join(timeout=0.5)
        if self.request.encoders is not None and not self._interrupted:  # after Ctrl-C they die with the process
            self._builder.call(self.request.encoders.close)

    @contextlib.contextmanager
    def _memo(self) -> Iterator[StatMemo]:
        """The scan memo, attached to a connection to the cache of its own (the last run's is closed) while
        the watcher looks; what it forgets meanwhile is saved by the next run (StatMemo.attach)."""
        stats = shared.open_cache(self.request.cache_dir, None, writes=False)
        try:
            stats.attach_stats(self._memo_root, self._scan_memo, save=False)
            yield self._scan_memo
        finally:
            stats.close()

    def _settled(self) -> set[str]:
        """Wait for an event, then for `quiet` seconds with none (at most `cap` in all); the paths."""
        wake = self._recorder.wake
        while not wake.wait(CHECK_EVERY):
            if self._stopping.is_set() or _identity(self.root) != self._identity:
                return self._recorder.take()
        first = time.monotonic()
        while True:
            wake.clear()
            left = first + self.cap - time.monotonic()
            period = self.settle if self._recorder.settled() else self.quiet
            if self._stopping.is_set() or left <= 0 or not wake.wait(min(period, left)):
                return self._recorder.take()

    def _run(self, changed: list[str], what: str) -> None:
        started, since = time.perf_counter(), time.time_ns()
        self._observer.begin(changed, progress=False)
        if len(changed) > SMALL_RUN:
            self._pause()
        try:  # a few changed paths: the build may be a delta that reads only their folders (build/delta.py)
            small = self._baseline is not None and 0 < len(changed) <= SMALL_RUN
            result = self._build(tuple(changed) if small else ())
        except Exception as exc:  # watching goes on: the next change gets a fresh run (mkdocs' rule)
            self._baseline = None
            self.say(f"{_clock()} {what} · error: {exc} · {time.perf_counter() - started:.2f} s")
            self._resume(since)
            return
        self._settle(result, changed)
        self.say(f"{_clock()} {what} · {_done(result)} · {time.perf_counter() - started:.2f} s")
        self._resume(since)

    def _pause(self) -> None:
        """No watch while a run writes: its own writes are no change (see the module docstring)."""
        if self._watch is not None:
            with contextlib.suppress(KeyError, OSError):
                self._folders.unschedule(self._watch)
            self._watch = None

    def _resume(self, since: int) -> None:
        """Watch again, then record what changed while unwatched (since the wall clock read `since`, before
        the run began). A folder replaced meanwhile is left to the loop's identity check (a new watch, a
        whole run)."""
        if self._watch is not None:
            return  # watched all along (a small run): the events of its own writes are no change
        if self._identity is None or _identity(self.root) != self._identity:
            return
        try:
            self._watch = self._folders.schedule(self._recorder, self.root, recursive=True, event_filter=_IN_FOLDER)
        except OSError:
            return  # gone meanwhile: the loop's identity check sees it
        self._recorder.add(self._unwatched_changes(since))

    def _unwatched_changes(self, since: int) -> list[str]:
        """The files that are not what the last run left, and those it left that are gone (absolute). A file
        the last run knew whose times are older than `since` by more than the stat memo's racy window was
        not changed after the run began (a change sets the ctime, from a clock that lags the wall clock by
        less), so it holds what the run read: it is neither looked up nor hashed."""
        baseline = self._baseline
        if baseline is None:
            return []  # the run failed as a whole: the next event gets a fresh run
        with self._memo() as memo:
            return self._unwatched(memo, baseline, since - RACY_NS)

    def _unwatched(self, memo: StatMemo, baseline: dict[str, bytes], settled: int) -> list[str]:
        """`_unwatched_changes`'s walk, the memo attached."""
        changed: list[str] = []
        seen: set[str] = set()
        for rel, entry in scan.files(Path(self.root), self._recorder.ignore_dirs):
            seen.add(rel)
            # As an event would not: a link (its target's events name the target), what is not a file,
            # a temp file, and a file the last run could not read (its next event brings it back).
            if (entry.is_symlink() or not entry.is_file(follow_symlinks=False)
                    or entry.name.endswith(ledger.TEMP_SUFFIX) or rel in self._unsettled):
                continue
            known = _known(baseline, rel)
            try:
                stamp = stamp_of(os.stat(entry.path))
                same = known is not None and known[0] == stamp[0] and (
                    max(stamp[1], stamp[2]) < settled or _sha256_of(entry.path, rel, stamp, memo) == known[1])
            except OSError:
                same = False
            if not same:
                changed.append(entry.path)
        changed.extend(os.path.join(self.root, rel) for rel in baseline.keys() - seen)
        changed.extend(path for path in (os.path.join(self.root, rel) for rel in sorted(_STATE))
                       if not os.path.exists(path))  # assetpipe's state deleted meanwhile
        return changed

    def _build(self, changed: tuple[str, ...] = ()) -> BuildResult:
        """The pipeline on the builder's thread, waited for here: a KeyboardInterrupt on this (the main)
        thread ends the wait at once, and the caller's `interrupt()` stops the build's writes. When the
        site has images, the image workers are then started for the next run, while nothing changes."""
        request = replace(self.request, changed=changed)

        def work() -> BuildResult:
            result = build(request, self._observer)
            if self.request.encoders is not None and result.stats.images:
                self.request.encoders.prestart()
            return result

        return self._builder.call(work)

    # --- what counts as a change ------------------------------------------------------------------

    def _changed(self, paths: set[str]) -> list[str]:
        """The recorded paths (relative) whose content is not what the last run left."""
        prefix = self.root + os.sep
        changed: list[str] = []
        for path in paths:
            if path == self.root:
                continue  # the folder itself: its identity is checked apart
            rel = path[len(prefix):].replace(os.sep, "/")
            self._scan_memo.forget(rel)  # read it again whatever its stamp says
            if self._differs(rel, path):
                changed.append(rel)
        return sorted(changed)

    def _is_source(self, rel: str) -> bool:
        """For the run's line: a user's file (not an output, nor a folder, nor assetpipe's state)."""
        if rel in _STATE or rel in self._outputs:
            return False
        return (self._baseline is not None and rel in self._baseline) or os.path.isfile(os.path.join(self.root, rel))

    def _differs(self, rel: str, path: str) -> bool:
        if self._baseline is None or rel in self._unsettled:
            return True
        if rel in _STATE:  # only its going away was recorded
            return not os.path.exists(path)
        known = _known(self._baseline, rel)
        try:
            st = os.stat(path)
        except FileNotFoundError:  # gone: a change if the last run knew it, or files in it (a folder)
            return known is not None or any(k.startswith(rel + "/") for k in self._baseline)
        except OSError:
            return True
        if not stat.S_ISREG(st.st_mode):
            return True  # a folder moved in or out: rare, so no need to look closer
        if known is None or known[0] != st.st_size:
            return True
        try:
            return _sha256(path) != known[1]
        except OSError:
            return True

    def _settle(self, result: BuildResult, changed: list[str] | tuple[str, ...] = ()) -> None:
        """Remember what this run left: the sources as the manifest lists them, and the outputs."""
        if result.route in ("delta", "noop") and self._baseline is not None:
            _patch(self.root, self._baseline, self._outputs, changed)
            self._unsettled = set()
            return
        self._baseline = None if result.left is None else dict(result.left.packed)
        self._outputs = set(result.outputs)
        self._unsettled = {f.file for f in result.failures if result.left is None or f.file not in result.left}

    def _rewatch(self) -> bool:
        """(Re)make the folder's watch, e.g. after the folder was deleted and made again."""
        if self._watch is not None:
            with contextlib.suppress(KeyError, OSError):
                self._folders.unschedule(self._watch)
            self._watch = None
        self._identity = _identity(self.root)
        if self._identity is None:
            return False
        try:
            self._watch = self._folders.schedule(self._recorder, self.root, recursive=True, event_filter=_IN_FOLDER)
        except OSError:  # gone again already; the next check retries
            self._identity = None
            return False
        return True


def _done(result: BuildResult) -> str:
    s = result.stats
    parts = [f"{n} {what}" for n, what in ((s.encoded, "encoded"), (s.cache_hits, "from the cache"),
                                            (s.written, "written"), (s.removed, "removed"),
                                            (len(result.failures), "failed")) if n]
    return ", ".join(parts) or "nothing to do"


def _known(baseline: dict[str, bytes], rel: str) -> tuple[int, str] | None:
    """What the last run left at `rel` (size, sha256), if anything."""
    packed = baseline.get(rel)
    return None if packed is None else FileSums.unpack(packed)


def _patch(root: str, left: dict[str, bytes], ours: set[str], changed: list[str] | tuple[str, ...]) -> None:
    """Bring what the last run left up to what a delta run left (it gives no `left`: it knows only the files
    it read): the changed files and their sidecars as they are now."""
    for rel in changed:
        for name, sidecar in ((rel, False), *((naming.sidecar(rel, c), True) for c in naming.SIDECAR_SUFFIXES)):
            path = os.path.join(root, name)
            try:
                left[name] = FileSums.pack(os.stat(path).st_size, _sha256(path))
                if sidecar:
                    ours.add(name)
            except OSError:
                left.pop(name, None)
                ours.discard(name)


def _identity(root: str) -> tuple[int, int] | None:
    try:
        st = os.stat(root)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _sha256_of(path: str, rel: str, stamp: Stamp, memo: StatMemo) -> str:
    """The file's sha256 as the memo vouches for it, else read."""
    found = memo.lookup(rel, stamp)
    return found.sha256 if found is not None else _sha256(path)


def _sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _clock() -> str:
    return time.strftime("%H:%M:%S")
