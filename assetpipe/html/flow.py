"""The text of a page between its images, read in the same parse as its tags (html/parse.py), for the
first-viewport estimate (html/fold.py). Pure: a page's text in, its tags and its text blocks out.

What counts is the text a reader sees above an image: the characters of each text block (a paragraph, a
heading, a list item, a caption, a table cell, …, by the nearest block element around the text), noted
with the number of watched tags before it, so that each block falls between two images. Text that takes
no place in the flow above the content is left out, which can only make the estimate place an image
higher, never lower (the safe side: a wrong eager costs a few kB, a wrong lazy costs LCP):
- text in `<nav>`, `<header>`, `<footer>` and `<aside>` (site navigation, banners and sidebars sit beside
  the content or off-canvas on a phone), in `<head>`, `<script>`, `<style>`, `<template>`, `<noscript>`
  (scripting on), `<textarea>`, `<select>`, `<dialog>`, `<svg>`, `<math>`, and in any element with the
  `hidden` attribute;
- a `<header>` (not inside another of those) counts as a bar of fixed height instead of its text: the
  site's app bar above the content (MkDocs-Material's is 48 px, VitePress's 64 px);
- text whose nearest block is a generic container (`<div>`, `<section>`, `<main>`, …) rather than a text
  block: links and labels of a site's chrome mostly, whose place CSS decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from html5lib.constants import tokenTypes

from .parse import _TREE, HTML_NS, _Parser, _SpanTokenizer, _Tag

# The nearest of these around a text decides its kind (fold.py's heights); a generic container means
# the text is not counted.
_KINDS = {"p": "text", "blockquote": "text", "pre": "text", "figcaption": "text", "dt": "text", "dd": "text",
          "summary": "text", "caption": "text", "td": "text", "th": "text", "address": "text", "legend": "text",
          "li": "item", "h1": "h1", "h2": "h2", "h3": "h3", "h4": "h3", "h5": "h3", "h6": "h3"}
_CONTAINERS = frozenset({"div", "section", "article", "main", "body", "html", "figure", "ul", "ol", "dl",
                         "table", "tbody", "thead", "tfoot", "tr", "details", "fieldset", "form", "center",
                         "hgroup", "search"})
_UNSEEN = frozenset({"head", "script", "style", "template", "noscript", "textarea", "title", "select",
                     "dialog", "nav", "header", "footer", "aside", "iframe", "object"})


@dataclass(frozen=True)
class Block:
    """One text block of the page: `chars` characters (whitespace collapsed) of a `kind` ("text", "item",
    "h1", "h2", "h3": h3 to h6), after `after` watched tags (those of parse.py, by their index); or a
    site's header bar ("bar", no characters: its text is not counted, its bar is)."""

    after: int
    kind: str
    chars: int


class _FlowTokenizer(_SpanTokenizer):
    """parse.py's tokenizer, also noting each text block as the parser sees it."""

    def __init__(self, stream: str, parser: Any, lines: list[int], text: str) -> None:
        super().__init__(stream, parser, lines, text)
        self.blocks: list[Block] = []
        self._block: Any = None  # the element of the last block noted, to add its further text to it

    def __iter__(self) -> Iterator[dict[str, Any]]:
        after = 0
        for token in super().__iter__():
            kind = token.get("type")
            if kind in (tokenTypes["StartTag"], tokenTypes["EndTag"]) and token.get("assetpipe_tag") is not None:
                after = token["assetpipe_tag"] + 1
            elif kind == tokenTypes["Characters"]:
                self._note(" ".join(token["data"].split()), after)
            elif kind == tokenTypes["StartTag"] and token.get("name") == "header" and self._seen():
                self.blocks.append(Block(after, "bar", 0))
                self._block = None
            yield token

    def _seen(self) -> bool:
        """Whether what comes now is in the flow a reader sees (not in `_UNSEEN`, not `hidden`)."""
        return not any(element.namespace not in (None, HTML_NS) or element.name in _UNSEEN
                       or "hidden" in element.attributes for element in self.parser.tree.openElements)

    def _note(self, text: str, after: int) -> None:
        if not text or not self._seen():
            return
        block: Any = None
        for element in reversed(self.parser.tree.openElements):
            if element.name in _KINDS or element.name in _CONTAINERS:
                block = element
                break
        if block is None or block.name not in _KINDS:
            return
        last = self.blocks[-1] if self.blocks else None
        if last is not None and block is self._block and last.after == after:
            self.blocks[-1] = Block(after, last.kind, last.chars + len(text))
        else:
            self.blocks.append(Block(after, _KINDS[block.name], len(text)))
        self._block = block


class _FlowParser(_Parser):
    tokenizer_class = _FlowTokenizer


def scan(text: str) -> tuple[list[_Tag], list[Block]]:
    """The page's watched tags (as parse.py's `_scan`) and its text blocks, in document order."""
    parser = _FlowParser(tree=_TREE)
    tags = parser.scan(text)
    tokenizer = parser.tokenizer
    return tags, list(tokenizer.blocks) if isinstance(tokenizer, _FlowTokenizer) else []
