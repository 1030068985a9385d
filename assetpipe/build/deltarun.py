"""The delta build carried out (build/delta.py finds and checks what changed): the changed files hashed,
compressed and written through the writer, the sidecars of removed files removed, the manifest and the
ledger spliced (build/splice.py), the counts a full build would report worked out by difference from
the recorded ones, and the record updated.

Crash safety: the record is marked untrusted before the first write and trusted again after the last, so
a build killed in between runs in full next time, and that full build has the journal, as after any
killed build (docs/reliability.md). A Fallback raised after some writes (a write refused, a file that
failed) leaves every file whole and recorded in the journal; the full build that follows finishes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import naming
from ..cache import shared
from ..cache.statmemo import RACY_NS, StatMemo
from ..cache.store import Cache
from ..compress import codecs as compress
from ..config import Config
from ..model import Action, BuildResult, BuildStats, Encoding, Failure, Notice, Observer, OwnedFile, Plan, SourceFile
from . import deltapages, ledger, listing, manifest, splice, wire
from .counts import _count
from .delta import Fallback, Found, changed_folders, find, named_folders, unsupported
from .ledger import STATE_DIR
from .pageinputs import PageInputs
from .plan import make_plan, wants_compression
from .request import BuildRequest
from .run import execute
from .safety import REMOVAL_FLOOR
from .scan import learner
from .writer import Puts, Stamps, Writer, WriteRefused

# The state files a delta writes itself: recorded with their stamps even when racy (see docs/scale.md)
_OWN_STATE = frozenset({manifest.NAME, ledger.OUTPUTS})


@dataclass(frozen=True)
class Declined:
    """Why the full build runs instead of a delta; `changed`: the delta's walk found the folder changed
    since its record, made with or after the no-op's, so the no-op's record cannot match either."""

    reason: str
    changed: bool = False


class _Changed(Exception):
    """A Fallback (or an error) after the walk found changes."""


def attempt(request: BuildRequest, fingerprint: str, observer: Observer, started: float,
            started_ns: int) -> BuildResult | Declined:
    """The delta build's result, or why the full build runs instead."""
    if request.changed == () or (request.scan_memo is not None and request.changed is None):
        return Declined("a full build asked for (assetpipe watch's first run, a run for many paths, a caller's "
                        "scan memo)")
    try:
        record = listing.Record(request.cache_dir, request.source, create=False)
    except (OSError, sqlite3.Error):
        return Declined("no record")
    try:
        return _attempt(record, request, fingerprint, observer, started, started_ns)
    except Fallback as exc:
        return Declined(str(exc))
    except _Changed as exc:
        return Declined(str(exc), changed=True)
    except (OSError, sqlite3.Error, splice.Malformed, WriteRefused, KeyError, TypeError, ValueError) as exc:
        return Declined(f"{type(exc).__name__}: {exc}")
    finally:
        record.close()


def remember(request: BuildRequest, fingerprint: str, result: BuildResult, started_ns: int,
             pages: PageInputs | None = None, puts: Puts | None = None) -> bool:
    """After a full build that said nothing (no failure, no warning): record every folder's listing, with
    the counts a build of the folder as it is now would report, and what its pages' rewrite read (`pages`);
    else drop any record. `puts`: what the build's writer saw of the files it put in place (trusted as
    it left them). Whether it recorded."""
    counts = _steady(result)
    steady = counts is not None and not (result.failures or result.notices or unsupported(request))
    try:
        record = listing.Record(request.cache_dir, request.source, create=steady)
    except (OSError, sqlite3.Error):
        return False
    try:
        record.drop()
        if steady:
            walked = listing.walk(request.source, _settling(started_ns, puts))
            folders = _nothing_lost(request.source, walked, started_ns)
            record.replace(fingerprint, counts, folders, pages)  # type: ignore[arg-type]
            return True
    # a _Lost rolls the new record back: none is left; so does a name that is not UTF-8 (SQLite takes text
    # as UTF-8): such a folder is not recorded, and every build of it is a full one
    except (OSError, sqlite3.Error, splice.Malformed, _Lost, UnicodeEncodeError):
        pass
    finally:
        record.close()
    return False


class _Lost(Exception):
    """A file the build left (the manifest lists it, or the ledger) is not in the folder after it."""


def _nothing_lost(root: Path, folders: Iterator[tuple[str, bytes]], started_ns: int) -> Iterator[tuple[str, bytes]]:
    """The walk's folders as they come; then, when any folder's names changed since the build began, _Lost
    if a file the build left is not in the listing recorded. A file removed (or renamed, or its folder)
    while the build ran, after the build had read it, is in the manifest but in no listing: a record
    made without it would show no change next time, and the manifest would go on listing it. An added or
    rewritten file needs no such check: its stamp is racy, recorded as zero, so it is looked at again."""
    walked: set[str] = set()
    moved: dict[str, frozenset[str]] = {}  # the folders whose names changed since the build began: their names
    racy_from = started_ns - RACY_NS
    for rel, blob in folders:
        walked.add(rel)
        if rel != STATE_DIR:  # the build's own state files: in neither the manifest nor the ledger
            st = os.lstat(root / rel)
            if max(st.st_mtime_ns, st.st_ctime_ns) >= racy_from:
                moved[rel] = frozenset(n for n, stamp in listing.entries(blob).items() if stamp[0] != listing.DIR)
        yield rel, blob
    if not moved:  # no name came or went anywhere since the build began
        return
    state = root / STATE_DIR
    for path, shape in ((state / manifest.NAME, splice.MANIFEST), (state / ledger.OUTPUTS, splice.LEDGER)):
        for rel in splice.keys(path, shape):
            folder, _, name = rel.rpartition("/")
            if folder not in walked or (folder in moved and name not in moved[folder]):
                raise _Lost(rel)


def _attempt(record: listing.Record, request: BuildRequest, fingerprint: str, observer: Observer,
             started: float, started_ns: int) -> BuildResult:
    head = record.head()
    if head is None:
        raise Fallback("no record")
    if head[0] != fingerprint:
        raise Fallback("another config, version or switch")
    steady: dict[str, Any] = head[1]
    root = request.source
    changed = changed_folders(record, root, request.jobs) if request.changed is None else named_folders(record, root,
                                                                                          request.changed)
    if not changed:  # nothing changed: the recorded counts (whatever runs the encodes: none is run)
        stats = BuildStats(**steady, seconds=time.perf_counter() - started)
        return BuildResult(root, Plan((), (), (), ()), (), (), stats, route="noop")
    if (why := unsupported(request)) is not None:  # e.g. another executor than the recording build's
        raise _Changed(why)
    try:
        return _delta(record, request, changed, steady, observer, started, started_ns)
    except Fallback as exc:
        raise _Changed(str(exc)) from None
    except (OSError, sqlite3.Error, splice.Malformed, WriteRefused, KeyError, TypeError, ValueError) as exc:
        raise _Changed(f"{type(exc).__name__}: {exc}") from None


def _delta(record: listing.Record, request: BuildRequest, changed: list[tuple[str, bytes]], steady: dict[str, Any],
           observer: Observer, started: float, started_ns: int) -> BuildResult:
    root, config = request.source, request.config
    codecs = compress.codecs(config.compress) if request.compress else ()
    # pages are plain text when no page is rewritten (the image stage reads them only to rewrite them); else
    # an edited page is rewritten here from what the recorded build's rewrite read (build/deltapages.py)
    rewritten = request.rewrites_pages and deltapages.recorded(record) is not None
    # the stat memo learns what the delta reads and writes, as a full build's scan and writer teach it, so the
    # next full build reads none of it again (a watcher's memo is its own, kept across its runs)
    memo = request.scan_memo if request.scan_memo is not None else StatMemo()
    # the memo reads the cache's rows, as a full build's does: a file it vouches for is not read here
    with _remembering(request, memo) as cache:
        found = find(record, root, changed, tuple(c.name for c in codecs), memo, pages=not request.rewrites_pages,
                     sizes=deltapages.svg_sizes(record) if rewritten else None)
        orphaned = [r for r in found.records if any(r == naming.sidecar(g, c) for g in found.removed
                                                     for c in naming.SIDECAR_SUFFIXES)]
        if len(orphaned) > REMOVAL_FLOOR and not request.allow_delete:
            raise Fallback("removals the removal net decides on")
        vite = manifest.read_vite(root, tuple(_vite_source(rel, e) for rel, e in found.old.items()
                                              if rel in manifest.VITE_MANIFESTS))
        if manifest.BY_NAME in manifest.judge_immutable(found.sources, vite, config.cache).values():
            raise Fallback("a changed file judged immutable by its name (a warning the full build gives)")
        sidecars = {rel: r for rel, r in found.records.items()
                    if any(rel == naming.sidecar(s.rel, c) for s in found.sources for c in naming.SIDECAR_SUFFIXES)}
        owned = tuple(OwnedFile(rel, r.size, r.sha256, r.key) for rel, r in sorted(sidecars.items()))
        record.invalidate()  # from here on a killed build leaves no record to trust
        writer = Writer(root, {**sidecars, **{rel: found.records[rel] for rel in orphaned}}, gate=request.gate,
                        on_write=learner(memo))
        counts = {"encoded": 0, "cache_hits": 0, "up_to_date": 0, "written": 0, "removed": 0, "variants": 0}
        encodings: dict[str, dict[str, Encoding]] = {}
        try:
            sources, shows = found.sources, {}
            if rewritten:  # the full build's order: the pages' rewrite, then the compression of what they hold
                sources, shows = deltapages.rewrite(record, request, sources, found.removed,
                                                    {rel: str(e.get("type")) for rel, e in found.old.items()}, writer,
                                                    counts)
            immutable = manifest.judge_immutable(sources, vite, config.cache)
            plan = make_plan(sources, owned, codecs, config.compress, cache.has, copy_sources=False)
            _compress(plan, request, cache, writer, encodings, observer, counts)
            for rel in [o.rel for o in plan.stale] + orphaned:
                writer.remove(rel)
                counts["removed"] += 1
            entry = manifest.entries(sources, encodings, vite, immutable)
            encode = json.JSONEncoder(sort_keys=True).encode
            rows: dict[str, str | None] = {s.rel: manifest.row(s.rel, entry(s), encode) for s in sources}
            rows.update((rel, None) for rel in found.removed)
            if splice.changes(found.manifest, rows):  # a changed file listed as it was: nothing to write
                writer.write_state(manifest.NAME, lambda: splice.pieces(found.manifest, rows), differs=True)
            records = writer.records
            outputs = {rel: ledger.row(rel, r) if (r := records.get(rel)) else None
                       for rel in {*sidecars, *orphaned, *records}}
            writer.finish(lambda: splice.pieces(found.ledger, outputs), differs=splice.changes(found.ledger, outputs))
        finally:
            writer.close()
    base = _without(steady, found, codecs, config)
    now = _plus(base, sources, encodings, plan, config)
    stats = BuildStats(**{**now, **{k: base[k] + counts[k] for k in ("encoded", "cache_hits", "up_to_date")},
                          "written": counts["written"], "removed": counts["removed"]},
                       seconds=time.perf_counter() - started)
    folders = sorted({*found.folders, STATE_DIR})
    settling = _settling(started_ns, writer.take_puts())
    relisted = [(rel, listing.listing_of(root, rel, settling)) for rel in folders]
    # a file the delta found in a changed folder and did not remove itself, gone by now: removed while it
    # ran, after its folder was read; a record without it would show no change next time (as _nothing_lost)
    removed = {rel for rel in (*sidecars, *orphaned) if not writer.owns(rel)}  # what the delta removed itself
    before = dict(changed)
    for rel, blob in relisted:
        if rel != STATE_DIR and rel in before:
            now_names = listing.entries(blob)
            for name in listing.entries(before[rel]).keys() - now_names.keys():
                if (f"{rel}/{name}" if rel else name) not in removed:
                    raise Fallback(f"{rel}/{name}: removed while the build ran")
    record.update(now, relisted, shows)
    return BuildResult(root, plan, (), (), stats, route="delta")


@contextlib.contextmanager
def _remembering(request: BuildRequest, memo: StatMemo) -> Iterator[Cache]:
    """The cache, `memo` attached to it; what the memo learnt is saved however the delta ends (a fallback
    too: the full build then does not read again what the delta read)."""
    root = os.path.realpath(request.source)
    cache = shared.open_cache(request.cache_dir, None, writes=True)
    try:
        cache.attach_stats(root, memo)
        yield cache
    finally:
        cache.save_stats(root, memo)
        cache.close()


def _compress(plan: Plan, request: BuildRequest, cache: Any, writer: Writer,
              encodings: dict[str, dict[str, Encoding]], observer: Observer, counts: dict[str, int]) -> None:
    """The changed files' sidecars, as the full build makes and writes them (pipeline._apply)."""
    from .pipeline import _apply  # the full build's own step; pipeline imports this module

    codecs = {c.name: c for c in compress.codecs(request.config.compress)}
    notices: list[Notice] = []
    observer.start(len([j for j in plan.jobs if j.action is not Action.FRESH]), "compressing")
    for outcome in execute(plan.jobs, request.source, codecs, cache, request.config.compress.min_ratio,
                           request.jobs, request.compressors):
        if isinstance(outcome, Failure):
            raise Fallback(f"{outcome.file}: {outcome.reason}")
        _count(outcome.work, counts)
        kept = _apply(outcome, writer, encodings, notices, observer, counts)
        if notices:
            raise Fallback(f"{notices[0].file}: {notices[0].message}")
        if outcome.work is not Action.FRESH:
            observer.advance(outcome.job.output, outcome.work.value if kept else "dropped")
    observer.done()


def _settling(started_ns: int, puts: Puts | None) -> listing.Settling:
    """How a folder's listing is recorded: racy entries zeroed, but the manifest and the ledger this build
    wrote itself (a delta would otherwise never follow a build that wrote them) and every file its writer
    put in place and that is as the writer left it (`puts`)."""
    return listing.Settling(started_ns - RACY_NS, {STATE_DIR: _OWN_STATE}, None if puts is None else Stamps.of(puts))


def _steady(result: BuildResult) -> dict[str, Any] | None:
    """The counts the next build reports when nothing changes: this build's when it changed nothing;
    when it wrote (and neither minified nor optimised), every compression job's sidecar up to date if
    kept, else from the cache, where this build put it, and the images' work as the image stage worked
    it out from what it left (`BuildResult.idle_images`). None: not known here (or an image that the
    next build would encode again: that build is not a replay)."""
    stats = result.stats
    counts = {k: v for k, v in dataclasses.asdict(stats).items() if k != "seconds"}
    if not (stats.written or stats.removed):
        return counts
    if stats.minified or stats.minify_runs or stats.optimized or result.idle_images is None:
        return None
    images = Counter(result.idle_images)
    if images[Action.ENCODE]:
        return None
    jobs, kept = len(result.plan.jobs), sum(stats.kept.values())
    return {**counts, "encoded": 0, "cache_hits": jobs - kept + images[Action.CACHED],
            "up_to_date": kept + images[Action.FRESH], "written": 0, "removed": 0}


def _without(steady: Mapping[str, Any], found: Found, codecs: tuple, config: Config) -> dict[str, Any]:
    """The recorded counts less what the changed and removed files gave in the recorded build (a kept
    sidecar up to date, a dropped one from the cache, as a build that changes nothing counts them)."""
    counts = {**steady, "kept": dict(steady["kept"])}
    for rel, entry in found.old.items():
        if rel in manifest.VITE_MANIFESTS:  # read for the others' entries; itself unchanged (delta.find)
            continue
        source = SourceFile(rel, int(entry["size"]), "", "", entry["type"], None, True)  # type: ignore[arg-type]
        sidecars = {c: int(e["size"]) for c, e in entry.get("encodings", {}).items()}
        _add(counts, source, sidecars, len(codecs) if wants_compression(source, config.compress) else 0, config, -1)
    return counts


def _plus(base: Mapping[str, Any], sources: tuple[SourceFile, ...], encodings: Mapping[str, Mapping[str, Encoding]],
          plan: Plan, config: Config) -> dict[str, Any]:
    """The counts of the folder as it is now, as a build that changes nothing would give them."""
    counts = {**base, "kept": dict(base["kept"]), "written": 0, "removed": 0}
    for source in sources:
        jobs = sum(1 for j in plan.jobs if j.source.rel == source.rel)
        _add(counts, source, {c: e.size for c, e in encodings.get(source.rel, {}).items()}, jobs, config, 1)
    counts["kept"] = {c: n for c, n in sorted(counts["kept"].items()) if n}
    return counts


def _add(counts: dict[str, Any], source: SourceFile, sidecars: Mapping[str, int], jobs: int, config: Config,
         sign: int) -> None:
    kept = [c for c in sidecars if c in compress.CODEC_NAMES]
    raw, over = wire.totals(((source.rel, source.size, sidecars),), config)
    for name, value in (("files", 1), ("up_to_date", len(kept)), ("cache_hits", jobs - len(kept)),
                        ("raw_bytes", raw), ("wire_bytes", over)):
        counts[name] += sign * value
    for codec in kept:
        counts["kept"][codec] = counts["kept"].get(codec, 0) + sign


def _vite_source(rel: str, entry: Mapping[str, Any]) -> SourceFile:
    return SourceFile(rel, int(entry["size"]), str(entry["sha256"]), str(entry["integrity"]), str(entry["type"]),
                      None, False)  # type: ignore[arg-type]
