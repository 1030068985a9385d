"""One AVIF `grid` image from horizontal strips encoded one by one. Pure: bytes in, bytes out.

libaom holds about 17 bytes per pixel while it encodes an image (520-620 MB for a 24 MP photo at its own
width), so a large AVIF is encoded as strips of a few megapixels, each an AVIF file of its own (Pillow
has no grid encoder), and this module puts them together as the cells of one `grid` derived image
(ISO/IEC 23008-12 §6.6.2.3, MIAF): the cells' AV1 payloads and their `av1C` configuration are taken as
they are; the file gets a `grid` item (the primary one) whose descriptor gives one column, as many rows
as strips and the image's own size, which crops the last strip's padding; hidden `av01` items for the
cells; `dimg` references from the grid to the cells in order; the grid's `ispe`, `pixi` and `colr`, and
each cell's `ispe`, `pixi` and (essential) `av1C`. Browsers and libavif decode it as one image
(`tests/test_images_browser.py` checks Chromium's pixels against Pillow's). Images with alpha are not
assembled here: a cell with an alpha item is refused.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from .bmff import BmffError, boxes

_BRANDS = b"avif" + struct.pack(">I", 0) + b"avifmif1miafMA1B"  # major, minor version, compatible brands
_ESSENTIAL = 0x80
_GRID_ID = 1


class GridError(ValueError):
    """The strips cannot be put together (not the one-image AVIF files this module expects)."""


@dataclass(frozen=True)
class _Cell:
    payload: bytes
    av1c: bytes  # the whole `av1C` box
    pixi: bytes  # the whole `pixi` box
    colr: tuple[bytes, ...]  # the whole `colr` boxes (nclx, an ICC profile), in the file's order
    width: int
    height: int


def assemble(strips: Sequence[bytes], width: int, height: int) -> bytes:
    """An AVIF whose primary image is `width` x `height`, made of `strips` from top to bottom (every strip
    the same size, `width` wide; together at least `height` rows)."""
    cells = [_cell(strip) for strip in strips]
    first = cells[0]
    if any((c.av1c, c.width, c.height) != (first.av1c, first.width, first.height) for c in cells):
        raise GridError("the strips differ in size or AV1 configuration")
    if first.width != width or first.height * len(cells) < height or len(cells) > 256:
        raise GridError(f"{len(cells)} strips of {first.width}x{first.height} cannot make {width}x{height}")
    cell_ids = list(range(_GRID_ID + 1, _GRID_ID + 1 + len(cells)))
    descriptor = struct.pack(">BBBBII", 0, 1, len(cells) - 1, 0, width, height)  # flags 1: 32-bit sizes
    payloads = [descriptor, *(c.payload for c in cells)]

    properties = [_full(b"ispe", 0, 0, struct.pack(">II", width, height)), first.pixi, *first.colr,
                  _full(b"ispe", 0, 0, struct.pack(">II", first.width, first.height)), first.av1c]
    grid_ispe, pixi, cell_ispe, av1c = 1, 2, 3 + len(first.colr), 4 + len(first.colr)  # 1-based
    colr = list(range(3, 3 + len(first.colr)))
    associations = [(_GRID_ID, [grid_ispe, pixi, *colr])]
    associations += [(i, [cell_ispe, pixi, av1c | _ESSENTIAL]) for i in cell_ids]
    ipma = _full(b"ipma", 0, 0, struct.pack(">I", len(associations)) + b"".join(
        struct.pack(">HB", item, len(indexes)) + bytes(indexes) for item, indexes in associations))
    infe = [_full(b"infe", 2, 0, struct.pack(">HH", _GRID_ID, 0) + b"grid\0")]
    infe += [_full(b"infe", 2, 1, struct.pack(">HH", i, 0) + b"av01\0") for i in cell_ids]  # flags 1: hidden
    rest = b"".join((
        _full(b"iinf", 0, 0, struct.pack(">H", len(infe)) + b"".join(infe)),
        _full(b"iref", 0, 0, _box(b"dimg", struct.pack(">HH", _GRID_ID, len(cell_ids))
                                  + b"".join(struct.pack(">H", i) for i in cell_ids))),
        _box(b"iprp", _box(b"ipco", b"".join(properties)) + ipma),
    ))
    head = (_full(b"hdlr", 0, 0, struct.pack(">I", 0) + b"pict" + bytes(12) + b"\0")
            + _full(b"pitm", 0, 0, struct.pack(">H", _GRID_ID)))
    ftyp = _box(b"ftyp", _BRANDS)

    def meta(data_start: int) -> bytes:
        entries, offset = [], data_start
        for item, payload in zip([_GRID_ID, *cell_ids], payloads, strict=True):
            entries.append(struct.pack(">HHHII", item, 0, 1, offset, len(payload)))
            offset += len(payload)
        # version 0: 4-byte extent offsets (from the file's start) and lengths, no base offset
        iloc = _full(b"iloc", 0, 0, bytes((0x44, 0x00)) + struct.pack(">H", len(entries)) + b"".join(entries))
        return _full(b"meta", 0, 0, head + iloc + rest)

    data_start = len(ftyp) + len(meta(0)) + 8  # the meta box has the same length whatever the offsets
    mdat = _box(b"mdat", b"".join(payloads))
    if data_start + len(mdat) >= 2**32:
        raise GridError("the image is too large for 32-bit offsets")
    return ftyp + meta(data_start) + mdat


def _cell(data: bytes) -> _Cell:
    """The one image of an AVIF file libavif wrote: its payload and properties."""
    try:
        top = {kind: (body, end) for kind, body, end in boxes(data, 0, len(data))}
        meta_body, meta_end = top[b"meta"]
        meta = {kind: (body, end) for kind, body, end in boxes(data, meta_body + 4, meta_end)}
        iprp_body, iprp_end = meta[b"iprp"]
        ipco_body, ipco_end = {kind: (b, e) for kind, b, e in boxes(data, iprp_body, iprp_end)}[b"ipco"]
        properties = [(kind, data[body - 8 : end]) for kind, body, end in boxes(data, ipco_body, ipco_end)]
        iloc_body, _ = meta[b"iloc"]
    except (KeyError, BmffError) as exc:
        raise GridError(f"not a one-image AVIF: {exc}") from None
    if b"iref" in meta or data[iloc_body + 4 : iloc_body + 6] != bytes((0x44, 0x00)):
        raise GridError("not a one-image AVIF as libavif writes it (an alpha item, or another layout)")
    count, _, _, extents, offset, length = struct.unpack_from(">HHHHII", data, iloc_body + 6)
    if count != 1 or extents != 1 or offset + length > len(data):
        raise GridError("not a one-image AVIF: its item is not one extent in the file")
    by_kind: dict[bytes, list[bytes]] = {}
    for kind, box in properties:
        by_kind.setdefault(kind, []).append(box)
    if set(by_kind) - {b"ispe", b"pixi", b"av1C", b"colr"} or any(len(by_kind.get(k, ())) != 1 for k in (
            b"ispe", b"pixi", b"av1C")):
        raise GridError(f"unexpected image properties: {sorted(k.decode() for k in by_kind)}")
    width, height = struct.unpack_from(">II", by_kind[b"ispe"][0], 12)
    return _Cell(data[offset : offset + length], by_kind[b"av1C"][0], by_kind[b"pixi"][0],
                 tuple(by_kind.get(b"colr", ())), width, height)


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full(kind: bytes, version: int, flags: int, body: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version << 24 | flags) + body)
