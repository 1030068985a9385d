"""Two manifests of N files each, as a build of generate.py's tree writes them, for diff at any scale.

python bench/scale/manifests.py N DEST_DIR     (writes DEST_DIR/base.json and DEST_DIR/head.json)

A build of 1,000,000 files takes over an hour here; diff reads only the manifests, so these are written
directly, in the build's own layout (build/manifest.json_pieces), a line at a time: the same paths,
types and sidecars as generate.py's tree, sizes from the same seed; HEAD has one file in 50 changed,
one in 500 removed and as many added. One script in ten has a content hash in its name
(`c0000003-AbC1x_Q3.js`, as Vite names chunks), which changes with its size (one in five of them
changed), and half of those have a Vite name (`logical`): diff matches them across the rename.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

from generate import MIX, path_of

from assetpipe.build.manifest import json_pieces

TYPES = {"js": "text/javascript", "css": "text/css", "html": "text/html", "json": "application/json",
         "svg": "image/svg+xml"}


def _rows(count: int, head: bool) -> Iterator[tuple[str, dict]]:
    rng = random.Random(1)
    weights = [m[1] for m in MIX]
    for i in range(count):
        ext, _, low, high = rng.choices(MIX, weights)[0]
        size = int(low * (high / low) ** (rng.random() ** 1.5))
        if head and i % 500 == 7:
            continue  # removed
        if head and i % 50 == 3:
            size += 17  # changed
        name = f"{path_of(i)}/f{i:07d}.{ext}" if not (head and i % 500 == 11) else f"{path_of(i)}/n{i:07d}.{ext}"
        hashed = ext == "js" and i % 10 == 3
        if hashed:  # Vite's 8 base64url characters, a digit among them, from the content
            token = base64.urlsafe_b64encode(hashlib.sha256(f"{i}/{size}".encode()).digest()).decode()[:7]
            name = f"{path_of(i)}/c{i:07d}-{token}{i % 10}.js"
        digest = hashlib.sha256(f"{name}{size}".encode()).hexdigest()
        entry = {"size": size, "sha256": digest, "integrity": "sha384-" + digest[:64], "type": TYPES[ext],
                 "immutable": hashed, "encodings": {"gzip": {"file": name + ".gz", "size": size // 3},
                                                    "zstd": {"file": name + ".zst", "size": size // 3 + 9}}}
        if hashed and i % 20 == 3:
            entry["logical"] = f"src/c{i}.ts"
        yield name, entry


def _in_key_order(rows: Iterator[tuple[str, dict]]) -> Iterator[tuple[str, dict]]:
    """Sorted a folder at a time: the folders come in key order already (generate.path_of), so a
    million rows are never held at once."""
    folder, batch = None, []
    for rel, entry in rows:
        here = rel.rsplit("/", 1)[0]
        if here != folder:
            yield from sorted(batch)
            folder, batch = here, []
        batch.append((rel, entry))
    yield from sorted(batch)


def write(count: int, path: Path, head: bool) -> None:
    import json

    encode = json.JSONEncoder(sort_keys=True).encode
    lines = (f"    {encode(rel)}: {encode(entry)}" for rel, entry in _in_key_order(_rows(count, head)))
    with path.open("w", encoding="utf-8") as out:
        for piece in json_pieces({"schema": 1, "files": {}, "failures": []}, {"files": lines}):
            out.write(piece)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("count", type=int)
    ap.add_argument("dest", type=Path)
    a = ap.parse_args()
    a.dest.mkdir(parents=True, exist_ok=True)
    write(a.count, a.dest / "base.json", head=False)
    write(a.count, a.dest / "head.json", head=True)


if __name__ == "__main__":
    main()
