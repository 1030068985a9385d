"""Timestamps out of an ISO base media file (an animated AVIF). Pure: bytes in, bytes out.

libavif writes the time of encoding into an image sequence's movie, track and media headers (`mvhd`,
`tkhd`, `mdhd`: creation and modification time, seconds since 1904), so the same frames encoded a
second apart give different bytes, and different sha256, names and cache entries. Players do not use
these fields; zero ("unknown") is what a deterministic build writes. A still AVIF has no `moov` box and
comes back unchanged. The file keeps its length: only the time fields are overwritten.
"""

from __future__ import annotations

import struct

_CONTAINERS = (b"moov", b"trak", b"mdia")  # the boxes on the way to the three headers
_HEADERS = (b"mvhd", b"tkhd", b"mdhd")  # each: version (1 byte), flags (3), creation time, modification time


class BmffError(ValueError):
    """The bytes are not a well-formed sequence of boxes."""


def without_timestamps(data: bytes) -> bytes:
    """`data` with the creation and modification times of its movie, track and media headers set to 0."""
    out = bytearray(data)
    _zero_times(out, 0, len(out))
    return bytes(out)


def _zero_times(data: bytearray, start: int, end: int) -> None:
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:  # a 64-bit size follows the type
            if offset + 16 > end:
                raise BmffError(f"box {kind!r} at {offset}: truncated 64-bit size")
            size = struct.unpack_from(">Q", data, offset + 8)[0]
            header = 16
        elif size == 0:  # the box runs to the end of its container
            size = end - offset
        if size < header or offset + size > end:
            raise BmffError(f"box {kind!r} at {offset}: size {size} does not fit")
        body = offset + header
        if kind in _CONTAINERS:
            _zero_times(data, body, offset + size)
        elif kind in _HEADERS:
            _zero_header(data, body, offset + size, kind)
        offset += size


def _zero_header(data: bytearray, body: int, end: int, kind: bytes) -> None:
    if body + 4 > end:
        raise BmffError(f"{kind.decode()}: truncated")
    width = 8 if data[body] == 1 else 4  # version 1: 64-bit times; version 0: 32-bit
    first = body + 4
    if first + 2 * width > end:
        raise BmffError(f"{kind.decode()}: truncated")
    data[first:first + 2 * width] = bytes(2 * width)
