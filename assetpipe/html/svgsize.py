"""The size an SVG image shows at, from its root element, for the `width`/`height` of its `<img>` (issue 23).

SVG is never rasterised; its `<img>` tags only get the size the browser would give them, so that the page
reserves the space before the image arrives (no layout shift). Read from the root `<svg>` start tag alone:
no XML parser, so no entity is expanded and nothing external is fetched; only the first `LIMIT` bytes are
looked at. Pure: bytes in.

- `width`/`height` count when in px or unitless (`24`, `24px`, `23.5`, rounded half up); any other unit
  (`%`, `em`, `mm`, …) or value means the SVG's size depends on where it is shown, and nothing is written.
- Both given: that size. One given: the other from the `viewBox`'s aspect ratio (none: nothing). Neither:
  the `viewBox`'s width and height, but only as an aspect ratio (`definite` false): such an SVG has no
  size of its own, and Chromium shows it as wide as its container (measured: a `viewBox="0 0 24 12"`
  SVG in an `<img>` without attributes is laid out 764 x 382 in an 800 px window, 200 x 100 in a 200 px
  box), so writing 24 x 12 would change the page; the ratio still gives the other dimension of an
  `<img>` the author gave one of.
- Anything unreadable (no `<svg>` root within `LIMIT` bytes, a malformed start tag, a `viewBox` that is not
  four numbers with a positive width and height) gives no size, quietly: the `<img>` stays as the author
  wrote it, as it always has, and the build reports nothing, since the page is no worse than before.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

LIMIT = 64 * 1024  # the root start tag comes after at most a declaration, comments and a doctype
_NUMBER = r"[+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_LENGTH = re.compile(rf"({_NUMBER})(?:px)?", re.ASCII)
_VIEWBOX = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_ATTRIBUTE = re.compile(r"""[ \t\r\n]+([^ \t\r\n=/>]+)[ \t\r\n]*=[ \t\r\n]*("[^"<]*"|'[^'<]*')""")
_NAME = re.compile(r"<([A-Za-z_][-A-Za-z0-9_.]*:)?svg(?=[ \t\r\n/>])")
_BLANK = " \t\r\n"


@dataclass(frozen=True)
class SvgSize:
    width: int  # CSS px, or the viewBox's units when not `definite` (then only the ratio counts)
    height: int
    definite: bool  # the SVG's own size; False: a viewBox alone, an aspect ratio


def size_of_file(path: str | os.PathLike[str]) -> SvgSize | None:
    """`size_of` the file's first LIMIT bytes (OSError when it cannot be read)."""
    with open(path, "rb") as file:
        return size_of(file.read(LIMIT))


def size_of(data: bytes) -> SvgSize | None:
    """The SVG's width and height in CSS px as an `<img>` shows it (or its viewBox's, an aspect ratio),
    or None when the file does not say."""
    attrs = _root_attributes(data[:LIMIT])
    if attrs is None:
        return None
    width, height = (_length(attrs.get(name)) for name in ("width", "height"))
    if width == 0 or height == 0:  # given, but not in px
        return None
    box = _viewbox(attrs.get("viewBox"))
    if width is not None and height is not None:
        pair = (width, height)
    elif box is None:
        return None
    elif width is not None:
        pair = (width, width * box[1] / box[0])
    elif height is not None:
        pair = (height * box[0] / box[1], height)
    else:
        pair = box
    rounded = (int(pair[0] + 0.5), int(pair[1] + 0.5))
    if rounded[0] <= 0 or rounded[1] <= 0:
        return None
    return SvgSize(rounded[0], rounded[1], width is not None or height is not None)


def _root_attributes(head: bytes) -> dict[str, str] | None:
    """The attributes of the root element's start tag when it is `<svg>` (any prefix), else None."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", "replace")
    else:
        text = head.decode("utf-8", "replace")
    at = 1 if text.startswith("\ufeff") else 0
    while True:
        while at < len(text) and text[at] in _BLANK:
            at += 1
        if text.startswith("<?", at):
            end = text.find("?>", at)
            at = end + 2
        elif text.startswith("<!--", at):
            end = text.find("-->", at + 4)
            at = end + 3
        elif text.startswith("<!", at):
            end = _doctype_end(text, at)
            at = end + 1
        else:
            break
        if end < 0:
            return None
    name = _NAME.match(text, at)
    if name is None:
        return None
    at = name.end()
    attrs: dict[str, str] = {}
    while True:
        found = _ATTRIBUTE.match(text, at)
        if found is None:
            break
        attrs.setdefault(found.group(1), found.group(2)[1:-1])
        at = found.end()
    while at < len(text) and text[at] in _BLANK:
        at += 1
    return attrs if text.startswith((">", "/>"), at) else None


def _doctype_end(text: str, at: int) -> int:
    """Where a `<!DOCTYPE …>` ends: its `>` outside quotes and the internal subset's brackets; -1: not here."""
    depth, quote = 0, ""
    for i in range(at + 2, len(text)):
        c = text[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif c == ">" and depth <= 0:
            return i
    return -1


def _length(value: str | None) -> float | None:
    """A width or height in px; None when absent, 0 when in another unit or unreadable."""
    if value is None:
        return None
    found = _LENGTH.fullmatch(value.strip(_BLANK))
    return float(found.group(1)) if found is not None else 0


def _viewbox(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    parts = [p for p in re.split(r"[ \t\r\n,]+", value.strip(_BLANK)) if p]
    if len(parts) != 4 or not all(_VIEWBOX.fullmatch(p) for p in parts):
        return None
    width, height = float(parts[2]), float(parts[3])
    return (width, height) if width > 0 and height > 0 else None
