"""What a page's `<picture>` rewrite reads besides the page itself, kept with the delta's record
(build/listing.py) so that a delta can rewrite an edited page as the full build would (build/deltapages.py).

A page's rewrite reads three things beyond its own bytes: each image's `PictureSpec` (what the image stage
made of it, which depends on every page: the images some page shows, at the widths its authors gave, and
those given attributes in place, html/shown.py), each SVG's size, and the config. A full build that
records the folder keeps the first two, and what each page gives the image stage: its `shows`, the pairs
(image, author's width) it shows, with NO_WIDTH and IN_PLACE. The image stage reads only their union over
the pages: a delta whose changed pages leave that union as it was leaves every image's spec as it was, and
only those pages need rewriting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..html.picture import Candidate, PictureSpec
from ..html.svgsize import SvgSize


@dataclass(frozen=True)
class PageInputs:
    """What a full build's rewrite of its pages read, as recorded after it."""

    images: frozenset[str]  # the build's images (none: the image stage read no page, no `shows` counts)
    shows: Mapping[str, frozenset[tuple[str, int]]]  # page -> its `shows`, for each page that shows an image
    specs: Mapping[str, PictureSpec]  # image -> what its `<picture>` is made of
    svgs: Mapping[str, SvgSize]  # SVG -> its size as an `<img>` shows it


NO_WIDTH = -1  # an image shown without an author's width
IN_PLACE = -2  # an image a hydrated root shows with attributes in place


def shows(found: Mapping[str, frozenset[int | None]], given: frozenset[str], image: Callable[[str], bool]
          ) -> frozenset[tuple[str, int]]:
    """What one page gives the image stage (html/shown.py `shown_on_page`), as pairs: each image it shows
    (the paths that are `image`s: an earlier `<picture>`'s renditions are not) with each width its authors
    gave it (NO_WIDTH: none), and (image, IN_PLACE) for each it shows with attributes in place."""
    pairs = {(rel, NO_WIDTH if width is None else width) for rel, widths in found.items() if image(rel)
             for width in widths}
    pairs.update((rel, IN_PLACE) for rel in given if image(rel))
    return frozenset(pairs)


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
