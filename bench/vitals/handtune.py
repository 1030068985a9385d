"""The hand-tuned side: one `<img>` of a page made eager with `fetchpriority="high"`, nothing else changed.

The image is named by its index among the page's `<img>` elements in document order, as the browser
counts them (`document.images`): tags inside `<noscript>` (text when scripts run) and `<template>`
(inert content) are not elements of the document, and comments hold no tags. Only that one tag's
`loading` and `fetchpriority` attributes change; every other byte of the page stays as it was.
"""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

_LOADING = re.compile(r"""\s+(?:loading|fetchpriority)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?""", re.I)
_INERT = ("noscript", "template")


class _ImgFinder(HTMLParser):
    """Start offsets (line, column) and raw text of every `<img>` that is an element of the document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[tuple[int, int], str]] = []
        self._inert = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INERT:
            self._inert += 1
        elif tag == "img" and not self._inert:
            self.found.append((self.getpos(), self.get_starttag_text() or ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img" and not self._inert:
            self.found.append((self.getpos(), self.get_starttag_text() or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in _INERT and self._inert:
            self._inert -= 1


def img_tags(text: str) -> list[tuple[int, str]]:
    """(offset, raw tag) of each `<img>` element in document order."""
    finder = _ImgFinder()
    finder.feed(text)
    finder.close()
    line_starts = [0]
    for match in re.finditer("\n", text):
        line_starts.append(match.end())
    return [(line_starts[line - 1] + column, raw) for (line, column), raw in finder.found]


def make_eager(tag: str) -> str:
    """The tag with its `loading`/`fetchpriority` replaced by `loading="eager" fetchpriority="high"`."""
    stripped = _LOADING.sub("", tag)
    return stripped[:4] + ' loading="eager" fetchpriority="high"' + stripped[4:]


def hand_tune(page: bytes, index: int) -> bytes:
    """`page` with its `index`-th `<img>` element made eager + `fetchpriority="high"`."""
    text = page.decode("utf-8", "surrogateescape")
    tags = img_tags(text)
    if not 0 <= index < len(tags):
        raise ValueError(f"the page has {len(tags)} <img> elements, not {index + 1}")
    offset, raw = tags[index]
    if text[offset:offset + len(raw)] != raw:
        raise ValueError(f"<img> number {index} is not where the parser put it (offset {offset})")
    tuned = text[:offset] + make_eager(raw) + text[offset + len(raw):]
    return tuned.encode("utf-8", "surrogateescape")


def write_tuned(path: Path, index: int) -> None:
    """Hand-tune the page at `path` and bring its precompressed sidecars in line (nginx serves `.br`/`.gz`
    before the page itself): `.gz` at level 9, `.br` at quality 11 when the brotli module is importable
    (assetpipe's venv has it), else no `.br`; `.zst` removed."""
    tuned = hand_tune(path.read_bytes(), index)
    path.write_bytes(tuned)
    for suffix in (".br", ".gz", ".zst"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    Path(f"{path}.gz").write_bytes(gzip.compress(tuned, compresslevel=9, mtime=0))
    try:
        import brotli
    except ImportError:
        return
    Path(f"{path}.br").write_bytes(brotli.compress(tuned, quality=11))
