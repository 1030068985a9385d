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
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from html5lib.constants import asciiUpper2Lower

from . import flow, fold, inplace, layout
from .attributes import _escape, _Img, _img, _img_from_text, _lowered
from .hydration import ATTRIBUTES, PICTURE, Hydration
from .loading import LcpImage, Loading, Shown, place_of, plan, role
from .owned import MARK, _Owned, _owned, _rendered_says
from .parse import _SPACE, _base_href, _decode, _maybe_images, _scan, _splice, _Tag
from .picture import PictureSpec
from .preload import _preloads
from .svgsize import SvgSize
from .urls import _url_for, resolve

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


def _picture(img: _Img, spec: PictureSpec, page: str, base_href: str | None, default_sizes: str,
             decided: Loading = _LAZY) -> str | None:
    """The `<picture>` replacing one author `<img>`; None when the spec has no fallback to point at.
    `decided`: whether the page's loading plan (loading.py) makes it lazy and gives it high priority."""
    src = img.first("src")
    if src is None or src.value_start < 0 or not spec.fallback:
        return None
    author_src = src.value
    raw_src = img.text[src.value_start : src.value_end]
    shown_width = layout.author_width({a.name: a.value for a in reversed(img.attrs)})
    modern, fallback = layout.choose(spec, shown_width)  # `1x, 2x` at the author's width, else `w`
    added: list[tuple[str, str]] = [("srcset", layout.srcset_of(fallback, author_src, page, base_href))]

    width, height, loading, sizes = img.first("width"), img.first("height"), img.first("loading"), img.first("sizes")
    lazy = decided.lazy if loading is None else _lowered(loading.value) == "lazy"
    sizes_value: str | None = None
    if sizes is not None:
        sizes_value = sizes.value
    elif not fallback.dense:
        auto = default_sizes.strip(_SPACE).translate(asciiUpper2Lower).startswith("auto")
        sizes_value = f"auto, {default_sizes}" if lazy and not auto else default_sizes
        added.append(("sizes", sizes_value))
    if width is None and height is None and shown_width is not None:  # a width in px from `style`
        other = layout.derived(str(shown_width), spec.width, spec.height)
        added += [("width", str(shown_width))] + ([("height", other)] if other is not None else [])
    elif width is None and height is None:
        added += [("width", str(spec.width)), ("height", str(spec.height))]
    elif height is None and width is not None:
        other = layout.derived(width.value.strip(_SPACE), spec.width, spec.height)
        added += [("height", other)] if other is not None else []
    elif width is None and height is not None:
        other = layout.derived(height.value.strip(_SPACE), spec.height, spec.width)
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
    sized = f' sizes="{_escape(sizes_value)}"' if sizes_value is not None else ""
    sources = "".join(
        f'<source type="{_escape(mime)}" srcset="{_escape(layout.srcset_of(chosen, author_src, page, base_href))}"'
        f'{sized}{slash}>'
        for mime, chosen in modern
    )
    return f'<picture {MARK}="{_escape(raw_src)}">{sources}{text}</picture>'


def rewrite(html: bytes, page: str, images: Mapping[str, PictureSpec], *, default_sizes: str = "100vw",
            eager: int = 2, svgs: Mapping[str, SvgSize] | None = None, hydrated: str = ATTRIBUTES,
            lcp: Collection[LcpImage] = (), viewports: Sequence[fold.Viewport] = ()) -> Rewrite:
    """Turn every `<img>` of `page` (its path in the build folder) that shows a key of `images` into a `<picture>`
    (in a hydrated root, as `hydrated` says: hydration.py), and give one that shows a key of `svgs` (an SVG's
    size, html/svgsize.py) its missing `width`/`height`.

    `lcp`: the page's images a browser found to be its LCP element (`--measure-lcp`); loading.py makes
    exactly those eager and high priority instead of its guess. `viewports`: beyond the first `eager` content
    images, those estimated to start inside the first of any of these viewports are eager too (fold.py).

    Pictures an earlier run wrote (and images it gave attributes: inplace.py) are brought up to date (or back to
    the author's `<img>` when their image is no longer in `images`); every byte outside the replaced tags is kept.
    """
    doc = _decode(html)
    if isinstance(doc, str):
        return Rewrite(html, (), unreadable=doc)
    if not _maybe_images(doc.text):
        return Rewrite(html, ())
    svgs = svgs or {}
    tags, blocks = flow.scan(doc.text) if viewports else (_scan(doc.text), [])
    base = _base_href(tags)
    earlier = _earlier_pictures(tags, doc.text)
    decided = _loading_plan(tags, earlier, page, base, images, eager, lcp, (blocks, viewports),
                            lambda tag, key: _sized_svg(tag, doc.text, key, images, svgs))
    hydration = Hydration.of(doc.text)
    preloaded = inplace.preloaded(tags, page, base)
    how_shown: dict[str, str] = {}  # each image's treatment where it is not a <picture>, for its preload
    replacements: list[tuple[int, int, str]] = []
    rewritten: list[str] = []
    reverted: list[str] = []
    shown_at: dict[str, int | None] = {}  # the author's width at each image's first picture, for its preload
    for tag in tags:
        if tag.end_tag:
            continue
        if tag.name == "img":
            attrs = inplace.author_attrs(tag.attrs)
            if tag.off_limits or tag.picture is not None or any(name in (SKIP, "srcset") for name, _ in attrs):
                continue
            src = next((value for name, value in attrs if name == "src"), None)
            key = resolve(src, page, base) if src is not None else None
            img = _img(doc.text[tag.start : tag.end], tag.attrs)
            ours = img is not None and inplace.marked(tag.attrs)
            author = _img_from_text(inplace.author_img(img)) if ours and img is not None else img
            if author is None:
                continue
            if key is None or key not in images:
                if ours:  # an image given attributes by an earlier run, now gone: the author's tag again
                    replacements.append((tag.start, tag.end, author.text))
                    reverted.append(str(src))
                elif (sized := _sized_svg(tag, doc.text, key, images, svgs)) is not None:  # an SVG's missing size
                    replacements.append((tag.start, tag.end, sized))
                continue
            how = hydration.treatment(tag, hydrated)
            if how != PICTURE:
                how_shown[key] = how
            new = inplace.render(author, how, decided.get(tag.index, _LAZY), key in preloaded,
                                 lambda d, a=author, k=key: _picture(a, images[k], page, base, default_sizes, d))
            shown_at.setdefault(key, layout.author_width(dict(reversed(attrs))))
            current = doc.text[tag.start : tag.end]
            if new is None or new == current or (ours and how == ATTRIBUTES and inplace.says_same(new, current)):
                continue
            replacements.append((tag.start, tag.end, new))
            if new == author.text:
                reverted.append(str(src))
            else:
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
                how = hydration.treatment(tag, hydrated)
                if how != PICTURE:
                    how_shown[key] = how
                new = inplace.render(author, how, decided.get(tag.index, _LAZY), key in preloaded,
                                     lambda d, a=author, k=key: _picture(a, images[k], page, base, default_sizes, d)
                                     ) or owned.author_img
                shown_at.setdefault(key, layout.author_width({a.name: a.value for a in reversed(author.attrs)}))
                if how == PICTURE and new != owned.author_img and _rendered_says(new) == owned.said:
                    continue  # says what it would say (minified, say): kept as it is
            if new != doc.text[owned.start : owned.end]:
                replacements.append((owned.start, owned.end, new))
                if new == owned.author_img:
                    reverted.append(owned.author_src)
                else:
                    rewritten.append(str(key))
    replacements += _preloads(tags, doc.text, page, base, images, default_sizes, shown_at, how_shown)
    replacements.sort()
    if not replacements:
        return Rewrite(html, ())
    spliced = _splice(html, doc, replacements)
    if spliced is None:
        return Rewrite(html, (), unreadable=f"{doc.codec} does not give back the same bytes")
    return Rewrite(spliced, tuple(rewritten), tuple(reverted))


def _sized_svg(tag: _Tag, text: str, key: str | None, images: Mapping[str, PictureSpec],
               svgs: Mapping[str, SvgSize]) -> str | None:
    """An SVG's `<img>` as the rewrite writes it, given the `width`/`height` the author left out
    (html/layout.py); None when the rewrite leaves the tag as it is. The loading plan weighs the tag as it
    is written, so that the next run, reading that tag, decides the same (a 40 x 20 icon is no LCP)."""
    if key is None or key in images or key not in svgs or tag.off_limits or tag.picture is not None:
        return None
    if inplace.marked(tag.attrs) or any(name in (SKIP, "srcset") for name, _ in inplace.author_attrs(tag.attrs)):
        return None
    return layout.sized_svg(_img(text[tag.start : tag.end], tag.attrs), svgs[key])


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
                  lcp: Collection[LcpImage] = (),
                  fit: tuple[Sequence[flow.Block], Sequence[fold.Viewport]] = ((), ()),
                  sized: Callable[[_Tag, str | None], str | None] = lambda tag, key: None) -> dict[int, Loading]:
    """The page's images in document order (each plain `<img>`, each `<img>` of an author's `<picture>`,
    each picture of an earlier run counted once as its author's `<img>`), and loading.py's decision for
    each, keyed by the index of its tag. `lcp` names images by path and occurrence among these; `fit`: the
    page's text blocks and the viewports for fold.py's first-viewport estimate (none: the count alone);
    `sized`: an SVG's `<img>` as the rewrite writes it (`_sized_svg`), weighed with the size it is given."""
    slots: list[tuple[int, Shown]] = []
    boxes: list[fold.Box] = []
    occurrences: dict[str, int] = {}
    measured: set[int] = set()
    for tag in tags:
        if tag.end_tag or tag.off_limits:
            continue
        attrs: Mapping[str, str] | None = None
        picture = tag.picture
        in_own = picture is not None and picture.tag in earlier
        if tag.name == "img" and not in_own:
            attrs = dict(reversed(inplace.author_attrs(tag.attrs)))  # the first of duplicated names counts
        elif tag.index in earlier:
            author = earlier[tag.index][1]
            attrs = {a.name: a.value for a in reversed(author.attrs)} if author is not None else {}
        if attrs is None:
            continue
        src = attrs.get("src")
        key = resolve(src, page, base) if src is not None else None
        if tag.name == "img" and not in_own and (svg := sized(tag, key)) is not None:
            given = _img_from_text(svg)  # the tag as this run writes it: the next run reads it so
            attrs = dict(reversed([(a.name, a.value) for a in given.attrs])) if given is not None else attrs
        spec = images.get(key) if key is not None else None
        if key is not None:
            occurrences[key] = occurrences.get(key, 0) + 1
            if LcpImage(key, occurrences[key] - 1) in lcp:
                measured.add(len(slots))
        slots.append((tag.index, Shown(place_of([el.name for el in tag.open]), _area(attrs, spec),
                                       _lowered(attrs.get("loading")), _lowered(attrs.get("fetchpriority")))))
        boxes.append(fold.box(attrs, (spec.width, spec.height) if spec is not None else None))
    blocks, viewports = fit
    in_view = fold.starts_inside(
        [fold.Placed(fold.between(blocks, slots[at - 1][0] if at else -1, index), box, role(shown) == "content")
         for at, ((index, shown), box) in enumerate(zip(slots, boxes, strict=True))], viewports)
    decisions = plan([shown for _, shown in slots], eager, frozenset(measured), in_view)
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


def _attr_quote(raw: str) -> str:
    """Wrap a raw attribute value (as written) in quotes it cannot contain, so it reads back the same."""
    return f"'{raw}'" if '"' in raw else f'"{raw}"'
