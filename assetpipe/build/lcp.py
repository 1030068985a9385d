"""`--measure-lcp` (opt-in, `[html] measure_lcp`): the LCP element found by loading each page in Chromium,
handed to the rewrite in place of the heuristic's guess.

Between the image stage and the rewrite: the renditions are in the folder, the pages not yet rewritten.
Each page with a processed image is rewritten in memory the heuristic's way, served from 127.0.0.1 with
the rest of the folder (vitals/serve.py), and loaded once at the phone and once at the desktop viewport
(viewport and DPR only: finding the element needs no throttling). Where the LCP element is an `<img>` of a
`<picture>` assetpipe wrote, that image (by path and occurrence, html/loading.py's LcpImage) is what the
real rewrite then makes eager and high priority. Text, a CSS background or an image assetpipe did not
rewrite: the heuristic's choice is kept, and the result says why.

What a page's loads found is cached by the bytes of that heuristic page (it names every variant, by
content hash, and the markup config shaped it), the PictureSpecs of the images it shows and the
viewports, so a build of unchanged pages launches no browser. A page that cannot be loaded gets one
notice and keeps the heuristic's choice (nothing cached: the next build tries again); the exit code is
not changed, since the output is the build's normal one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..cache import store
from ..cache.store import Cache
from ..html.loading import LcpImage
from ..html.picture import PictureSpec
from ..model import LcpPage, LcpSeen, Notice, Observer, SourceFile, UsageError
from .request import BuildRequest

if TYPE_CHECKING:
    from ..vitals.pageload import PageLoad
    from ..vitals.serve import StaticServer

VERSION = "1"  # what a cached result means: bump when the measuring or its mapping changes
LOAD_S = 30.0  # one load of one page, unthrottled on 127.0.0.1: a page slower than this is reported


@dataclass(frozen=True)
class Measured:
    choices: Mapping[str, frozenset[LcpImage]]  # page -> the images to make eager + high (pages with any)
    pages: tuple[LcpPage, ...]  # every page with a processed image, in order


def enabled(request: BuildRequest) -> bool:
    asked = request.config.html.measure_lcp if request.measure_lcp is None else request.measure_lcp
    return asked and request.rewrites_pages


def chromium_for(request: BuildRequest) -> str | None:
    """The Chromium to measure with, or None when not measuring; UsageError (before anything is
    written) when measuring is asked for and there is none."""
    if not enabled(request):
        return None
    from ..vitals.browser import ChromiumMissing, find_chromium

    try:
        return find_chromium(request.chromium)
    except ChromiumMissing as exc:
        raise UsageError(f"--measure-lcp needs Chromium: {exc}") from None


def measure(sources: tuple[SourceFile, ...], specs: Mapping[str, PictureSpec], request: BuildRequest,
            chromium: str, cache: Cache, heuristic: Callable[[bytes, str], bytes], notices: list[Notice],
            observer: Observer) -> Measured:
    """Each page's LCP element, from the cache or from loading the page (`heuristic`: the page rewritten
    without a measured choice, as it is served for the load)."""
    from ..html.shown import references  # html5lib: only a build that has pages

    target = request.out or request.source
    found: dict[str, LcpPage] = {}
    todo: list[tuple[str, bytes, str]] = []
    for source in sources:
        if source.media_type != "text/html":
            continue
        try:
            html = (target / source.rel).read_bytes()
        except OSError:
            continue  # the rewrite reports it
        page = heuristic(html, source.rel)
        shown = sorted(references(page, source.rel) & specs.keys())
        if not shown:
            continue
        key = _key(page, [specs[k] for k in shown])
        known = cache.get(key)
        if known is not None:
            found[source.rel] = _decide(source.rel, _decoded(known), measured=False)
        else:
            todo.append((source.rel, page, key))
    if todo:
        found.update(_load(todo, target, chromium, cache, notices, observer))
    pages = tuple(found[rel] for rel in sorted(found))
    choices = {p.page: frozenset(LcpImage(s.image, s.nth) for s in p.seen if s.image is not None)
               for p in pages if p.marked}
    return Measured(choices, pages)


def _load(todo: list[tuple[str, bytes, str]], target: Path, chromium: str, cache: Cache,
          notices: list[Notice], observer: Observer) -> dict[str, LcpPage]:
    from ..vitals.browser import Browser, BrowserError
    from ..vitals.pageload import PageLoadError, load_page
    from ..vitals.profiles import PROFILES
    from ..vitals.serve import StaticServer

    found: dict[str, LcpPage] = {}

    def missed(rel: str, why: str) -> None:
        notice = Notice(rel, f"LCP not measured, the heuristic's choice kept: {why}")
        notices.append(notice)
        observer.notice(notice)
        found[rel] = LcpPage(rel, (), True, (), why)

    observer.start(len(todo) * len(PROFILES), "measuring LCP in Chromium")
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(StaticServer(target, {rel: page for rel, page, _ in todo}))
        try:
            browser = stack.enter_context(Browser(chromium))
        except BrowserError as exc:
            for rel, _, _ in todo:
                missed(rel, str(exc))
            observer.done()
            return found
        for rel, _, key in todo:
            try:
                loads = []
                for profile in PROFILES:
                    loads.append(load_page(browser, server.url(rel), profile, throttle=False, timeout_s=LOAD_S))
                    observer.advance(rel, profile.name)
            except BrowserError as exc:
                missed(rel, exc.reason if isinstance(exc, PageLoadError) else str(exc))
                continue
            seen = tuple(_seen(load, server) for load in loads)
            cache.put(key, _encoded(seen))
            found[rel] = _decide(rel, seen, measured=True)
    observer.done()
    return found


def _seen(load: PageLoad, server: StaticServer) -> LcpSeen:
    """The LCP element of one load, with the image named as the rewrite names it: the path its author's
    `src` shows (recorded on assetpipe's `<picture>`), and which of the page's images showing it it is."""
    url = (server.rel(load.lcp_url) if load.lcp_url else "") or load.lcp_url
    if url.startswith("data:"):
        url = url[: url.find(",") + 1] + "…" if "," in url else "data:…"  # not the whole image in the report
    if load.lcp_image is None:
        return LcpSeen(load.profile, load.lcp_tag, None, 0, url or "")

    def path(index: int) -> str | None:
        image = load.images[index]
        shown = image.rewritten_src or image.src_url
        return server.rel(shown) if shown else None

    at = load.lcp_image
    mine = path(at)
    nth = sum(1 for i in range(at) if path(i) == mine)
    rewritten = bool(load.images[at].rewritten_src) and mine is not None
    return LcpSeen(load.profile, load.lcp_tag, mine if rewritten else None, nth, url or "")


def _decide(rel: str, seen: tuple[LcpSeen, ...], *, measured: bool) -> LcpPage:
    marked = tuple(sorted({s.image for s in seen if s.image is not None}))
    if marked:
        return LcpPage(rel, seen, measured, marked, "")
    return LcpPage(rel, seen, measured, (), "; ".join(f"{s.profile}: {_why(s)}" for s in seen))


def _why(seen: LcpSeen) -> str:
    if not seen.element:
        return "no LCP element"
    if seen.element == "IMG":
        return f"an image assetpipe did not rewrite ({seen.url})"
    if seen.url:
        return f"a background image of <{seen.element.lower()}> ({seen.url})"
    return f"text (<{seen.element.lower()}>)"


def _key(page: bytes, shown: list[PictureSpec]) -> str:
    """What decides the LCP element: the page as served, the images it shows, the viewports."""
    from ..vitals.profiles import PROFILES

    recipe = "\0".join([VERSION, *(repr(spec) for spec in shown), *(repr(p) for p in PROFILES)])
    return store.key(hashlib.sha256(page).hexdigest(), "lcp", recipe)


def _encoded(seen: tuple[LcpSeen, ...]) -> bytes:
    return json.dumps([[s.profile, s.element, s.image, s.nth, s.url] for s in seen]).encode()


def _decoded(data: bytes) -> tuple[LcpSeen, ...]:
    return tuple(LcpSeen(str(p), str(e), None if i is None else str(i), int(n), str(u))
                 for p, e, i, n, u in json.loads(data))
