"""An author's `<link rel="preload" as="image">` for a rewritten image, brought in line with what the page
shows of that image (its `<picture>`, or its `<img>` given attributes in a hydrated root), so the browser
fetches the hero once (SPEC §2.2)."""

from __future__ import annotations

from collections.abc import Mapping

from html5lib.constants import asciiUpper2Lower

from . import layout
from .attributes import _escape, _Img, _img, _img_from_text, _lowered
from .hydration import ATTRIBUTES
from .parse import _SPACE, _Tag
from .picture import PictureSpec
from .urls import resolve

PRELOAD_MARK = "data-assetpipe-preload"  # on a <link rel=preload> whose image attributes assetpipe wrote
_PRELOAD_ADDED = ("imagesrcset", "imagesizes", "type", PRELOAD_MARK)


def _preloads(tags: list[_Tag], text: str, page: str, base: str | None, images: Mapping[str, PictureSpec],
              default_sizes: str, shown_at: Mapping[str, int | None],
              how_shown: Mapping[str, str] | None = None) -> list[tuple[int, int, str]]:
    """An author's `<link rel="preload" as="image" href=…>` for a rewritten image is brought in line with
    its `<picture>`, so the browser fetches the hero once: the first modern format's `imagesrcset`, the
    page's `sizes` for it as `imagesizes`, and that format's `type` (a browser without it skips the
    preload and lets the `<picture>` choose). One the author gave `imagesrcset` is theirs; one assetpipe
    completed carries PRELOAD_MARK and is brought up to date (or back) on a later run. One of an image in a
    hydrated root (`how_shown`) follows its `<img>`: the fallback's srcset and no `type`, or left alone."""
    replacements: list[tuple[int, int, str]] = []
    for tag in tags:
        if tag.end_tag or tag.name != "link" or tag.off_limits:
            continue
        rel = (tag.attr("rel") or "").translate(asciiUpper2Lower).split()
        if "preload" not in rel or _lowered(tag.attr("as")) != "image":
            continue
        ours = tag.attr(PRELOAD_MARK) is not None
        if tag.attr("imagesrcset") is not None and not ours:
            continue  # the author's own responsive preload
        link = _img(text[tag.start : tag.end], tag.attrs)
        href = link.first("href") if link is not None else None
        if link is None or href is None:
            continue
        bare = _img_from_text(_without(link, _PRELOAD_ADDED), "link") if ours else link
        key = resolve(href.value, page, base)
        spec = images.get(key) if key is not None else None
        chosen = layout.choose(spec, shown_at.get(str(key))) if spec is not None else None
        modern = chosen[0][0] if chosen is not None and chosen[0] else None  # as the page's picture has it
        how = (how_shown or {}).get(str(key))
        if how == ATTRIBUTES and chosen is not None and spec is not None and spec.fallback:
            modern = ("", chosen[1])  # as the <img> given attributes in place shows it
        elif how is not None:
            modern = None  # left alone: so is its preload
        if bare is None:
            continue
        new = bare.text
        if modern is not None and bare.attrs:
            mime, candidates = modern
            added = {"imagesrcset": layout.srcset_of(candidates, href.value, page, base), "imagesizes": default_sizes,
                     "type": mime, PRELOAD_MARK: ""}
            if candidates.dense:
                del added["imagesizes"]
            if not mime:
                del added["type"]
            at = bare.attrs[-1].end
            new = new[:at] + "".join(f' {name}="{_escape(value)}"' for name, value in added.items()) + new[at:]
        if new != text[tag.start : tag.end]:
            replacements.append((tag.start, tag.end, new))
    return replacements


def _without(tag: _Img, names: tuple[str, ...]) -> str:
    """A tag's text with the named attributes (and the space before each) taken out."""
    text = tag.text
    for attr in sorted((a for a in tag.attrs if a.name in names), key=lambda a: a.start, reverse=True):
        start = attr.start
        while start > 0 and text[start - 1] in _SPACE:
            start -= 1
        text = text[:start] + text[attr.end :]
    return text
