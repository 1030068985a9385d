"""Responsive-image markup: one HTML page's bytes in, the page with `<picture>` elements out. Pure: no files.

Every `<img>` whose `src` resolves to a processed image (a key of `images`) becomes

    <picture data-assetpipe="SRC"><source type="image/avif" srcset="…" sizes="…">…<img …author's attributes…
    srcset="…" sizes="…" width=… height=… loading="lazy" decoding="async"></picture>

on one line, so the page keeps its line numbers. Everything else in the document is copied byte for byte:
only the `<img>` tag's own span is replaced, and nothing outside it is re-encoded.

How the document is read. Tags are found by html5lib's WHATWG tokenizer and tree construction (parsed as a
browser with scripting enabled parses it), not by regular expressions and not by the stdlib
`html.parser.HTMLParser`. The stdlib parser was evaluated and rejected: on Python 3.11 it ends a comment at
`-- >` (the spec does not, so an `<img>` inside such a comment would be rewritten), keeps `<!-->` open, reads
`<textarea>`, `<title>` and `<noscript>` content as markup, knows nothing of `<template>` or foreign content,
and its behaviour changes between Python patch releases. html5lib's tokens carry no offsets, so this module
subclasses its tokenizer to note the stream position at each tag's `<` and after its `>`; the input stream
folds CR LF and CR into LF, which the line table below folds the same way, and every span is checked against
the text it claims to cover before it is used. Because the parser builds the real tree, each recorded tag also
knows its open elements: that is how `<template>`, `<svg>`/`<math>` and `<picture>` ancestors are seen, and why
`<script>`, `<style>`, `<textarea>`, `<title>`, `<noscript>` and comments never yield an `<img>` at all. The
attribute spans inside one tag come from a small scanner that follows the spec's attribute states and is
cross-checked against html5lib's attribute list; a tag where the two disagree is left alone. html5lib is a
runtime dependency (pure Python, about 0.7 MB/s here; pages without `<img` skip the parse).

Decisions where the contract is silent:
- `<noscript>` content is left alone: with scripting enabled (every browser in practice) it is text, not DOM,
  and it is usually a lazy-loading fallback for an image handled elsewhere.
- An `<img>` anywhere inside `<svg>` or `<math>` is left alone, even one the parser breaks out into HTML: a
  `<picture>` written there would itself become a foreign element.
- An `<img>` that already has `srcset` is left alone: the author chose its candidates.
- Width and height: both written by the author are kept, even if they disagree with the image. One of them
  alone is kept and the other derived from the intrinsic aspect ratio (rounded half up) when the author's value
  is a valid non-negative integer; otherwise (`50%`, `auto`) nothing is added, since any number would
  contradict it.
- `loading`/`decoding` written by the author are kept whatever their value; `sizes` is `auto, DEFAULT` only
  when the `<img>` will be lazy (the author's `loading` is `lazy`, or assetpipe adds it).
- Generated URLs follow the author's `src`: root-relative stays root-relative, relative stays relative (to the
  `<base href>` when there is one), path segments percent-encoded (UTF-8), and the author's `?query` and
  `#fragment` are dropped (the variant names carry a content hash). `..` above the root is clamped to the root,
  as browsers do.
- The written `<picture>` records the author's `src` exactly as written in `data-assetpipe`, and everything
  from the `<img>`'s first `srcset` on is assetpipe's. A later run can therefore rebuild the author's `<img>`
  byte for byte and regenerate the picture: the result of a run depends only on the author's markup and the
  current `images`. A recorded picture whose image is no longer in `images` is turned back into the author's
  `<img>` (a caller that wants to keep old markup passes the old PictureSpec). A recorded picture someone has
  edited (anything but whitespace, `<source>` and one `<img>` inside it) is treated as theirs and left alone.
- A recorded picture that already says what the re-render would say is kept byte for byte, even when its bytes
  differ from assetpipe's own form: the build may minify pages after the rewrite (unquoted values, `alt` for
  `alt=""`, no ` />`), and re-rendering would change every page on every build. "Says the same" is decided on
  the parsed markup, never the bytes: the `<picture>`'s attributes, then the same sequence of `<source>` and
  `<img>` elements, each with the same attributes as a mapping of (lowercased) name to decoded value in any
  order (the first of duplicated names counts), where `srcset` compares as its parsed candidates (URL and
  descriptors) and `sizes` with whitespace collapsed; whitespace between the elements and inside the tags,
  quoting and self-closing slashes do not count. A kept picture is not listed in `Rewrite.rewritten` (nothing
  was rewritten), just as a picture already in assetpipe's own form is not. A minified picture's `<img>` gives
  back the author's tag in its minified form (`src` re-quoted when the minifier's quoting cannot hold it), which
  renders to the same picture.
- Charset: a BOM, else `<meta charset>`/`http-equiv` in the first 1024 bytes (the WHATWG prescan, label
  mapping from the Encoding Standard), else UTF-8. A page that does not decode strictly in that charset, or
  whose text does not encode back to the same bytes, is returned unchanged with `Rewrite.unreadable` saying why.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import html5lib
import webencodings
from html5lib import _inputstream, _tokenizer, html5parser
from html5lib.constants import asciiUpper2Lower, tokenTypes

from .picture import Candidate, PictureSpec

HTML_NS = "http://www.w3.org/1999/xhtml"
MARK = "data-assetpipe"  # on the <picture> assetpipe wrote; its value is the author's src as written
SKIP = "data-assetpipe-skip"  # on an <img> the author wants left alone

_WATCHED = frozenset({"img", "picture", "source", "base"})  # the tags whose spans and contexts are recorded
_OFF_LIMITS = frozenset({"template", "svg", "math"})  # ancestors under which nothing is touched
_SPACE = "\t\n\f\r "  # ASCII whitespace as the HTML tokenizer sees it
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_PRESCAN_BYTES = 1024  # how far the WHATWG prescan looks for a <meta> charset
_ORIGIN = "http://assetpipe.invalid"  # a stand-in origin for resolving the build folder's URLs
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_DIGITS = re.compile(r"[0-9]+")
_URL_SAFE = "/"  # besides letters, digits and `_.-~`: everything else in a generated URL is percent-encoded


@dataclass(frozen=True)
class Rewrite:
    html: bytes  # the new document (identical bytes when nothing changed)
    rewritten: tuple[str, ...]  # sources of the <img> tags rewritten or brought up to date, in document order
    reverted: tuple[str, ...] = ()  # author srcs (as written) of assetpipe pictures turned back into plain <img>
    unreadable: str | None = None  # why the whole page was returned unchanged (it cannot be decoded), else None


# --- reading the document -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Open:
    """One element open around a recorded tag."""

    name: str
    namespace: str | None
    tag: int | None  # index of the recorded start tag that opened it, if it was one


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
            _Open(el.name, el.namespace, getattr(el, "assetpipe_tag", None)) for el in self.parser.tree.openElements
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

    def scan(self, text: str) -> list[_Tag]:
        self.innerHTMLMode = False
        self.container = "div"
        self.scripting = True
        self.tokenizer = _SpanTokenizer(text, self, _line_starts(text), text)
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


def _img_from_text(tag_text: str) -> _Img | None:
    """Read a lone <img> tag (the author's tag rebuilt from an earlier run's output)."""
    tags = [t for t in _scan(tag_text) if t.name == "img" and not t.end_tag]
    if len(tags) != 1 or (tags[0].start, tags[0].end) != (0, len(tag_text)):
        return None
    return _img(tag_text, tags[0].attrs)


# --- URLs -----------------------------------------------------------------------------------------------


def _clean_url(url: str) -> str:
    # The URL parser strips leading/trailing C0 controls and spaces and drops tabs and newlines anywhere.
    url = url.strip("".join(chr(c) for c in range(0x21)))
    return url.replace("\t", "").replace("\n", "").replace("\r", "")


def _base_path(page: str, base_href: str | None) -> str | None:
    """The URL path relative URLs in `page` resolve against, or None when they resolve off-site."""
    page_url = _ORIGIN + "/" + quote(page.lstrip("/"), safe="/")
    if base_href is None:
        return urlsplit(page_url).path
    base = _clean_url(base_href).replace("\\", "/")
    if base.startswith("//") or _SCHEME.match(base):
        return None
    return urlsplit(urljoin(page_url, base)).path


def resolve(url: str, page: str, base_href: str | None) -> str | None:
    """URL as written in `page` -> POSIX path inside the build folder, or None (external, data:, not a file).

    Relative URLs resolve against the page (or its `<base href>`), root-relative ones against the build folder's
    root; the `?query` and `#fragment` are ignored and the path is percent-decoded (UTF-8).
    """
    url = _clean_url(url).replace("\\", "/")
    if not url or url.startswith(("#", "?")) or url.startswith("//") or _SCHEME.match(url):
        return None
    base = _base_path(page, base_href) if not url.startswith("/") else "/"
    if base is None:
        return None
    joined = urlsplit(urljoin(_ORIGIN + quote(base, safe="/%"), url))
    if joined.netloc != urlsplit(_ORIGIN).netloc:
        return None
    try:
        path = unquote(joined.path, errors="strict")
    except UnicodeDecodeError:
        return None
    parts: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":  # `%2e%2e` decodes to a dot segment, which browsers resolve too
            if parts:
                parts.pop()
        elif segment != ".":
            parts.append(segment)
    if not parts or not parts[-1] or "\0" in path:
        return None
    return "/".join(parts)


def _url_for(file: str, author_src: str, page: str, base_href: str | None) -> str:
    """The URL of `file` written the way the author wrote `author_src`: root-relative or relative."""
    if _clean_url(author_src).replace("\\", "/").startswith("/"):
        return "/" + quote(file, safe=_URL_SAFE)
    base = unquote(_base_path(page, base_href) or "/")
    folder = base[1 : base.rfind("/") + 1].rstrip("/") or "."
    return quote(posixpath.relpath(file, folder), safe=_URL_SAFE)


def _srcset(candidates: Iterable[Candidate], author_src: str, page: str, base_href: str | None) -> str:
    return ", ".join(f"{_url_for(c.file, author_src, page, base_href)} {c.width}w" for c in candidates)


def _srcset_candidates(value: str) -> list[tuple[str, tuple[str, ...]]]:
    """The candidates of a srcset attribute, (URL, descriptors), per the HTML spec's candidate parsing.

    Descriptors are split as the spec's tokenizer splits them but not validated: two srcsets with the same
    candidates here select the same image in every browser.
    """
    candidates: list[tuple[str, tuple[str, ...]]] = []
    i, n = 0, len(value)
    while True:
        while i < n and (value[i] in _SPACE or value[i] == ","):
            i += 1
        if i >= n:
            return candidates
        start = i
        while i < n and value[i] not in _SPACE:
            i += 1
        url = value[start:i]
        descriptors: list[str] = []
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            current, state = "", "in"
            while i < n:
                c = value[i]
                i += 1
                if state == "after":
                    if c not in _SPACE:
                        state, i = "in", i - 1  # reconsume in the descriptor state
                elif state == "paren":
                    current += c
                    state = "in" if c == ")" else "paren"
                elif c in _SPACE:
                    descriptors += [current] if current else []
                    current, state = "", "after"
                elif c == ",":
                    break
                else:
                    current += c
                    state = "paren" if c == "(" else "in"
            descriptors += [current] if current else []
        candidates.append((url, tuple(descriptors)))


def _srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset attribute, per the HTML spec's candidate parsing."""
    return [url for url, _descriptors in _srcset_candidates(value)]


# --- writing --------------------------------------------------------------------------------------------


def _escape(value: str, quote_char: str = '"') -> str:
    value = value.replace("&", "&amp;")
    if quote_char == "'":
        return value.replace("'", "&#39;")
    return value.replace('"', "&quot;")


def _derived(author: str, spec_from: int, spec_to: int) -> str | None:
    """The other dimension from the author's one, by the intrinsic aspect ratio; None for a non-integer value."""
    if not _DIGITS.fullmatch(author) or spec_from <= 0:
        return None
    return str((int(author) * spec_to * 2 + spec_from) // (spec_from * 2))


def _picture(img: _Img, spec: PictureSpec, page: str, base_href: str | None, default_sizes: str) -> str | None:
    """The `<picture>` replacing one author `<img>`; None when the spec has no fallback to point at."""
    src = img.first("src")
    if src is None or src.value_start < 0 or not spec.fallback:
        return None
    author_src = src.value
    raw_src = img.text[src.value_start : src.value_end]
    added: list[tuple[str, str]] = [("srcset", _srcset(spec.fallback, author_src, page, base_href))]

    width, height, loading, sizes = img.first("width"), img.first("height"), img.first("loading"), img.first("sizes")
    lazy = loading is None or loading.value.strip(_SPACE).translate(asciiUpper2Lower) == "lazy"
    if sizes is not None:
        sizes_value = sizes.value
    else:
        auto = default_sizes.strip(_SPACE).translate(asciiUpper2Lower).startswith("auto")
        sizes_value = f"auto, {default_sizes}" if lazy and not auto else default_sizes
        added.append(("sizes", sizes_value))
    if width is None and height is None:
        added += [("width", str(spec.width)), ("height", str(spec.height))]
    elif height is None and width is not None:
        other = _derived(width.value.strip(_SPACE), spec.width, spec.height)
        added += [("height", other)] if other is not None else []
    elif width is None and height is not None:
        other = _derived(height.value.strip(_SPACE), spec.height, spec.width)
        added += [("width", other)] if other is not None else []
    if loading is None:
        added.append(("loading", "lazy"))
    if img.first("decoding") is None:
        added.append(("decoding", "async"))

    text = img.text
    insert_at = img.attrs[-1].end
    text = text[:insert_at] + "".join(f' {name}="{_escape(value)}"' for name, value in added) + text[insert_at:]
    new_src = _url_for(spec.fallback[-1].file, author_src, page, base_href)
    text = text[: src.value_start] + _escape(new_src, src.quote or '"') + text[src.value_end :]
    if not src.quote and any(c in new_src for c in _SPACE + "\"'=<>`"):
        return None  # cannot happen with percent-encoded URLs; never write a broken unquoted value

    slash = " /" if img.self_closing else ""
    sources = "".join(
        f'<source type="{_escape(mime)}" srcset="{_escape(_srcset(cands, author_src, page, base_href))}"'
        f' sizes="{_escape(sizes_value)}"{slash}>'
        for mime, cands in spec.sources
        if cands
    )
    return f'<picture {MARK}="{_escape(raw_src)}">{sources}{text}</picture>'


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


def rewrite(html: bytes, page: str, images: Mapping[str, PictureSpec], *, default_sizes: str = "100vw") -> Rewrite:
    """Turn every `<img>` of `page` (its path in the build folder) that shows a key of `images` into a `<picture>`.

    Pictures an earlier run wrote are brought up to date (or back to the author's `<img>` when their image is
    no longer in `images`); every byte outside the replaced tags is kept.
    """
    doc = _decode(html)
    if isinstance(doc, str):
        return Rewrite(html, (), unreadable=doc)
    if not _maybe_images(doc.text):
        return Rewrite(html, ())
    tags = _scan(doc.text)
    base = _base_href(tags)
    replacements: list[tuple[int, int, str]] = []
    rewritten: list[str] = []
    reverted: list[str] = []
    for tag in tags:
        if tag.end_tag:
            continue
        if tag.name == "img":
            if tag.off_limits or tag.picture is not None or any(tag.attr(a) is not None for a in (SKIP, "srcset")):
                continue
            src = tag.attr("src")
            key = resolve(src, page, base) if src is not None else None
            if key is None or key not in images:
                continue
            img = _img(doc.text[tag.start : tag.end], tag.attrs)
            new = _picture(img, images[key], page, base, default_sizes) if img is not None else None
            if new is not None:
                replacements.append((tag.start, tag.end, new))
                rewritten.append(key)
        elif tag.name == "picture" and tag.attr(MARK) is not None:
            owned = _owned(tag, tags, doc.text)
            if owned is None:
                continue
            author = _img_from_text(owned.author_img)
            src = author.first("src") if author is not None else None
            key = resolve(src.value, page, base) if src is not None else None
            if author is None or key is None or key not in images:
                new = owned.author_img
            else:
                new = _picture(author, images[key], page, base, default_sizes) or owned.author_img
                if new != owned.author_img and _rendered_says(new) == owned.said:
                    continue  # says what it would say (minified, say): kept as it is
            if new != doc.text[owned.start : owned.end]:
                replacements.append((owned.start, owned.end, new))
                if new == owned.author_img:
                    reverted.append(owned.author_src)
                else:
                    rewritten.append(str(key))
    if not replacements:
        return Rewrite(html, ())
    spliced = _splice(html, doc, replacements)
    if spliced is None:
        return Rewrite(html, (), unreadable=f"{doc.codec} does not give back the same bytes")
    return Rewrite(spliced, tuple(rewritten), tuple(reverted))


def references(html: bytes, page: str) -> frozenset[str]:
    """Every build-folder path an `<img src/srcset>`, `<source srcset>` or assetpipe picture of the page shows.

    Deliberately a superset of what `rewrite` touches (template and foreign content included), for watch mode:
    a page listed here is redone when one of these files changes. An unreadable page references nothing.
    """
    doc = _decode(html)
    if isinstance(doc, str) or not _maybe_images(doc.text):
        return frozenset()
    tags = _scan(doc.text)
    base = _base_href(tags)
    urls: list[str] = []
    for tag in tags:
        if tag.end_tag:
            continue
        if tag.name == "img":
            urls += [tag.attr("src") or "", *_srcset_urls(tag.attr("srcset") or "")]
        elif tag.name == "source":
            urls += _srcset_urls(tag.attr("srcset") or "")
        elif tag.name == "picture" and tag.attr(MARK):
            author = _img_from_text(f"<img src={_attr_quote(tag.attr(MARK) or '')}>")
            src = author.first("src") if author is not None else None
            urls += [src.value] if src is not None else []
    found = (resolve(url, page, base) for url in urls)
    return frozenset(path for path in found if path is not None)


def _attr_quote(raw: str) -> str:
    """Wrap a raw attribute value (as written) in quotes it cannot contain, so it reads back the same."""
    return f"'{raw}'" if '"' in raw else f'"{raw}"'
