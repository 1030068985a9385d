"""The manifest and the ledger updated by splicing: the previous file's rows, a few keys' rows replaced,
inserted or removed, in the same order and framing as the full build writes them.

Both files are one JSON object with one section of rows, one line per key, sorted by key (manifest.stream,
ledger.pieces): `{`, the lines before the section, the section's rows joined by `,` + newline, and the
lines after it. A file of any other shape (an empty section, a `failures` list that is not empty, the
ledger's `minified` or `optimized` sections) is `Malformed`, and the caller builds in full.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

# (what comes before the rows, what comes after them) of the shapes a delta splices
MANIFEST = ('{\n  "failures": [],\n  "files": {\n', '  },\n  "schema": 1\n}\n')
LEDGER = ('{\n  "outputs": {\n', '  },\n  "schema": 1\n}\n')
_BATCH = 4096  # rows joined into one piece


class Malformed(Exception):
    """Not a file the delta can splice."""


def rows(path: Path, shape: tuple[str, str]) -> Iterator[tuple[str, str]]:
    """(key, row) for each row of the file, the row without its separator, in the file's order."""
    head, tail = shape
    with open(path, encoding="utf-8", newline="") as handle:
        if handle.read(len(head)) != head:
            raise Malformed(f"{path.name}: not in the shape a delta splices")
        for line in handle:
            if line == tail[: tail.index("\n") + 1]:
                if line + handle.read() != tail:
                    raise Malformed(f"{path.name}: not in the shape a delta splices")
                return
            if not line.startswith('    "') or not line.endswith("\n"):
                raise Malformed(f"{path.name}: not in the shape a delta splices")
            row = line[:-2] if line.endswith(",\n") else line[:-1]
            yield key_of(row), row
    raise Malformed(f"{path.name}: cut short")


def key_of(row: str) -> str:
    """The key a row begins with: `    "a/b.js": {...}` -> `a/b.js`."""
    end = row.index('"', 5)
    raw = row[5:end]
    if "\\" not in raw:
        return raw
    return json.JSONDecoder().raw_decode(row, 4)[0]


def pick(path: Path, shape: tuple[str, str], wanted: set[str]) -> tuple[dict[str, str], int]:
    """The rows of the `wanted` keys, and how many rows the file has (reading it whole, a row at a time)."""
    found: dict[str, str] = {}
    count = 0
    for key, row in rows(path, shape):
        count += 1
        if key in wanted:
            found[key] = row
    return found, count


def pieces(path: Path, shape: tuple[str, str], changes: Mapping[str, str | None]) -> Iterator[str]:
    """The file's text with each key of `changes` given its new row (None: its row removed), in key order."""
    head, tail = shape
    pending = sorted(changes)
    out: list[str] = []
    first = True
    yield head
    for _key, row in _merged(rows(path, shape), pending, changes):
        out.append(row if first else ",\n" + row)
        first = False
        if len(out) >= _BATCH:
            yield "".join(out)
            out = []
    if first:
        raise Malformed(f"{path.name}: would have no rows left")
    out.append("\n")
    yield "".join(out)
    yield tail


def _merged(old: Iterable[tuple[str, str]], pending: list[str],
            changes: Mapping[str, str | None]) -> Iterator[tuple[str, str]]:
    index = 0
    for key, row in old:
        while index < len(pending) and pending[index] < key:
            new = changes[pending[index]]
            if new is not None:
                yield pending[index], new
            index += 1
        if index < len(pending) and pending[index] == key:
            new = changes[key]
            if new is not None:
                yield key, new
            index += 1
            continue
        yield key, row
    for rest in pending[index:]:
        new = changes[rest]
        if new is not None:
            yield rest, new
