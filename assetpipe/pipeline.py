"""One build, start to finish: folder -> Inventory -> Plan -> outcomes -> files, manifest.

The library entry point: it never prints (it tells an Observer) and never exits (it returns a
BuildResult, or raises UsageError before anything is written).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import compress, imagestage, ledger, manifest, minify, minify_stage
from .cache import Cache
from .config import Config
from .ledger import Record
from .model import (
    Action,
    BuildResult,
    BuildStats,
    Encoded,
    Encoding,
    Failure,
    Inventory,
    Notice,
    Observer,
    UsageError,
)
from .plan import make_plan
from .run import execute
from .scan import scan
from .writer import Writer, WriteRefused


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
    target = request.out or request.source
    exclude = (request.cache_dir,)
    inventory = scan(request.source, ledger.load(request.source), exclude=exclude)
    target_inventory = inventory
    if request.out is not None:
        target_inventory = _out_inventory(request.out, exclude)
    for failure in inventory.failures:
        observer.failure(failure)
    for notice in inventory.notices:
        observer.notice(notice)

    codecs = compress.codecs(request.config.compress) if request.compress else ()
    cache = Cache(request.cache_dir)
    # The minify stage (opt-in) runs first, so the plan below compresses the minified bytes.
    known_minified = ledger.load_minified(request.source)
    minify_jobs = minify_stage.make_jobs(inventory.sources, request.config.minify.types(), known_minified,
                                         minify.minifier(), cache.has)
    stage = minify_stage.StageResult(inventory.sources, {}, {}, (), 0)
    if minify_jobs and not request.dry_run:
        stage = minify_stage.run(minify_jobs, inventory.sources, known_minified, request.source, cache,
                                 request.jobs)
        for notice in stage.notices:
            observer.notice(notice)
    image_plan = imagestage.ImagePlan((), (), ())
    if request.images:
        image_plan = imagestage.plan_images(stage.sources, lambda rel: (request.source / rel).read_bytes(),
                                            target_inventory.owned, request.config.images, cache.has)
        for failure in image_plan.failures:
            observer.failure(failure)
    plan = make_plan(stage.sources, target_inventory.owned, codecs, request.config.compress, cache.has,
                     copy_sources=request.out is not None, other_outputs=image_plan.outputs)
    plan = replace(plan, minify=minify_jobs, images=tuple(
        (r.file, r.action) for job in image_plan.jobs for r in job.renditions))
    plan = replace(plan, notices=image_plan.notices + plan.notices)
    for notice in plan.notices:
        observer.notice(notice)
    if request.dry_run:
        cache.close()
        stats = BuildStats(files=len(inventory.sources), seconds=time.perf_counter() - started)
        return BuildResult(target, plan, inventory.failures + image_plan.failures, inventory.notices + plan.notices,
                           stats, dry_run=True)

    failures = list(inventory.failures + image_plan.failures)
    notices = list(inventory.notices + stage.notices + plan.notices)
    writer = Writer(target, {o.rel: Record(o.key, o.sha256, o.size) for o in target_inventory.owned})
    counts = {"encoded": 0, "cache_hits": 0, "up_to_date": 0, "written": 0, "removed": 0, "variants": 0}
    encodings: dict[str, dict[str, Encoding]] = {}
    try:
        for rel in target_inventory.leftovers:
            writer.remove_leftover(rel)
        if request.out is None:
            _rewrite_minified(stage, writer, failures, observer, counts)
        for source in plan.copies:
            try:
                if source.rel in stage.new_bytes:  # --out: the copy is the minified file; DIR is untouched
                    writer.write(source.rel, stage.new_bytes[source.rel], "copy")
                else:
                    writer.copy(request.source / source.rel, source.rel, source.sha256, source.size)
                counts["written"] += 1
            except (OSError, WriteRefused) as exc:
                failures.append(_report(observer, Failure(source.rel, f"cannot copy: {_reason(exc)}")))
        image_entries = _run_images(image_plan, request, cache, writer, encodings, failures, observer, counts)
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
            _count(outcome, counts)
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
        document = manifest.build(present, encodings, tuple(failures), vite, minified, image_entries)
        writer.write_state(manifest.NAME, manifest.dumps(document))
        writer.finish()
    finally:
        writer.close()
        cache.close()
    stats = _stats(present, encodings, counts, time.perf_counter() - started)
    stats = replace(stats, minified=len(minified), minify_runs=stage.minify_runs,
                    minify_saved=sum(m.original_size - m.size for m in minified.values()),
                    images=len(image_entries), variants=counts["variants"])
    return BuildResult(target, plan, tuple(failures), tuple(notices), stats)


def _rewrite_minified(stage: minify_stage.StageResult, writer: Writer, failures: list[Failure],
                      observer: Observer, counts: dict[str, int]) -> None:
    """In place: replace each newly minified user file (opt-in [minify]); the ledger keeps the record
    of every minified file still present, so the next build knows it and its original."""
    writer.keep_minified({rel: m for rel, m in stage.minified.items() if rel not in stage.new_bytes})
    for rel, data in stage.new_bytes.items():
        record = stage.minified[rel]
        try:
            writer.rewrite_user_file(rel, data, record.original_sha256, record)
            counts["written"] += 1
        except (OSError, WriteRefused) as exc:
            failures.append(_report(observer, Failure(rel, f"cannot minify in place: {_reason(exc)}")))


def _run_images(plan: imagestage.ImagePlan, request: BuildRequest, cache: Cache, writer: Writer,
                encodings: dict[str, dict[str, Encoding]], failures: list[Failure], observer: Observer,
                counts: dict[str, int]) -> dict[str, dict]:
    """Produce every image's renditions, write the ones worth keeping; the manifest's `image` objects."""
    entries: dict[str, dict] = {}
    settings = imagestage.settings_from(request.config.images)
    observer.start(sum(job.needs_decode for job in plan.jobs), "images")
    for outcome in imagestage.run_images(plan, request.source, cache, settings, request.jobs):
        if isinstance(outcome, Failure):
            failures.append(_report(observer, outcome))
            observer.advance(outcome.file, "failed")
            continue
        decision = imagestage.decide(outcome)
        refused: set[str] = set()
        try:
            for produced in decision.keep:
                counts[{Action.ENCODE: "encoded", Action.CACHED: "cache_hits",
                        Action.FRESH: "up_to_date"}[produced.work]] += 1
                if produced.data is not None:
                    try:
                        writer.write(produced.rendition.file, produced.data, produced.rendition.key)
                    except WriteRefused as exc:
                        refused.add(produced.rendition.file)
                        observer.notice(Notice(produced.rendition.file, str(exc).split(": ", 1)[-1]))
                        continue
                    counts["written"] += 1
                counts["variants"] += 1
            for produced in decision.drop:
                if produced.work is Action.FRESH:  # on disk from an earlier build, no longer worth it
                    writer.remove(produced.rendition.file)
                    counts["removed"] += 1
        except OSError as exc:
            failures.append(_report(observer, Failure(outcome.job.source.rel, f"cannot write: {_reason(exc)}")))
            continue
        entry = dict(decision.entry)
        entry["variants"] = [v for v in entry["variants"] if v["file"] not in refused]
        entries[outcome.job.source.rel] = entry
        for fmt, sidecar in decision.encodings.items():
            if sidecar["file"] not in refused:
                encodings.setdefault(outcome.job.source.rel, {})[fmt] = Encoding(str(sidecar["file"]),
                                                                                 int(sidecar["size"]))
        if outcome.job.needs_decode:
            observer.advance(outcome.job.source.rel, "encode")
    observer.done()
    return entries


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
            writer.write(job.output, outcome.data, job.key)
            counts["written"] += 1
        except WriteRefused as exc:
            notice = Notice(job.output, str(exc).split(": ", 1)[-1])
            notices.append(notice)
            observer.notice(notice)
            return False
    encodings.setdefault(job.source.rel, {})[job.codec] = Encoding(job.output, outcome.size)
    return True


def _count(outcome: Encoded, counts: dict[str, int]) -> None:
    key = {Action.ENCODE: "encoded", Action.CACHED: "cache_hits", Action.FRESH: "up_to_date"}[outcome.work]
    counts[key] += 1


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
