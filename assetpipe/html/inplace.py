"""An `<img>` given attributes only, in place: what `html.hydrated = "attributes"` writes inside the root of
a framework that replaces mismatched markup (hydration.py). Pure: tag text in, tag text out.

The tag keeps every byte the author wrote, `src` included (the framework's client code holds that URL, and
the same-URL sidecars serve AVIF or WebP at it), and gets, after the author's last attribute:

    <img src="/img/hero.jpg" alt="A cat" data-assetpipe-attrs="" srcset="…" sizes="…" width=… height=…
    fetchpriority="high" decoding="async">

the attributes the `<picture>` rewrite would give its `<img>` (the fallback format's `srcset`, `sizes`,
`width`/`height`, loading, decoding, fetchpriority: rewrite.py decides them) behind the mark. As with an
owned `<picture>`, everything from the mark on is assetpipe's, so a later run reads the author's tag back
(up to the mark) and writes it again from the current image, or gives it back as it was when the image is
gone or `html.hydrated` says "skip". The mark is a `data-` attribute, which no framework compares when it
hydrates in production (React, Vue and Svelte check elements and text, not attributes; the Chromium test
checks that no error is logged), and which stays in the DOM after hydration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .attributes import _Img, _img
from .hydration import ATTRIBUTES, PICTURE
from .loading import Loading
from .owned import _says
from .parse import _scan, _Tag
from .urls import resolve

MARK = "data-assetpipe-attrs"  # on an <img> assetpipe gave attributes in place; everything from it on is ours

_Attrs = Sequence[tuple[str, str]]


def render(author: _Img, how: str, decided: Loading, preloaded: bool,
           picture: Callable[[Loading], str | None]) -> str | None:
    """An author's `<img>` as its place says (hydration.py): the `<picture>` (`picture` renders it with a
    loading decision), the `<img>` with that picture's attributes in place, or the author's tag as it is."""
    if how not in (PICTURE, ATTRIBUTES):
        return author.text
    if how == ATTRIBUTES and preloaded:
        decided = Loading(lazy=False, high=decided.high)  # fetched at once anyway: lazy would only misguide sizes
    rendered = picture(decided)
    return rendered if how == PICTURE or rendered is None else in_place(author, rendered)


def author_attrs(attrs: _Attrs) -> _Attrs:
    """A tag's attributes as the author wrote them: those before the mark."""
    cut = next((k for k, (name, _) in enumerate(attrs) if name == MARK), None)
    return attrs if cut is None else attrs[:cut]


def marked(attrs: _Attrs) -> bool:
    return any(name == MARK for name, _ in attrs)


def author_img(img: _Img) -> str:
    """The author's tag, byte for byte, from one an earlier run gave attributes (itself when it has no mark)."""
    cut = next((k for k, a in enumerate(img.attrs) if a.name == MARK), None)
    if cut is None:
        return img.text
    keep_to = img.attrs[cut - 1].end if cut else img.name_end
    return img.text[:keep_to] + img.text[img.attrs[-1].end :]


def in_place(author: _Img, picture: str) -> str | None:
    """The author's `<img>` with the attributes the rendered `<picture>` gave its `<img>` (everything from its
    first `srcset` on), behind the mark; None when the picture has no such `<img>`."""
    found = [t for t in _scan(picture) if t.name == "img" and not t.end_tag]
    if len(found) != 1:
        return None
    rendered = _img(picture[found[0].start : found[0].end], found[0].attrs)
    cut = next((k for k, a in enumerate(rendered.attrs) if a.name == "srcset"), None) if rendered else None
    if rendered is None or cut is None:
        return None
    added = rendered.text[rendered.attrs[cut - 1].end if cut else rendered.name_end : rendered.attrs[-1].end]
    at = author.attrs[-1].end if author.attrs else author.name_end
    return f'{author.text[:at]} {MARK}=""{added}{author.text[at:]}'


def says_same(one: str, other: str) -> bool:
    """Whether two `<img>` tags say the same (attributes as they mean, quoting and order aside), so that one
    a minifier rewrote is kept as it is."""
    said = [_says(t for t in _scan(text) if not t.end_tag) for text in (one, other)]
    return said[0] == said[1]


def preloaded(tags: Sequence[_Tag], page: str, base: str | None) -> frozenset[str]:
    """The images the page preloads (`<link rel="preload" as="image" href>`): fetched at once whatever the
    `<img>` says, so such an `<img>` given attributes in place is never lazy, and its `sizes` is the one the
    preload gets (else the two would choose different candidates and fetch the image twice)."""
    keys = set()
    for tag in tags:
        if tag.end_tag or tag.name != "link" or tag.off_limits:
            continue
        rel = (tag.attr("rel") or "").lower().split()
        href = tag.attr("href")
        if "preload" in rel and (tag.attr("as") or "").strip().lower() == "image" and href is not None:
            key = resolve(href, page, base)
            if key is not None:
                keys.add(key)
    return frozenset(keys)
