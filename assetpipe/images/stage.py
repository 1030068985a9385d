"""The image stage of a build: plan every rendition of every raster image, then produce them.

Planning reads each image's header (never its pixels), names every output and looks each one up:
already on disk from an earlier build, in the cache, or to be encoded. Running decodes a source only
when at least one of its outputs must be encoded, and then only once, in a worker process (see
encodepool: a process can be stopped at its time limit, and memory is admitted by megapixels). The
cache is read and written on the calling thread. Nothing here writes into the build folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ..cache import store as cache_keys
from ..cache.store import Cache
from ..config import ImagesConfig
from ..executors.seam import TaskPool, Where, read_planned
from ..globs import matches
from ..model import Action, Failure, Kind, Notice, OwnedFile, SourceFile
from . import decode, encode, renditions
from .encodepool import EncodePool, TaskFailed
from .renditions import (
    EXTENSION,
    MIME,
    ImageError,
    ImageInfo,
    ImageSettings,
    fallback_format,
    modern_formats,
    variant_name,
    widths_for,
    widths_shown,
)
from .sourcenames import looks_like_an_output, misnamed

# Megapixels decoded at once across the worker processes (an image with alpha counts twice, see
# _megapixels); a larger image runs alone, smaller ones beside it. Measured on the corpus: the 24 MP
# photo's worker peaks at 550 MB (libaom's AVIF encoder at the image's own width), a 14.7 MP PNG
# with alpha at 610 MB, and about 100 MB more when an image that runs alone encodes its formats side
# by side (encodepool: it is given both cores); the whole build's process tree peaked at 1.0 GB (PSS),
# two mid-size photos side by side taking more per pixel than that 24 MP one. A lower figure trades
# wall time for memory.
IN_FLIGHT_MEGAPIXELS = 24.0

def settings_from(config: ImagesConfig) -> ImageSettings:
    q = config.quality
    return ImageSettings(config.widths, config.formats, config.fallback, renditions.parse_colour(config.background),
                         {"avif": q.avif, "webp": q.webp, "jpeg": q.jpeg}, config.max_pixels,
                         renditions.Encoders(config.avif_speed, config.webp_method, config.webp_alpha_quality,
                                             config.subsampling))


@dataclass(frozen=True)
class Rendition:
    """One planned output image: a variant at a width, or a same-URL sidecar (`x.jpg.avif`)."""

    file: str
    format: str
    width: int
    height: int
    key: str  # cache key of its bytes
    action: Action  # FRESH: on disk from an earlier build, itself or (a variant) as its same-URL sidecar
    fresh_size: int = 0
    sidecar: bool = False  # a same-URL format sidecar, written only when smaller than the original
    stands_for: str = ""  # for a fallback rendition's same-URL sidecar: that rendition (standins.py)
    # encoded for a decision, never written: the full-width JPEG that images.optimize_originals weighs
    # against the original of an image no markup shows (which gets no variants)
    candidate: bool = False


@dataclass(frozen=True)
class Skip:
    """A modern variant known, before any work, not to be worth writing: not smaller than the fallback."""

    format: str
    width: int
    size: int
    fallback_size: int


@dataclass(frozen=True)
class ImageJob:
    source: SourceFile
    info: ImageInfo
    fallback: str | None
    modern: tuple[str, ...]
    renditions: tuple[Rendition, ...]  # what the build produces: encodes, reads from the cache, or finds on disk
    settings: tuple[tuple[str, str], ...]  # (format, its effective encoder settings), for the manifest
    skipped: tuple[Skip, ...] = ()  # variants an earlier build found not worth writing: neither read nor written
    x_only: tuple[int, ...] = ()  # widths made only for pages that show it at an author's width (`1x, 2x`)

    @property
    def needs_decode(self) -> bool:
        return any(r.action is Action.ENCODE for r in self.renditions)


@dataclass(frozen=True)
class ImagePlan:
    jobs: tuple[ImageJob, ...]
    failures: tuple[Failure, ...]
    notices: tuple[Notice, ...]

    @property
    def outputs(self) -> frozenset[str]:
        return frozenset(r.file for job in self.jobs for r in job.renditions if not r.candidate)


@dataclass(frozen=True)
class Produced:
    """A rendition's size and, unless it is already on disk, its bytes."""

    rendition: Rendition
    size: int
    data: bytes | None
    work: Action


@dataclass(frozen=True)
class ImageResult:
    job: ImageJob
    produced: tuple[Produced, ...]


def plan_images(
    sources: tuple[SourceFile, ...],
    read: Callable[[str], bytes],
    owned: tuple[OwnedFile, ...],
    config: ImagesConfig,
    settings: ImageSettings,
    in_cache: Callable[[str], bool],
    shown: Callable[[str], bool] = lambda rel: True,
    stored_size: Callable[[str], int | None] = lambda key: None,
    shown_at: Callable[[str], frozenset[int]] = lambda rel: frozenset(),
    in_place: Callable[[str], bool] = lambda rel: False,
) -> ImagePlan:
    """Every image's renditions, each looked up (on disk, in the cache, to encode). Width variants only
    for the images `shown` says markup can reach (a page's <img>, or `images.variants_for`); the others
    get the same-URL sidecars alone (SPEC §2.1), which serve them at full size, since nothing would ever
    name a variant of theirs. `shown_at` gives the widths in CSS px pages show an image at
    (`widths_shown`); `in_place` the images an `<img>` given attributes in place shows, whose fallback
    renditions get same-URL sidecars too (standins.py). `stored_size` gives a cache entry's size (None:
    none, or damaged): with it, the renditions an earlier build of this folder decided not to keep are
    known as such (`_known_drops`), so they are neither read nor counted."""
    owned_by_rel = {o.rel: o for o in owned}
    user_files = {s.rel for s in sources}
    jobs: list[ImageJob] = []
    failures: list[Failure] = []
    notices: list[Notice] = []
    for source in sources:
        if source.kind is not Kind.IMAGE or source.media_type not in MIME.values():
            continue
        if looks_like_an_output(source.rel, user_files):
            continue
        try:
            info = decode.probe(read(source.rel), settings.max_pixels)
        except ImageError as exc:
            failures.append(Failure(source.rel, str(exc)))
            continue
        except OSError as exc:
            failures.append(Failure(source.rel, f"cannot read: {exc.strerror or exc}"))
            continue
        wrong_name = misnamed(source.rel, info.format)
        if wrong_name:
            notices.append(Notice(source.rel, wrong_name))
        fallback = fallback_format(info, settings)
        modern = modern_formats(info, settings, fallback)
        if fallback is None and info.animated:
            notices.append(Notice(source.rel, f"animated: no {settings.fallback} fallback (it cannot animate)"))
        recipes = {fmt: settings.encoder_settings(fmt, info.animated, info.alpha)
                   for fmt in (*modern, *([fallback] if fallback else []))}
        wanted = shown(source.rel) or any(matches(glob, source.rel) for glob in config.variants_for)
        widths, x_only = widths_shown(info, settings.widths, wanted, shown_at(source.rel))
        stand_ins = fallback if config.negotiate and in_place(source.rel) else None
        renditions = _renditions(source, info, recipes, modern, widths, config.negotiate, owned_by_rel, in_cache,
                                 stand_ins)
        if not widths and config.optimize_originals and info.format == "jpeg" and fallback == "jpeg":
            key = cache_keys.key(source.sha256, f"image:jpeg:{info.width}", recipes["jpeg"])
            renditions += (Rendition(f"{source.rel}#candidate", "jpeg", info.width, info.height, key,
                                     Action.CACHED if in_cache(key) else Action.ENCODE, candidate=True),)
        renditions, skipped = _known_drops(renditions, fallback, source.size, stored_size)
        if not renditions:
            continue  # neither variants nor sidecars: nothing to make
        jobs.append(ImageJob(source, info, fallback, modern, renditions, tuple(recipes.items()), skipped, x_only))
    return ImagePlan(tuple(jobs), tuple(failures), tuple(notices))


def _renditions(source: SourceFile, info: ImageInfo, recipes: dict[str, str], modern: tuple[str, ...],
                widths: tuple[int, ...], negotiate: bool, owned: dict[str, OwnedFile],
                in_cache: Callable[[str], bool], stand_ins: str | None = None) -> tuple[Rendition, ...]:
    """Every output of one image, `recipes` giving each format (modern ones first, then the fallback)
    its effective encoder settings; with `stand_ins` (the fallback's format), each fallback rendition's
    same-URL sidecars too, the modern variant's bytes at its width (one key)."""
    planned: list[Rendition] = []
    for width in widths_for(info, widths) if widths else ():
        height = max(1, round(info.height * width / info.width))
        named: dict[str, tuple[str, str]] = {}
        for fmt, recipe in recipes.items():
            key = cache_keys.key(source.sha256, f"image:{fmt}:{width}", recipe)
            name = variant_name(source.rel, info.format, fmt, width, f"{source.sha256} {recipe}")
            planned.append(_lookup(name, fmt, width, height, key, owned, in_cache, sidecar=False))
            named[fmt] = (name, key)
        for fmt in modern if stand_ins in named else ():
            of = named[str(stand_ins)][0]
            found = _lookup(f"{of}.{EXTENSION[fmt]}", fmt, width, height, named[fmt][1], owned, in_cache, sidecar=True)
            planned.append(replace(found, stands_for=of))
    if negotiate:
        for fmt in modern:  # the own-width variant's bytes: one key, one encode
            key = cache_keys.key(source.sha256, f"image:{fmt}:{info.width}", recipes[fmt])
            name = f"{source.rel}.{EXTENSION[fmt]}"
            planned.append(_lookup(name, fmt, info.width, info.height, key, owned, in_cache, sidecar=True))
    return tuple(planned)


def _lookup(name: str, fmt: str, width: int, height: int, key: str, owned: dict[str, OwnedFile],
            in_cache: Callable[[str], bool], *, sidecar: bool) -> Rendition:
    previous = owned.get(name)
    return _found(Rendition(name, fmt, width, height, key, Action.ENCODE, 0, sidecar),
                  None if previous is None else (previous.key, previous.size), in_cache)


def _found(r: Rendition, previous: tuple[str, int] | None, in_cache: Callable[[str], bool]) -> Rendition:
    """`r` as a plan finds it: up to date when `previous` (the ledger's key and size under its name) is
    its key, else from the cache, else to be encoded."""
    if previous is not None and previous[0] == r.key:
        return replace(r, action=Action.FRESH, fresh_size=previous[1])
    return replace(r, action=Action.CACHED if in_cache(r.key) else Action.ENCODE, fresh_size=0)


def _known_drops(renditions: tuple[Rendition, ...], fallback: str | None, source_size: int,
                 stored_size: Callable[[str], int | None]) -> tuple[tuple[Rendition, ...], tuple[Skip, ...]]:
    """What an earlier build of this folder settled, known without reading a byte, so that an up-to-date
    build neither reads nor counts it and --dry-run plans nothing for it: a variant whose same-URL
    sidecar (one cache key, the same bytes) is on disk needs nothing (`_store_once` names or links the
    sidecar); a modern variant in the cache at a width whose fallback is on disk, whose size says it is
    not worth writing (`_not_worth_it`), is a Skip, not a rendition; so with a sidecar in the cache not
    smaller than the original. Anything else is left to `decide`, after the work."""
    sidecars = {r.key: r.fresh_size for r in renditions if r.sidecar and not r.stands_for and r.action is Action.FRESH}
    renditions = tuple(replace(r, action=Action.FRESH, fresh_size=sidecars[r.key])
                       if not r.sidecar and r.action is Action.CACHED and r.key in sidecars else r
                       for r in renditions)
    on_disk = {r.width: r.fresh_size for r in renditions
               if r.action is Action.FRESH and not r.sidecar and r.format == fallback}
    if not on_disk:
        return renditions, ()
    kept: list[Rendition] = []
    skips: list[Skip] = []
    for r in renditions:
        if r.action is Action.CACHED and (r.sidecar or r.width in on_disk):
            size = stored_size(r.key)
            if size is not None and not_worth_it(r, size, fallback, on_disk, source_size):
                if not r.sidecar:
                    skips.append(Skip(r.format, r.width, size, on_disk[r.width]))
                continue
        kept.append(r)
    return tuple(kept), tuple(skips)


def not_worth_it(r: Rendition, size: int, fallback: str | None, fallback_size: dict[int, int],
                  source_size: int) -> bool:
    """SPEC §2.1's size rules: a same-URL sidecar must be smaller than the original it stands for, a
    modern variant (or a fallback rendition's sidecar: its bytes) smaller than the fallback at its width."""
    if r.sidecar and not r.stands_for:
        return size >= source_size
    limit = fallback_size.get(r.width)
    return r.format != fallback and limit is not None and size >= limit


_EFFORT = {Action.FRESH: 0, Action.CACHED: 1, Action.ENCODE: 2}


def work(renditions: Iterable[tuple[str, Action]]) -> list[Action]:
    """One image's work as a build counts it and --dry-run plans it, from its renditions' (cache key,
    action): one unit per key, since a variant and its same-URL sidecar are one encode (or one cache
    read) of the same bytes, each unit the most any of its renditions takes (encode, cache read, none)."""
    units: dict[str, Action] = {}
    for key, action in renditions:
        if key not in units or _EFFORT[action] > _EFFORT[units[key]]:
            units[key] = action
    return [units[key] for key in sorted(units)]


def work_if_unchanged(job: ImageJob, on_disk: Callable[[str], tuple[str, int] | None], in_cache: Callable[[str], bool],
                      stored_size: Callable[[str], int | None]) -> list[Action]:
    """This image's work as the next build plans and counts it (`work`) when nothing changes after this
    one, planned as `plan_images` plans it from what is then on disk: a rendition `on_disk` with its key
    (the ledger's (key, size) of the name after this build) up to date, any other from the cache or to be
    encoded, less what `_known_drops` settles without reading it. `job`'s renditions are this build's:
    the ones it already knew not worth keeping stay so (their fallback stays on disk)."""
    renditions = tuple(_found(r, on_disk(r.file), in_cache) for r in job.renditions if not r.candidate)
    kept, _ = _known_drops(renditions, job.fallback, job.source.size, stored_size)
    return work((r.key, r.action) for r in kept)


def run_images(
    plan: ImagePlan,
    source_root: Path,
    cache: Cache,
    settings: ImageSettings,
    pool: TaskPool,
) -> Iterator[ImageResult | Failure]:
    """Yield each image's renditions as they are ready (from the cache first, then the encodes on `pool`,
    largest images first). Close the iterator to stop: running encodes are killed at once (the pool's
    workers with them; it starts others for its next tasks)."""
    to_decode = sorted((j for j in plan.jobs if j.needs_decode),
                       key=lambda j: (-_megapixels(j), j.source.rel))
    jobs = {job.source.rel: job for job in plan.jobs}
    everything: set[str] = set()  # images decoded for every rendition, the cache having lost some
    try:
        for job in to_decode:
            pool.submit(job.source.rel, (job, source_root, settings, False), _megapixels(job))
        for job in plan.jobs:
            if job.needs_decode:
                continue
            produced = _from_store(job, cache, {})
            if produced is None:  # a cache entry vanished or is damaged: decode after all
                everything.add(job.source.rel)
                pool.submit(job.source.rel, (job, source_root, settings, True), _megapixels(job))
                continue
            yield ImageResult(job, produced)
        for rel, outcome in pool.results():
            job = jobs[rel]
            if isinstance(outcome, TaskFailed):
                yield Failure(rel, outcome.reason)
                continue
            if isinstance(outcome, Failure):
                yield outcome
                continue
            for (fmt, width), data in outcome.items():
                key = next(r.key for r in job.renditions if r.format == fmt and r.width == width)
                cache.put(key, data)
            produced = _from_store(job, cache, outcome)
            if produced is None and rel not in everything:  # a cached rendition is damaged: encode it too
                everything.add(rel)
                pool.submit(rel, (job, source_root, settings, True), _megapixels(job))
                continue
            if produced is None:
                yield Failure(rel, "the cache lost an entry during the build; run it again")
                continue
            yield ImageResult(job, produced)
    except BaseException:  # closed early, or Ctrl-C
        pool.close()
        raise
    finally:
        cache.flush()


def encode_pool(workers: int, timeout: float) -> EncodePool:
    """The worker processes that decode and encode images, `workers` at a time, within the memory budget."""
    return EncodePool(_encode_task, workers, timeout, IN_FLIGHT_MEGAPIXELS)


def _megapixels(job: ImageJob) -> float:
    """What decoding and encoding the image holds in memory, roughly: its pixels, every frame, twice
    over with alpha (libavif encodes the alpha plane as a second AV1 image: a 14.7 MP PNG with alpha
    peaked at 620 MB in its worker, more than the 24 MP photo without)."""
    return job.info.width * job.info.height * job.info.frames * (2 if job.info.alpha else 1) / 1e6


def _from_store(job: ImageJob, cache: Cache, fresh: dict[tuple[str, int], bytes]) -> tuple[Produced, ...] | None:
    produced: list[Produced] = []
    for r in job.renditions:
        if (r.format, r.width) in fresh:
            data = fresh[(r.format, r.width)]
            produced.append(Produced(r, len(data), data, Action.ENCODE))
        elif r.action is Action.FRESH:
            produced.append(Produced(r, r.fresh_size, None, Action.FRESH))
        else:
            data = cache.get(r.key)
            if data is None:
                return None
            produced.append(Produced(r, len(data), data, Action.CACHED))
    return tuple(produced)


def _encode_task(task: tuple[ImageJob, Path, ImageSettings, bool], cores: int
                 ) -> dict[tuple[str, int], bytes] | Failure:
    """In a worker process of this machine's pool: `encode_on_worker` on the source in the build folder."""
    job, source_root, settings, everything = task
    return encode_on_worker((job, settings, everything), source_root, cores)


def worker_inputs(task: tuple[ImageJob, Path, ImageSettings, bool]
                  ) -> tuple[Path, tuple[str, ...], tuple[str, ...], tuple[ImageJob, ImageSettings, bool]]:
    """A task as another executor sends it (executors/daskpool.py): the folder and the file it reads (an
    original: never one this build wrote), and the argument of `encode_on_worker`, which gets the input
    where that worker can read it."""
    job, source_root, settings, everything = task
    return source_root, (job.source.rel,), (), (job, settings, everything)


def encode_on_worker(task: tuple[ImageJob, ImageSettings, bool], where: Where, cores: int
                     ) -> dict[tuple[str, int], bytes] | Failure:
    """On a worker: read one source, check it is what was planned, render what it needs (all that is not
    on disk when `everything`, the cache having lost some), on `cores` threads."""
    job, settings, everything = task
    data = read_planned(where, job.source.rel, job.source.sha256)
    if isinstance(data, str):
        return Failure(job.source.rel, data)
    needed = (Action.ENCODE, Action.CACHED) if everything else (Action.ENCODE,)
    wanted = sorted({(r.format, r.width) for r in job.renditions if r.action in needed}, key=lambda o: o[1])
    try:
        renditions = encode.render(data, job.info, wanted, settings, threads=cores)
    except ImageError as exc:
        return Failure(job.source.rel, str(exc))
    return {(r.format, r.width): r.data for r in renditions}
