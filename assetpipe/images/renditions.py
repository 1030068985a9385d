"""What a source image is, and which renditions it gets. Pure: no files, no pixels.

`ImageInfo` is what a header says (decode.probe reads it); `ImageSettings` the config's image keys as the
encoders take them, with `encoder_settings()`, everything that changes one format's bytes (for the cache
key and the variant names). The configured widths smaller than the image plus its own width, never
upscaled; the fallback in the source's own format unless configured, and never a still frame of an
animation; the modern formats that can hold the image; and each variant's name, whose hash covers the
source and the format's settings, not the width.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, features

# What each format can hold; the fallback is always one of these formats.
MIME = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp", "avif": "image/avif"}
EXTENSION = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp", "avif": "avif"}
_ALPHA_FORMATS = frozenset({"png", "gif", "webp", "avif"})
_ANIMATED_FORMATS = frozenset({"gif", "webp", "avif"})
_PILLOW_FORMATS = {"JPEG": "jpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "AVIF": "avif", "MPO": "jpeg"}

# Encoder settings that are not user-facing config, each with its reason (the others are config keys:
# images.avif_speed, webp_method, webp_alpha_quality, subsampling and quality; JPEG is always
# progressive with optimised Huffman tables, which changes no pixel and makes smaller files).
RESIZE_REDUCING_GAP = 3.0  # Pillow's two-step resize: visually identical to plain Lanczos, several times faster
# PNG fallbacks: oxipng (Rust) from the raw pixels at its level 0, which still tries the lossless
# colour-type, bit-depth and palette reductions. Measured on the corpus's 40 PNGs, all 116 fallbacks
# (bench/png_fallback.py): Pillow optimize=True 69.4 MB in 195 CPU s; oxipng level 0 75.1 MB (1.08x)
# in 13.6 s (14x less); level 1 64.9 MB (0.94x) in 75 s; level 2 60.8 MB in 150 s; Pillow
# compress_level 6 74.2 MB in 23 s. A browser fetches the fallback only when it takes neither AVIF nor
# WebP, so its bytes are rarely served, while its encode is paid on every cold build.
PNG_OXIPNG_LEVEL = 0
# The row filters level 0 tries, instead of its one default: on the same 116 fallbacks 2.5 % smaller
# (73.2 MB) for 22 CPU s instead of 11.6 (`python bench/png_fallback.py --methods oxipng-o0`); of the sets
# tried, NoOp+Bigrams+Paeth saved 1.6 %, five filters 2.7 % in 35 s, level 1 13.6 % in 81 s.
PNG_ROW_FILTERS = ("NoOp", "BigEnt", "Paeth")


# assetpipe enforces `images.max_pixels` itself, from the header, before anything is decoded, and says
# so in its own words; Pillow's fixed limit (179 MP) would otherwise overrule a user's larger setting.
# Set here, in the module every other image module imports, so it holds before any image is opened.
Image.MAX_IMAGE_PIXELS = None


class ImageError(Exception):
    """This image cannot be processed; the message is the one-line reason."""


@dataclass(frozen=True)
class Encoders:
    """The encoder settings besides quality (config keys images.avif_speed and so on)."""

    avif_speed: int  # libaom's speed, 0-10
    webp_method: int  # libwebp's method, 0-6
    webp_alpha_quality: int  # 0-100
    subsampling: str  # JPEG and AVIF chroma: "4:2:0" or "4:4:4"


@dataclass(frozen=True)
class ImageSettings:
    widths: tuple[int, ...]
    formats: tuple[str, ...]  # modern formats, in preference order
    fallback: str  # "source" or a format name
    background: tuple[int, int, int]
    quality: dict[str, int]  # avif, webp, jpeg
    max_pixels: int
    encoders: Encoders
    # the library versions in the cache keys, read once (reading a package's metadata takes about 1 ms,
    # which a warm build of many images would otherwise pay per rendition)
    versions: dict[str, str] = field(default_factory=lambda: {
        "avif": str(features.version("avif")), "webp": str(features.version("webp")),
        "pyoxipng": importlib.metadata.version("pyoxipng")})

    def encoder_settings(self, fmt: str, animated: bool = False, alpha: bool = True) -> str:
        """Everything that changes one format's bytes, for the cache key and the output name, and only
        that: the background colour changes a JPEG only when the image has alpha to flatten, so an
        opaque image's JPEGs keep their key (and name) when `images.background` changes."""
        version = f"pillow {Image.__version__}"
        chroma = self.encoders.subsampling.replace(":", "")
        if fmt == "avif":
            sequence = " sequence times0" if animated else ""  # see bmff.py
            return (f"{version} libavif {self.versions['avif']} q{self.quality['avif']} s{self.encoders.avif_speed} "
                    f"{chroma}{sequence}")
        if fmt == "webp":
            return (f"{version} libwebp {self.versions['webp']} q{self.quality['webp']} m{self.encoders.webp_method} "
                    f"a{self.encoders.webp_alpha_quality}")
        if fmt == "jpeg":
            background = f" bg{self.background}" if alpha else ""
            return f"{version} q{self.quality['jpeg']} progressive optimize {chroma}{background}"
        if fmt == "png":
            filters = "+".join(PNG_ROW_FILTERS)
            return (f"{version} pyoxipng {self.versions['pyoxipng']} o{PNG_OXIPNG_LEVEL} {filters} lossless; "
                    "animated: pillow optimize")
        return f"{version} {fmt} lossless optimize"


@dataclass(frozen=True)
class ImageInfo:
    """What a source is, read from its header without decoding its pixels."""

    format: str  # the real format, by content
    width: int  # EXIF-oriented
    height: int
    animated: bool
    frames: int
    alpha: bool
    mode: str
    loop: int | None = None  # the animation's loop count (0 = forever); None when it plays once


@dataclass(frozen=True)
class Rendition:
    format: str
    width: int
    height: int
    data: bytes


def widths_for(info: ImageInfo, widths: Sequence[int]) -> tuple[int, ...]:
    """The configured widths smaller than the image, plus the image's own width; never upscaled."""
    return tuple(sorted({w for w in widths if w < info.width} | {info.width}))


def widths_shown(info: ImageInfo, configured: tuple[int, ...], wanted: bool, shown_at: frozenset[int]
                 ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The widths an image's variants are made at (`widths_for` adds its own), and those of them made only
    for `1x, 2x` (html/layout.py). A page that shows it `w` CSS px wide, narrower than the source, needs
    `w` and `2w` (capped at the source's width, never upscaled); one that shows it at its own width or
    wider gets `w` descriptors, so the configured widths, as a page showing it with no width does.
    `images.widths = []` makes no variant at all."""
    if not configured:
        return (), ()
    wanted = wanted or any(w >= info.width for w in shown_at)
    base = configured if wanted else ()
    dense = {d for w in shown_at if w < info.width for d in (w, 2 * w)}
    widths = tuple(sorted(set(base) | dense))
    if not widths:
        return (), ()
    return widths, tuple(sorted(set(widths_for(info, widths)) - set(widths_for(info, base))))


def fallback_format(info: ImageInfo, settings: ImageSettings) -> str | None:
    """The fallback's format: the source's own unless configured; None when it cannot carry the image."""
    fmt = info.format if settings.fallback == "source" else settings.fallback
    if info.animated and fmt not in _ANIMATED_FORMATS:
        return None  # never a still frame for an animation
    return fmt


def modern_formats(info: ImageInfo, settings: ImageSettings, fallback: str | None) -> tuple[str, ...]:
    """The modern formats worth encoding: not the fallback's own format, and able to hold the image."""
    return tuple(f for f in settings.formats if f != fallback and _can_hold(f, info))


def _can_hold(fmt: str, info: ImageInfo) -> bool:
    if not info.animated:
        return True
    if fmt == "avif":
        # Pillow writes AVIF sequences that repeat forever; a finite loop count would be lost.
        return fmt in _ANIMATED_FORMATS and info.loop == 0
    return fmt in _ANIMATED_FORMATS


def variant_name(rel: str, info_format: str, fmt: str, width: int, recipe: str) -> str:
    """`img/hero.jpg` -> `img/hero.3f9a1c2e.640w.avif`; the hash covers the source and the format's
    settings, not the width, so adding a width keeps every other name."""
    folder, _, name = rel.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:8]
    out = f"{stem}.{digest}.{width}w.{EXTENSION[fmt]}"
    return f"{folder}/{out}" if folder else out


def parse_colour(text: str) -> tuple[int, int, int]:
    """`#fff` or `#ffffff` -> (255, 255, 255); config has validated the shape."""
    digits = text.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
