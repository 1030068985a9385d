"""One build, start to finish: folder -> Inventory -> Plan -> outcomes -> files, manifest.

The library entry point: it never prints (it tells an Observer) and never exits (it returns a
BuildResult, or raises UsageError before anything is written).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from .. import naming
from ..cache import shared
from ..cache.statmemo import StatMemo
from ..compress import codecs as compress
from ..config import Config
from ..images import originals
from ..images import originals as originals_stage  # the image stage's step: one module with the optimisers
from ..images import stage as imagestage
from ..minify import minifier as minify
from ..minify import stage as minify_stage
from ..model import (
    Action,
    BuildResult,
    BuildStats,
    Encoded,
    Encoding,
    Failure,
    FileSums,
    Inventory,
    Kind,
    Notice,
    Observer,
    SourceFile,
    UsageError,
)
from . import deltarun, executor, lcp, ledger, manifest, noop, safety, wire
from .counts import _count, _reason, _report
from .ledger import Record
from .pageinputs import PageInputs, shows
from .pictures import _described, _page_rewriter, _rewrite_pages, _run_images, _svg_sizes, shown_hydrated
from .plan import make_plan
from .request import BuildRequest, check_folders
from .run import execute
from .scan import learner, scan
from .writer import Puts, Writer, WriteRefused

__all__ = ["BuildRequest", "build", "check_folders"]


def build(request: BuildRequest, observer: Observer) -> BuildResult:
    started, started_ns = time.perf_counter(), time.time_ns()
    check_folders(request.source, request.out, request.cache_dir, force=request.force)
    if (folder := shared.local_path(request.shared_cache)) is not None:  # a file:// cache: never inside DIR
        check_folders(request.source, request.out, folder, force=request.force)
    chromium = lcp.chromium_for(request)  # --measure-lcp without Chromium: exit 2 before anything is written
    optimize = request.images and request.config.images.optimize_originals
    if optimize and (missing := originals.missing_packages()):
        raise UsageError(f"images.optimize_originals needs {' and '.join(missing)}: "
                         "pip install 'assetpipe[originals]'")
    # --measure-lcp retries a page whose load failed on the next build: never replayed as a no-op
    # the delta's record is a watcher's too: its memo, pool and events do not change what a build makes (one
    # digest serves both records: it reads the installed libraries' metadata and stats assetpipe's sources)
    plain = replace(request, scan_memo=None, encoders=None, changed=None)
    recorded = (request.fingerprint or noop.digest(request)) if chromium is None and noop.skippable(plain) else None
    fingerprint = recorded if noop.skippable(request) else None
    route, replay = "full", fingerprint is not None
    if recorded is not None:  # only a few text files changed since the recorded build: those (build/delta.py)
        delta = deltarun.attempt(request, recorded, observer, started, started_ns)
        if isinstance(delta, BuildResult):
            return delta
        route = f"full (delta: {delta.reason})"
        replay = replay and not delta.changed  # not the folder the no-op recorded: no second walk for it
    if replay and fingerprint is not None:  # nothing changed since a build that changed nothing: its report again
        replayed = noop.replay(request, fingerprint, time.perf_counter() - started)
        if replayed is not None:
            for notice in replayed.notices:
                observer.notice(notice)
            return replace(replayed, route="noop")
    with executor.running(request) as running:  # a Dask cluster is reached and checked before any work
        built, pages, puts = _build(running, observer, started, chromium)
        result = replace(built, route=route)
    # The delta's record, when this build makes one, replays the folder while nothing changes (it is tried
    # first, with the same fingerprint): the no-op's record would be a second walk of the folder for nothing.
    covered = recorded is not None and deltarun.remember(request, recorded, result, started_ns, pages, puts)
    if fingerprint is not None:
        noop.remember(request, fingerprint, result, started_ns, covered=covered)
    return result


def _build(request: BuildRequest, observer: Observer, started: float, chromium: str | None
           ) -> tuple[BuildResult, PageInputs | None, Puts | None]:
    """The full build; for the delta's record, when it rewrote its pages without a failure or a warning,
    what their rewrite read besides the pages (build/pageinputs.py), and what its writer saw of the files it
    put in place (None for --dry-run, and after a failure or a warning: never recorded)."""
    optimize = request.images and request.config.images.optimize_originals
    target = request.out or request.source
    exclude = (request.cache_dir,)
    cache = shared.open_cache(request.cache_dir, request.shared_cache, writes=not request.dry_run)
    memo = request.scan_memo if request.scan_memo is not None else StatMemo()
    memo_root = os.path.realpath(request.source)
    try:
        # the memo reads the cache's rows one at a time (a watcher's too, kept across its runs, attached to
        # each run's cache); --dry-run writes nothing, the cache included: its memo's rows wait for no save
        cache.attach_stats(memo_root, memo, save=not request.dry_run)
        state = ledger.read(request.source)
        # The scan takes each of the ledger's records as it meets its file, and the writer starts from the
        # inventory's owned files: the records read (about 0.8 kB a file) are not held through the build.
        inventory = scan(request.source, state.outputs, exclude=exclude, memo=memo, take=True)
        state = replace(state, outputs={})
        if request.check is not None:
            request.check(inventory)
        if not request.dry_run:  # --dry-run writes nothing, the cache included
            cache.save_stats(memo_root, memo)
        target_inventory = inventory
        if request.out is not None:
            target_inventory = _out_inventory(request.out, exclude)
    except BaseException:
        cache.close()
        raise
    for failure in inventory.failures:
        observer.failure(failure)
    for notice in inventory.notices:
        observer.notice(notice)

    codecs = compress.codecs(request.config.compress) if request.compress else ()
    # The stages run in this order: images (and the <picture> rewrite of the pages), minify (opt-in),
    # precompression; each later one works on what the earlier ones left. The plans made here, before
    # anything is written, are what --dry-run prints.
    known_minified = state.minified if request.out is None else ledger.load_minified(target)
    image_plan = imagestage.ImagePlan((), (), ())
    # Image originals an earlier build optimised in place (opt-in): the image stage sees their originals.
    image_sources, optimized = originals_stage.recognise(
        inventory.sources, state.optimized)
    settings = imagestage.settings_from(request.config.images)
    # each cache entry's size as read: a key names its bytes, so what the plan read serves again when the
    # next build's plan is worked out (`idle_images`)
    sizes: dict[str, int] = {}

    def stored(key: str) -> int | None:  # a cache entry's size (None: none, or damaged)
        if (size := sizes.get(key)) is None and (data := cache.get(key)) is not None:
            size = sizes[key] = len(data)
        return size

    images = frozenset(s.rel for s in image_sources if s.kind is Kind.IMAGE) if request.images else frozenset()
    page_shows: dict[str, frozenset[tuple[str, int]]] = {}  # what each page shows the image stage (pageinputs.py)
    if request.images:  # with no image, no page needs reading now
        shown, in_place = (_shown_images(inventory.sources, request, images, page_shows)
                           if images and request.rewrites_pages else ({}, frozenset()))
        image_plan = imagestage.plan_images(image_sources,
                                            originals_stage.original_reader(request.source, optimized, cache),
                                            target_inventory.owned, request.config.images, settings, cache.has,
                                            shown=lambda rel: None in shown.get(rel, ()),
                                            shown_at=lambda rel: frozenset(w for w in shown.get(rel, ()) if w),
                                            in_place=in_place.__contains__,
                                            stored_size=stored)
        for failure in image_plan.failures:
            observer.failure(failure)
    original_actions = tuple((job.source.rel, action) for job in image_plan.jobs if (action := originals_stage.planned(
        job, settings, optimize, optimized.get(job.source.rel), cache.has)) not in (None, Action.FRESH))
    minify_jobs = minify_stage.make_jobs(inventory.sources, request.config.minify.types(), known_minified,
                                         minify.minifier(), cache.has)
    minify_types = request.config.minify.types()

    def transformed(source: SourceFile) -> bool:  # --out: a later stage remakes this copy each build
        rewritten = source.media_type == "text/html" and request.rewrites_pages
        optimised = optimize and source.kind is Kind.IMAGE and source.media_type in imagestage.MIME.values()
        return rewritten or optimised or minify.type_of(source.rel, source.media_type) in minify_types

    plan = make_plan(inventory.sources, target_inventory.owned, codecs, request.config.compress, cache.has,
                     copy_sources=request.out is not None, other_outputs=image_plan.outputs,
                     transformed=transformed)
    plan = replace(plan, minify=minify_jobs, notices=image_plan.notices + plan.notices,
                   images=tuple((r.file, r.action) for job in image_plan.jobs for r in job.renditions
                                if not r.candidate)
                   + original_actions,
                   image_work=tuple(a for job in image_plan.jobs
                                    for a in imagestage.work((r.key, r.action) for r in job.renditions
                                                             if not r.candidate))
                   + tuple(action for _, action in original_actions))
    for notice in plan.notices:
        observer.notice(notice)
    refusal = None
    if not request.allow_delete:
        in_target = len(target_inventory.sources) + len(target_inventory.owned)
        refusal = safety.removal_refusal(safety.removals(plan.stale, inventory.sources), in_target, target)
    if refusal is not None and not request.dry_run:
        cache.close()
        raise UsageError(refusal)
    if request.dry_run:
        cache.close()
        stats = BuildStats(files=len(inventory.sources), seconds=time.perf_counter() - started)
        return BuildResult(target, plan, inventory.failures + image_plan.failures, inventory.notices + plan.notices,
                           stats, dry_run=True, refusal=refusal), None, None

    failures = list(inventory.failures + image_plan.failures)
    notices = list(inventory.notices + plan.notices)

    writer = Writer(target, {o.rel: Record(o.key, o.sha256, o.size) for o in target_inventory.owned},
                    optimized=optimized if request.out is None else None, gate=request.gate,
                    on_write=learner(memo) if request.out is None else None)  # the memo is DIR's: not --out's
    counts = {"encoded": 0, "cache_hits": 0, "up_to_date": 0, "written": 0, "removed": 0, "variants": 0}
    encodings: dict[str, dict[str, Encoding]] = {}
    try:
        for rel in target_inventory.leftovers:
            writer.remove_leftover(rel)
        for source in plan.copies:
            try:
                writer.copy(request.source / source.rel, source.rel, source.sha256, source.size)
                counts["written"] += 1
            except (OSError, WriteRefused) as exc:
                failures.append(_report(observer, Failure(source.rel, f"cannot copy: {_reason(exc)}")))
        # From here on every stage reads the target: in place it is DIR, with --out the copies.
        optimised = dict(optimized)  # image originals that are optimised copies; updated by the image stage
        image_entries, specs, replaced = _run_images(image_plan, request, settings, cache, writer, encodings,
                                                     failures, notices, observer, counts, optimised)
        sources = tuple(_described(s, replaced[s.rel]) if s.rel in replaced else s for s in inventory.sources)
        measured = lcp.Measured({}, ())
        svgs = (_svg_sizes(sources, target) if (request.rewrites_pages or chromium is not None)
                and any(s.media_type == "text/html" for s in sources) else {})
        if chromium is not None:  # the measured LCP images are an input of the rewrite (build/lcp.py)
            heuristic = _page_rewriter(svgs, specs, request)
            measured = lcp.measure(sources, specs, request, chromium, cache,
                                   lambda html, rel: heuristic(html, rel, ()).html, notices, observer)
        if request.rewrites_pages:
            sources = _rewrite_pages(sources, specs, svgs, request, writer, notices, failures, observer, counts,
                                     measured.choices)
        stage = minify_stage.StageResult(sources, {}, {}, (), 0)
        minify_jobs = minify_stage.make_jobs(sources, request.config.minify.types(), known_minified,
                                             minify.minifier(), cache.has)
        if minify_jobs:
            stage = minify_stage.run(minify_jobs, sources, known_minified, target, cache, request.jobs)
            for notice in stage.notices:
                notices.append(notice)
                observer.notice(notice)
            _write_minified(stage, request, writer, failures, observer, counts)
        if stage.sources != inventory.sources:  # what the files hold now is what gets compressed
            plan = replace(make_plan(stage.sources, target_inventory.owned, codecs, request.config.compress,
                                     cache.has, copy_sources=request.out is not None,
                                     other_outputs=image_plan.outputs, transformed=transformed),
                           copies=plan.copies, minify=minify_jobs, images=plan.images,
                           image_work=plan.image_work, notices=plan.notices)
        work = [j for j in plan.jobs if j.action is not Action.FRESH]
        observer.start(len(work), "compressing")
        made = _made(inventory.sources, stage.sources) if request.compressors is not None else frozenset()
        outcomes = execute(plan.jobs, target, {c.name: c for c in codecs}, cache,
                           request.config.compress.min_ratio, request.jobs, request.compressors, made=made)
        failed = {f.file for f in failures}  # one line per file, not per sidecar (a set: failures can be many)
        for outcome in outcomes:
            if isinstance(outcome, Failure):
                if outcome.file not in failed:
                    failures.append(_report(observer, outcome))
                    failed.add(outcome.file)
                observer.advance(outcome.file, "failed")
                continue
            _count(outcome.work, counts)
            try:
                kept = _apply(outcome, writer, encodings, notices, observer, counts)
            except OSError as exc:  # this sidecar only (a read-only folder); a full disk stops the build
                if outcome.job.source.rel not in failed:
                    failures.append(_report(observer, Failure(outcome.job.source.rel,
                                                              f"cannot write sidecar: {_reason(exc)}")))
                    failed.add(outcome.job.source.rel)
                kept = False
            if outcome.work is not Action.FRESH:
                observer.advance(outcome.job.output, outcome.work.value if kept else "dropped")
        observer.done()
        for stale in plan.stale:
            try:
                writer.remove(stale.rel)
                counts["removed"] += 1
            except OSError as exc:  # kept, and still recorded as assetpipe's: the next build tries again
                failures.append(_report(observer, Failure(stale.rel, f"cannot remove: {_reason(exc)}")))
        present = _present(replace(inventory, sources=stage.sources), failures, request.source)
        vite = manifest.read_vite(request.source, present)
        present_rels = {s.rel for s in present} if stage.minified or optimised else frozenset()  # both opt-in
        minified = {rel: m for rel, m in stage.minified.items() if rel in present_rels}
        optimised = {rel: r for rel, r in optimised.items() if rel in present_rels}
        immutable = manifest.judge_immutable(present, vite, request.config.cache)
        for rel in sorted(rel for rel, why in immutable.items() if why == manifest.BY_NAME):
            notice = Notice(rel, f"cached for a year on its name alone ({naming.content_hash(rel)} looks like a "
                                 "content hash); if it is one, list it in [cache] immutable; if not, rename it "
                                 "or set [cache] by_name = false")
            notices.append(notice)
            observer.notice(notice)
        writer.write_state(manifest.NAME, lambda: manifest.stream(present, encodings, tuple(failures), vite, minified,
                                                                  image_entries, optimised, immutable))
        writer.finish()
        cache.save_stats(memo_root, memo)  # what the writes taught it
        idle_images: tuple[Action, ...] | None = None  # what the image stage counts next if nothing changes
        pages: PageInputs | None = None  # what the pages' rewrite read, for a delta that rewrites a page
        if request.rewrites_pages and not (failures or notices):  # else never recorded
            pages = PageInputs(images, MappingProxyType(page_shows), MappingProxyType(specs),
                               MappingProxyType(svgs))
        if (counts["written"] or counts["removed"]) and not (failures or notices):  # else never recorded
            def on_disk(rel: str) -> tuple[str, int] | None:
                return None if (record := writer.record(rel)) is None else (record.key, record.size)

            idle_images = tuple(action for job in image_plan.jobs
                                for action in imagestage.work_if_unchanged(job, on_disk, cache.has, stored))
        left: FileSums | None = None  # asked for by a watcher: ~0.2 kB a file at the peak, packed
        outputs: frozenset[str] = frozenset()
        if request.reports_left:
            records = writer.records
            packed = {s.rel: FileSums.pack(s.size, s.sha256) for s in present}
            packed.update((rel, FileSums.pack(r.size, r.sha256)) for rel, r in records.items())
            left = FileSums(MappingProxyType(packed))
            outputs = frozenset(records)
    finally:
        writer.close()
        cache.close()
    stats = _stats(present, encodings, counts, time.perf_counter() - started, request.config)
    stats = replace(stats, minified=len(minified), minify_runs=stage.minify_runs,
                    minify_saved=sum(m.original_size - m.size for m in minified.values()),
                    images=len(image_entries), variants=counts["variants"], optimized=len(optimised),
                    optimized_saved=sum(r.original_size - r.size for r in optimised.values()))
    return BuildResult(target, plan, tuple(failures), tuple(notices), stats, left=left, outputs=outputs,
                       lcp=measured.pages, idle_images=idle_images), pages, (
                           None if failures or notices else writer.take_puts())


def _write_minified(stage: minify_stage.StageResult, request: BuildRequest, writer: Writer,
                    failures: list[Failure], observer: Observer, counts: dict[str, int]) -> None:
    """Put each newly minified file in place (opt-in [minify]): in place the user's file itself, with
    the ledger keeping the record of every minified file still present (so the next build knows it and
    its original); with --out, the copy."""
    writer.keep_minified({rel: m for rel, m in stage.minified.items() if rel not in stage.new_bytes})
    for rel, data in stage.new_bytes.items():
        record = stage.minified[rel]
        try:
            if request.out is None:
                writer.rewrite_user_file(rel, data, record.original_sha256, record)
                counts["written"] += 1
            else:
                counts["written"] += writer.transform_copy(rel, data)
                writer.add_minified(rel, record)  # one entry: a copy of them all per file was quadratic
        except (OSError, WriteRefused) as exc:
            failures.append(_report(observer, Failure(rel, f"cannot minify in place: {_reason(exc)}")))


def _made(scanned: tuple[SourceFile, ...], now: tuple[SourceFile, ...]) -> frozenset[str]:
    """The sources this build wrote before compressing them (pages rewritten, files minified)."""
    before = {s.rel: s.sha256 for s in scanned}
    return frozenset(s.rel for s in now if before.get(s.rel) != s.sha256)


def _shown_images(sources: tuple[SourceFile, ...], request: BuildRequest, images: frozenset[str],
                  pairs: dict[str, frozenset[tuple[str, int]]]
                  ) -> tuple[dict[str, frozenset[int | None]], frozenset[str]]:
    """The images some page's markup shows (`<img src/srcset>`, `<source srcset>`, an earlier run's
    `<picture>`): the ones width variants are made for, each with the widths in CSS px its authors gave
    it (None: a page shows it with none); and those an `<img>` given attributes in place shows (a hydrated
    root: their fallback renditions get same-URL sidecars). A page that cannot be read shows none (its
    failure is reported when the rewrite reads it). `pairs` gets what each page shows (pageinputs.shows)."""
    pages = [s for s in sources if s.media_type == "text/html"]
    if not pages:
        return {}, frozenset()
    from ..html.shown import shown_on_page  # here: html5lib is imported only by a build that has pages

    shown: dict[str, frozenset[int | None]] = {}
    in_place: set[str] = set()
    hydrated = shown_hydrated(request)
    for page in pages:
        try:
            found, given = shown_on_page((request.source / page.rel).read_bytes(), page.rel, hydrated)
        except OSError:
            continue
        if shown_here := shows(found, given, images.__contains__):
            pairs[page.rel] = shown_here
        in_place |= given
        for rel, widths in found.items():
            shown[rel] = shown.get(rel, frozenset()) | widths
    return shown, frozenset(in_place)


def _out_inventory(out: Path, exclude: tuple[Path, ...]) -> Inventory:
    if not out.exists():
        return Inventory(out, (), ())
    found = scan(out, ledger.load(out), exclude=exclude, copies_owned=True)
    if found.sources:
        first = found.sources[0].rel
        more = f" and {len(found.sources) - 1} more" if len(found.sources) > 1 else ""
        raise UsageError(f"--out {out}: holds files assetpipe did not write ({first}{more}); "
                         "choose an empty or new folder")
    return found


def _apply(outcome: Encoded, writer: Writer, encodings: dict[str, dict[str, Encoding]],
           notices: list[Notice], observer: Observer, counts: dict[str, int]) -> bool:
    """Write (or drop) one outcome; True when its sidecar is in the folder afterwards."""
    job = outcome.job
    if not outcome.keep:
        # An earlier sidecar under this name is not what this build makes: of these bytes, kept before the
        # ratio rule changed, or of the file's earlier bytes (a page that shrank: its old .gz, still served
        # for it). It goes, as a clean build would not have it.
        if writer.owns(job.output):
            writer.remove(job.output)
            counts["removed"] += 1
        return False
    if outcome.data is not None:
        try:
            counts["written"] += writer.write(job.output, outcome.data, job.key)
        except WriteRefused as exc:
            notice = Notice(job.output, str(exc).split(": ", 1)[-1])
            notices.append(notice)
            observer.notice(notice)
            return False
    encodings.setdefault(job.source.rel, {})[job.codec] = Encoding(job.output, outcome.size)
    return True


def _present(inventory: Inventory, failures: list[Failure], root: Path) -> tuple:
    """The sources still in the folder: a file that vanished mid-build is listed only as a failure."""
    failed = {f.file for f in failures}
    return tuple(s for s in inventory.sources if s.rel not in failed or (root / s.rel).exists())


def _stats(sources: tuple, encodings: dict[str, dict[str, Encoding]], counts: dict[str, int],
           seconds: float, config: Config) -> BuildStats:
    kept: dict[str, int] = {}
    for source in sources:
        # Content-Encoding sidecars only; the same-URL image sidecars are counted with the images.
        for codec in encodings.get(source.rel, {}):
            if codec in compress.CODEC_NAMES:
                kept[codec] = kept.get(codec, 0) + 1
    raw, over = wire.totals(((s.rel, s.size, {c: e.size for c, e in encodings.get(s.rel, {}).items()})
                             for s in sources), config)
    return BuildStats(files=len(sources), kept=kept, raw_bytes=raw, wire_bytes=over, seconds=seconds, **counts)
