"""Generate a tree of small text files for the scale benchmark: deterministic from a seed.

python bench/scale/generate.py N DEST [--seed S]

A realistic mix of a static site's text files (by count: 40 % .js, 15 % .css, 20 % .html, 15 % .json,
10 % .svg), sizes drawn per type (a few hundred bytes to a few tens of kB), three folders deep, about
100 files a folder. Content is words from a fixed vocabulary, so it compresses like real text. The same
N and seed always give the same bytes; `touch_one` changes one file the same way every time.
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

# (extension, share of files, smallest, largest size in bytes)
MIX = (("js", 40, 400, 24_000), ("css", 15, 300, 12_000), ("html", 20, 800, 16_000),
       ("json", 15, 120, 4_000), ("svg", 10, 250, 3_000))
_VOCABULARY = ("const let function return import export default class extends async await promise render state "
               "props value index item list grid flex margin padding color border width height display none block "
               "inline section header footer article main nav button input label form table cell row column "
               "data user product price cart order image title text link page route view model store action")
WORDS = tuple(_VOCABULARY.split())
PER_FOLDER = 100


def _text(rng: random.Random, size: int, ext: str) -> bytes:
    head = {"js": "export const m = [\n", "css": ".c {\n", "html": "<!doctype html><html><body>\n",
            "json": '{"items": [\n', "svg": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">\n'}[ext]
    parts = [head]
    length = len(head)
    while length < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))) + f" {rng.randint(0, 99999)}\n"
        parts.append(line)
        length += len(line)
    return "".join(parts).encode()[:size]


def path_of(i: int) -> str:
    folder, _ = divmod(i, PER_FOLDER)
    a, rest = divmod(folder, 400)
    b, c = divmod(rest, 20)
    return f"d{a:03d}/s{b:02d}/t{c:02d}"


def generate(count: int, dest: Path, seed: int = 1) -> None:
    rng = random.Random(seed)
    weights = [m[1] for m in MIX]
    made: set[str] = set()
    for i in range(count):
        ext, _, low, high = rng.choices(MIX, weights)[0]
        size = int(low * (high / low) ** (rng.random() ** 1.5))  # skewed towards small files
        folder = path_of(i)
        if folder not in made:
            os.makedirs(dest / folder, exist_ok=True)
            made.add(folder)
        (dest / folder / f"f{i:07d}.{ext}").write_bytes(_text(rng, size, ext))


def touch_one(dest: Path, count: int) -> Path:
    """Change one file (the middle one) by appending a line; the same change every time."""
    folder = dest / path_of(count // 2)
    if not folder.is_dir():  # a tree of generated trees side by side (q0/, q1/, ...): the middle one's
        tops = sorted(p for p in dest.iterdir() if p.is_dir() and not p.name.startswith("."))
        middle = tops[len(tops) // 2]
        folder = middle / path_of(count // 2 // len(tops))
    target = sorted(folder.iterdir())[0]
    with target.open("ab") as handle:
        handle.write(b"\n/* changed */\n")
    return target


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("count", type=int)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    generate(a.count, a.dest, a.seed)


if __name__ == "__main__":
    main()
