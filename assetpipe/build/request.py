"""What one build is asked to do (`BuildRequest`), and the checks of its folders made before anything is read."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..cache.statmemo import StatMemo
from ..config import Config
from ..executors.seam import TaskPool
from ..model import Inventory, UsageError
from . import safety
from .writer import WriteGate


@dataclass(frozen=True)
class BuildRequest:
    source: Path
    config: Config
    cache_dir: Path
    out: Path | None = None
    jobs: int = 1
    dry_run: bool = False
    compress: bool = True
    images: bool = True
    scan_memo: StatMemo | None = None  # `assetpipe watch`: one memo across its runs (else one per build)
    encoders: TaskPool | None = None  # `assetpipe watch`: one pool of image workers across its runs
    # `assetpipe watch`: the paths its events named since the last run; a delta (build/delta.py) then reads
    # only their folders' listings instead of walking the whole folder. (): a full build, no delta (the
    # watcher's first run, and a run for many paths: it needs what the whole folder holds)
    changed: tuple[str, ...] | None = None
    executor: str = "local"  # where the encodes run (executors/seam.py): local, dask://HOST:PORT, dask-local[:N]
    workers_dir: str | None = None  # where Dask workers read the build folder (a path or URL); else bytes are sent
    shared_cache: str | None = None  # an fsspec URL: the cache shared with other machines (cache/shared.py)
    compressors: TaskPool | None = None  # the precompression batches' pool, when not this machine's threads
    gate: WriteGate | None = None  # `assetpipe watch`: stops the writes from another thread on Ctrl-C
    allow_delete: bool = False  # go ahead with removals over the net (safety.py): --allow-delete
    force: bool = False  # build a folder that looks like a project's sources: --force
    # The caller's check of its config against the folder, made on the scan before anything is written
    # (--dry-run too); it raises ConfigError. `assetpipe build`'s: every budget can be measured here.
    check: Callable[[Inventory], None] | None = None
    measure_lcp: bool | None = None  # --measure-lcp (build/lcp.py); None: the config's html.measure_lcp
    chromium: str | None = None  # --chromium: the browser --measure-lcp runs (else $ASSETPIPE_CHROMIUM, PATH)
    # `assetpipe watch`: a full build's result gives `left` and `outputs` (what every file holds after it),
    # which the watcher compares events with; a build alone does not keep them (~0.3 kB a file at its peak)
    reports_left: bool = False
    # `assetpipe watch`: the build's fingerprint (build/noop.py's digest), worked out once for the watcher's
    # life, whose process runs the code and libraries it imported at its start (each build read the installed
    # libraries' metadata again: 50-60 ms of a 0.3 s run at 200,000 files)
    fingerprint: str | None = None

    @property
    def rewrites_pages(self) -> bool:
        """Whether this build rewrites the pages' images (and so reads every page): images on and
        html.rewrite. The delta treats a page as plain text exactly when this is false."""
        return self.images and self.config.html.rewrite


def check_folders(source: Path, out: Path | None, cache_dir: Path | None = None, *, force: bool = False) -> None:
    """Refuse arguments that cannot work, or that would lose or expose someone's files, before anything
    is read or written."""
    if not source.exists():
        raise UsageError(f"{source}: no such folder")
    if not source.is_dir():
        raise UsageError(f"{source}: not a folder")
    if not force and (refusal := safety.project_sources(source)):
        raise UsageError(refusal)
    if cache_dir is not None and (refusal := safety.cache_refusal(cache_dir, (source,) if out is None else
                                                                   (source, out))):
        raise UsageError(refusal)
    if (refusal := safety.state_refusal(source if out is None else out)) is not None:
        raise UsageError(refusal)
    if out is None:
        return
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: not a folder")
    if os.path.realpath(out) == os.path.realpath(source):
        raise UsageError(f"--out {out}: is the build folder itself; leave out --out to build in place")
    if safety.inside(out, source) or safety.inside(source, out):
        raise UsageError(f"--out {out}: must not be inside {source}, nor contain it")
