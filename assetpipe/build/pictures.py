"""The image stage and the `<picture>` rewrite as one build runs them, between the copies and the minify stage.

The images are encoded on the request's pool of worker processes (or one made for this build); each
result's optimised original (opt-in) is settled, and its renditions worth keeping are written; then every
page gets its `<picture>`s for the images just processed. In place the user's files are rewritten (the
pages, optimised originals); with --out, their copies. Each function here is a step of `pipeline.build`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..cache.store import Cache
from ..html.picture import PictureSpec
from ..html.svgsize import SvgSize, size_of_file
from ..images import decide, standins
from ..images import originals as originals_stage
from ..images import stage as imagestage
from ..model import Action, Encoding, Failure, Minified, Notice, Observer, SourceFile
from . import ledger
from .counts import _count, _reason, _report
from .request import BuildRequest
from .writer import Writer, WriteRefused

if TYPE_CHECKING:
    from ..html.loading import LcpImage
    from ..html.rewrite import Rewrite


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
    observer.start(sum(job.needs_decode for job in plan.jobs), "encoding images")
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
            decision = decide.decide(outcome)
            redirected: dict[str, str] = {}
            try:
                refused = _write_renditions(decision, writer, notices, observer, counts, redirected)
            except OSError as exc:
                failures.append(_report(observer, Failure(outcome.job.source.rel, f"cannot write: {_reason(exc)}")))
                continue
            entry = dict(decision.entry)
            entry["variants"] = [{**v, "file": redirected.get(v["file"], v["file"])} for v in entry["variants"]
                                 if v["file"] not in refused]
            if refused & {name for name, _ in decision.stand_ins}:  # named in no variant's `encodings`
                entry["variants"] = standins.listed([{k: e for k, e in v.items() if k != "encodings"}
                                                     for v in entry["variants"]],
                                                    standins.encodings(decision.keep), frozenset(refused))
            entries[outcome.job.source.rel] = entry
            if entry["variants"]:  # an image with sidecars alone has no <picture> (an earlier one is undone)
                specs[outcome.job.source.rel] = decide.picture_spec(outcome.job, entry)
            for fmt, sidecar in decision.encodings.items():
                if sidecar["file"] not in refused:
                    encodings.setdefault(outcome.job.source.rel, {})[fmt] = Encoding(str(sidecar["file"]),
                                                                                     int(sidecar["size"]))
            if outcome.job.needs_decode:
                observer.advance(outcome.job.source.rel, "encode")
    return entries, specs, replaced


def _write_renditions(decision: decide.Decision, writer: Writer, notices: list[Notice], observer: Observer,
                      counts: dict[str, int], redirected: dict[str, str]) -> set[str]:
    """Write one image's renditions worth keeping (a variant that is its sidecar's bytes as a hard link
    to it) and remove its earlier ones no longer worth it; return the files refused (a user's file holds
    the name: noticed, left alone). `redirected` gets the variants that could not be linked: their
    entries name the sidecar instead."""
    refused: set[str] = set()
    twins = dict(decision.twins) | dict(decision.stand_ins)
    # the work, kept or not (a variant not worth writing was encoded or read all the same), counted as
    # --dry-run plans it; an earlier output now removed is counted as removed, below
    done = [(p.rendition.key, p.work) for p in decision.keep]
    done += [(p.rendition.key, p.work) for p in decision.drop if p.work is not Action.FRESH]
    for work in imagestage.work(done):
        _count(work, counts)
    for produced in decision.keep:
        if produced.rendition.file in twins:  # its sidecar's bytes (one encode), linked below
            continue
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
    for variant, sidecar in decision.twins:
        if sidecar in refused:
            refused.add(variant)
            continue
        key = next(p.rendition.key for p in decision.keep if p.rendition.file == variant)
        try:
            counts["written"] += writer.link(variant, sidecar, key)
        except WriteRefused as exc:
            _refuse(variant, exc, refused, notices, observer)
            continue
        except OSError:  # no hard links here: the srcset names the sidecar itself (SPEC §2.1)
            redirected[variant] = sidecar
            if writer.owns(variant):
                writer.remove(variant)
            continue
        counts["variants"] += 1
    _write_stand_ins(decision, writer, notices, observer, counts, refused)
    for produced in decision.drop:
        # on disk from an earlier build, no longer worth it (not a variant whose bytes are its sidecar's)
        if produced.work is Action.FRESH and writer.owns(produced.rendition.file):
            writer.remove(produced.rendition.file)
            counts["removed"] += 1
    return refused


def _write_stand_ins(decision: decide.Decision, writer: Writer, notices: list[Notice], observer: Observer,
                     counts: dict[str, int], refused: set[str]) -> None:
    """Each fallback rendition's same-URL sidecar (images/standins.py) as a hard link to the file holding its
    bytes; where the file system cannot link, a copy of them (the `srcset` names the fallback rendition, so
    no other name can stand in). One a user's file holds the name of is refused (noticed, left alone)."""
    for name, holder in decision.stand_ins:
        if holder in refused:
            refused.add(name)
            continue
        produced = next(p for p in decision.keep if p.rendition.file == name)
        try:
            try:
                counts["written"] += writer.link(name, holder, produced.rendition.key)
            except OSError:  # no hard links here (EXDEV, say): the same bytes as a file of its own
                data = produced.data if produced.data is not None else (writer.target / holder).read_bytes()
                counts["written"] += writer.write(name, data, produced.rendition.key)
        except WriteRefused as exc:
            _refuse(name, exc, refused, notices, observer)
            continue
        counts["variants"] += 1


def _refuse(name: str, exc: WriteRefused, refused: set[str], notices: list[Notice], observer: Observer) -> None:
    """A name a user's file holds: refused, noticed, and left alone."""
    refused.add(name)
    notice = Notice(name, str(exc).split(": ", 1)[-1])
    notices.append(notice)
    observer.notice(notice)


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


def _rewrite_pages(sources: tuple[SourceFile, ...], specs: dict[str, PictureSpec], svgs: Mapping[str, SvgSize],
                   request: BuildRequest, writer: Writer, notices: list[Notice], failures: list[Failure],
                   observer: Observer, counts: dict[str, int], lcp: Mapping[str, Collection[LcpImage]] | None = None,
                   ) -> tuple[SourceFile, ...]:
    """Give every page's `<img>` of a processed image its `<picture>` (SPEC §2.2); the sources as they are
    now. In place the page itself is rewritten; with --out, its copy. `lcp`: the LCP images measured per
    page (--measure-lcp, build/lcp.py), made eager and high priority instead of the heuristic's guess."""
    target = request.out or request.source
    rewrite_page = _page_rewriter(svgs, specs, request)
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
        result = rewrite_page(html, source.rel, (lcp or {}).get(source.rel, ()))
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


def _page_rewriter(svgs: Mapping[str, SvgSize], specs: Mapping[str, PictureSpec], request: BuildRequest,
                   ) -> Callable[[bytes, str, Collection[LcpImage]], Rewrite]:
    """One page's rewrite as this build makes it, given the measured LCP images (--measure-lcp loads each
    page rewritten without them first); `svgs`: each SVG's size (`_svg_sizes`)."""

    def rewrite_page(html: bytes, rel: str, lcp: Collection[LcpImage] = ()) -> Rewrite:
        from ..html import rewrite as markup  # here: html5lib is imported only by a build that has pages

        return markup.rewrite(html, rel, specs, default_sizes=request.config.images.sizes,
                              eager=request.config.html.eager, svgs=svgs, hydrated=request.config.html.hydrated,
                              lcp=lcp, viewports=tuple(markup.fold.Viewport.parse(v)
                                                       for v in request.config.html.eager_viewports))

    return rewrite_page


def shown_hydrated(request: BuildRequest) -> str | None:
    """How the image stage reads a hydrated root's images on a page (html/shown.py `shown_on_page`)."""
    return request.config.html.hydrated if request.config.images.negotiate else None


def _svg_sizes(sources: tuple[SourceFile, ...], target: Path) -> dict[str, SvgSize]:
    """Each SVG's size as an `<img>` shows it, for the width and height of its tags (html/svgsize.py: the
    root element's attributes, from the file's first bytes). An SVG that does not say, or cannot be
    read, is left out: its tags stay as they are, quietly (SVG is never changed, and the page is no worse)."""
    sizes: dict[str, SvgSize] = {}
    for source in sources:
        if source.media_type != "image/svg+xml":
            continue
        try:
            size = size_of_file(target / source.rel)
        except OSError:
            continue
        if size is not None:
            sizes[source.rel] = size
    return sizes


def _described(source: SourceFile, data: bytes) -> SourceFile:
    """The source as described by these bytes (a page the rewrite, or an earlier stage, changed)."""
    sha256 = hashlib.sha256(data).hexdigest()
    if sha256 == source.sha256:
        return source
    sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    return replace(source, size=len(data), sha256=sha256, sha384=sri)
