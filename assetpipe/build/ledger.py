"""The ledger: which files in a folder assetpipe wrote, so it never mistakes a user's file for its own.

`.assetpipe/outputs.json` lists every output of the last finished build with its sha256; the writer
appends to `.assetpipe/journal.jsonl` before each file it puts in place, so a build killed half-way
still knows what it wrote. A file counts as assetpipe's only while its bytes still hash to what was
recorded: a sidecar the user edited by hand is theirs from then on and is never overwritten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _string
from pathlib import Path

from ..model import Minified
from .manifest import json_pieces

STATE_DIR = ".assetpipe"
OUTPUTS = "outputs.json"
JOURNAL = "journal.jsonl"
TEMP_SUFFIX = ".assetpipe-tmp"
LEDGER_SCHEMA = 1


COPY = "copy:"
# The ledger's sections of user files replaced in place by a smaller form of them (both opt-in).
MINIFIED = "minified"
OPTIMIZED = "optimized"


def copy_key(source_sha256: str) -> str:
    """The ledger key of a --out copy: the source it was copied from."""
    return COPY + source_sha256


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class Record:
    key: str
    sha256: str
    size: int
    # What the same path held by an earlier record, newest first: a build killed between journalling a
    # file and putting it in place leaves the file as the ledger had it, and it is still assetpipe's.
    earlier: tuple[Record, ...] = ()

    def matching(self, sha256: str, size: int) -> Record | None:
        """The record (this one or an earlier) whose bytes are these, if any."""
        for record in (self, *self.earlier):
            if record.sha256 == sha256 and record.size == size:
                return record
        return None


def _read(target: Path) -> tuple[dict, list[dict]]:
    """The ledger file (empty when absent or of another version) and the journal's readable lines."""
    state = target / STATE_DIR
    document: dict = {}
    try:
        data = json.loads((state / OUTPUTS).read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("schema") == LEDGER_SCHEMA:
            document = data
    except (OSError, ValueError):
        pass  # no ledger, or one from another version: nothing is known to be ours
    return document, _journal(state)


# The layout `pieces` writes when the ledger has only its outputs: read a row at a time (`_streamed`).
_HEAD = ("{\n", '  "outputs": {\n')
_TAIL = ("  },\n", f'  "schema": {LEDGER_SCHEMA}\n', "}\n")
_ROW = re.compile(r'    "([^"\\]*)": \{"key": "([^"\\]*)", "sha256": "([^"\\]*)", "size": (0|[1-9][0-9]*)\},?\n')


def _streamed(path: Path) -> dict[str, Record] | None:
    """The outputs of a ledger in the layout `pieces` writes, a row at a time, without the document or a
    dict per row (0.8 kB a file, beside the file's text, at 200,000 files); None when the file is not in
    that layout (the opt-in sections, a file edited by hand, another version), which is read whole."""
    try:
        with path.open(encoding="utf-8", newline="\n") as handle:
            if tuple(handle.readline() for _ in _HEAD) != _HEAD:
                return None
            rows: dict[str, Record] = {}
            more = True  # the last row ended in a comma: a row comes next, not the tail
            for line in handle:
                if more and (match := _ROW.fullmatch(line)) is not None:
                    rel, key, sha256, size = match.groups()
                    rows[rel] = Record(key, sha256, int(size))
                elif more and line.startswith('    "') and "\\" in line:  # an escaped name: the row as JSON
                    (rel, entry), = json.loads("{" + line.rstrip(",\n") + "}").items()
                    rows[rel] = _record_of(entry)
                elif line == _TAIL[0] and not more and rows:
                    return rows if tuple(handle) == _TAIL[1:] else None
                else:
                    return None
                more = line.endswith(",\n")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # UnicodeDecodeError is a ValueError
        return None
    return None


def _journal(state: Path) -> list[dict]:
    try:
        lines = (state / JOURNAL).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    entries: list[dict] = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line torn by an interrupted build
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


@dataclass(frozen=True)
class Ledger:
    """The whole ledger of a folder, read once: `load`'s outputs and `load_minified`'s two sections."""

    outputs: dict[str, Record]
    minified: dict[str, Minified]
    optimized: dict[str, Minified]


def read(target: Path) -> Ledger:
    state = target / STATE_DIR
    rows = _streamed(state / OUTPUTS)
    if rows is not None:  # no opt-in section in the file; the journal's lines may still name some
        journal = _journal(state)
        return Ledger(_outputs(rows, journal), _replaced({}, journal, MINIFIED), _replaced({}, journal, OPTIMIZED))
    document, journal = _read(target)
    return Ledger(_outputs(dict(_rows(document)), journal), _replaced(document, journal, MINIFIED),
                  _replaced(document, journal, OPTIMIZED))


def load(target: Path) -> dict[str, Record]:
    """What the ledger says assetpipe wrote in `target` (unverified; scan checks the bytes)."""
    return read(target).outputs


def _record_of(entry: dict) -> Record:
    """An output's record from its JSON entry (the file's or the journal's); KeyError, TypeError or
    ValueError when it is damaged."""
    return Record(str(entry["key"]), str(entry["sha256"]), int(entry["size"]))


def _rows(document: dict) -> Iterator[tuple[str, Record]]:
    outputs = document.get("outputs", {})
    for rel, entry in outputs.items() if isinstance(outputs, dict) else ():
        try:
            yield rel, _record_of(entry)
        except (KeyError, TypeError, ValueError):
            continue  # a damaged entry


def _outputs(records: dict[str, Record], journal: list[dict]) -> dict[str, Record]:
    """`records` (the file's, taken over) with the journal's newer records."""
    for rel, entry in ((e.get("rel"), e) for e in journal):
        try:
            record = _record_of(entry)
        except (KeyError, TypeError, ValueError):
            continue  # a minify line of the journal, or a damaged entry
        previous = records.get(rel)
        if previous is not None:  # the journal's newer record; the file may still hold the older bytes
            record = Record(record.key, record.sha256, record.size,
                            (Record(previous.key, previous.sha256, previous.size), *previous.earlier))
        records[rel] = record
    return records


def encode(records: dict[str, Record], minified: dict[str, Minified] | None = None,
           optimized: dict[str, Minified] | None = None) -> bytes:
    """The ledger file's bytes: sorted, no timestamps, so two equal builds write equal ledgers."""
    return "".join(pieces(records, minified, optimized)).encode("utf-8")


def pieces(records: dict[str, Record], minified: dict[str, Minified] | None = None,
           optimized: dict[str, Minified] | None = None) -> Iterator[str]:
    """`encode`'s text piece by piece, one output's line at a time (Writer.write_state streams it)."""
    # json_lines' lines, written directly: a fresh C encoder per line costs 4 µs, 20 ms a build on the corpus
    outputs = (row(rel, records[rel]) for rel in sorted(records))  # no (rel, record) pair per output at once
    document: dict = {"outputs": {}, "schema": LEDGER_SCHEMA}
    for section, replaced in ((MINIFIED, minified), (OPTIMIZED, optimized)):
        if replaced:
            document[section] = {rel: _minified_entry(m) for rel, m in replaced.items()}
    return json_pieces(document, {"outputs": outputs})


def row(rel: str, r: Record) -> str:
    """One output's line of the ledger, without its separator (build/splice.py writes these too)."""
    return f'    {_string(rel)}: {{"key": {_string(r.key)}, "sha256": {_string(r.sha256)}, "size": {int(r.size)}}}'


def load_minified(target: Path, section: str = MINIFIED) -> dict[str, Minified]:
    """The user files assetpipe replaced in place by a smaller form of them: minified (opt-in [minify]),
    or, with `section` OPTIMIZED, image originals optimised (opt-in images.optimize_originals): what
    each was, and what it became.

    Unverified, like `load`: a file counts as replaced by assetpipe only while its bytes still hash to
    the recorded `sha256`; a file changed since (a new `vite build`) is a fresh original."""
    return _replaced(*_read(target), section)


def _replaced(document: dict, journal: list[dict], section: str) -> dict[str, Minified]:
    found: dict[str, Minified] = {}
    for rel, entry in [*document.get(section, {}).items(), *((e.get("rel"), e.get(section)) for e in journal)]:
        try:
            found[rel] = _minified_from(rel, entry)
        except (KeyError, TypeError, ValueError):
            continue  # an output's line of the journal, or a damaged entry
    return found


def journal_minified_line(record: Minified, section: str = MINIFIED) -> str:
    return json.dumps({section: _minified_entry(record), "rel": record.rel}) + "\n"


def _minified_entry(m: Minified) -> dict:
    return {"key": m.key, "original_sha256": m.original_sha256, "original_size": m.original_size,
            "sha256": m.sha256, "size": m.size}


def _minified_from(rel: str, entry: dict) -> Minified:
    return Minified(rel, int(entry["original_size"]), str(entry["original_sha256"]), int(entry["size"]),
                    str(entry["sha256"]), str(entry["key"]))


def journal_line(rel: str, record: Record) -> str:
    return json.dumps({"key": record.key, "rel": rel, "sha256": record.sha256, "size": record.size}) + "\n"
