"""Precompression: pure bytes-to-bytes compressors, and the rule that decides which results to keep.

Every compressor is deterministic (gzip's header carries mtime 0 and no file name) and releases the
GIL while it works, so a thread pool keeps every core busy. What goes into a cache key (the codec's
settings and its library's version) is declared here, next to the code those settings drive.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from importlib.metadata import version

import brotli
import zstandard

from ..config import CompressConfig

CODEC_NAMES = ("br", "gzip", "zstd")
BROTLI_QUALITY = 11  # the maximum: the file is compressed once and served many times
GZIP_LEVEL = 9
ZOPFLI_ITERATIONS = 15  # zopfli's own default
ZSTD_LEVEL = 19  # the highest level whose window stays within RFC 9659's 8 MiB for HTTP
ZSTD_MAX_WINDOW_LOG = 23  # 8 MiB: browsers may refuse a larger zstd window


@dataclass(frozen=True)
class Codec:
    """One precompression format with the settings that change its output."""

    name: str  # "br", "gzip", "zstd": the manifest's encoding names
    settings: str  # everything that changes the bytes, for the cache key

    def compress(self, data: bytes) -> bytes:
        if self.name == "br":
            # Brotli's window holds at most 16 MiB; a window as large as the file finds its
            # long-range repeats (source maps), and 22 (the default) is the floor.
            lgwin = max(22, min(24, (len(data) + 16).bit_length()))
            return brotli.compress(data, quality=BROTLI_QUALITY, lgwin=lgwin)
        if self.name == "gzip" and self.settings.startswith("zopfli"):
            import zopfli.gzip

            return zopfli.gzip.compress(data, numiterations=ZOPFLI_ITERATIONS)
        if self.name == "gzip":
            return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
        if self.name == "zstd":
            params = zstandard.ZstdCompressionParameters.from_level(
                ZSTD_LEVEL, source_size=len(data), window_log=_zstd_window_log(len(data)))
            return zstandard.ZstdCompressor(compression_params=params).compress(data)
        raise ValueError(f"unknown codec {self.name!r}")


def _zstd_window_log(size: int) -> int:
    return max(10, min(ZSTD_MAX_WINDOW_LOG, size.bit_length()))


def codecs(config: CompressConfig) -> tuple[Codec, ...]:
    """The codecs a config asks for, in the config's order."""
    chosen: list[Codec] = []
    for name in config.formats:
        if name == "br":
            chosen.append(Codec("br", f"brotli {version('brotli')} q{BROTLI_QUALITY} lgwin<=24"))
        elif name == "gzip" and config.gzip == "zopfli":
            chosen.append(Codec("gzip", f"zopfli {version('zopfli')} i{ZOPFLI_ITERATIONS}"))
        elif name == "gzip":
            chosen.append(Codec("gzip", f"zlib {zlib.ZLIB_RUNTIME_VERSION} l{GZIP_LEVEL} mtime0"))
        elif name == "zstd":
            chosen.append(Codec("zstd", f"zstandard {version('zstandard')} l{ZSTD_LEVEL} w<={ZSTD_MAX_WINDOW_LOG}"))
    return tuple(chosen)


def keep(original_size: int, compressed_size: int, min_ratio: float) -> bool:
    """A sidecar is worth serving only when it is at most `min_ratio` of the original."""
    return original_size > 0 and compressed_size <= original_size * min_ratio
