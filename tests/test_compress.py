"""The compressors on real bytes: each sidecar decompresses to the original, deterministically."""

from __future__ import annotations

import gzip
import random

import brotli
import pytest
import zstandard

from assetpipe.compress.codecs import ZSTD_MAX_WINDOW_LOG, Codec, codecs, keep
from assetpipe.config import CompressConfig

from .conftest import DEMO

VENDOR = next((DEMO / "assets").glob("vendor-*.js")).read_bytes()
DECOMPRESS = {"br": brotli.decompress, "gzip": gzip.decompress,
              "zstd": lambda data: zstandard.ZstdDecompressor().decompress(data)}


@pytest.mark.parametrize("gzip_impl", ["zlib", "zopfli"])
def test_every_codec_round_trips_and_is_deterministic(gzip_impl: str) -> None:
    config = CompressConfig(formats=("br", "gzip", "zstd"), gzip=gzip_impl)
    for codec in codecs(config):
        first, second = codec.compress(VENDOR), codec.compress(VENDOR)
        assert first == second, codec.name
        assert DECOMPRESS[codec.name](first) == VENDOR, codec.name
        assert len(first) < len(VENDOR) * 0.5, codec.name


def test_gzip_header_has_no_timestamp_and_no_name() -> None:
    for impl in ("zlib", "zopfli"):
        (codec,) = codecs(CompressConfig(formats=("gzip",), gzip=impl))
        data = codec.compress(VENDOR)
        assert data[:4] == b"\x1f\x8b\x08\x00", impl  # deflate, no FNAME flag
        assert data[4:8] == b"\x00\x00\x00\x00", impl  # MTIME 0


def test_zopfli_is_smaller_than_zlib() -> None:
    (zlib_codec,) = codecs(CompressConfig(formats=("gzip",)))
    (zopfli_codec,) = codecs(CompressConfig(formats=("gzip",), gzip="zopfli"))
    assert len(zopfli_codec.compress(VENDOR)) < len(zlib_codec.compress(VENDOR))


def test_zstd_window_stays_within_rfc_9659_on_large_input() -> None:
    # 8.5 MiB of text (more than the 8 MiB window) that does not repeat within it trivially.
    rng = random.Random(7)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(4000)]
    data = b" ".join(rng.choice(words) for _ in range(2_000_000))[: (8 << 20) + (512 << 10)]
    assert len(data) > 8 << 20
    (codec,) = codecs(CompressConfig(formats=("zstd",)))
    out = codec.compress(data)
    assert zstandard.get_frame_parameters(out).window_size <= 1 << ZSTD_MAX_WINDOW_LOG
    assert zstandard.ZstdDecompressor(max_window_size=1 << ZSTD_MAX_WINDOW_LOG).decompress(out) == data


def test_codec_settings_name_the_library_version() -> None:
    settings = {c.name: c.settings for c in codecs(CompressConfig(formats=("br", "gzip", "zstd")))}
    assert settings["br"].startswith("brotli ")
    assert settings["gzip"].startswith("zlib ")
    assert settings["zstd"].startswith("zstandard ")


def test_keep_rule() -> None:
    assert keep(1000, 950, 0.95)
    assert not keep(1000, 951, 0.95)
    assert not keep(0, 0, 0.95)
    assert not keep(3, 7, 0.95)


def test_unknown_codec_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown codec"):
        Codec("lzma", "").compress(b"x")
