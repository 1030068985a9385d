"""The manifest and the ledger updated by splicing: the previous file's bytes, a few keys' rows replaced,
inserted or removed, in the same order and framing as the full build writes them.

Both files are one JSON object with one section of rows, one line per key, sorted by key (manifest.stream,
ledger.pieces): a head (`{` and the members before the section), the rows joined by `,` and a newline, a
newline, and a tail. A file of any other shape (an empty section, a `failures` list that is not empty, the
ledger's `minified` or `optimized` sections, a row it looks at that is not ASCII) is `Malformed`; the
caller builds in full. (Both are assetpipe's, written as ASCII; a change to either by another program
moves its stamp, and the delta then builds in full before anything is spliced: build/delta.py.)

Neither file is parsed row by row: `locate` finds the block a wanted key is in by bisection (the rows are
sorted: a seek and a row read per step, 7 steps down to a MiB in a 90 MB manifest), then reads on a MiB at
a time, looking only at the last row of each block until a block holds a wanted key; `pieces` then copies
the bytes between the changed rows as they are, never decoded. Think of every row as ending in `,\n` (the
last one's `\n` read as `,\n`): then replacing, removing and inserting a row are the same edit wherever it
is, and the last `,\n` written is given back as `\n`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# (what comes before the rows, what comes after them) of the shapes a delta splices
MANIFEST = (b'{\n  "failures": [],\n  "files": {\n', b'  },\n  "schema": 1\n}\n')
LEDGER = (b'{\n  "outputs": {\n', b'  },\n  "schema": 1\n}\n')
_BLOCK = 1 << 20


class Malformed(Exception):
    """Not a file the delta can splice."""


@dataclass(frozen=True)
class Layout:
    """Where the wanted keys are in a file: each key's row (its text) and its line's span in the rows
    section read as if every line ended in `,\\n` (start, end), or, for a key not there, where its row
    would go (start, start)."""

    path: Path
    shape: tuple[bytes, bytes]
    size: int  # of the rows section so read (one more than in the file)
    rows: Mapping[str, str]
    spans: Mapping[str, tuple[int, int]]


def locate(path: Path, shape: tuple[bytes, bytes], wanted: set[str]) -> Layout:
    head, tail = shape
    total = os.path.getsize(path)
    size = total - len(head) - len(tail) + 1
    pending = sorted(wanted)
    rows: dict[str, str] = {}
    spans: dict[str, tuple[int, int]] = {}
    with open(path, "rb") as handle:
        if handle.read(len(head)) != head or size < 3:
            raise Malformed(f"{path.name}: not in the shape a delta splices")
        handle.seek(total - len(tail))
        if handle.read() != tail:
            raise Malformed(f"{path.name}: not in the shape a delta splices")
        at = _row_before(handle, len(head), 0, size - 1, pending[0]) if pending else 0
        handle.seek(len(head) + at)
        left, carry = size - 1 - at, b""
        while pending and (left or carry):
            data = carry + handle.read(min(_BLOCK, left))
            left -= len(data) - len(carry)
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # a row longer than a block: read on
                if not left:
                    raise Malformed(f"{path.name}: a row without its newline")
                carry = data
                continue
            block, carry = data[:cut], data[cut:]
            last = block[block.rfind(b"\n", 0, cut - 1) + 1:]
            if pending[0] > key_of(last):  # no wanted key up to this block's last row: not looked into
                at += cut
                if (jump := _row_before(handle, len(head), at, size - 1, pending[0])) > at:
                    at, carry = jump, b""
                handle.seek(len(head) + at + len(carry))
                left = size - 1 - at - len(carry)
                continue
            for line in block.splitlines(keepends=True):
                key = key_of(line)
                while pending and pending[0] < key:
                    spans[pending.pop(0)] = (at, at)
                if pending and pending[0] == key:
                    pending.pop(0)
                    rows[key] = line.rstrip(b",\n").decode("ascii")
                    spans[key] = (at, at + len(line) + (0 if line.endswith(b",\n") else 1))
                at += len(line)
    for key in pending:  # after the last row
        spans[key] = (size, size)
    return Layout(path, shape, size, rows, spans)


def _row_before(handle: BinaryIO, base: int, low: int, high: int, key: str) -> int:
    """The start of a row below `key` (or `low`), at or after `low`, a row's start in the rows section (at
    `base` in the file, `high` long), with no more than about a block before the first row that is not
    below `key`: where reading on finds it. Bisection; the handle is left anywhere."""
    while high - low > _BLOCK:
        middle = (low + high) // 2
        handle.seek(base + middle)
        handle.readline()  # the rest of the row `middle` falls in
        start = handle.tell() - base
        if start >= high:  # no row starts between: the answer lies before
            high = middle
        elif key_of(handle.readline()) < key:
            low = start
        else:
            high = middle
    return low


def changes(layout: Layout, rows: Mapping[str, str | None]) -> bool:
    """Whether `pieces(layout, rows)` differs from the file: a row that is new, gone or not the same text."""
    return any(layout.rows.get(key) != row for key, row in rows.items())


def keys(path: Path, shape: tuple[bytes, bytes]) -> Iterator[str]:
    """Every key of the file's rows section, in order, a line at a time (Malformed: not in the shape)."""
    head, tail = shape
    rows = os.path.getsize(path) - len(head) - len(tail)
    with open(path, "rb") as handle:
        if handle.read(len(head)) != head:
            raise Malformed(f"{path.name}: not in the shape a delta splices")
        at = 0
        for line in handle:
            if at >= rows:
                break
            at += len(line)
            yield key_of(line)
        if at != rows:
            raise Malformed(f"{path.name}: not in the shape a delta splices")


def key_of(line: bytes) -> str:
    """The key a row begins with: `    "a/b.js": {...}` -> `a/b.js`."""
    if not line.startswith(b'    "'):
        raise Malformed("a row that is not one")
    end = line.index(b'"', 5)
    raw = line[5:end]
    if b"\\" not in raw:
        return raw.decode("ascii")
    return json.JSONDecoder().raw_decode(line.decode("ascii"), 4)[0]


def pieces(layout: Layout, changes: Mapping[str, str | None]) -> Iterator[bytes]:
    """The file's bytes with each key of `changes` given its new row (None: its row removed), in order;
    every key of `changes` must have been located."""
    head, tail = layout.shape
    # by where they go; at one place, the new rows (in key order) before the row there
    edits = sorted((layout.spans[key][0], layout.spans[key][0] != layout.spans[key][1], key, layout.spans[key][1],
                    b"" if row is None else (row + ",\n").encode("ascii")) for key, row in changes.items())
    written = 0
    held = b""  # the bytes not given out yet: their last ",\n" becomes "\n"
    yield head
    with open(layout.path, "rb") as handle:
        handle.seek(len(head))
        at = 0
        for start, _replaces, _key, end, text in edits:
            for chunk in _copy(handle, at, start, layout.size):
                yield held
                held = chunk
                written += len(chunk)
            handle.seek(len(head) + end)
            at = end
            if text:
                yield held
                held = text
                written += len(text)
        for chunk in _copy(handle, at, layout.size, layout.size):
            yield held
            held = chunk
            written += len(chunk)
    if written == 0 or not held.endswith(b",\n"):
        raise Malformed(f"{layout.path.name}: would have no rows left")
    yield held[:-2] + b"\n"
    yield tail


def _copy(handle: BinaryIO, start: int, end: int, size: int) -> Iterator[bytes]:
    """The rows section from `start` to `end`, read as if its last `\n` were `,\n` (the file is at `start`)."""
    stop, at = min(end, size - 2), start
    while at < stop:
        data = handle.read(min(_BLOCK, stop - at))
        if not data:
            raise Malformed(f"{handle.name}: cut short")
        at += len(data)
        yield data
    if end == size and start < size:
        yield b",\n"
