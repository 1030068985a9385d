"""What the `<picture>` rewrite needs to know about one processed image (SPEC §2.2).

Apart from the rewrite (rewrite.py, and parse.py, which reads pages with html5lib), so that the image
stage can describe its outputs without importing an HTML parser (a build of a site without pages never
needs one).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    file: str  # POSIX path of an image output relative to the build folder, e.g. "assets/hero.3f9a1c2e.640w.avif"
    width: int


@dataclass(frozen=True)
class PictureSpec:
    """Everything the rewrite needs to know about one processed source image."""

    source: str  # POSIX path of the original image relative to the build folder
    width: int  # intrinsic width/height, EXIF-oriented
    height: int
    sources: tuple[tuple[str, tuple[Candidate, ...]], ...]  # modern formats in order, candidates by width ascending
    fallback_type: str  # e.g. "image/jpeg"
    fallback: tuple[Candidate, ...]  # fallback candidates, width ascending (the largest is the `src`)
    # widths made only for the `1x, 2x` candidates of an `<img>` the author gave a width (html/layout.py):
    # left out of the `w` descriptors, so one page's srcset does not change with another page's markup
    x_only: tuple[int, ...] = ()
