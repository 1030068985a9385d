"""The observer's side of `assetpipe watch`: which events reach the handler, and the handler itself,
which only records the paths they name and wakes the loop (on watchdog's thread; nothing else).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.utils import platform

from ..build import ledger, manifest

# Only these reach the handler (and the inotify mask is made from them): reads are no change (every
# build reads every file), a file's content is complete when it is closed (inotify says when; the
# observers of other systems do not, and report modifications instead), and a folder's creation is
# followed by events for its files.
_CONTENT = FileClosedEvent if platform.is_linux() else FileModifiedEvent
_IN_FOLDER = [FileCreatedEvent, _CONTENT, FileDeletedEvent, FileMovedEvent, DirDeletedEvent, DirMovedEvent]
_IN_PARENT = [DirCreatedEvent, DirDeletedEvent, DirMovedEvent]
# Inside .assetpipe/ only these going away is a change (a clean build would write them again).
_STATE = {ledger.STATE_DIR, f"{ledger.STATE_DIR}/{manifest.NAME}", f"{ledger.STATE_DIR}/{ledger.OUTPUTS}"}


class _Recorder(FileSystemEventHandler):
    """On the observer's thread: note the paths an event names and wake the loop; nothing else."""

    def __init__(self, root: str, ignore: tuple[str, ...]) -> None:
        self.root = root
        self.prefix = root + os.sep
        self.ignore = tuple(p + os.sep for p in ignore)  # folders inside root that are not the site (the cache)
        self.ignore_dirs = tuple(Path(p) for p in ignore)
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._open: set[str] = set()  # files created and not closed yet: still being written
        self._deleted = False  # something went: a wipe or a rename of folders, more is likely to come

    def on_any_event(self, event: FileSystemEvent) -> None:
        names = [n for n in (os.fsdecode(event.src_path), os.fsdecode(event.dest_path)) if self._wanted(n, event)]
        if names:
            with self._lock:
                self._paths.update(names)
                if event.event_type == "created" and not event.is_directory:
                    self._open.add(names[0])
                elif event.event_type in ("closed", "deleted", "moved"):
                    self._open.discard(names[0])
                self._deleted = self._deleted or event.event_type == "deleted"
            self.wake.set()

    def settled(self) -> bool:
        """Every event so far put a whole file in place: each file created was closed, none went."""
        with self._lock:
            return not self._open and not self._deleted

    def add(self, paths: list[str]) -> None:
        """Paths found changed other than by an event (while the folder was not watched)."""
        if paths:
            with self._lock:
                self._paths.update(paths)
            self.wake.set()

    def take(self) -> set[str]:
        with self._lock:
            paths, self._paths, self._open, self._deleted = self._paths, set(), set(), False
        return paths

    def _wanted(self, path: str, event: FileSystemEvent) -> bool:
        if path == self.root:
            return True
        if not path.startswith(self.prefix) or path.endswith(ledger.TEMP_SUFFIX) or path.startswith(self.ignore):
            return False
        rel = path[len(self.prefix):].replace(os.sep, "/")
        if rel.split("/", 1)[0] == ledger.STATE_DIR:
            return event.event_type == "deleted" and rel in _STATE
        return True
