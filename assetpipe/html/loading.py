"""Loading follows web vitals, not a blanket rule (SPEC §2.2): which images of a page are eager, which
lazy, and which one gets `fetchpriority="high"`.

The images likely in the first viewport are the first `html.eager` content images of the page in
document order (by default two), and beyond them each content image that html/fold.py estimates to start
inside the first viewport of a phone or a desktop (`in_view`, `html.eager_viewports`). Not content: those
inside `<nav>` and `<footer>`, the small logos of a `<header>` (under 50,000 px², e.g. 200 x 250), and
icons (under 2,500 px², 50 x 50, wherever they are);
nav, header and icon images are left as they are (eager: they sit at the top, or cost nothing), footer
images are lazy. The first eager content image of at least 50,000 px² gets
`fetchpriority="high"`, the likely LCP element. Every other content image is lazy. What the author wrote
wins: an image with its own `loading` keeps it (and a `loading="lazy"` one is passed over for the high
priority), and a page where the author set any `fetchpriority` gets none from assetpipe.

Measured instead of guessed (`assetpipe build --measure-lcp`, build/lcp.py): the images Chromium found to
be the page's LCP element (at the phone or the desktop viewport) are passed in; each of them is never lazy
and gets `fetchpriority="high"` (unless the author wrote `loading="lazy"` on it, or any `fetchpriority` on
the page), and no other image gets `fetchpriority="high"`; every other decision is the heuristic's.

Pure: image facts in document order in, one decision per image out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# An image this small (known from its attributes or pixels) is an icon, a badge or a status dot, never the
# LCP element: it takes no first-viewport place and is left as it is. 2,500 px² is 50 x 50.
ICON = 2_500
# The area from which an image counts as a hero (Chromium's LCP heuristics and WordPress's use similar
# floors): 50,000 px² is 224 x 224, a header logo or an icon stays under it.
LARGE = 50_000


@dataclass(frozen=True)
class Shown:
    """One image of the page as the author wrote it, in document order."""

    place: str  # "content", "nav", "header" or "footer": the landmark it sits in, nearest first
    area: int | None  # its rendered area in CSS px², when the attributes or the image tell
    loading: str | None  # the author's `loading`, lowercased
    fetchpriority: str | None  # the author's `fetchpriority`, lowercased


@dataclass(frozen=True)
class LcpImage:
    """An image of a page found by loading it to be its LCP element: the build-folder path its `src`
    shows, and which of the page's images showing that path it is (0 for the first, in document order)."""

    path: str
    nth: int


@dataclass(frozen=True)
class Loading:
    lazy: bool  # add loading="lazy" (never when the author wrote `loading`)
    high: bool  # add fetchpriority="high"


def plan(shown: Sequence[Shown], eager: int, measured: frozenset[int] = frozenset(),
         in_view: Sequence[bool] = ()) -> list[Loading]:
    """One decision per image, in the order given; `measured`: the positions of the images a browser
    found to be the LCP element (the heuristic's guess of the high-priority one is then dropped);
    `in_view`: for each image, whether fold.py estimates it starts in the first viewport (none: the count
    alone decides)."""
    guessed = _guess(shown, eager, in_view)
    if not measured:
        return guessed
    author_priority = any(s.fetchpriority is not None for s in shown)
    return [Loading(lazy=False, high=not author_priority and image.loading != "lazy") if at in measured
            else Loading(lazy=decision.lazy, high=False)
            for at, (image, decision) in enumerate(zip(shown, guessed, strict=True))]


def role(image: Shown) -> str:
    """"content"; "left" (nav, a header logo, an icon: left as it is, taking no first-viewport place);
    or "footer"."""
    place = image.place
    if place == "header" and (image.area is None or image.area >= LARGE):
        place = "content"  # a hero inside <header> is content
    if place in ("nav", "header") or (image.area is not None and image.area < ICON):
        return "left"
    return place


def _guess(shown: Sequence[Shown], eager: int, in_view: Sequence[bool]) -> list[Loading]:
    author_priority = any(s.fetchpriority is not None for s in shown)
    decisions: list[Loading] = []
    content = 0
    high_given = author_priority
    for at, image in enumerate(shown):
        place = role(image)
        if place == "left":
            decisions.append(Loading(lazy=False, high=False))
            continue
        if place == "footer":
            decisions.append(Loading(lazy=image.loading is None, high=False))
            continue
        first_viewport = content < eager or (at < len(in_view) and in_view[at])
        content += 1
        lazy = not first_viewport and image.loading is None
        high = (first_viewport and not high_given and image.loading != "lazy"
                and (image.area is None or image.area >= LARGE))
        high_given = high_given or high
        decisions.append(Loading(lazy=lazy, high=high))
    return decisions


def place_of(open_names: Sequence[str]) -> str:
    """The landmark an element sits in, the nearest of <nav>, <footer>, <header>; else content."""
    for name in reversed(open_names):
        if name in ("nav", "footer", "header"):
            return name
    return "content"
