"""The image stage on real encoders (Pillow's libjpeg, libpng, libwebp, libavif): one source in, renditions out."""

from __future__ import annotations

import io
import struct
import time
import zlib
from dataclasses import replace

import pytest
from PIL import Image, ImageCms, ImageOps

from assetpipe.config import ImagesConfig
from assetpipe.images.decode import probe
from assetpipe.images.encode import render
from assetpipe.images.renditions import (
    ImageError,
    ImageSettings,
    fallback_format,
    modern_formats,
    parse_colour,
    variant_name,
    widths_for,
)
from assetpipe.images.stage import settings_from

from .conftest import REPO

SETTINGS = settings_from(ImagesConfig())  # the defaults: 320-1920 px, AVIF + WebP, the source's format, white
ADOBE_RGB = (REPO / "fixtures/icc/compatibleWithAdobeRGB1998.icc").read_bytes()
GRAY_ICC = (REPO / "fixtures/icc/Gray.icc").read_bytes()


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def quadrants(width: int = 40, height: int = 20) -> Image.Image:
    """Four flat colours, so any rotation or mirroring shows."""
    image = Image.new("RGB", (width, height))
    w, h = width // 2, height // 2
    for box, colour in (((0, 0, w, h), (255, 0, 0)), ((w, 0, width, h), (0, 255, 0)),
                        ((0, h, w, height), (0, 0, 255)), ((w, h, width, height), (255, 255, 0))):
        image.paste(colour, box)
    return image


def all_outputs(data: bytes, settings: ImageSettings = SETTINGS):
    info = probe(data, settings.max_pixels)
    fallback = fallback_format(info, settings)
    formats = [*modern_formats(info, settings, fallback), *([fallback] if fallback else [])]
    outputs = [(fmt, w) for w in widths_for(info, settings.widths) for fmt in formats]
    return info, render(data, info, outputs, settings)


def test_widths_are_never_upscaled_and_include_the_own_width() -> None:
    big = probe(encode(Image.new("RGB", (1600, 900)), "JPEG"), SETTINGS.max_pixels)
    assert widths_for(big, SETTINGS.widths) == (320, 640, 1280, 1600)
    small = probe(encode(Image.new("RGB", (200, 100)), "PNG"), SETTINGS.max_pixels)
    assert widths_for(small, SETTINGS.widths) == (200,)
    exact = probe(encode(Image.new("RGB", (640, 100)), "PNG"), SETTINGS.max_pixels)
    assert widths_for(exact, SETTINGS.widths) == (320, 640)


def test_every_format_at_every_width() -> None:
    _, renditions = all_outputs(encode(quadrants(700, 350), "JPEG", quality=95))
    got = [(r.format, r.width, r.height) for r in renditions]
    assert got == [("avif", 320, 160), ("webp", 320, 160), ("jpeg", 320, 160),
                   ("avif", 640, 320), ("webp", 640, 320), ("jpeg", 640, 320),
                   ("avif", 700, 350), ("webp", 700, 350), ("jpeg", 700, 350)]
    for r in renditions:
        decoded = Image.open(io.BytesIO(r.data))
        assert decoded.format.lower() == r.format and decoded.size == (r.width, r.height)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_and_dropped(orientation: int) -> None:
    source = quadrants()
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x8825] = {2: (52.0, 31.0, 0.0)}  # some GPS data that must not survive
    data = encode(source, "PNG", exif=exif)
    info, renditions = all_outputs(data)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert (info.width, info.height) == expected.size
    for r in renditions:
        out = Image.open(io.BytesIO(r.data))
        assert out.size == expected.size, r.format
        assert not out.getexif(), (r.format, dict(out.getexif()))
        assert b"Exif" not in r.data[:4096] or (r.format == "webp" and b"EXIF" not in r.data)
        if r.format == "png":  # lossless: every pixel where it belongs
            assert out.convert("RGB").tobytes() == expected.convert("RGB").tobytes()
        else:
            for x, y in ((5, 5), (expected.width - 5, 5), (5, expected.height - 5)):
                want, got = expected.getpixel((x, y)), out.convert("RGB").getpixel((x, y))
                assert max(abs(a - b) for a, b in zip(want, got, strict=True)) < 60, (r.format, x, y)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, offset = [], 8
    while offset < len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        chunks.append((kind, data[offset + 8:offset + 8 + length]))
        offset += 12 + length
    return chunks


@pytest.mark.parametrize("orientation", (3, 6, 8))
def test_png_exif_after_the_pixels_is_still_found(orientation: int) -> None:
    """A PNG may put eXIf after its IDAT chunks: the probe then reads that far, like the decoder does."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    chunks = png_chunks(encode(quadrants(), "PNG", exif=exif))
    ordered = [c for c in chunks if c[0] != b"eXIf"]
    ordered.insert(len(ordered) - 1, next(c for c in chunks if c[0] == b"eXIf"))  # just before IEND
    data = b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(k, b) for k, b in ordered)
    assert [k for k, _ in png_chunks(data)][-2:] == [b"eXIf", b"IEND"]
    info, renditions = all_outputs(data)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert (info.width, info.height) == expected.size == (renditions[0].width, renditions[0].height)


def test_probe_does_not_decode_a_png() -> None:
    """The header and the chunks before the pixels say everything; a PNG whose pixel data is damaged
    probes fine (a warm build never decodes) and fails only when it is rendered."""
    chunks = png_chunks(encode(quadrants(), "PNG", exif=Image.Exif()))
    damaged = b"\x89PNG\r\n\x1a\n" + b"".join(
        png_chunk(k, b"\x00" * len(b) if k == b"IDAT" else b) for k, b in chunks)
    info = probe(damaged, SETTINGS.max_pixels)
    assert (info.format, info.width, info.height) == ("png", 40, 20)
    with pytest.raises(ImageError):
        render(damaged, info, [("png", 40)], SETTINGS)


def test_alpha_is_kept_and_the_fallback_stays_alpha_capable() -> None:
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (16, 16, 48, 48))
    info, renditions = all_outputs(encode(image, "PNG"))
    assert info.alpha and fallback_format(info, SETTINGS) == "png"
    for r in renditions:
        out = Image.open(io.BytesIO(r.data)).convert("RGBA")
        assert out.getpixel((2, 2))[3] == 0 and out.getpixel((32, 32))[3] == 255, r.format


def test_palette_png_with_trns_counts_as_alpha() -> None:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (8, 8, 24, 24))
    data = encode(image, "PNG", transparency=0)
    info, renditions = all_outputs(data)
    assert info.alpha
    png = next(r for r in renditions if r.format == "png")
    assert Image.open(io.BytesIO(png.data)).convert("RGBA").getpixel((0, 0))[3] == 0


@pytest.mark.parametrize(("background", "expected"), [("#ffffff", (255, 255, 255)), ("#f00", (255, 0, 0))])
def test_forced_jpeg_fallback_flattens_onto_the_background(background: str, expected: tuple) -> None:
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    settings = replace(SETTINGS, widths=(320,), formats=(), fallback="jpeg", background=parse_colour(background))
    _, renditions = all_outputs(encode(image, "PNG"), settings)
    (jpeg,) = renditions
    pixel = Image.open(io.BytesIO(jpeg.data)).getpixel((20, 20))
    assert max(abs(a - b) for a, b in zip(pixel, expected, strict=True)) <= 3  # never black


def animated_gif(loop: int | None) -> bytes:
    frames = [Image.new("RGB", (48, 24), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    options = {"save_all": True, "append_images": frames[1:], "duration": [100, 200, 300]}
    if loop is not None:
        options["loop"] = loop
    return encode(frames[0], "GIF", **options)


def test_animation_keeps_every_frame_duration_and_loop() -> None:
    info, renditions = all_outputs(animated_gif(loop=0))
    assert info.animated and info.frames == 3
    assert {r.format for r in renditions} == {"avif", "webp", "gif"}
    for r in renditions:
        out = Image.open(io.BytesIO(r.data))
        assert getattr(out, "n_frames", 1) == 3, r.format
        durations = []
        for index in range(3):
            out.seek(index)
            out.load()  # AVIF reports a frame's duration once it is decoded
            durations.append(out.info.get("duration"))
        assert durations == [100, 200, 300], r.format
        if r.format != "avif":
            assert out.info.get("loop") == 0, r.format


def test_an_animated_avif_is_the_same_bytes_whenever_it_is_encoded() -> None:
    # libavif stamps an image sequence with the time of encoding (seconds): two encodes across a second
    # boundary differed before bmff.without_timestamps.
    first = [r.data for r in all_outputs(animated_gif(loop=0))[1] if r.format == "avif"]
    time.sleep(1.1)
    second = [r.data for r in all_outputs(animated_gif(loop=0))[1] if r.format == "avif"]
    assert first and first == second
    movie = first[0][first[0].index(b"mvhd") + 4:]
    width = 8 if movie[0] == 1 else 4
    assert movie[4:4 + 2 * width] == bytes(2 * width)  # creation and modification time: 0


def test_animation_with_a_finite_loop_skips_avif_and_never_becomes_a_still() -> None:
    info = probe(animated_gif(loop=2), SETTINGS.max_pixels)
    assert modern_formats(info, SETTINGS, fallback_format(info, SETTINGS)) == ("webp",)
    forced = replace(SETTINGS, widths=(320,), fallback="jpeg")
    assert fallback_format(info, forced) is None


def test_cmyk_without_a_profile_comes_out_rgb_with_the_right_colours() -> None:
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red ink
    _, renditions = all_outputs(encode(cmyk, "JPEG", quality=95))
    for r in renditions:
        out = Image.open(io.BytesIO(r.data))
        assert out.mode in ("RGB", "RGBA"), r.format
        red, green, blue = out.convert("RGB").getpixel((16, 16))
        assert red > 200 and green < 60 and blue < 60, (r.format, (red, green, blue))


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    image = Image.new("I;16", (16, 16), 40000)
    _, renditions = all_outputs(encode(image, "PNG"))
    for r in renditions:
        value = Image.open(io.BytesIO(r.data)).convert("L").getpixel((8, 8))
        assert 145 <= value <= 165, (r.format, value)  # 40000 / 257 = 155.6; clipped would be 255


def test_greyscale_stays_greyscale_where_the_format_allows() -> None:
    image = Image.linear_gradient("L").resize((64, 64))
    _, renditions = all_outputs(encode(image, "JPEG"))
    modes = {r.format: Image.open(io.BytesIO(r.data)).mode for r in renditions}
    assert modes["jpeg"] == "L"
    assert modes["avif"] == "L"


def test_icc_profile_is_kept_in_every_format() -> None:
    image = quadrants()
    _, renditions = all_outputs(encode(image, "PNG", icc_profile=ADOBE_RGB))
    for r in renditions:
        assert Image.open(io.BytesIO(r.data)).info.get("icc_profile") == ADOBE_RGB, r.format
    grey = Image.linear_gradient("L").resize((32, 32))
    _, renditions = all_outputs(encode(grey, "PNG", icc_profile=GRAY_ICC))
    for r in renditions:
        profile = Image.open(io.BytesIO(r.data)).info.get("icc_profile")
        if r.format == "webp":  # WebP is always RGB: a grey profile would be wrong there
            assert profile is None
        else:
            assert profile == GRAY_ICC, r.format
    assert ImageCms.ImageCmsProfile(io.BytesIO(ADOBE_RGB)).profile.xcolor_space.strip() == "RGB"


def test_bad_input_raises_one_line_reasons() -> None:
    good = encode(quadrants(200, 100), "JPEG")
    with pytest.raises(ImageError, match=r"^empty file$"):
        probe(b"", SETTINGS.max_pixels)
    with pytest.raises(ImageError, match=r"^not an image Pillow can read$"):
        probe(b"<svg xmlns='http://www.w3.org/2000/svg'/>", SETTINGS.max_pixels)
    truncated = good[: len(good) // 2]
    info = probe(truncated, SETTINGS.max_pixels)
    with pytest.raises(ImageError, match=r"^truncated image$"):
        render(truncated, info, [("webp", 200)], SETTINGS)


def test_pixel_bomb_is_refused_from_its_header() -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    assert len(bomb) < 200
    with pytest.raises(ImageError, match=r"^60000x60000 is 3_600_000_000 pixels, over images.max_pixels"):
        probe(bomb, SETTINGS.max_pixels)


def test_variant_names_keep_a_readable_stem_and_leave_the_width_out_of_the_hash() -> None:
    a = variant_name("img/hero-AbC123xy.jpg", "jpeg", "avif", 640, "sha:1 avif q60")
    b = variant_name("img/hero-AbC123xy.jpg", "jpeg", "avif", 1280, "sha:1 avif q60")
    c = variant_name("img/hero-AbC123xy.jpg", "jpeg", "avif", 640, "sha:1 avif q61")
    assert a.startswith("img/hero-AbC123xy.") and a.endswith(".640w.avif")
    assert a.split(".")[1] == b.split(".")[1] != c.split(".")[1]
    assert variant_name("top.png", "png", "png", 320, "r") .startswith("top.")


def test_rendering_is_deterministic() -> None:
    data = encode(quadrants(400, 200), "JPEG")
    first = [r.data for r in all_outputs(data)[1]]
    second = [r.data for r in all_outputs(data)[1]]
    assert first == second


def photo_like(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Smooth gradients with some grain: encodes take a while and every format makes different bytes."""
    image = Image.radial_gradient("L").resize((width, height)).convert(mode)
    grain = Image.effect_noise((width, height), 40).convert(mode)
    return Image.blend(image, grain, 0.3)


@pytest.mark.parametrize("threads", [2, 3])
def test_encodes_side_by_side_make_the_same_bytes_in_the_same_order(threads: int) -> None:
    """A worker with the machine to itself encodes one image's outputs on several threads: the bytes
    and their order are those of one thread (each encoder runs single-threaded either way)."""
    photo = encode(photo_like(1400, 900), "JPEG", quality=90, icc_profile=ADOBE_RGB)
    alpha = photo_like(700, 500, "RGBA")
    alpha.putalpha(Image.linear_gradient("L").resize((700, 500)))
    for data in (photo, encode(alpha, "PNG")):
        info = probe(data, SETTINGS.max_pixels)
        fallback = fallback_format(info, SETTINGS)
        outputs = [(fmt, w) for w in widths_for(info, SETTINGS.widths)
                   for fmt in (*modern_formats(info, SETTINGS, fallback), fallback)]
        alone = render(data, info, outputs, SETTINGS)
        side_by_side = render(data, info, outputs, SETTINGS, threads=threads)
        assert [(r.format, r.width) for r in side_by_side] == [(f, min(w, info.width)) for f, w in outputs]
        assert [(r.format, r.width, r.height, r.data) for r in side_by_side] == [
            (r.format, r.width, r.height, r.data) for r in alone]
        assert len({r.data for r in alone}) == len(outputs)  # every output its own bytes: no mix-up would hide


def test_an_encoder_error_side_by_side_is_the_images_one_line_error() -> None:
    data = encode(Image.new("RGB", (17000, 20), (9, 9, 9)), "PNG")  # too wide for WebP (16,383 px)
    info = probe(data, SETTINGS.max_pixels)
    with pytest.raises(ImageError, match=r"^webp encoder failed: .*16383"):
        render(data, info, [("avif", 320), ("webp", 17000), ("png", 17000)], SETTINGS, threads=2)
