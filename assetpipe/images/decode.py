"""Reading a source image: its header (`probe`, which refuses a pixel bomb before decoding), then its
pixels, decoded once into oriented, colour-correct frames. Pure: bytes in, Pillow images out.

EXIF orientation is applied (all eight values) and no EXIF, GPS or XMP travels further; CMYK is converted
through its embedded profile (or Pillow's conversion without one), any other ICC profile is kept for the
encoders; 16-bit greyscale is scaled, not clipped to white. Bad input (truncated, not an image, empty, a
pixel bomb) raises ImageError with a one-line reason.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageCms, ImageOps, ImageSequence, UnidentifiedImageError

from .renditions import _PILLOW_FORMATS, ImageError, ImageInfo

_ORIENTATION = 0x0112
_SWAPS_AXES = frozenset({5, 6, 7, 8})
_METADATA_CHUNKS = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt"})  # where a PNG can carry EXIF or XMP


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
    image = open_image(data)
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


# --- decoding -------------------------------------------------------------------------------------


def open_image(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError("not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(_reason(exc)) from None
    if image.format not in _PILLOW_FORMATS:
        raise ImageError(f"{image.format} is not a web image format")
    return image


def decode_source(data: bytes, info: ImageInfo
                  ) -> tuple[list[Image.Image], list[int], int | None, bytes | None]:
    """The frames, durations, loop count and the outputs' ICC profile; the opened file is let go here,
    so only the normalised frames stay in memory."""
    image = open_image(data)
    try:
        icc = icc_for_output(image)
        frames, durations, loop = decode_frames(image, info)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(_reason(exc)) from None
    except ImageError:
        raise
    except Exception as exc:  # a decoder's own error on hostile bytes: this image's failure only
        raise ImageError(_decoder_reason(exc)) from None
    return frames, durations, loop, icc


def decode_frames(image: Image.Image, info: ImageInfo) -> tuple[list[Image.Image], list[int], int | None]:
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


def icc_for_output(image: Image.Image) -> bytes | None:
    """The profile the outputs carry: the source's, except for CMYK, which was converted to sRGB."""
    if image.mode == "CMYK":
        return None
    profile = image.info.get("icc_profile")
    return profile or None


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    return image.mode in ("P", "L", "RGB") and "transparency" in image.info


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
