"""What one image's results come to (SPEC §2.1): which renditions to have on disk and which to drop
(a modern variant not smaller than the fallback, a same-URL sidecar not smaller than the original), which
are stored once as their sidecar's second name, the manifest's `image` entry, and the PictureSpec the
markup rewrite gets. Pure: the stage's results in, decisions out; build/pictures.py writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import naming
from ..html.picture import Candidate, PictureSpec
from . import standins
from .renditions import MIME
from .stage import ImageJob, ImageResult, Produced, not_worth_it


@dataclass(frozen=True)
class Decision:
    """What one image's results come to: the files to have on disk, and what the manifest says."""

    keep: tuple[Produced, ...]  # renditions to have on disk (variants and sidecars)
    drop: tuple[Produced, ...]  # renditions not worth writing (an earlier copy on disk goes)
    entry: dict  # the manifest's `image` object
    encodings: dict[str, dict[str, int | str]]  # same-URL sidecars for the manifest's `encodings`
    # (variant, same-URL sidecar) holding the same bytes: the variant is a second name of the sidecar's
    # file (a hard link), so no rendition is stored twice (SPEC §2.1)
    twins: tuple[tuple[str, str], ...] = ()
    # (fallback rendition's same-URL sidecar, the file holding its bytes): a hard link (standins.py)
    stand_ins: tuple[tuple[str, str], ...] = ()


def decide(result: ImageResult) -> Decision:
    """Apply the size rules: a modern variant not smaller than the fallback at its width is skipped
    (recorded with both sizes); a same-URL sidecar is kept only when smaller than the original."""
    job = result.job
    fallback_size = {p.rendition.width: p.size for p in result.produced
                     if not p.rendition.sidecar and p.rendition.format == job.fallback}
    keep: list[Produced] = []
    drop: list[Produced] = []
    skipped: list[dict] = []
    encodings: dict[str, dict[str, int | str]] = {}
    for p in result.produced:
        r = p.rendition
        if r.candidate:  # weighed by images.optimize_originals, never written
            continue
        if not not_worth_it(r, p.size, job.fallback, fallback_size, job.source.size):
            keep.append(p)
            if r.sidecar and not r.stands_for:
                encodings[r.format] = {"file": r.file, "size": p.size}
            continue
        drop.append(p)
        if not r.sidecar:
            skipped.append({"format": r.format, "width": r.width, "reason": "not smaller than fallback",
                            "size": p.size, "fallback_size": fallback_size[r.width]})
    skipped += [{"format": k.format, "width": k.width, "reason": "not smaller than fallback", "size": k.size,
                 "fallback_size": k.fallback_size} for k in job.skipped]
    skipped.sort(key=lambda k: (k["width"], job.modern.index(k["format"])))  # as a clean build lists them
    keep, drop, named, twins = _store_once(job, keep, drop)
    listed = {p.rendition.file for p in keep} | named.keys()
    variants = standins.listed([{"file": named.get(p.rendition.file, p.rendition.file), "format": p.rendition.format,
                                 "width": p.rendition.width, "height": p.rendition.height, "size": p.size}
                                for p in result.produced if not p.rendition.sidecar and p.rendition.file in listed],
                               standins.encodings(keep))
    entry: dict = {"width": job.info.width, "height": job.info.height, "format": job.info.format,
                   "animated": job.info.animated, "variants": variants, "settings": dict(job.settings)}
    if skipped:
        entry["skipped"] = skipped
    return Decision(tuple(keep), tuple(drop), entry, encodings, twins, standins.links(keep))


def _store_once(job: ImageJob, keep: list[Produced], drop: list[Produced]
                ) -> tuple[list[Produced], list[Produced], dict[str, str], tuple[tuple[str, str], ...]]:
    """The own-width AVIF/WebP variant and the same-URL sidecar (`hero.jpg.avif`) are the same bytes
    (one cache key). When the original's name is content-hashed, its sidecar is as cacheable as the
    variant, so the variant is not written and its entry names the sidecar; otherwise the variant,
    whose hashed name caches for a year, becomes a hard link to the sidecar. Returns keep, drop, the
    variants renamed to their sidecar, and the (variant, sidecar) pairs to link."""
    sidecars = {p.rendition.key: p.rendition.file for p in keep if p.rendition.sidecar and not p.rendition.stands_for}
    pairs = {p.rendition.file: sidecars[p.rendition.key] for p in keep
             if not p.rendition.sidecar and p.rendition.key in sidecars}
    if not pairs:
        return keep, drop, {}, ()
    if naming.content_hash(job.source.rel) is None:
        return keep, drop, {}, tuple(sorted(pairs.items()))
    return ([p for p in keep if p.rendition.file not in pairs], drop + [p for p in keep if p.rendition.file in pairs],
            pairs, ())


def picture_spec(job: ImageJob, entry: dict) -> PictureSpec:
    """What the markup rewrite needs to know of one processed image (its manifest entry's variants)."""
    variants = entry["variants"]

    def candidates(fmt: str) -> tuple[Candidate, ...]:
        return tuple(sorted((Candidate(v["file"], v["width"]) for v in variants if v["format"] == fmt),
                            key=lambda c: c.width))

    sources = tuple((MIME[fmt], found) for fmt in job.modern if (found := candidates(fmt)))
    if job.fallback is not None:
        return PictureSpec(job.source.rel, job.info.width, job.info.height, sources, MIME[job.fallback],
                           candidates(job.fallback), job.x_only)
    # No fallback can carry this image (an animation with a forced still format): the original is it.
    return PictureSpec(job.source.rel, job.info.width, job.info.height, sources, MIME[job.info.format],
                       (Candidate(job.source.rel, job.info.width),), job.x_only)
