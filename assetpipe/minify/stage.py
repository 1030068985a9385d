"""The minify stage (opt-in `[minify]`): plan which user files to minify, then minify them on a pool.

Runs before precompression, so sidecars are of the minified bytes. Nothing here writes into the
build folder: the pipeline hands the results to the writer. Every decision is cached by content
(original sha256 + minifier + version + settings), the decision to leave a file alone included, so
a warm build minifies nothing and a wiped `dist/` with the cache minifies nothing either.

A file an earlier build minified in place is recognised by the ledger (its bytes still hash to the
recorded minified sha256): it is still the user's file, it is not minified twice, and its original
size is still known. A file whose bytes changed since (a new `vite build`) is a fresh original.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from ..cache import store as cache
from ..cache.store import Cache
from ..model import Action, Minified, MinifyJob, Notice, SourceFile
from .minifier import Minifier, MinifyFailed, minify_bytes, skip_reason, type_of, worth_keeping

_KEEP, _MINIFIED = b"K", b"M"  # a cache entry: keep the original (+ why), or the minified bytes


@dataclass(frozen=True)
class StageResult:
    """The sources as they are after the stage, and what changed."""

    sources: tuple[SourceFile, ...]  # minified files carry their minified size and hashes
    minified: dict[str, Minified]  # every file that is a minified form after this build
    new_bytes: dict[str, bytes]  # files to (re)write: minified now or taken from the cache
    notices: tuple[Notice, ...]
    minify_runs: int  # minifications actually run


def make_jobs(sources: tuple[SourceFile, ...], types: tuple[str, ...], known: dict[str, Minified],
              minifier: Minifier, in_cache: Callable[[str], bool]) -> tuple[MinifyJob, ...]:
    """One job per user file of an enabled type; `known` is the ledger's record of earlier minifications."""
    jobs: list[MinifyJob] = []
    for source in sources:
        kind = type_of(source.rel, source.media_type)
        record = known.get(source.rel)
        if record is not None and record.sha256 == source.sha256 and record.size == source.size:
            jobs.append(MinifyJob(source, kind or "", record.key, Action.FRESH))
            continue
        if kind is None or kind not in types or source.size == 0:
            continue
        key = cache.key(source.sha256, f"minify-{kind}", f"{minifier.name} {minifier.settings}")
        jobs.append(MinifyJob(source, kind, key, Action.CACHED if in_cache(key) else Action.ENCODE))
    return tuple(jobs)


def run(jobs: tuple[MinifyJob, ...], sources: tuple[SourceFile, ...], known: dict[str, Minified],
        source_root: Path, store: Cache, workers: int) -> StageResult:
    """Carry out the jobs; every file it cannot minify stays as it was (with a notice when that matters)."""
    by_rel = {s.rel: s for s in sources}
    minified: dict[str, Minified] = {}
    new_bytes: dict[str, bytes] = {}
    notices: list[Notice] = []
    minify_runs = 0
    for job, outcome, fresh_work in _outcomes(jobs, source_root, store, workers):
        rel = job.source.rel
        if job.action is Action.FRESH:
            minified[rel] = known[rel]
            continue
        minify_runs += fresh_work
        if outcome.startswith(_MINIFIED):
            data = outcome[1:]
            sha256 = hashlib.sha256(data).hexdigest()
            minified[rel] = Minified(rel, job.source.size, job.source.sha256, len(data), sha256, job.key)
            new_bytes[rel] = data
            sha384 = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
            by_rel[rel] = replace(job.source, size=len(data), sha256=sha256, sha384=sha384)
        elif reason := outcome[1:].decode("utf-8", "replace"):
            notices.append(Notice(rel, reason))
    return StageResult(tuple(by_rel[s.rel] for s in sources), minified, new_bytes, tuple(notices), minify_runs)


def _outcomes(jobs: tuple[MinifyJob, ...], source_root: Path, store: Cache,
              workers: int) -> Iterator[tuple[MinifyJob, bytes, int]]:
    """(job, cache-entry bytes, 1 when a minification ran) per job, in the jobs' order."""
    work: list[MinifyJob] = []
    ready: dict[str, bytes] = {}
    for job in jobs:
        if job.action is Action.CACHED:
            entry = store.get(job.key)
            if entry is not None and entry[:1] in (_KEEP, _MINIFIED):
                ready[job.key] = entry
                continue
        if job.action is not Action.FRESH:
            work.append(job)
    done: dict[str, bytes] = {}
    if work:
        largest_first = sorted(work, key=lambda j: -j.source.size)
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="assetpipe-minify") as pool:
            results = pool.map(lambda j: _minify_one(j, source_root), largest_first)
            for job, (entry, cacheable) in zip(largest_first, results, strict=True):
                if cacheable:  # a file that changed mid-build, or could not be read, is not cached
                    store.put(job.key, entry)
                done[job.source.rel] = entry
    for job in jobs:
        if job.action is Action.FRESH:
            yield job, b"", 0
        elif job.source.rel in done:
            yield job, done[job.source.rel], 1
        else:
            yield job, ready[job.key], 0


def _minify_one(job: MinifyJob, source_root: Path) -> tuple[bytes, bool]:
    """(cache entry, whether to cache it) for one job: b"M" + minified bytes, or b"K" + why the original
    stays (empty: quietly, as for a file that is already minified)."""
    try:
        data = (source_root / job.source.rel).read_bytes()
    except OSError as exc:
        return _KEEP + f"not minified: cannot read: {exc.strerror or exc}".encode(), False
    if hashlib.sha256(data).hexdigest() != job.source.sha256:
        return _KEEP + b"changed during the build; not minified", False
    reason = skip_reason(job.kind, job.source.rel, data)
    if reason is not None:
        return _KEEP + reason.encode(), True
    try:
        out = minify_bytes(job.kind, data)
    except MinifyFailed as exc:
        return _KEEP + f"not minified, left as it was: {exc}".encode(), True
    except Exception as exc:  # a minifier error on one file must never stop the build or break the file
        return _KEEP + f"not minified, left as it was: minifier error: {exc}".encode(), True
    if not worth_keeping(len(data), len(out)):
        return _KEEP, True
    return _MINIFIED + out, True
