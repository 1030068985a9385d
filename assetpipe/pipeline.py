"""One build, start to finish: folder -> Inventory -> Plan -> outcomes -> files, manifest.

The library entry point: it never prints (it tells an Observer) and never exits (it returns a
BuildResult, or raises UsageError before anything is written).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from . import ledger, manifest
from .cache.statmemo import StatMemo
from .cache.store import Cache
from .compress import codecs as compress
from .config import Config
from .html.picture import PictureSpec
from .images import originals  # both halves of today's originals in one module
from .images import originals as originals_stage
from .images import stage as imagestage
from .images.encodepool import EncodePool
from .ledger import Record
from .minify import minifier as minify
from .minify import stage as minify_stage
from .model import (
    Action,
    BuildResult,
    BuildStats,
    Encoded,
    Encoding,
    Failure,
    Inventory,
    Kind,
    Minified,
    Notice,
    Observer,
    SourceFile,
    UsageError,
)
from .plan import make_plan
from .run import execute
from .scan import scan
from .writer import WriteGate, Writer, WriteRefused


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
    encoders: EncodePool | None = None  # `assetpipe watch`: one pool of image workers across its runs
    gate: WriteGate | None = None  # `assetpipe watch`: stops the writes from another thread on Ctrl-C


def check_folders(source: Path, out: Path | None) -> None:
    """Refuse arguments that cannot work, before anything is read or written."""
    if not source.exists():
        raise UsageError(f"{source}: no such folder")
    if not source.is_dir():
        raise UsageError(f"{source}: not a folder")
    if out is None:
        return
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: not a folder")
    real_source, real_out = os.path.realpath(source), os.path.realpath(out)
    if real_out == real_source:
        raise UsageError(f"--out {out}: is the build folder itself; leave out --out to build in place")
    if real_out.startswith(real_source + os.sep) or real_source.startswith(real_out + os.sep):
        raise UsageError(f"--out {out}: must not be inside {source}, nor contain it")


def build(request: BuildRequest, observer: Observer) -> BuildResult:
    started = time.perf_counter()
    check_folders(request.source, request.out)
    optimize = request.images and request.config.images.optimize_originals
    if optimize and (missing := originals.missing_packages()):
        raise UsageError(f"images.optimize_originals needs {' and '.join(missing)}: "
                         "pip install 'assetpipe[originals]'")
    target = request.out or request.source
    exclude = (request.cache_dir,)
    cache = Cache(request.cache_dir)
    memo = request.scan_memo if request.scan_memo is not None else StatMemo()
    memo_root = os.path.realpath(request.source)
    try:
        if not memo.loaded:
            cache.load_stats(memo_root, memo)
        state = ledger.read(request.source)
        inventory = scan(request.source, state.outputs, exclude=exclude, memo=memo)
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
    if request.images:
        image_plan = imagestage.plan_images(image_sources,
                                            originals_stage.original_reader(request.source, optimized, cache),
                                            target_inventory.owned, request.config.images, settings, cache.has)
        for failure in image_plan.failures:
            observer.failure(failure)
    original_actions = tuple((job.source.rel, action) for job in image_plan.jobs if (action := originals_stage.planned(
        job, settings, optimize, optimized.get(job.source.rel), cache.has)) not in (None, Action.FRESH))
    minify_jobs = minify_stage.make_jobs(inventory.sources, request.config.minify.types(), known_minified,
                                         minify.minifier(), cache.has)
    minify_types = request.config.minify.types()

    def transformed(source: SourceFile) -> bool:  # --out: a later stage remakes this copy each build
        rewritten = source.media_type == "text/html" and request.images and request.config.html.rewrite
        optimised = optimize and source.kind is Kind.IMAGE and source.media_type in imagestage.MIME.values()
        return rewritten or optimised or minify.type_of(source.rel, source.media_type) in minify_types

    plan = make_plan(inventory.sources, target_inventory.owned, codecs, request.config.compress, cache.has,
                     copy_sources=request.out is not None, other_outputs=image_plan.outputs,
                     transformed=transformed)
    plan = replace(plan, minify=minify_jobs, notices=image_plan.notices + plan.notices,
                   images=tuple((r.file, r.action) for job in image_plan.jobs for r in job.renditions)
                   + original_actions)
    for notice in plan.notices:
        observer.notice(notice)
    if request.dry_run:
        cache.close()
        stats = BuildStats(files=len(inventory.sources), seconds=time.perf_counter() - started)
        return BuildResult(target, plan, inventory.failures + image_plan.failures, inventory.notices + plan.notices,
                           stats, dry_run=True)

    failures = list(inventory.failures + image_plan.failures)
    notices = list(inventory.notices + plan.notices)
    writer = Writer(target, {o.rel: Record(o.key, o.sha256, o.size) for o in target_inventory.owned},
                    optimized=optimized if request.out is None else None, gate=request.gate)
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
        if request.images and request.config.html.rewrite:
            sources = _rewrite_pages(sources, specs, request, writer, notices, failures, observer, counts)
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
                           copies=plan.copies, minify=minify_jobs, images=plan.images, notices=plan.notices)
        work = [j for j in plan.jobs if j.action is not Action.FRESH]
        observer.start(len(work), "compressing")
        outcomes = execute(plan.jobs, target, {c.name: c for c in codecs}, cache,
                           request.config.compress.min_ratio, request.jobs)
        for outcome in outcomes:
            if isinstance(outcome, Failure):
                if outcome.file not in {f.file for f in failures}:  # one line per file, not per sidecar
                    failures.append(_report(observer, outcome))
                observer.advance(outcome.file, "failed")
                continue
            _count(outcome.work, counts)
            kept = _apply(outcome, writer, encodings, notices, observer, counts)
            if outcome.work is not Action.FRESH:
                observer.advance(outcome.job.output, outcome.work.value if kept else "dropped")
        observer.done()
        for stale in plan.stale:
            writer.remove(stale.rel)
            counts["removed"] += 1
        present = _present(replace(inventory, sources=stage.sources), failures, request.source)
        vite = manifest.read_vite(request.source, present)
        present_rels = {s.rel for s in present}
        minified = {rel: m for rel, m in stage.minified.items() if rel in present_rels}
        optimised = {rel: r for rel, r in optimised.items() if rel in present_rels}
        document = manifest.build(present, encodings, tuple(failures), vite, minified, image_entries, optimised)
        writer.write_state(manifest.NAME, manifest.dumps(document))
        writer.finish()
        left = {s.rel: (s.size, s.sha256) for s in present}
        left.update((rel, (r.size, r.sha256)) for rel, r in writer.records.items())
    finally:
        writer.close()
        cache.close()
    stats = _stats(present, encodings, counts, time.perf_counter() - started)
    stats = replace(stats, minified=len(minified), minify_runs=stage.minify_runs,
                    minify_saved=sum(m.original_size - m.size for m in minified.values()),
                    images=len(image_entries), variants=counts["variants"], optimized=len(optimised),
                    optimized_saved=sum(r.original_size - r.size for r in optimised.values()))
    return BuildResult(target, plan, tuple(failures), tuple(notices), stats, left=MappingProxyType(left),
                       outputs=frozenset(writer.records))


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
                writer.keep_minified({**writer.minified, rel: record})
        except (OSError, WriteRefused) as exc:
            failures.append(_report(observer, Failure(rel, f"cannot minify in place: {_reason(exc)}")))

def _run_images(plan: imagestage.ImagePlan, request: BuildRequest, settings: imagestage.ImageSettings, cache: Cache,
                writer: Writer, encodings: dict[str, dict[str, Encoding]], failures: list[Failure],
                notices: list[Notice], observer: Observer, counts: dict[str, int], optimised: dict[str, Minified],
                ) -> tuple[dict[str, dict], dict[str, PictureSpec], dict[str, bytes]]:
    """Produce every image's renditions and write the ones worth keeping; return the manifest's `image`
    objects and what the markup rewrite needs, per source image, and the new bytes of every original
    replaced now (opt-in images.optimize_originals). `optimised` starts as the originals optimised in
    place before and ends as those optimised after this build. The encodes run on the request's pool
    (`assetpipe watch` keeps one across its runs), else on one made for this build."""
    known = dict(optimised)
    observer.start(sum(job.needs_decode for job in plan.jobs), "images")
    with contextlib.ExitStack() as own:
        pool = request.encoders or own.enter_context(imagestage.encode_pool(request.jobs,
                                                                            request.config.images.timeout))
        outcomes = originals_stage.run(plan, request.source, cache, settings, pool, known)
        result = _take_images(outcomes, request, settings, cache, writer, encodings, failures, notices, observer,
                              counts, optimised, known)
    observer.done()
    return result


def _take_images(outcomes: Iterator[imagestage.ImageResult | Failure], request: BuildRequest,
                 settings: imagestage.ImageSettings, cache: Cache, writer: Writer,
                 encodings: dict[str, dict[str, Encoding]], failures: list[Failure], notices: list[Notice],
                 observer: Observer, counts: dict[str, int], optimised: dict[str, Minified],
                 known: dict[str, Minified]) -> tuple[dict[str, dict], dict[str, PictureSpec], dict[str, bytes]]:
    entries: dict[str, dict] = {}
    specs: dict[str, PictureSpec] = {}
    replaced: dict[str, bytes] = {}
    with contextlib.closing(outcomes):  # an exception (Ctrl-C) stops the running encodes at once
        for outcome in outcomes:
            if isinstance(outcome, Failure):
                failures.append(_report(observer, outcome))
                observer.advance(outcome.file, "failed")
                continue
            rel = outcome.job.source.rel
            record, data = _settle_original(outcome, request, cache, settings, writer, known.get(rel), notices,
                                            observer, counts)
            optimised.pop(rel, None)
            if record is not None:
                optimised[rel] = record
            if data is not None:
                replaced[rel] = data
            # what the URL serves after this build: same-URL sidecars must be smaller than that
            size = len(data) if data is not None else record.size if record is not None else outcome.job.source.size
            outcome = replace(outcome, job=replace(outcome.job, source=replace(outcome.job.source, size=size)))
            decision = imagestage.decide(outcome)
            try:
                refused = _write_renditions(decision, writer, notices, observer, counts)
            except OSError as exc:
                failures.append(_report(observer, Failure(outcome.job.source.rel, f"cannot write: {_reason(exc)}")))
                continue
            entry = dict(decision.entry)
            entry["variants"] = [v for v in entry["variants"] if v["file"] not in refused]
            entries[outcome.job.source.rel] = entry
            specs[outcome.job.source.rel] = imagestage.picture_spec(outcome.job, entry)
            for fmt, sidecar in decision.encodings.items():
                if sidecar["file"] not in refused:
                    encodings.setdefault(outcome.job.source.rel, {})[fmt] = Encoding(str(sidecar["file"]),
                                                                                     int(sidecar["size"]))
            if outcome.job.needs_decode:
                observer.advance(outcome.job.source.rel, "encode")
    return entries, specs, replaced


def _write_renditions(decision: imagestage.Decision, writer: Writer, notices: list[Notice], observer: Observer,
                      counts: dict[str, int]) -> set[str]:
    """Write one image's renditions worth keeping and remove its earlier ones no longer worth it; return
    the files refused (a user's file holds the name: noticed, left alone)."""
    refused: set[str] = set()
    for produced in decision.keep:
        _count(produced.work, counts)
        if produced.data is not None:
            try:
                counts["written"] += writer.write(produced.rendition.file, produced.data, produced.rendition.key)
            except WriteRefused as exc:
                refused.add(produced.rendition.file)
                notice = Notice(produced.rendition.file, str(exc).split(": ", 1)[-1])
                notices.append(notice)
                observer.notice(notice)
                continue
        counts["variants"] += 1
    for produced in decision.drop:
        if produced.work is Action.FRESH:  # on disk from an earlier build, no longer worth it
            writer.remove(produced.rendition.file)
            counts["removed"] += 1
    return refused


def _settle_original(outcome: imagestage.ImageResult, request: BuildRequest, cache: Cache,
                     settings: imagestage.ImageSettings, writer: Writer, known: Minified | None,
                     notices: list[Notice], observer: Observer, counts: dict[str, int],
                     ) -> tuple[Minified | None, bytes | None]:
    """Opt-in images.optimize_originals for one image: (the record of the original when the file is an
    optimised form of it after this build, the bytes put in place now). Failing leaves the file as it is."""
    settled = originals_stage.settle(outcome, request.source, request.out or request.source, cache, settings,
                                     request.config.images.optimize_originals, known)
    if settled.work is not None:
        _count(settled.work, counts)
    notice = settled.notice
    if settled.data is not None:
        try:
            if request.out is None:
                if settled.original is not None:  # later builds make variants from these, never the copy
                    cache.put(originals_stage.original_key(outcome.job.source.sha256), settled.original)
                    cache.flush()
                current = known.sha256 if known is not None else outcome.job.source.sha256
                writer.rewrite_user_file(settled.rel, settled.data, current, settled.record, ledger.OPTIMIZED)
                counts["written"] += 1
            else:
                counts["written"] += writer.transform_copy(settled.rel, settled.data)
            return settled.record, settled.data
        except (OSError, WriteRefused) as exc:
            reason = str(exc).split(": ", 1)[-1] if isinstance(exc, WriteRefused) else _reason(exc)
            notice = Notice(settled.rel, f"not optimised, left as it is: {reason}")
            settled = replace(settled, record=known)
    if notice is not None:
        notices.append(notice)
        observer.notice(notice)
    return settled.record, None


def _rewrite_pages(sources: tuple[SourceFile, ...], specs: dict[str, PictureSpec], request: BuildRequest,
                   writer: Writer, notices: list[Notice], failures: list[Failure], observer: Observer,
                   counts: dict[str, int]) -> tuple[SourceFile, ...]:
    """Give every page's `<img>` of a processed image its `<picture>` (SPEC §2.2); the sources as they are
    now. In place the page itself is rewritten; with --out, its copy."""
    target = request.out or request.source
    updated: list[SourceFile] = []
    for source in sources:
        if source.media_type != "text/html":
            updated.append(source)
            continue
        try:
            html = (target / source.rel).read_bytes()
        except OSError as exc:
            updated.append(source)
            failures.append(_report(observer, Failure(source.rel, f"cannot read: {_reason(exc)}")))
            continue
        from .html import rewrite as markup  # here: html5lib is imported only by a build that has pages

        result = markup.rewrite(html, source.rel, specs, default_sizes=request.config.images.sizes)
        if result.unreadable:
            notice = Notice(source.rel, f"<img> tags not rewritten: {result.unreadable}")
            notices.append(notice)
            observer.notice(notice)
        if result.html == html:
            updated.append(_described(source, html))
            continue
        try:
            if request.out is None:
                writer.rewrite_user_file(source.rel, result.html, hashlib.sha256(html).hexdigest(), None)
                counts["written"] += 1
            else:
                counts["written"] += writer.transform_copy(source.rel, result.html)
        except (OSError, WriteRefused) as exc:
            updated.append(source)
            failures.append(_report(observer, Failure(source.rel, f"cannot rewrite: {_reason(exc)}")))
            continue
        updated.append(_described(source, result.html))
    return tuple(updated)


def _described(source: SourceFile, data: bytes) -> SourceFile:
    """The source as described by these bytes (a page the rewrite, or an earlier stage, changed)."""
    sha256 = hashlib.sha256(data).hexdigest()
    if sha256 == source.sha256:
        return source
    sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    return replace(source, size=len(data), sha256=sha256, sha384=sri)


def _out_inventory(out: Path, exclude: tuple[Path, ...]) -> Inventory:
    if not out.exists():
        return Inventory(out, (), ())
    found = scan(out, ledger.load(out), exclude=exclude)
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
        if outcome.work is Action.FRESH:  # kept before, but the ratio rule changed
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


_COUNTED = MappingProxyType({Action.ENCODE: "encoded", Action.CACHED: "cache_hits", Action.FRESH: "up_to_date"})


def _count(work: Action, counts: dict[str, int]) -> None:
    """One output's work in the build's counts: encoded now, taken from the cache, or already on disk."""
    counts[_COUNTED[work]] += 1


def _present(inventory: Inventory, failures: list[Failure], root: Path) -> tuple:
    """The sources still in the folder: a file that vanished mid-build is listed only as a failure."""
    failed = {f.file for f in failures}
    return tuple(s for s in inventory.sources if s.rel not in failed or (root / s.rel).exists())


def _stats(sources: tuple, encodings: dict[str, dict[str, Encoding]], counts: dict[str, int],
           seconds: float) -> BuildStats:
    kept: dict[str, int] = {}
    original = best = 0
    for source in sources:
        # Content-Encoding sidecars only; the same-URL image sidecars are counted with the images.
        found = {c: e for c, e in encodings.get(source.rel, {}).items() if c in compress.CODEC_NAMES}
        if not found:
            continue
        for codec in found:
            kept[codec] = kept.get(codec, 0) + 1
        original += source.size
        best += min(e.size for e in found.values())
    return BuildStats(files=len(sources), kept=kept, original_bytes=original, best_bytes=best,
                      seconds=seconds, **counts)


def _report(observer: Observer, failure: Failure) -> Failure:
    observer.failure(failure)
    return failure


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
