"""The ledger read a row at a time (ledger._streamed) gives exactly what reading the whole document gives,
for every file the writer makes and for files it does not make (damaged, edited, another layout)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from assetpipe.build import ledger
from assetpipe.build.ledger import Record

_ALPHABET = 'ab/.-_ 0é"\\,:{}\u2028'


def _reference(path: Path) -> dict[str, tuple[str, str, int]]:
    """What the ledger file says, read the plain way: the whole JSON document, damaged entries left out."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    outputs = document.get("outputs") if isinstance(document, dict) and document.get("schema") == 1 else None
    found = {}
    for rel, entry in outputs.items() if isinstance(outputs, dict) else ():
        try:
            found[rel] = (str(entry["key"]), str(entry["sha256"]), int(entry["size"]))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def _read(target: Path) -> dict[str, tuple[str, str, int]]:
    return {rel: (r.key, r.sha256, r.size) for rel, r in ledger.read(target).outputs.items()}


def _records(rng: random.Random, n: int, alphabet: str) -> dict[str, Record]:
    records = {}
    for _ in range(n):
        rel = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        key = rng.choice(["", ledger.COPY]) + f"{rng.getrandbits(256):064x}"
        records[rel] = Record(key, f"{rng.getrandbits(256):064x}", rng.choice([0, 1, rng.randint(2, 10**12)]))
    return records


@pytest.mark.parametrize("seed", range(30))
def test_a_ledger_the_writer_made_is_read_row_by_row_and_equals_the_whole_documents_reading(
        tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    records = _records(rng, rng.randint(1, 60), _ALPHABET if seed % 2 else "abc/._-0")
    path = tmp_path / ledger.STATE_DIR / ledger.OUTPUTS
    path.parent.mkdir()
    path.write_bytes(ledger.encode(records))
    assert ledger._streamed(path) is not None  # the row-by-row path is the one taken
    assert _read(tmp_path) == _reference(path) == {rel: (r.key, r.sha256, r.size) for rel, r in records.items()}


def _damaged(text: str) -> list[str]:
    rows_end = text.index("\n  },\n")
    first_row = text.index("\n    ") + 1
    return [
        text[:rows_end] + "," + text[rows_end:],  # a comma after the last row: not JSON
        text.replace('", "size": ', '", "size": -', 1),  # a negative size
        text.replace('", "size": ', '", "size": 0', 1),  # a number JSON does not allow (a leading 0)
        text.replace('"size": ', '"size": 1.5, "x": ', 1),  # another shape of row, still JSON
        text[: len(text) // 2],  # cut short
        text.replace("\n", "\r\n"),  # another line ending, still JSON
        text.replace('"schema": 1', '"schema": 2'),  # another version
        text.replace(",\n    ", ",\n\n    ", 1),  # an empty line between rows, still JSON
        text[:first_row] + '    "x": 5,\n' + text[first_row:],  # a damaged entry, still JSON
        text.replace("\n  },\n", '\n  },\n  "minified": {},\n', 1),  # an opt-in section
        text.replace('"schema": 1\n}\n', '"schema": 1\n}\n{}'),  # something after the document
        '{\n  "outputs": {},\n  "schema": 1\n}\n',  # no output at all
    ]


@pytest.mark.parametrize("case", range(12))
def test_a_ledger_the_writer_did_not_make_reads_as_the_whole_document_reads(tmp_path: Path, case: int) -> None:
    records = _records(random.Random(case), 8, "abc/._-0")
    path = tmp_path / ledger.STATE_DIR / ledger.OUTPUTS
    path.parent.mkdir()
    path.write_text(_damaged(ledger.encode(records).decode())[case], encoding="utf-8", newline="")
    assert _read(tmp_path) == _reference(path)


def test_bytes_that_are_not_utf8_read_as_no_ledger(tmp_path: Path) -> None:
    path = tmp_path / ledger.STATE_DIR / ledger.OUTPUTS
    path.parent.mkdir()
    data = ledger.encode(_records(random.Random(1), 5, "abc"))
    path.write_bytes(data.replace(b'"size"', b'"s\xffize"', 1))
    assert _read(tmp_path) == _reference(path) == {}
