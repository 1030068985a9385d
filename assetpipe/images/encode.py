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

The header is read and the pixels decoded in `decode`; which renditions an image gets is `renditions`'s;
this module resizes the decode and encodes it.
"""

from __future__ import annotations

import collections
import contextlib
import io
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import oxipng
from PIL import Image, ImageCms

from . import bmff
from .decode import _reason, decode_source
from .renditions import (
    PNG_OXIPNG_LEVEL,
    PNG_ROW_FILTERS,
    RESIZE_REDUCING_GAP,
    ImageError,
    ImageInfo,
    ImageSettings,
    Rendition,
)


def render(
    data: bytes, info: ImageInfo, outputs: Sequence[tuple[str, int]], settings: ImageSettings, threads: int = 1
) -> list[Rendition]:
    """Decode `data` once and encode every (format, width) in `outputs`, in that order. One thread:
    grouped by width, one resized copy held at a time, each resized from the decode. More (a worker
    that has the machine to itself): a still image's encodes run side by side, the costliest first.
    The bytes are the same either way: every encoder runs on one thread of its own."""
    frames, durations, loop, icc = decode_source(data, info)
    if threads > 1 and len(frames) == 1 and len(outputs) > 1:
        return _render_side_by_side(frames[0], durations, loop, info, outputs, settings, icc, threads)
    renditions: list[Rendition] = []
    sized: list[Image.Image] = []
    for fmt, width in outputs:
        if not sized or sized[0].width != min(width, frames[0].width):
            sized = []  # the previous width's copy goes before the next one is made
            sized = [resize(frame, width, info) for frame in frames]
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
                image = self._copies[width] = resize(self._frame, width, self._info)
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
        encoded = encode_frames(sized, durations, loop, fmt, settings, icc)
    except (OSError, ValueError, KeyError) as exc:
        raise ImageError(f"{fmt} encoder failed: {_reason(exc)}") from None
    return Rendition(fmt, sized[0].width, sized[0].height, encoded)


# --- resizing and encoding ------------------------------------------------------------------------


def resize(frame: Image.Image, width: int, info: ImageInfo) -> Image.Image:
    if width >= frame.width:
        return frame
    height = max(1, round(frame.height * width / frame.width))
    return frame.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=RESIZE_REDUCING_GAP)


def encode_frames(frames: list[Image.Image], durations: list[int], loop: int | None, fmt: str,
                  settings: ImageSettings, icc: bytes | None) -> bytes:
    first = frames[0]
    buffer = io.BytesIO()
    options: dict[str, object] = {}
    if icc and profile_fits(icc, first.mode, fmt):
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
        return raw.create_optimized_png(level=PNG_OXIPNG_LEVEL, grayscale_reduction=icc is None,
                                        filter=[getattr(oxipng.RowFilter, name) for name in PNG_ROW_FILTERS])
    except oxipng.PngError as exc:
        raise ValueError(str(exc)) from None


def profile_fits(icc: bytes, mode: str, fmt: str) -> bool:
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
