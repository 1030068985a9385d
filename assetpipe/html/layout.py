"""Layout-aware candidates (issue 23): the width an author gave an `<img>`, and the `srcset` that follows.

Where the author fixed the image's display width in CSS px, the browser needs one file per device pixel
ratio, not a choice by viewport: the rendition at that width (`1x`) and at twice it (`2x`), capped at the
source's own width, never upscaled, with `x` descriptors, which need no `sizes`. Everywhere else the
candidates are `w` descriptors with `sizes`. Pure: attributes in, candidates out.

The author's width, and where it is not one:
- the `width` attribute, a plain integer of CSS px above 0 (`50%`, `auto`, `12.5` are not);
- an inline `style` with a `width` declaration in `px` (integer or decimal, rounded half up; `!important`
  allowed), which wins over the attribute, as CSS does. Any other `width` declaration (`%`, `em`, `rem`,
  `vw`, `calc()`, `auto`, `var()`, …) leaves the width to the layout, attribute or not: `w` descriptors.
  `max-width` or `min-width` alone is not a width;
- an author's `sizes` means the author chose `w` descriptors: their `sizes` is kept and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .attributes import _Img
from .parse import _SPACE
from .picture import Candidate, PictureSpec
from .svgsize import SvgSize
from .urls import _url_for

_INTEGER = re.compile(r"[0-9]+")
_PX = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)px", re.ASCII | re.IGNORECASE)
_IMPORTANT = re.compile(r"!\s*important$", re.ASCII | re.IGNORECASE)
_COMMENT = re.compile(r"/\*.*?(\*/|$)", re.DOTALL)


def author_width(attrs: Mapping[str, str]) -> int | None:
    """The display width in CSS px the author gave the `<img>` (its attributes, lowercased names, the first
    of duplicated names), or None when the layout decides it."""
    if "sizes" in attrs:
        return None
    declared = _style_width(attrs.get("style", ""))
    if declared is not None:
        return declared or None  # 0: a width that is not px
    value = attrs.get("width", "").strip(_SPACE)
    return int(value) if _INTEGER.fullmatch(value) and int(value) > 0 else None


def _style_width(style: str, prop: str = "width") -> int | None:
    """The last `width` (or `prop`) declaration of an inline style in px; 0 for one in another unit; None
    for none."""
    found: int | None = None
    for declaration in _COMMENT.sub(" ", style).split(";"):
        name, colon, value = declaration.partition(":")
        if not colon or name.strip().lower() != prop:
            continue
        value = _IMPORTANT.sub("", value.strip()).strip()
        px = _PX.fullmatch(value)
        found = int(float(px.group(1)) + 0.5) if px is not None else 0
    return found


@dataclass(frozen=True)
class Chosen:
    """One format's candidates for one `<img>`: with `x` descriptors (1x, 2x) or `w` descriptors."""

    candidates: tuple[tuple[Candidate, str], ...]  # (file, descriptor) in srcset order
    dense: bool  # x descriptors: no `sizes`


def by_density(candidates: Sequence[Candidate], width: int) -> tuple[tuple[Candidate, str], ...]:
    """`1x` and `2x` for a display width: the smallest candidate at least as wide as each (the largest when
    none is: the source itself is smaller), and no `2x` when it is not wider than the `1x` one."""
    ordered = sorted(candidates, key=lambda c: c.width)
    if not ordered:
        return ()

    def at_least(target: int) -> Candidate:
        return next((c for c in ordered if c.width >= target), ordered[-1])

    one, two = at_least(width), at_least(2 * width)
    return ((one, "1x"), (two, "2x")) if two.width > one.width else ((one, "1x"),)


def dense(width: int | None, source_width: int) -> bool:
    """Whether an `<img>` the author gave `width` CSS px gets `1x, 2x`: only when the source is wider, so
    that there is a 2x to give. A source no wider than its display width (often the author's `width` and
    `height` are the intrinsic size, written against layout shift, with CSS `max-width: 100%` shrinking
    it on a phone) gets `w` descriptors and `sizes`, which still let a narrow screen take a smaller file;
    `1x` alone would be the source's own width on every screen."""
    return width is not None and width < source_width


def choose(spec: PictureSpec, width: int | None) -> tuple[tuple[tuple[str, Chosen], ...], Chosen]:
    """Each modern format's candidates (by MIME type, as `spec.sources`) and the fallback's, for an `<img>`
    the author gave `width` CSS px (None: the layout decides): `1x, 2x` when `dense`, else `w` descriptors
    over the widths made for them, leaving out those made only for another page's `1x, 2x`."""

    def one(candidates: tuple[Candidate, ...]) -> Chosen:
        if width is not None and dense(width, spec.width):
            return Chosen(by_density(candidates, width), True)
        kept = tuple(c for c in candidates if c.width not in spec.x_only) or candidates
        return Chosen(tuple((c, f"{c.width}w") for c in kept), False)

    return tuple((mime, one(cands)) for mime, cands in spec.sources if cands), one(spec.fallback)



def srcset_of(chosen: Chosen, author_src: str, page: str, base_href: str | None) -> str:
    """The `srcset` value of one format's chosen candidates, URLs written the way the author wrote `src`."""
    return ", ".join(f"{_url_for(c.file, author_src, page, base_href)} {descriptor}"
                     for c, descriptor in chosen.candidates)


def derived(author: str, spec_from: int, spec_to: int) -> str | None:
    """The other dimension from the author's one, by the intrinsic aspect ratio; None for a non-integer value."""
    if not _INTEGER.fullmatch(author) or spec_from <= 0:
        return None
    return str((int(author) * spec_to * 2 + spec_from) // (spec_from * 2))


def sized_svg(img: _Img | None, svg: SvgSize | None) -> str | None:
    """An SVG's `<img>` with the `width`/`height` the author left out (`svg`: the SVG's, html/svgsize.py),
    every other byte of the tag as written; None when nothing is to change. Neither given: both, when the
    SVG has a size of its own (a viewBox alone is only a ratio). One given: the other by the SVG's aspect
    ratio (nothing when the author's value is not an integer). A `width` in px in the inline style stands
    for the attribute; any other `width` or `height` there leaves the tag alone, since the attributes would
    then fight the author's CSS."""
    if img is None or svg is None or not img.attrs:
        return None
    size = (svg.width, svg.height)
    style = next((a.value for a in img.attrs if a.name == "style"), "")
    styled, styled_height = _style_width(style), _style_width(style, "height")
    if styled == 0 or styled_height is not None:
        return None
    width, height = img.first("width"), img.first("height")
    added: list[tuple[str, str | None]]
    if width is None and height is None and styled is not None:
        added = [("width", str(styled)), ("height", derived(str(styled), *size))]
    elif width is None and height is None and svg.definite:
        added = [("width", str(size[0])), ("height", str(size[1]))]
    elif width is None and height is None:
        return None
    elif height is None and width is not None:
        added = [("height", derived(width.value.strip(_SPACE), *size))]
    elif width is None and height is not None:
        added = [("width", derived(height.value.strip(_SPACE), size[1], size[0]))]
    else:
        return None
    if any(value is None for _, value in added):
        return None
    at = img.attrs[-1].end
    return img.text[:at] + "".join(f' {name}="{value}"' for name, value in added) + img.text[at:]
