"""Two measured builds -> SizeDiff. Pure.

Identity survives content hashes: a file is known by its Vite logical name when either side has one
(`vite:src/pages/Prices.tsx`; the prefix keeps an entry chunk, whose Vite key is `index.html`, apart from
the page `index.html`), else by its path with the content hash shown as `*` (`assets/vendor-*.js`). Two
files of one build on one key are compared by their full paths instead, with a warning.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

from ..model import Notice
from .model import CATEGORIES, FileChange, Measured, MeasuredFile, SizeDiff, Sizes, Total

# Vite/Rollup's 8 base64url characters (with a digit, or a capital after the first character, so that
# `use-selector.js` and `logo-Homepage.svg` keep their names) or webpack's 8-64 hex digits, before a dot.
DEFAULT_HASH_PATTERN = (r"(?<=[-.])(?:(?=[A-Za-z0-9_-]{8}\.)(?=[A-Za-z_-]{0,7}[0-9]|[A-Za-z0-9_-][a-z0-9_-]{0,6}[A-Z])"
                        r"[A-Za-z0-9_-]{8}|(?=[a-f]{0,63}[0-9])[0-9a-f]{8,64}(?=\.))")
LOGICAL_PREFIX = "vite:"


def strip_hash(path: str, pattern: re.Pattern[str]) -> str:
    """`assets/index-2vZXRZ4C.js` -> `assets/index-*.js`: every match in the file name becomes `*`."""
    folder, _, name = path.rpartition("/")
    stripped = pattern.sub("*", name)
    return f"{folder}/{stripped}" if folder else stripped


def compare(base: Measured | None, head: Measured, *, metric: str = "brotli", hash_pattern: str = "",
            min_change: int = 1) -> SizeDiff:
    pattern = re.compile(hash_pattern or DEFAULT_HASH_PATTERN)
    base_files = base.files if base is not None else ()
    stripped = {f.path: strip_hash(f.path, pattern) for files in (base_files, head.files) for f in files}
    base_keys, head_keys, notices = identities(base_files, head.files, stripped)
    by_base = {base_keys[f.path]: f for f in base_files}
    by_head = {head_keys[f.path]: f for f in head.files}
    changes: list[FileChange] = []
    for key in sorted(by_base.keys() | by_head.keys()):
        old, new = by_base.get(key), by_head.get(key)
        name = stripped[(new or old).path]  # type: ignore[union-attr]
        changes.append(FileChange(key, name, _status(old, new, metric, min_change), old, new))
    changes.sort(key=lambda c: (-abs(c.delta(metric)), c.name, c.key))
    totals = _totals(base, head)
    return SizeDiff(metric, base, head, tuple(changes), totals, tuple(notices))


def identities(base: Iterable[MeasuredFile], head: Iterable[MeasuredFile],
               names: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str], list[Notice]]:
    """path -> key for each side, and a warning per key that several files of one build share.
    `names`: every path of both sides with its hash stripped (`strip_hash`), worked out once."""
    sides = (tuple(base), tuple(head))
    logical: dict[str, str] = {}  # stripped path -> Vite's name, learnt from either side
    for files in sides:
        for f in files:
            if f.logical:
                logical.setdefault(names[f.path], f.logical)
    keys: list[dict[str, str]] = []
    for files in sides:
        side: dict[str, str] = {}
        for f in files:
            name = f.logical or logical.get(names[f.path])
            side[f.path] = LOGICAL_PREFIX + name if name else names[f.path]
        keys.append(side)
    notices: list[Notice] = []
    crowded: set[str] = set()
    for side, label in zip(keys, ("base", "head"), strict=True):
        groups: dict[str, list[str]] = defaultdict(list)
        for path, key in side.items():
            groups[key].append(path)
        for key, paths in sorted(groups.items()):
            if len(paths) > 1:
                crowded.add(key)
                notices.append(Notice(key, f"{len(paths)} files in {label} share this name "
                                           f"({', '.join(sorted(paths))}); compared by full path"))
    for side in keys:
        for path, key in side.items():
            if key in crowded:
                side[path] = path
    return keys[0], keys[1], notices


def _status(old: MeasuredFile | None, new: MeasuredFile | None, metric: str, min_change: int) -> str:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    if old.sha256 and old.sha256 == new.sha256:
        return "unchanged"
    return "changed" if abs(new.sizes.of(metric) - old.sizes.of(metric)) >= min_change else "unchanged"


def _totals(base: Measured | None, head: Measured) -> tuple[Total, ...]:
    def total(name: str, pick: object) -> Total:
        head_files = [f for f in head.files if _picked(f, pick, head)]
        base_files = [f for f in base.files if _picked(f, pick, base)] if base is not None else []
        base_known = base is not None and (name != "initial" or base.initial is not None)
        head_known = name != "initial" or head.initial is not None
        return Total(name, _sum(base_files) if base_known else None, _sum(head_files) if head_known else None,
                     len(base_files), len(head_files))

    return (total("total", None), total("initial", "initial"), *(total(c, c) for c in CATEGORIES))


def _picked(f: MeasuredFile, pick: object, side: Measured) -> bool:
    if pick is None:
        return True
    if pick == "initial":
        return side.initial is not None and f.path in side.initial
    return f.category == pick


def _sum(files: Iterable[MeasuredFile]) -> Sizes:
    raw = gzip = brotli = 0  # plain ints: a Sizes per addition costs more than the sum itself
    for f in files:
        raw, gzip, brotli = raw + f.sizes.raw, gzip + f.sizes.gzip, brotli + f.sizes.brotli
    return Sizes(raw, gzip, brotli)
