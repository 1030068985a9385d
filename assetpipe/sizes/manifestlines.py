"""Read an assetpipe manifest one file's line at a time, in key order, without the whole document in memory.

The build writes its manifest with one file's entry per line, sorted by key (build/manifest.json_pieces).
`entries` reads that layout as it comes: the manifest of 200,000 files is 90 MB of text and, parsed whole,
some 1.5 GB of dicts; read this way, one entry is in memory at a time. Anything else (a manifest written
or edited by hand, keys out of order, another schema) raises NotLines, and the caller reads the file whole
as before, so what `diff` accepts and the errors it gives do not change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..build.manifest import SCHEMA

_FAILURES = '  "failures": '
_FILES = '  "files": {'
_DECODER = json.JSONDecoder()


class NotLines(Exception):
    """The file is not in the layout the build writes; read it whole instead."""


def failures(path: Path) -> list[Any]:
    """The manifest's `failures` (its second line)."""
    trailer = f'\n  "schema": {SCHEMA}\n}}\n'.encode()
    with open(path, "rb") as raw:  # this version's schema, checked first as the whole read checks it first
        raw.seek(0, 2)
        raw.seek(max(0, raw.tell() - len(trailer)))
        if raw.read() != trailer:
            raise NotLines
    with open(path, encoding="utf-8") as handle:
        if handle.readline() != "{\n":
            raise NotLines
        line = handle.readline()
    if not line.startswith(_FAILURES):
        raise NotLines
    value = _value(line, len(_FAILURES))
    if not isinstance(value, list):
        raise NotLines
    return value


def entries(path: Path) -> Iterator[tuple[str, Any]]:
    """(key, entry) of every file, in key order; NotLines (possibly after some) when the layout is not the
    build's, or the schema is not this version's. OSError and UnicodeDecodeError as reading gives them."""
    with open(path, encoding="utf-8") as handle:
        handle.readline()
        handle.readline()  # the failures, read by `failures`
        opening = handle.readline()
        if opening == _FILES + "},\n":
            closing = handle.readline()
        elif opening == _FILES + "\n":
            previous = None
            for line in handle:
                if line == "  },\n":
                    break
                key, end = _key(line)
                if previous is not None and key <= previous:
                    raise NotLines
                yield key, _value(line, end)
                previous = key
            closing = handle.readline()
        else:
            raise NotLines
        if closing != f'  "schema": {SCHEMA}\n' or handle.readline() != "}\n" or handle.read(1):
            raise NotLines


def _key(line: str) -> tuple[str, int]:
    """An entry line's key, and where its value starts."""
    try:
        key, end = _DECODER.raw_decode(line, 4) if line.startswith('    "') else (None, 0)
    except ValueError:
        raise NotLines from None
    if not isinstance(key, str) or line[end:end + 2] != ": ":
        raise NotLines
    return key, end + 2


def _value(line: str, start: int) -> Any:
    """The JSON value from `start` to the end of the line, a comma after it allowed."""
    try:
        value, end = _DECODER.raw_decode(line, start)
    except ValueError:
        raise NotLines from None
    if line[end:] not in (",\n", "\n"):
        raise NotLines
    return value
