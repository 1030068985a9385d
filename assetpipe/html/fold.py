"""Which content images likely start inside the first viewport (SPEC §2.2's "likely in the first
viewport", issue 23's goal "no lazy image among the first viewport's"), estimated from the HTML alone.

`html.eager` stays the floor (the first N content images are eager whatever this says); beyond it, an
image is eager too when the vertical offset at which it starts is estimated to be inside the first
viewport of any of `html.eager_viewports` (by default a phone, 412 x 915 CSS px, and a desktop,
1350 x 940). The offset at a viewport is the sum, in document order, of
- the rendered height of each content image before it: the author's width and height (attributes, or
  px in the inline style), one of them with the image's aspect ratio, else the image's own size; scaled
  down to the text column (the viewport's width, at most `COLUMN`) when wider (CSS `max-width: 100%`,
  aspect kept); an image whose size nothing tells counts as `UNKNOWN` of the column's width (4:3 across
  it) but at most the viewport's height. Images that take no first-viewport place (nav, header logos,
  icons, footer: loading.py) count 0;
- the height of each text block before it (html/flow.py): lines of `chars` at a character width per
  kind over the column, times a line height, plus the block's margin; a site's `<header>` bar counts as
  one block of fixed height.
The figures err towards a smaller offset (no side padding of the column, margins and line heights at
or under those of the documentation themes measured, text with no block of its own not counted, images
side by side counted one under the other only at their own height; headings over a browser's defaults are
the exception), so the estimate marks an image eager when in doubt: a wrong eager costs
a few kB, a wrong lazy costs LCP. Calibrated in Chromium against the benchmark's MkDocs and Next.js pages
and the framework fixtures: every estimated top at or above the real one (docs/build.md gives the figures).

Pure: image boxes and text blocks in, one answer per image out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .flow import Block
from .layout import _style_width
from .parse import _SPACE

# (character width, line height, margin) in CSS px per kind of text block, at a 16 px body font:
# a proportional font averages about 0.45-0.5 em per character, headings are larger; the margins are
# the collapsed ones of browsers' and themes' stylesheets, rounded down.
TEXT = {"text": (8, 26, 16), "item": (8, 26, 4), "h1": (16, 40, 40), "h2": (13, 34, 36), "h3": (10, 28, 24),
        "bar": (1, 0, 56)}
COLUMN = 800  # the widest text column assumed: documentation and blog themes keep theirs at 700-960 CSS px
UNKNOWN = 0.75  # an image of unknown size: as tall as 3/4 of the viewport's width (a 4:3 photo across it)
_VIEWPORT = re.compile(r"([0-9]{2,5})x([0-9]{2,5})")


@dataclass(frozen=True)
class Viewport:
    width: int  # CSS px
    height: int

    @classmethod
    def parse(cls, text: str) -> Viewport:
        """`412x915` -> Viewport(412, 915); ValueError for anything else."""
        found = _VIEWPORT.fullmatch(text.strip())
        if found is None or not all(int(n) > 0 for n in found.groups()):
            raise ValueError(f"expected WIDTHxHEIGHT in CSS px such as 412x915, got {text!r}")
        return cls(int(found.group(1)), int(found.group(2)))


@dataclass(frozen=True)
class Box:
    """What the page and the image tell of an image's rendered size, in CSS px."""

    width: int | None  # the author's (attribute or inline style px), else None
    height: int | None
    intrinsic: tuple[int, int] | None  # the image's own pixels, when it is one assetpipe read


@dataclass(frozen=True)
class Placed:
    """One image in document order: the text blocks between the previous image and it, its box, and
    whether it takes a place in the flow (content; not a nav or header logo or an icon)."""

    before: tuple[tuple[str, int], ...]  # (kind, characters) of each text block, as html/flow.py reads them
    box: Box
    takes_place: bool


def starts_inside(images: Sequence[Placed], viewports: Sequence[Viewport]) -> list[bool]:
    """Whether each image's estimated top is inside the first viewport of any of `viewports`."""
    inside = [False] * len(images)
    for viewport in viewports:
        top = 0.0
        for at, image in enumerate(images):
            top += sum(text_height(kind, chars, viewport) for kind, chars in image.before)
            inside[at] = inside[at] or top < viewport.height
            if image.takes_place:
                top += image_height(image.box, viewport)
    return inside


def text_height(kind: str, chars: int, viewport: Viewport) -> float:
    """A text block's height: its lines at the viewport's width, and its margin."""
    char, line, margin = TEXT.get(kind, TEXT["text"])
    per_line = max(1, min(viewport.width, COLUMN) // char)
    return -(-chars // per_line) * line + margin


def image_height(box: Box, viewport: Viewport) -> float:
    """An image's rendered height at a viewport: its size as the page and the image tell, no wider than
    the viewport; `UNKNOWN` when nothing tells."""
    width, height = box.width, box.height
    if box.intrinsic is not None and box.intrinsic[0] > 0 and box.intrinsic[1] > 0:
        own_w, own_h = box.intrinsic
        if width is None and height is None:
            width, height = own_w, own_h
        elif height is None and width is not None:
            height = width * own_h / own_w
        elif width is None and height is not None:
            width = height * own_w / own_h
    if height is None:
        return min(min(viewport.width, COLUMN) * UNKNOWN, viewport.height)
    column = min(viewport.width, COLUMN)
    if width is not None and width > column:
        return height * column / width
    return float(height)


def box(attrs: Mapping[str, str], intrinsic: tuple[int, int] | None) -> Box:
    """An image's box from its author's attributes (lowercased names, the first of duplicated names): an
    inline style's px `width`/`height` over the attribute, as CSS does; a width or height in another unit
    (`100%`, `auto`) is left to the layout, so only the image's own size tells."""
    style = attrs.get("style", "")
    found: list[int | None] = []
    for name in ("width", "height"):
        styled = _style_width(style, name)
        value = attrs.get(name, "").strip(_SPACE)
        if styled is not None:
            found.append(styled or None)
        else:
            found.append(int(value) if value.isascii() and value.isdigit() and int(value) > 0 else None)
    return Box(found[0], found[1], intrinsic)


def between(blocks: Sequence[Block], after: int, upto: int) -> tuple[tuple[str, int], ...]:
    """The text blocks that come after the watched tag of index `after` (-1: the page's start) and before
    the one of index `upto`."""
    return tuple((b.kind, b.chars) for b in blocks if after < b.after <= upto)
