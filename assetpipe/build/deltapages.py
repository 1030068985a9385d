"""Edited pages in a delta build: each rewritten as the full build would rewrite it (build/pictures.py),
from what the recorded build's rewrite read (build/pageinputs.py), while pages are rewritten.

A page's `<picture>`s depend on every page only through the image stage's input: the union over the pages
of what each shows it (pageinputs.shows: the images it shows, at which author's widths, and which are given
attributes in place). Changed, new and removed pages that leave that union as it was (each pair one of
them adds or drops is shown by another page, before and after) change no image's renditions: those pages
alone are rewritten, with the recorded specs and SVG sizes. Anything else raises Fallback, and the full
build runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

from ..html.picture import PictureSpec
from ..html.svgsize import SvgSize
from ..model import SourceFile
from . import listing
from .delta import Fallback
from .pageinputs import IN_PLACE, NO_WIDTH, Looked, shows, spec_of, svg_of
from .request import BuildRequest
from .writer import Writer

_PAGE = "text/html"  # the pages the full build rewrites (pictures._rewrite_pages)


def recorded(record: listing.Record) -> bool | None:
    """Whether the recorded build had images (what each page shows them counts); None: the record kept
    nothing of what its pages' rewrite read."""
    images = record.page_input("images", "")
    return None if images is None else bytes(images) == b"1"


def svg_sizes(record: listing.Record) -> Callable[[str], str | None]:
    """Each SVG's size as the recorded build's rewrite read it (pageinputs.svg_text), None when it had none."""
    def size(rel: str) -> str | None:
        return None if (text := record.page_input("svg", rel)) is None else str(text)
    return size


def rewrite(record: listing.Record, request: BuildRequest, sources: tuple[SourceFile, ...],
            removed: tuple[str, ...], removed_types: dict[str, str], writer: Writer, counts: dict[str, int]
            ) -> tuple[tuple[SourceFile, ...], dict[str, frozenset[tuple[str, int]]]]:
    """The changed sources as they are after their pages' rewrite (each rewritten page written in place),
    and what each changed or removed page shows the image stage now, for the record."""
    images = recorded(record)
    if images is None:
        raise Fallback("pages rewritten, and the record kept nothing of what their rewrite read")
    pages = [s for s in sources if s.media_type == _PAGE]
    gone = [rel for rel in removed if removed_types.get(rel) == _PAGE]
    if not pages and not gone:
        return sources, {}
    from ..html.shown import shown_on_page  # here: html5lib is imported only when a page changed
    from .pictures import _described, _page_rewriter, shown_hydrated

    hydrated = shown_hydrated(request)
    datas: dict[str, bytes] = {}
    now: dict[str, frozenset[tuple[str, int]]] = {rel: frozenset() for rel in gone}
    for page in pages:
        data = datas[page.rel] = (request.source / page.rel).read_bytes()
        if hashlib.sha256(data).hexdigest() != page.sha256:
            raise Fallback(f"{page.rel}: changed while the build ran")
        if images:
            found, given = shown_on_page(data, page.rel, hydrated)
            now[page.rel] = shows(found, given, lambda rel: record.page_input("image", rel) is not None)
        else:
            now[page.rel] = frozenset()
    if images:
        _same_union(record, now)

    def keys(kind: str) -> Iterator[str]:
        return record.page_inputs(kind)

    def spec(rel: str) -> PictureSpec | None:
        return None if (text := record.page_input("spec", rel)) is None else spec_of(str(text))

    size = svg_sizes(record)

    def svg(rel: str) -> SvgSize | None:
        return None if (text := size(rel)) is None else svg_of(text)

    rewrite_page = _page_rewriter(Looked(svg, lambda: keys("svg")), Looked(spec, lambda: keys("spec")), request)
    rewritten: dict[str, SourceFile] = {}
    for page in pages:
        data = datas[page.rel]
        result = rewrite_page(data, page.rel, ())
        if result.unreadable:
            raise Fallback(f"{page.rel}: <img> tags not rewritten: {result.unreadable}")
        if result.html != data:
            writer.rewrite_user_file(page.rel, result.html, page.sha256, None)
            counts["written"] += 1
            rewritten[page.rel] = _described(page, result.html)
    return tuple(rewritten.get(s.rel, s) for s in sources), now


def _same_union(record: listing.Record, now: dict[str, frozenset[tuple[str, int]]]) -> None:
    """Fallback unless the changed pages (`now`: what each shows now) leave the union over all pages of what
    they show the image stage as recorded: each pair one of them no longer shows, or shows anew, is shown by
    another page (one not changed, or a changed one before and after alike)."""
    before = {page: record.shows(page) for page in now}
    changed = set().union(*(before[page] ^ pairs for page, pairs in now.items()))
    for image, width in sorted(changed):
        elsewhere = record.shown_by_another(image, width, tuple(now))
        was = elsewhere or any((image, width) in pairs for pairs in before.values())
        will = elsewhere or any((image, width) in pairs for pairs in now.values())
        if was != will:
            shown = "no longer shown" if was else "shown anew"
            at = {NO_WIDTH: "without a width", IN_PLACE: "with attributes in place"}.get(width, f"at {width}px")
            page = next(p for p, pairs in (before if was else now).items() if (image, width) in pairs)
            raise Fallback(f"{page}: {image} {shown} {at} (the image stage's input changed)")
