"""Responsive image variants: one source image's bytes in, encoded renditions out. Pure: no files.

The source is decoded once; every width is resized from that one decode (Lanczos, never upscaled)
and encoded in each format asked for. What the anchors get wrong and this module must not:
- EXIF orientation is applied (all eight values) and no EXIF, GPS or XMP reaches an output;
- colour: CMYK is converted through its embedded profile (or Pillow's conversion without one), any
  other ICC profile (Display P3, Adobe RGB) is kept and passed to every encoder explicitly (Pillow
  drops it for JPEG and WebP otherwise); 16-bit greyscale is scaled, not clipped to white;
- alpha: kept where the format has it; a forced JPEG fallback is flattened onto the configured
  background, never black;
- animation: every frame, its duration and the loop count, or the format is skipped (never a still);
- bad input (truncated, not an image, empty, a pixel bomb refused before decoding, an encoder error)
  raises ImageError with a one-line reason.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import importlib.metadata
import io
import struct
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import oxipng
from PIL import Image, ImageCms, ImageOps, ImageSequence, UnidentifiedImageError, features

from . import bmff

# What each format can hold; the fallback is always one of these formats.
MIME = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp", "avif": "image/avif"}
EXTENSION = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp", "avif": "avif"}
_ALPHA_FORMATS = frozenset({"png", "gif", "webp", "avif"})
_ANIMATED_FORMATS = frozenset({"gif", "webp", "avif"})
_PILLOW_FORMATS = {"JPEG": "jpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "AVIF": "avif", "MPO": "jpeg"}
_ORIENTATION = 0x0112
_SWAPS_AXES = frozenset({5, 6, 7, 8})
_METADATA_CHUNKS = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt"})  # where a PNG can carry EXIF or XMP

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


# assetpipe enforces `images.max_pixels` itself, from the header, before anything is decoded, and says
# so in its own words; Pillow's fixed limit (179 MP) would otherwise overrule a user's larger setting.
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

    def encoder_settings(self, fmt: str, animated: bool = False) -> str:
        """Everything that changes one format's bytes, for the cache key and the output name."""
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
            return f"{version} q{self.quality['jpeg']} progressive optimize {chroma} bg{self.background}"
        if fmt == "png":
            return (f"{version} pyoxipng {self.versions['pyoxipng']} o{PNG_OXIPNG_LEVEL} lossless; "
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


def probe(data: bytes, max_pixels: int) -> ImageInfo:
    """Read an image's header: format, oriented size, animation, alpha. Refuses a pixel bomb here.
    Whatever a decoder raises on hostile bytes (Pillow's GIF reader raises IndexError for a file cut
    mid-frame) is this image's ImageError, never the build's."""
    try:
        return _probe(data, max_pixels)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(_decoder_reason(exc)) from None


def _probe(data: bytes, max_pixels: int) -> ImageInfo:
    if not data:
        raise ImageError("empty file")
    image = _open(data)
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(f"{width}x{height} is {width * height:_} pixels, over images.max_pixels ({max_pixels:_})")
    orientation = _orientation(image, data)
    if orientation in _SWAPS_AXES:
        width, height = height, width
    frames = getattr(image, "n_frames", 1)
    loop = image.info.get("loop")
    return ImageInfo(_PILLOW_FORMATS[image.format or ""], width, height, frames > 1, frames, _has_alpha(image),
                     image.mode, int(loop) if loop is not None else None)


def _orientation(image: Image.Image, data: bytes) -> int:
    """The EXIF orientation, read without decoding pixels. Pillow's PNG `getexif()` decodes the whole
    image to reach chunks that may follow the pixel data; when none of the chunks that can carry EXIF
    or XMP follows it, what `open()` read before the pixels is all there is."""
    if image.format == "PNG" and "exif" not in image.info and not _metadata_after_pixels(data):
        return Image.Image.getexif(image).get(_ORIENTATION, 1)  # the base class: no load()
    return image.getexif().get(_ORIENTATION, 1)


def _metadata_after_pixels(data: bytes) -> bool:
    """Whether a PNG has an eXIf or text chunk after its first IDAT (True when its chunks cannot be walked)."""
    offset, seen_pixels = 8, False
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        if kind == b"IEND":
            return False
        if kind in (b"IDAT", b"fdAT"):
            seen_pixels = True
        elif seen_pixels and kind in _METADATA_CHUNKS:
            return True
        offset += 12 + length
    return True


def widths_for(info: ImageInfo, widths: Sequence[int]) -> tuple[int, ...]:
    """The configured widths smaller than the image, plus the image's own width; never upscaled."""
    return tuple(sorted({w for w in widths if w < info.width} | {info.width}))


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


def render(
    data: bytes, info: ImageInfo, outputs: Sequence[tuple[str, int]], settings: ImageSettings, threads: int = 1
) -> list[Rendition]:
    """Decode `data` once and encode every (format, width) in `outputs`, in that order. One thread:
    grouped by width, one resized copy held at a time, each resized from the decode. More (a worker
    that has the machine to itself): a still image's encodes run side by side, the costliest first.
    The bytes are the same either way: every encoder runs on one thread of its own."""
    frames, durations, loop, icc = _decode_source(data, info)
    if threads > 1 and len(frames) == 1 and len(outputs) > 1:
        return _render_side_by_side(frames[0], durations, loop, info, outputs, settings, icc, threads)
    renditions: list[Rendition] = []
    sized: list[Image.Image] = []
    for fmt, width in outputs:
        if not sized or sized[0].width != min(width, frames[0].width):
            sized = []  # the previous width's copy goes before the next one is made
            sized = [_resize(frame, width, info) for frame in frames]
        renditions.append(_rendition(sized, durations, loop, fmt, settings, icc))
    return renditions


def _render_side_by_side(frame: Image.Image, durations: list[int], loop: int | None, info: ImageInfo,
                         outputs: Sequence[tuple[str, int]], settings: ImageSettings, icc: bytes | None,
                         threads: int) -> list[Rendition]:
    """The widest outputs first and AVIF (the slowest encoder) first among them, so the longest encode
    starts at once and the others fill the other threads beside it."""
    copies = _SharedCopies(frame, info, [width for _, width in outputs])

    def one(fmt: str, width: int) -> Rendition:
        with copies.view(width) as image:
            return _rendition([image], durations, loop, fmt, settings, icc)

    longest_first = sorted(outputs, key=lambda o: (-o[1], o[0] != "avif", o[0]))
    with ThreadPoolExecutor(threads, thread_name_prefix="assetpipe-encode") as pool:
        futures = {output: pool.submit(one, *output) for output in longest_first}
        try:
            return [futures[output].result() for output in outputs]
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise


class _SharedCopies:
    """The resized copies that encodes on several threads share: each width resized once, when first
    wanted, and let go after its last encode. Each encode gets an Image object of its own over the
    shared pixels (no copy): `Image.save` keeps its parameters on the object, so two threads saving
    one object would mix them up."""

    def __init__(self, frame: Image.Image, info: ImageInfo, widths: list[int]) -> None:
        self._frame = frame
        self._info = info
        self._uses = collections.Counter(widths)
        self._copies: dict[int, Image.Image] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def view(self, width: int) -> Iterator[Image.Image]:
        with self._lock:
            image = self._copies.get(width)
            if image is None:
                image = self._copies[width] = _resize(self._frame, width, self._info)
        try:
            yield image._new(image.im)
        finally:
            with self._lock:
                self._uses[width] -= 1
                if not self._uses[width]:
                    del self._copies[width]


def _rendition(sized: list[Image.Image], durations: list[int], loop: int | None, fmt: str,
               settings: ImageSettings, icc: bytes | None) -> Rendition:
    try:
        encoded = _encode(sized, durations, loop, fmt, settings, icc)
    except (OSError, ValueError, KeyError) as exc:
        raise ImageError(f"{fmt} encoder failed: {_reason(exc)}") from None
    return Rendition(fmt, sized[0].width, sized[0].height, encoded)


# --- decoding -------------------------------------------------------------------------------------


def _open(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError("not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(_reason(exc)) from None
    if image.format not in _PILLOW_FORMATS:
        raise ImageError(f"{image.format} is not a web image format")
    return image


def _decode_source(data: bytes, info: ImageInfo
                   ) -> tuple[list[Image.Image], list[int], int | None, bytes | None]:
    """The frames, durations, loop count and the outputs' ICC profile; the opened file is let go here,
    so only the normalised frames stay in memory."""
    image = _open(data)
    try:
        icc = _icc_for_output(image)
        frames, durations, loop = _decode(image, info)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(_reason(exc)) from None
    except ImageError:
        raise
    except Exception as exc:  # a decoder's own error on hostile bytes: this image's failure only
        raise ImageError(_decoder_reason(exc)) from None
    return frames, durations, loop, icc


def _decode(image: Image.Image, info: ImageInfo) -> tuple[list[Image.Image], list[int], int | None]:
    """Every frame as an oriented, colour-correct RGB(A)/L(A) image, with durations and the loop count."""
    frames: list[Image.Image] = []
    durations: list[int] = []
    source = ImageSequence.Iterator(image) if info.animated else [image]
    for frame in source:
        frame.load()
        durations.append(int(frame.info.get("duration", 100)))
        # A still image is turned in place (no second copy of its pixels); an animation's frames are
        # one object that each seek overwrites, so each is copied.
        frames.append(_normalise(frame, in_place=not info.animated))
    loop = image.info.get("loop")
    return frames, durations, (int(loop) if loop is not None else None)


def _normalise(frame: Image.Image, *, in_place: bool) -> Image.Image:
    oriented = frame
    if in_place:
        ImageOps.exif_transpose(frame, in_place=True)
    else:
        oriented = ImageOps.exif_transpose(frame)
    mode = oriented.mode
    if mode == "CMYK":
        converted = _cmyk_to_rgb(oriented)
    elif mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits; a plain convert("L") clips everything above 255 to white.
        converted = oriented.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    elif mode == "P":
        converted = oriented.convert("RGBA" if _has_alpha(oriented) else "RGB")
    elif mode == "PA":
        converted = oriented.convert("RGBA")
    elif mode == "1":
        converted = oriented.convert("L")
    elif mode in ("L", "RGB") and "transparency" in oriented.info:
        converted = oriented.convert("LA" if mode == "L" else "RGBA")
    elif mode in ("RGB", "RGBA", "L", "LA"):
        converted = oriented
    else:
        converted = oriented.convert("RGBA" if "A" in mode else "RGB")
    if converted.mode == "RGBA" and converted.getchannel("A").getextrema() == (255, 255):
        converted = converted.convert("RGB")  # an alpha channel that is opaque everywhere is not alpha
    converted.info = {}  # no EXIF, XMP or comments travel further; the ICC profile is handled apart
    return converted


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to Pillow's conversion below
    return image.convert("RGB")


def _icc_for_output(image: Image.Image) -> bytes | None:
    """The profile the outputs carry: the source's, except for CMYK, which was converted to sRGB."""
    if image.mode == "CMYK":
        return None
    profile = image.info.get("icc_profile")
    return profile or None


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    return image.mode in ("P", "L", "RGB") and "transparency" in image.info


# --- resizing and encoding ------------------------------------------------------------------------


def _resize(frame: Image.Image, width: int, info: ImageInfo) -> Image.Image:
    if width >= frame.width:
        return frame
    height = max(1, round(frame.height * width / frame.width))
    return frame.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=RESIZE_REDUCING_GAP)


def _encode(frames: list[Image.Image], durations: list[int], loop: int | None, fmt: str,
            settings: ImageSettings, icc: bytes | None) -> bytes:
    first = frames[0]
    buffer = io.BytesIO()
    options: dict[str, object] = {}
    if icc and _profile_fits(icc, first.mode, fmt):
        options["icc_profile"] = icc
    if len(frames) > 1:
        options.update(save_all=True, append_images=frames[1:], duration=durations)
        if loop is not None:
            options["loop"] = loop
    if fmt == "jpeg":
        image = _flatten(first, settings.background) if first.mode in ("RGBA", "LA") else first
        image.save(buffer, "JPEG", quality=settings.quality["jpeg"], optimize=True, progressive=True,
                   subsampling=settings.encoders.subsampling, **options)
    elif fmt == "png" and len(frames) == 1:
        return _png(first, options.get("icc_profile"))
    elif fmt == "png":
        first.save(buffer, "PNG", optimize=True, **options)  # an APNG: oxipng's RawImage is a still
    elif fmt == "gif":
        first.save(buffer, "GIF", optimize=True, **({"disposal": 2} if len(frames) > 1 else {}), **options)
    elif fmt == "webp":
        first.save(buffer, "WEBP", quality=settings.quality["webp"], method=settings.encoders.webp_method,
                   alpha_quality=settings.encoders.webp_alpha_quality, **options)
    elif fmt == "avif":
        if first.mode not in ("L", "LA"):  # greyscale stays 4:0:0, Pillow's default for it
            options["subsampling"] = settings.encoders.subsampling
        first.save(buffer, "AVIF", quality=settings.quality["avif"], speed=settings.encoders.avif_speed, max_threads=1,
                   **options)
        if len(frames) > 1:  # an image sequence carries the time of encoding: not in a deterministic build
            return bmff.without_timestamps(buffer.getvalue())
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return buffer.getvalue()


def _png(image: Image.Image, icc: object) -> bytes:
    colour = {"RGB": oxipng.ColorType.rgb(), "RGBA": oxipng.ColorType.rgba(), "L": oxipng.ColorType.grayscale(),
              "LA": oxipng.ColorType.grayscale_alpha()}[image.mode]
    raw = oxipng.RawImage(image.tobytes(), image.width, image.height, color_type=colour)
    if isinstance(icc, bytes):
        raw.add_icc_profile(icc)
    try:
        # An RGB profile must not end up on a greyscale PNG: with one, colour stays colour.
        return raw.create_optimized_png(level=PNG_OXIPNG_LEVEL, grayscale_reduction=icc is None)
    except oxipng.PngError as exc:
        raise ValueError(str(exc)) from None


def _profile_fits(icc: bytes, mode: str, fmt: str) -> bool:
    """A greyscale profile only fits an output that stays greyscale (WebP is always RGB)."""
    try:
        space = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip()
    except (ImageCms.PyCMSError, OSError, AttributeError):
        return False
    if space == "GRAY":
        return mode in ("L", "LA") and fmt != "webp"
    return space == "RGB"


def _flatten(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    rgba = image.convert("RGBA")
    canvas = Image.new("RGB", rgba.size, background)
    canvas.paste(rgba, mask=rgba.getchannel("A"))
    return canvas


def _decoder_reason(exc: Exception) -> str:
    """The one-line reason for an error a decoder raised that is not one of its documented ones."""
    if isinstance(exc, OSError | ValueError | SyntaxError):
        return _reason(exc)
    return f"damaged image (the decoder failed: {type(exc).__name__}: {_reason(exc)})"


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower():
        return "truncated image"
    return text.splitlines()[0]


def parse_colour(text: str) -> tuple[int, int, int]:
    """`#fff` or `#ffffff` -> (255, 255, 255); config has validated the shape."""
    digits = text.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
