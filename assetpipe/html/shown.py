"""What one page shows of each image, for the image stage's plan (issue 23): at the widths its authors gave
(`1x, 2x` renditions), or in a layout that decides the width (the configured widths). Pure: bytes in.

Every `<img src/srcset>`, `<source srcset>` and assetpipe picture of the page, each read as the rewrite will
write it: an `<img>` the rewrite turns into a `<picture>` shows its
image at the author's width (html/layout.py), when it gave one; everything else, including the tags the
rewrite leaves alone (an author's `srcset`, `<picture>`, `<template>`, `data-assetpipe-skip`), shows it as
today, with no width, so the configured widths are made for it.
"""

from __future__ import annotations

from . import inplace
from .attributes import _img_from_text
from .hydration import ATTRIBUTES, Hydration
from .layout import author_width
from .owned import MARK
from .parse import _base_href, _decode, _maybe_images, _scan, _Tag
from .rewrite import SKIP, _attr_quote, _earlier_pictures
from .urls import _srcset_urls, resolve


def shown_widths(html: bytes, page: str) -> dict[str, frozenset[int | None]]:
    """Each build-folder path the page shows, with the author widths it is shown at (None: no width). An
    unreadable page shows nothing."""
    return shown_on_page(html, page)[0]


def shown_on_page(html: bytes, page: str, hydrated: str | None = None
                  ) -> tuple[dict[str, frozenset[int | None]], frozenset[str]]:
    """`shown_widths`, and the paths of the images the rewrite gives attributes in place (a hydrated root
    with `html.hydrated = hydrated`, inplace.py), whose fallback renditions then get same-URL sidecars
    (images/renditionsidecars.py). With `hydrated` None, no image is counted as given attributes."""
    doc = _decode(html)
    if isinstance(doc, str) or not _maybe_images(doc.text):
        return {}, frozenset()
    tags = _scan(doc.text)
    base = _base_href(tags)
    earlier = _earlier_pictures(tags, doc.text)
    hydration = Hydration.of(doc.text) if hydrated == ATTRIBUTES else None
    found: dict[str, set[int | None]] = {}
    in_place: set[str] = set()

    def add(url: str, width: int | None, rewritten: bool = False, tag: _Tag | None = None) -> None:
        path = resolve(url, page, base)
        if path is not None:
            found.setdefault(path, set()).add(width)
            if rewritten and hydration is not None and tag is not None \
                    and hydration.treatment(tag, ATTRIBUTES) == ATTRIBUTES:
                in_place.add(path)

    for tag in tags:
        if tag.end_tag:
            continue
        if tag.name == "img":  # one an earlier run gave attributes in place (inplace.py) read as the author's
            attrs = dict(reversed(inplace.author_attrs(tag.attrs)))
            rewritten = not tag.off_limits and tag.picture is None and SKIP not in attrs and "srcset" not in attrs
            add(attrs.get("src") or "", author_width(attrs) if rewritten else None, rewritten, tag)
            for url in _srcset_urls(attrs.get("srcset") or ""):
                add(url, None)
        elif tag.name == "source":
            for url in _srcset_urls(tag.attr("srcset") or ""):
                add(url, None)
        elif tag.index in earlier:
            owned, author = earlier[tag.index]
            src = author.first("src") if author is not None else None
            if owned is not None and author is not None and src is not None:
                add(src.value, author_width({a.name: a.value for a in reversed(author.attrs)}), True, tag)
            else:  # someone edited it: the picture is theirs, its src read as `references` reads it
                marked = _img_from_text(f"<img src={_attr_quote(tag.attr(MARK) or '')}>")
                first = marked.first("src") if marked is not None else None
                if first is not None:
                    add(first.value, None)
    return {path: frozenset(widths) for path, widths in found.items()}, frozenset(in_place)



def references(html: bytes, page: str) -> frozenset[str]:
    """Every build-folder path an `<img src/srcset>`, `<source srcset>` or assetpipe picture of the page shows,
    whatever its width: deliberately a superset of what `rewrite` touches (template and foreign content
    included). An unreadable page references nothing."""
    return frozenset(shown_widths(html, page))
