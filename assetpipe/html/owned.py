"""The `<picture>`s an earlier run wrote (marked `data-assetpipe`): recognised, and the author's `<img>` rebuilt.

Also what such a picture says, read from its parsed markup, never its bytes, so that a minified one is kept
as it is when it says what a re-render would say (the decisions are listed in `rewrite`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .attributes import _img
from .parse import _SPACE, _scan, _Tag
from .urls import _srcset_candidates

MARK = "data-assetpipe"  # on the <picture> assetpipe wrote; its value is the author's src as written


# --- assetpipe's own pictures ---------------------------------------------------------------------------


_Said = tuple[tuple[str, dict[str, Any]], ...]  # elements in order: name, attributes as they mean


@dataclass(frozen=True)
class _Owned:
    """A `<picture data-assetpipe>` written by an earlier run, and the author's `<img>` rebuilt from it."""

    start: int
    end: int
    author_img: str  # the author's tag text, byte for byte as first written (as minified, if it was)
    author_src: str  # its src as written (raw)
    said: _Said  # what the picture says, to compare with a re-render


_COLLAPSE = re.compile(f"[{_SPACE}]+")
_AROUND_COMMA = re.compile(" ?, ?")


def _meaning(name: str, value: str) -> Any:
    """An attribute value as it is compared: srcset as its candidates, sizes with whitespace collapsed."""
    if name == "srcset":
        return tuple(_srcset_candidates(value))
    if name == "sizes":
        return _AROUND_COMMA.sub(",", _COLLAPSE.sub(" ", value).strip(" "))
    return value


def _says(tags: Iterable[_Tag]) -> _Said:
    """What a picture's start tags say: each element's name and attribute mapping (first of a name wins)."""
    said = []
    for tag in tags:
        attrs: dict[str, Any] = {}
        for name, value in tag.attrs:
            attrs.setdefault(name, _meaning(name, value))
        said.append((tag.name, attrs))
    return tuple(said)


def _rendered_says(picture: str) -> _Said | None:
    """What a picture assetpipe renders says, read back the same way as the page's."""
    tags = [t for t in _scan(picture) if not t.end_tag]
    if not tags or tags[0].name != "picture" or tags[0].start != 0:
        return None
    return _says(tags)


_UNQUOTABLE = frozenset(_SPACE + "\"'=<>`")


def _quoted(raw: str, quote_char: str) -> str | None:
    """A raw attribute value (as written) with quotes it can sit in, `quote_char`'s if it can; None if none can."""
    if (quote_char and quote_char not in raw) or (not quote_char and raw and not _UNQUOTABLE.intersection(raw)):
        return f"{quote_char}{raw}{quote_char}"
    return next((f"{q}{raw}{q}" for q in "\"'" if q not in raw), None)


def _owned(picture: _Tag, tags: list[_Tag], text: str) -> _Owned | None:
    raw_src = picture.attr(MARK)
    if not raw_src or picture.off_limits or picture.picture is not None:
        return None
    inside: list[_Tag] = []
    end_tag: _Tag | None = None
    for tag in tags[picture.index + 1 :]:
        if tag.end_tag and tag.name == "picture" and tag.open and tag.open[-1].tag == picture.index:
            end_tag = tag
            break
        if any(el.tag == picture.index for el in tag.open):
            inside.append(tag)
        else:
            return None
    if end_tag is None:
        return None
    imgs = [t for t in inside if t.name == "img"]
    if len(imgs) != 1 or any(t.name not in ("img", "source") or t.end_tag for t in inside):
        return None
    if any(t.open[-1].tag != picture.index for t in inside):
        return None
    edges = [picture.end, *(x for t in inside for x in (t.start, t.end)), end_tag.start]
    if any(text[a:b].strip(_SPACE) for a, b in zip(edges[::2], edges[1::2], strict=True)):
        return None  # something besides whitespace, <source> and one <img>: the author's now
    ours = _img(text[imgs[0].start : imgs[0].end], imgs[0].attrs)
    if ours is None:
        return None
    cut = next((k for k, a in enumerate(ours.attrs) if a.name == "srcset"), None)
    src = ours.first("src")
    if cut is None or src is None or src.value_start < 0 or ours.attrs.index(src) > cut:
        return None
    keep_to = ours.attrs[cut - 1].end if cut else ours.name_end
    author = ours.text[:keep_to] + ours.text[ours.attrs[-1].end :]
    # assetpipe wrote the URL in the author's quotes; a minifier may have changed them
    quoted = _quoted(raw_src, src.quote)
    if quoted is None:
        return None
    author = author[: src.value_start - len(src.quote)] + quoted + author[src.value_end + len(src.quote) :]
    return _Owned(picture.start, end_tag.end, author, raw_src, _says([picture, *inside]))
