"""bmff.without_timestamps on hand-built boxes: which fields it zeroes, and what it refuses."""

from __future__ import annotations

import struct

import pytest

from assetpipe.images.bmff import BmffError, without_timestamps


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def header(kind: bytes, version: int, times: tuple[int, int], rest: bytes = b"\x00\x00\x03\xe8") -> bytes:
    packed = struct.pack(">QQ", *times) if version == 1 else struct.pack(">II", *times)
    return box(kind, bytes([version, 0, 0, 0]) + packed + rest)


def test_zeroes_the_times_of_the_movie_track_and_media_headers_and_nothing_else() -> None:
    movie = box(b"moov", header(b"mvhd", 1, (3_000_000_000, 3_000_000_001))
                + box(b"trak", header(b"tkhd", 0, (7, 8)) + box(b"mdia", header(b"mdhd", 1, (9, 10)))))
    data = box(b"ftyp", b"avis\x00\x00\x00\x00") + movie + box(b"mdat", b"\x01\x02\x03")
    cleaned = without_timestamps(data)
    expected = (box(b"ftyp", b"avis\x00\x00\x00\x00")
                + box(b"moov", header(b"mvhd", 1, (0, 0))
                      + box(b"trak", header(b"tkhd", 0, (0, 0)) + box(b"mdia", header(b"mdhd", 1, (0, 0)))))
                + box(b"mdat", b"\x01\x02\x03"))
    assert cleaned == expected


def test_a_header_outside_the_movie_and_a_still_image_are_left_as_they_are() -> None:
    still = box(b"ftyp", b"avif\x00\x00\x00\x00") + box(b"meta", header(b"mdhd", 0, (5, 6))) + box(b"mdat", b"x")
    assert without_timestamps(still) == still


def test_a_64_bit_size_and_a_box_that_runs_to_the_end_are_followed() -> None:
    inner = header(b"mvhd", 0, (11, 12))
    large = struct.pack(">I4sQ", 1, b"moov", 16 + len(inner)) + inner
    to_end = struct.pack(">I4s", 0, b"moov") + header(b"mvhd", 0, (13, 14))
    assert without_timestamps(large) == struct.pack(">I4sQ", 1, b"moov", 16 + len(inner)) + header(b"mvhd", 0, (0, 0))
    assert without_timestamps(to_end) == struct.pack(">I4s", 0, b"moov") + header(b"mvhd", 0, (0, 0))


@pytest.mark.parametrize("data", [
    struct.pack(">I4s", 100, b"moov") + b"short",  # says 100 bytes, has 13
    struct.pack(">I4s", 4, b"moov"),  # smaller than its own header
    box(b"moov", box(b"mvhd", b"\x01\x00\x00\x00" + b"\x00" * 4)),  # version 1 needs 16 bytes of times
])
def test_malformed_boxes_are_refused(data: bytes) -> None:
    with pytest.raises(BmffError):
        without_timestamps(data)
