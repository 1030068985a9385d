"""Edited pages in a delta build: each rewritten as the full build would rewrite it (build/pictures.py),
from what the recorded build's rewrite read (build/pageinputs.py), while pages are rewritten.

A page's `<picture>`s depend on every page only through the image stage's input (which images some page
shows, at which author's widths, and which are given attributes in place). An edited, new or removed page
whose share of that input is the recorded one (none, for a new or removed page) changes no image's
renditions: the page alone is rewritten, with the recorded specs and SVG sizes. Anything else raises
Fallback, and the full build runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

from ..html.picture import PictureSpec
from ..html.svgsize import SvgSize
from ..model import SourceFile
from . import listing
from .delta import Fallback
from .pageinputs import Looked, share, spec_of, svg_of
from .request import BuildRequest
from .writer import Writer

_PAGE = "text/html"  # the pages the full build rewrites (pictures._rewrite_pages)


def recorded(record: listing.Record) -> bool | None:
    """Whether the recorded build had images (each page's share counts); None: the record kept nothing of
    what its pages' rewrite read."""
    images = record.page_input("images", "")
    return None if images is None else bytes(images) == b"1"


def svg_sizes(record: listing.Record) -> Callable[[str], str | None]:
    """Each SVG's size as the recorded build's rewrite read it (pageinputs.svg_text), None when it had none."""
    def size(rel: str) -> str | None:
        return None if (text := record.page_input("svg", rel)) is None else str(text)
    return size


def rewrite(record: listing.Record, request: BuildRequest, sources: tuple[SourceFile, ...],
            removed: tuple[str, ...], removed_types: dict[str, str], writer: Writer,
            counts: dict[str, int]) -> tuple[SourceFile, ...]:
    """The changed sources as they are after their pages' rewrite (each rewritten page written in place)."""
    images = recorded(record)
    if images is None:
        raise Fallback("pages rewritten, and the record kept nothing of what their rewrite read")
    for rel in removed:
        if images and removed_types.get(rel) == _PAGE and record.page_input("share", rel) is not None:
            raise Fallback(f"{rel}: a removed page that showed images")
    pages = [s for s in sources if s.media_type == _PAGE]
    if not pages:
        return sources
    from ..html.shown import shown_on_page  # here: html5lib is imported only when a page changed
    from .pictures import _described, _page_rewriter, shown_hydrated

    def keys(kind: str) -> Iterator[str]:
        return record.page_inputs(kind)

    def spec(rel: str) -> PictureSpec | None:
        return None if (text := record.page_input("spec", rel)) is None else spec_of(str(text))

    def svg(rel: str) -> SvgSize | None:
        return None if (text := record.page_input("svg", rel)) is None else svg_of(str(text))

    rewrite_page = _page_rewriter(Looked(svg, lambda: keys("svg")), Looked(spec, lambda: keys("spec")), request)
    hydrated = shown_hydrated(request)

    def image(rel: str) -> bool:  # one of the recorded build's images (any other change is a full build)
        return record.page_input("image", rel) is not None

    now: dict[str, SourceFile] = {}
    for page in pages:
        data = (request.source / page.rel).read_bytes()
        if hashlib.sha256(data).hexdigest() != page.sha256:
            raise Fallback(f"{page.rel}: changed while the build ran")
        if images:
            found, given = shown_on_page(data, page.rel, hydrated)
            before = record.page_input("share", page.rel)
            if share(found, given, image) != (None if before is None else bytes(before)):
                raise Fallback(f"{page.rel}: a page that shows other images (or at other widths) than recorded")
        result = rewrite_page(data, page.rel, ())
        if result.unreadable:
            raise Fallback(f"{page.rel}: <img> tags not rewritten: {result.unreadable}")
        if result.html != data:
            writer.rewrite_user_file(page.rel, result.html, page.sha256, None)
            counts["written"] += 1
            now[page.rel] = _described(page, result.html)
    return tuple(now.get(s.rel, s) for s in sources)
