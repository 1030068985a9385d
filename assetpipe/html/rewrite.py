"""Responsive-image markup: one HTML page's bytes in, the page with `<picture>` elements out. Pure: no files.

Every `<img>` whose `src` resolves to a processed image (a key of `images`) becomes

    <picture data-assetpipe="SRC"><source type="image/avif" srcset="…" sizes="…">…<img …author's attributes…
    srcset="…" sizes="…" width=… height=… loading="lazy" decoding="async"></picture>

on one line, so the page keeps its line numbers. Everything else in the document is copied byte for byte:
only the `<img>` tag's own span is replaced, and nothing outside it is re-encoded.

The page is read by `parse` (its charset, its tags and their spans), each `<img>` tag's attributes by
`attributes`, its URLs resolved and written by `urls`, the pictures of an earlier run recognised by `owned`;
this module decides what each tag becomes.

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
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from html5lib.constants import asciiUpper2Lower

from .attributes import _Img, _img, _img_from_text
from .loading import LcpImage, Loading, Shown, place_of, plan
from .owned import MARK, _Owned, _owned, _rendered_says
from .parse import _SPACE, _base_href, _decode, _maybe_images, _scan, _splice, _Tag
from .picture import PictureSpec
from .urls import _srcset, _srcset_urls, _url_for, resolve

SKIP = "data-assetpipe-skip"  # on an <img> the author wants left alone
_DIGITS = re.compile(r"[0-9]+")
_LAZY = Loading(lazy=True, high=False)  # an image the page's plan does not know of


@dataclass(frozen=True)
class Rewrite:
    html: bytes  # the new document (identical bytes when nothing changed)
    rewritten: tuple[str, ...]  # sources of the <img> tags rewritten or brought up to date, in document order
    reverted: tuple[str, ...] = ()  # author srcs (as written) of assetpipe pictures turned back into plain <img>
    unreadable: str | None = None  # why the whole page was returned unchanged (it cannot be decoded), else None


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


def _picture(img: _Img, spec: PictureSpec, page: str, base_href: str | None, default_sizes: str,
             decided: Loading = _LAZY) -> str | None:
    """The `<picture>` replacing one author `<img>`; None when the spec has no fallback to point at.
    `decided`: whether the page's loading plan (loading.py) makes it lazy and gives it high priority."""
    src = img.first("src")
    if src is None or src.value_start < 0 or not spec.fallback:
        return None
    author_src = src.value
    raw_src = img.text[src.value_start : src.value_end]
    added: list[tuple[str, str]] = [("srcset", _srcset(spec.fallback, author_src, page, base_href))]

    width, height, loading, sizes = img.first("width"), img.first("height"), img.first("loading"), img.first("sizes")
    lazy = decided.lazy if loading is None else _lowered(loading.value) == "lazy"
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
    if loading is None and decided.lazy:
        added.append(("loading", "lazy"))
    if decided.high and img.first("fetchpriority") is None:
        added.append(("fetchpriority", "high"))
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


def rewrite(html: bytes, page: str, images: Mapping[str, PictureSpec], *, default_sizes: str = "100vw",
            eager: int = 2, lcp: Collection[LcpImage] = ()) -> Rewrite:
    """Turn every `<img>` of `page` (its path in the build folder) that shows a key of `images` into a `<picture>`.

    `lcp`: the page's images a browser found to be its LCP element (`--measure-lcp`); loading.py makes
    exactly those eager and high priority instead of its guess.

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
    earlier = _earlier_pictures(tags, doc.text)
    decided = _loading_plan(tags, earlier, page, base, images, eager, lcp)
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
            new = (_picture(img, images[key], page, base, default_sizes, decided.get(tag.index, _LAZY))
                   if img is not None else None)
            if new is not None:
                replacements.append((tag.start, tag.end, new))
                rewritten.append(key)
        elif tag.index in earlier:
            owned, author = earlier[tag.index]
            if owned is None:
                continue
            src = author.first("src") if author is not None else None
            key = resolve(src.value, page, base) if src is not None else None
            if author is None or key is None or key not in images:
                new = owned.author_img
            else:
                new = (_picture(author, images[key], page, base, default_sizes, decided.get(tag.index, _LAZY))
                       or owned.author_img)
                if new != owned.author_img and _rendered_says(new) == owned.said:
                    continue  # says what it would say (minified, say): kept as it is
            if new != doc.text[owned.start : owned.end]:
                replacements.append((owned.start, owned.end, new))
                if new == owned.author_img:
                    reverted.append(owned.author_src)
                else:
                    rewritten.append(str(key))
    replacements += _preloads(tags, doc.text, page, base, images, default_sizes)
    replacements.sort()
    if not replacements:
        return Rewrite(html, ())
    spliced = _splice(html, doc, replacements)
    if spliced is None:
        return Rewrite(html, (), unreadable=f"{doc.codec} does not give back the same bytes")
    return Rewrite(spliced, tuple(rewritten), tuple(reverted))


PRELOAD_MARK = "data-assetpipe-preload"  # on a <link rel=preload> whose image attributes assetpipe wrote
_PRELOAD_ADDED = ("imagesrcset", "imagesizes", "type", PRELOAD_MARK)


def _preloads(tags: list[_Tag], text: str, page: str, base: str | None, images: Mapping[str, PictureSpec],
              default_sizes: str) -> list[tuple[int, int, str]]:
    """An author's `<link rel="preload" as="image" href=…>` for a rewritten image is brought in line with
    its `<picture>`, so the browser fetches the hero once: the first modern format's `imagesrcset`, the
    page's `sizes` for it as `imagesizes`, and that format's `type` (a browser without it skips the
    preload and lets the `<picture>` choose). One the author gave `imagesrcset` is theirs; one assetpipe
    completed carries PRELOAD_MARK and is brought up to date (or back) on a later run."""
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
        modern = next(((mime, cands) for mime, cands in spec.sources if cands), None) if spec is not None else None
        if bare is None:
            continue
        new = bare.text
        if modern is not None and bare.attrs:
            mime, candidates = modern
            added = {"imagesrcset": _srcset(candidates, href.value, page, base), "imagesizes": default_sizes,
                     "type": mime, PRELOAD_MARK: ""}
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


def _earlier_pictures(tags: list[_Tag], text: str) -> dict[int, tuple[_Owned | None, _Img | None]]:
    """Each picture an earlier run wrote (by its tag's index): what it holds, None when someone edited it,
    and the author's `<img>` read back from it. Read once for the loading plan and the rewrite."""
    earlier: dict[int, tuple[_Owned | None, _Img | None]] = {}
    for tag in tags:
        if not tag.end_tag and tag.name == "picture" and tag.attr(MARK) is not None:
            owned = _owned(tag, tags, text)
            earlier[tag.index] = (owned, _img_from_text(owned.author_img) if owned is not None else None)
    return earlier


def _loading_plan(tags: list[_Tag], earlier: Mapping[int, tuple[_Owned | None, _Img | None]], page: str,
                  base: str | None, images: Mapping[str, PictureSpec], eager: int,
                  lcp: Collection[LcpImage] = ()) -> dict[int, Loading]:
    """The page's images in document order (each plain `<img>`, each `<img>` of an author's `<picture>`,
    each picture of an earlier run counted once as its author's `<img>`), and loading.py's decision for
    each, keyed by the index of its tag. `lcp` names images by path and occurrence among these."""
    slots: list[tuple[int, Shown]] = []
    occurrences: dict[str, int] = {}
    measured: set[int] = set()
    for tag in tags:
        if tag.end_tag or tag.off_limits:
            continue
        attrs: Mapping[str, str] | None = None
        picture = tag.picture
        in_own = picture is not None and picture.tag in earlier
        if tag.name == "img" and not in_own:
            attrs = dict(reversed(tag.attrs))  # the first of duplicated names counts
        elif tag.index in earlier:
            author = earlier[tag.index][1]
            attrs = {a.name: a.value for a in reversed(author.attrs)} if author is not None else {}
        if attrs is None:
            continue
        src = attrs.get("src")
        key = resolve(src, page, base) if src is not None else None
        spec = images.get(key) if key is not None else None
        if key is not None:
            occurrences[key] = occurrences.get(key, 0) + 1
            if LcpImage(key, occurrences[key] - 1) in lcp:
                measured.add(len(slots))
        slots.append((tag.index, Shown(place_of([el.name for el in tag.open]), _area(attrs, spec),
                                       _lowered(attrs.get("loading")), _lowered(attrs.get("fetchpriority")))))
    decisions = plan([shown for _, shown in slots], eager, frozenset(measured))
    return dict(zip((index for index, _ in slots), decisions, strict=True))


def _area(attrs: Mapping[str, str], spec: PictureSpec | None) -> int | None:
    """The image's rendered area in CSS px²: the author's width and height, one of them and the intrinsic
    aspect ratio, else the intrinsic size; None when neither tells."""
    width, height = (_pixels(attrs.get(name)) for name in ("width", "height"))
    if width is not None and height is not None:
        return width * height
    if spec is None or spec.width <= 0 or spec.height <= 0:
        return None
    if width is not None:
        return width * width * spec.height // spec.width
    if height is not None:
        return height * height * spec.width // spec.height
    return spec.width * spec.height


def _pixels(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip(_SPACE)
    return int(value) if _DIGITS.fullmatch(value) else None


def _lowered(value: str | None) -> str | None:
    return value.strip(_SPACE).translate(asciiUpper2Lower) if value is not None else None


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
