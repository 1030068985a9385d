"""Opt-in `images.optimize_originals`: an original's bytes in, a smaller file in its own format out. Pure.

Candidates, each measured in bench/originals.py (figures in the README):
- PNG: oxipng (pyoxipng), lossless: the same pixels, colour chunks (iCCP, sRGB, gAMA, cHRM, cICP) kept,
  text and EXIF chunks dropped. A PNG whose EXIF orientation is not 1 is left alone (dropping eXIf would
  turn it; keeping it would keep its GPS).
- JPEG: mozjpeg's lossless re-optimisation (mozjpeg-lossless-optimization: the same DCT coefficients,
  so the same pixels; progressive, optimised Huffman tables), keeping the ICC profile and no other marker;
  an orientation other than 1 is carried over in a fresh EXIF block that holds nothing else; and the
  image at the configured JPEG quality, which is the full-width fallback variant the image stage made
  from the one decode of the original (orientation applied, ICC kept, CMYK converted to sRGB). The
  smaller of the two wins, and only when it is smaller than the original.
- GIF, WebP, AVIF: left as they are (Pillow's GIF encoder rarely beats a GIF tool's output and drops
  per-frame palettes; WebP and AVIF originals are already a modern codec's output, and re-encoding them
  lossily loses a generation for a few per cent).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image

from .cache.store import library_version
from .images import ImageInfo

_ORIENTATION = 0x0112
_TEXT_CHUNKS = (b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME")  # metadata, never colour
OXIPNG_LEVEL = 2  # oxipng's default; level 4 took 3.6x as long to save 0.6 % more (bench/originals.py)


class OptimiseError(Exception):
    """An optimiser failed on this image; the message is the one-line reason (the original stays)."""


@dataclass(frozen=True)
class Optimised:
    data: bytes
    method: str  # "oxipng", "mozjpeg-lossless", "jpeg-q80"


def handles(info: ImageInfo) -> bool:
    """Whether this image's format has an optimiser (JPEG and still PNG)."""
    return info.format == "jpeg" or (info.format == "png" and not info.animated)


def recipe(info: ImageInfo, lossy_recipe: str) -> str:
    """Everything that changes the result, for the cache key: the tools' versions and the JPEG settings
    (`lossy_recipe`: the full-width fallback's encoder settings, empty when there is no such candidate)."""
    if info.format == "png":
        return f"pyoxipng {library_version('pyoxipng')} o{OXIPNG_LEVEL} strip {b','.join(_TEXT_CHUNKS).decode()}"
    return f"mozjpeg-lossless-optimization {library_version('mozjpeg-lossless-optimization')} icc; {lossy_recipe}"


def optimise(original: bytes, info: ImageInfo, orientation: int, lossy: bytes | None,
             lossy_method: str = "") -> Optimised | None:
    """The smallest candidate, when it is smaller than `original`; None keeps the original.

    `orientation` is the original's EXIF orientation; `lossy` the image re-encoded at the configured
    quality from the original's pixels (JPEG only; None when the fallback is of another format)."""
    candidates: list[Optimised] = []
    if info.format == "png" and not info.animated and orientation == 1:
        candidates.append(Optimised(_oxipng(original), "oxipng"))
    elif info.format == "jpeg":
        candidates.append(Optimised(_mozjpeg_lossless(original, orientation), "mozjpeg-lossless"))
        if lossy is not None:
            candidates.append(Optimised(lossy, lossy_method))
    # smallest first; on a tie the lossless one (listed first) wins
    best = min(candidates, key=lambda c: len(c.data), default=None)
    if best is None or len(best.data) >= len(original):
        return None
    return best


def orientation_of(original: bytes) -> int:
    """The EXIF orientation of an image (1 when it has none)."""
    try:
        return int(Image.open(io.BytesIO(original)).getexif().get(_ORIENTATION, 1))
    except (OSError, ValueError, SyntaxError):
        return 1


def missing_packages() -> tuple[str, ...]:
    """The optimisers that are not installed (they come with `pip install 'assetpipe[originals]'`)."""
    return tuple(p for p in ("pyoxipng", "mozjpeg-lossless-optimization") if library_version(p) == "missing")


def _oxipng(data: bytes) -> bytes:
    try:
        import oxipng
    except ImportError as exc:
        raise OptimiseError(_missing("pyoxipng")) from exc
    try:
        return oxipng.optimize_from_memory(data, level=OXIPNG_LEVEL, strip=oxipng.StripChunks.strip(_TEXT_CHUNKS))
    except oxipng.PngError as exc:
        raise OptimiseError(f"oxipng: {str(exc).splitlines()[0] if str(exc) else 'failed'}") from None


def _mozjpeg_lossless(data: bytes, orientation: int) -> bytes:
    try:
        import mozjpeg_lossless_optimization as mozjpeg
    except ImportError as exc:
        raise OptimiseError(_missing("mozjpeg-lossless-optimization")) from exc
    try:
        out = mozjpeg.optimize(data, mozjpeg.COPY_MARKERS.ICC)
    except ValueError as exc:
        raise OptimiseError(f"mozjpeg: {exc}") from None
    return out if orientation == 1 else _with_orientation(out, orientation)


def _with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """`jpeg` with an EXIF block that holds its orientation and nothing else, right after SOI (and APP0)."""
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    payload = b"Exif\x00\x00" + exif.tobytes()
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    at = 2
    if jpeg[2:4] == b"\xff\xe0":  # keep JFIF's APP0 first, as the JFIF spec asks
        at = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:at] + segment + jpeg[at:]



def _missing(package: str) -> str:
    return f"images.optimize_originals needs the {package} package: pip install 'assetpipe[originals]'"
