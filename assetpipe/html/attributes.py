"""The attributes inside one `<img>` start tag, with the span of each name and value in the tag's text.

The spans come from a small scanner that follows the spec's attribute states and is cross-checked against
html5lib's attribute list; a tag where the two disagree is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from html5lib.constants import asciiUpper2Lower

from .parse import _SPACE, _scan

# --- attributes inside one tag --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attr:
    name: str  # ASCII-lowercased
    value: str  # decoded (from html5lib)
    start: int  # offsets into the tag's text: the name's first character ...
    end: int  # ... to after the value (closing quote included)
    value_start: int  # the raw value, inside the quotes; -1 when the attribute has no value
    value_end: int
    quote: str  # '"', "'", or "" (unquoted or no value)


@dataclass(frozen=True)
class _Img:
    """One <img> start tag as written: its text, its attributes with their spans, its closing style."""

    text: str
    attrs: tuple[_Attr, ...]
    name_end: int
    self_closing: bool

    def first(self, name: str) -> _Attr | None:
        return next((a for a in self.attrs if a.name == name), None)


_Span = tuple[int, int, int, int, int, str]  # name start, name end, attribute end, value start, value end, quote


def _scan_attributes(tag: str) -> tuple[list[_Span], int, bool]:
    """Attribute spans of one start tag, following the spec's tokenizer states from the tag name to `>`.

    Returns the spans of each attribute, the end of the tag name, and whether the tag is self-closing (`/>`).
    """
    i = 1
    while tag[i] not in _SPACE + "/>":
        i += 1
    name_end = i
    attrs: list[_Span] = []
    n = len(tag)
    while i < n:
        c = tag[i]
        if c in _SPACE:
            i += 1
            continue
        if c == "/":
            if tag.startswith(">", i + 1):
                return attrs, name_end, True
            i += 1
            continue
        if c == ">":
            return attrs, name_end, False
        start = i
        i += 1  # the first character may be `=`
        while tag[i] not in _SPACE + "/>=":
            i += 1
        name_stop = i
        j = i
        while tag[j] in _SPACE:
            j += 1
        if tag[j] != "=":
            attrs.append((start, name_stop, name_stop, -1, -1, ""))
            i = name_stop
            continue
        j += 1
        while tag[j] in _SPACE:
            j += 1
        q = tag[j]
        if q in "\"'":
            close = tag.index(q, j + 1)
            attrs.append((start, name_stop, close + 1, j + 1, close, q))
            i = close + 1
        elif q == ">":
            attrs.append((start, name_stop, j, j, j, ""))  # `a=>`: an empty value
            i = j
        else:
            k = j
            while tag[k] not in _SPACE + ">":
                k += 1
            attrs.append((start, name_stop, k, j, k, ""))
            i = k
    raise ValueError("tag without `>`")


def _img(tag_text: str, decoded: Iterable[tuple[str, str]]) -> _Img | None:
    """Pair the scanner's spans with html5lib's decoded values; None when they disagree."""
    try:
        spans, name_end, self_closing = _scan_attributes(tag_text)
    except (ValueError, IndexError):
        return None
    values = list(decoded)
    if len(spans) != len(values):
        return None
    attrs = []
    for (start, name_stop, end, vstart, vend, q), (name, value) in zip(spans, values, strict=True):
        if tag_text[start:name_stop].translate(asciiUpper2Lower) != name:
            return None
        attrs.append(_Attr(name, value, start, end, vstart, vend, q))
    return _Img(tag_text, tuple(attrs), name_end, self_closing)


def _img_from_text(tag_text: str, name: str = "img") -> _Img | None:
    """Read a lone <img> tag (the author's tag rebuilt from an earlier run's output), or another start
    tag of a recorded `name` (a <link> the rewrite completed)."""
    tags = [t for t in _scan(tag_text) if t.name == name and not t.end_tag]
    if len(tags) != 1 or (tags[0].start, tags[0].end) != (0, len(tag_text)):
        return None
    return _img(tag_text, tags[0].attrs)


def _escape(value: str, quote_char: str = '"') -> str:
    value = value.replace("&", "&amp;")
    if quote_char == "'":
        return value.replace("'", "&#39;")
    return value.replace('"', "&quot;")


def _lowered(value: str | None) -> str | None:
    return value.strip(_SPACE).translate(asciiUpper2Lower) if value is not None else None
