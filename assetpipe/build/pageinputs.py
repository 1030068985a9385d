"""What a page's `<picture>` rewrite reads besides the page itself, kept with the delta's record
(build/listing.py) so that a delta can rewrite an edited page as the full build would (build/deltapages.py).

A page's rewrite reads three things beyond its own bytes: each image's `PictureSpec` (what the image stage
made of it, which depends on every page: the images some page shows, at the widths its authors gave, and
those given attributes in place, html/shown.py), each SVG's size, and the config. A full build that
records the folder keeps the first two, and each page's share of what the image stage read of the pages
(a digest of what `shown_on_page` found on it). An edited page whose share is the recorded one leaves the
image stage's input, and so every image's spec, as they were: only that page needs rewriting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..html.picture import Candidate, PictureSpec
from ..html.svgsize import SvgSize


@dataclass(frozen=True)
class PageInputs:
    """What a full build's rewrite of its pages read, as recorded after it."""

    images: frozenset[str]  # the build's images (none: the image stage read no page, no `share` counts)
    shares: Mapping[str, bytes]  # page -> `share` of it, for each page that shows an image
    specs: Mapping[str, PictureSpec]  # image -> what its `<picture>` is made of
    svgs: Mapping[str, SvgSize]  # SVG -> its size as an `<img>` shows it


def share(found: Mapping[str, frozenset[int | None]], given: frozenset[str], image: Callable[[str], bool]
          ) -> bytes | None:
    """A digest of what one page gives the image stage (html/shown.py `shown_on_page`): the images it shows
    (the paths that are `image`s: an earlier `<picture>`'s renditions are not), each with the widths its
    authors gave, and those given attributes in place; None when it shows none."""
    widths = sorted((rel, sorted(-1 if w is None else w for w in shown)) for rel, shown in found.items()
                    if image(rel))
    kept = sorted(rel for rel in given if image(rel))
    if not widths and not kept:
        return None
    text = json.dumps([widths, kept], separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def spec_text(spec: PictureSpec) -> str:
    return json.dumps([spec.source, spec.width, spec.height,
                       [[kind, [[c.file, c.width] for c in found]] for kind, found in spec.sources],
                       spec.fallback_type, [[c.file, c.width] for c in spec.fallback], list(spec.x_only)],
                      separators=(",", ":"))


def spec_of(text: str) -> PictureSpec:
    source, width, height, sources, fallback_type, fallback, x_only = json.loads(text)

    def candidates(found: list[list]) -> tuple[Candidate, ...]:
        return tuple(Candidate(str(file), int(w)) for file, w in found)

    return PictureSpec(str(source), int(width), int(height),
                       tuple((str(kind), candidates(found)) for kind, found in sources), str(fallback_type),
                       candidates(fallback), tuple(int(w) for w in x_only))


def svg_text(size: SvgSize) -> str:
    return json.dumps([size.width, size.height, size.definite])


def svg_of(text: str) -> SvgSize:
    width, height, definite = json.loads(text)
    return SvgSize(int(width), int(height), bool(definite))


V = TypeVar("V")


class Looked(Mapping[str, V], Generic[V]):
    """A read-only mapping whose values are looked up one key at a time (a record's rows): the rewrite
    asks only for the images and SVGs its page shows."""

    def __init__(self, get: Callable[[str], V | None], keys: Callable[[], Iterator[str]]) -> None:
        self._get = get
        self._keys = keys

    def __getitem__(self, key: str) -> V:
        value = self._get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return self._keys()

    def __len__(self) -> int:
        return sum(1 for _ in self._keys())
