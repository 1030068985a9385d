"""Reading an HTML page: its text in its declared charset, and its tags with their exact spans. Pure: no files.

Tags are found by html5lib's WHATWG tokenizer and tree construction (parsed as a browser with scripting
enabled parses it), not by regular expressions and not by the stdlib `html.parser.HTMLParser`. The stdlib
parser was evaluated and rejected: on Python 3.11 it ends a comment at `-- >` (the spec does not, so an
`<img>` inside such a comment would be rewritten), keeps `<!-->` open, reads `<textarea>`, `<title>` and
`<noscript>` content as markup, knows nothing of `<template>` or foreign content, and its behaviour changes
between Python patch releases. html5lib's tokens carry no offsets, so this module subclasses its tokenizer to
note the stream position at each tag's `<` and after its `>`; the input stream folds CR LF and CR into LF,
which the line table below folds the same way, and every span is checked against the text it claims to cover
before it is used. Because the parser builds the real tree, each recorded tag also knows its open elements:
that is how `<template>`, `<svg>`/`<math>` and `<picture>` ancestors are seen, and why `<script>`, `<style>`,
`<textarea>`, `<title>`, `<noscript>` and comments never yield an `<img>` at all. html5lib is a runtime
dependency (pure Python, about 0.7 MB/s here; pages without `<img` skip the parse).

Charset: a BOM, else `<meta charset>`/`http-equiv` in the first 1024 bytes (the WHATWG prescan, label mapping
from the Encoding Standard), else UTF-8. A page that does not decode strictly in that charset, or whose text
does not encode back to the same bytes, is returned unchanged with `Rewrite.unreadable` saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import html5lib
import webencodings
from html5lib import _inputstream, _tokenizer, html5parser
from html5lib.constants import asciiUpper2Lower, tokenTypes

HTML_NS = "http://www.w3.org/1999/xhtml"

_WATCHED = frozenset({"img", "picture", "source", "base", "link"})  # the tags whose spans and contexts are recorded
_OFF_LIMITS = frozenset({"template", "svg", "math"})  # ancestors under which nothing is touched
_SPACE = "\t\n\f\r "  # ASCII whitespace as the HTML tokenizer sees it
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_PRESCAN_BYTES = 1024  # how far the WHATWG prescan looks for a <meta> charset


# --- reading the document -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Open:
    """One element open around a recorded tag."""

    name: str
    namespace: str | None
    tag: int | None  # index of the recorded start tag that opened it, if it was one
    attrs: tuple[tuple[str, str], ...] = ()  # its attributes (how hydration.py finds a framework's root)


@dataclass(frozen=True)
class _Tag:
    """A start or end tag of a watched name, where it is in the text and what encloses it."""

    index: int
    end_tag: bool
    name: str
    start: int  # character offsets into the decoded document
    end: int
    attrs: tuple[tuple[str, str], ...]  # html5lib's names (lowercased) and decoded values, in source order
    open: tuple[_Open, ...]  # the open elements when the tag was read, outermost first

    def attr(self, name: str) -> str | None:
        return next((value for key, value in self.attrs if key == name), None)

    @property
    def off_limits(self) -> bool:
        return any(el.name in _OFF_LIMITS or el.namespace not in (None, HTML_NS) for el in self.open)

    @property
    def picture(self) -> _Open | None:
        return next((el for el in reversed(self.open) if el.name == "picture" and el.namespace == HTML_NS), None)


class _SpanTokenizer(_tokenizer.HTMLTokenizer):
    """html5lib's tokenizer, noting where each watched tag starts and ends and what is open around it."""

    def __init__(self, stream: str, parser: Any, lines: list[int], text: str) -> None:
        super().__init__(stream, parser=parser)
        self.tags: list[_Tag] = []
        self._lines = lines
        self._text = text
        self._lt: tuple[int, int] | None = None

    def _offset(self, position: tuple[int, int]) -> int:
        line, column = position
        return self._lines[line - 1] + column

    def tagOpenState(self) -> bool:
        self._lt = self.stream.position()  # just after the `<`
        return super().tagOpenState()

    def emitCurrentToken(self) -> None:
        token = self.currentToken
        kind = token["type"]
        if kind in (tokenTypes["StartTag"], tokenTypes["EndTag"]) and self._lt is not None:
            name = token["name"].translate(asciiUpper2Lower)
            if name in _WATCHED:
                self._record(token, name, kind == tokenTypes["EndTag"])
        self._lt = None
        super().emitCurrentToken()

    def _record(self, token: dict[str, Any], name: str, end_tag: bool) -> None:
        assert self._lt is not None
        start = self._offset(self._lt) - 1
        end = self._offset(self.stream.position())
        opener = ("</" if end_tag else "<") + name
        if self._text[start : start + len(opener)].translate(asciiUpper2Lower) != opener or self._text[end - 1] != ">":
            return  # a span that does not cover its tag is never used
        opened = tuple(
            _Open(el.name, el.namespace, getattr(el, "assetpipe_tag", None),
                  tuple((k, str(v)) for k, v in el.attributes.items() if isinstance(k, str)))
            for el in self.parser.tree.openElements
        )
        attrs = () if end_tag else tuple((str(k), str(v)) for k, v in token["data"])
        token["assetpipe_tag"] = len(self.tags)
        self.tags.append(_Tag(len(self.tags), end_tag, name, start, end, attrs, opened))


def _tree_builder() -> type:
    base: type = html5lib.getTreeBuilder("etree")

    class Tree(base):  # type: ignore[misc, valid-type]
        """Marks each element with the recorded start tag that made it."""

        def insertElementNormal(self, token: dict[str, Any]) -> Any:
            element = super().insertElementNormal(token)
            element.assetpipe_tag = token.get("assetpipe_tag")
            return element

        def insertElementTable(self, token: dict[str, Any]) -> Any:
            element = super().insertElementTable(token)
            self.openElements[-1].assetpipe_tag = token.get("assetpipe_tag")
            return element

    return Tree


_TREE = _tree_builder()


class _Parser(html5parser.HTMLParser):
    """html5lib's parser driving the span-noting tokenizer (scripting on, as in a browser)."""

    tokenizer_class: type[_SpanTokenizer] = _SpanTokenizer  # html/flow.py's also notes the text

    def scan(self, text: str) -> list[_Tag]:
        self.innerHTMLMode = False
        self.container = "div"
        self.scripting = True
        self.tokenizer = self.tokenizer_class(text, self, _line_starts(text), text)
        self.reset()
        self.mainLoop()
        return self.tokenizer.tags


def _line_starts(text: str) -> list[int]:
    """Offsets where each line starts, with CR LF, CR and LF all ending a line (as html5lib's stream does)."""
    starts = [0]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\r":
            i += 2 if text.startswith("\n", i + 1) else 1
            starts.append(i)
        elif c == "\n":
            i += 1
            starts.append(i)
        else:
            i += 1
    return starts


def _scan(text: str) -> list[_Tag]:
    return _Parser(tree=_TREE).scan(text)


# --- the document ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Document:
    bom: bytes
    codec: str
    text: str


def _decode(html: bytes) -> _Document | str:
    """The document's text in its declared charset, or the reason it cannot be read."""
    bom, codec = next(((b, c) for b, c in _BOMS if html.startswith(b)), (b"", ""))
    if not bom:
        codec = "utf-8"
        declared = _inputstream.EncodingParser(html[:_PRESCAN_BYTES].lower()).getEncoding()
        if declared is not None:
            codec = declared.codec_info.name
            if declared.name in ("utf-16be", "utf-16le"):
                codec = "utf-8"  # the Encoding Standard's rule for a <meta> that names UTF-16
            elif declared.name == "x-user-defined":
                codec = webencodings.lookup("windows-1252").codec_info.name
    try:
        return _Document(bom, codec, html[len(bom) :].decode(codec))
    except UnicodeDecodeError as error:
        return f"not valid {codec}: {error.reason} at byte {error.start + len(bom)}"


def _splice(html: bytes, doc: _Document, replacements: list[tuple[int, int, str]]) -> bytes | None:
    """The original bytes with each (start, end) character span replaced; None if a span's bytes do not match."""
    out = [doc.bom]
    at_char, at_byte = 0, len(doc.bom)
    for start, end, new in [*replacements, (len(doc.text), len(doc.text), "")]:
        for chunk, replacement in ((doc.text[at_char:start], None), (doc.text[start:end], new)):
            encoded = chunk.encode(doc.codec)
            if html[at_byte : at_byte + len(encoded)] != encoded:
                return None
            out.append(encoded if replacement is None else replacement.encode(doc.codec, "xmlcharrefreplace"))
            at_byte += len(encoded)
        at_char = end
    return b"".join(out) if at_byte == len(html) else None


def _base_href(tags: list[_Tag]) -> str | None:
    return next(
        (t.attr("href") for t in tags if t.name == "base" and not t.end_tag and not t.off_limits and t.attr("href")),
        None,
    )


def _maybe_images(text: str) -> bool:
    return "<img" in text.translate(asciiUpper2Lower)
