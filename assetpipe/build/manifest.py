"""The manifest (a contract, SPEC §2.4): every file of the build with its hashes, type and encodings.

Built from the inventory and the kept encodings; serialised with sorted keys, POSIX paths relative to
the build folder and no timestamps, so equal builds give equal bytes. `logical` names come from
Vite's `.vite/manifest.json` when the build has one.

`immutable` (a year of caching for the upload plan, `_headers` and the docs) is judged here, most
certain first: a file Vite's manifest lists with a hash-shaped token in its name (hashed by
construction), one that a `[cache] immutable` glob names, or, with `[cache] by_name`, one whose name
alone carries a random-looking token (naming.content_hash). The last is the guess that can be wrong, so
the build reports each file judged that way. Source maps never count by name: `main-jwM55MSU.js.map`
carries its chunk's hash, and a map changes without its chunk when a comment the minifier drops does.
HTML never counts: a page is its address.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import CacheConfig
from ..globs import matches
from ..mediatypes import HTML_TYPES, is_source_map
from ..model import Encoding, Failure, Minified, SourceFile
from ..naming import content_hash, listed_hash

SCHEMA = 1
NAME = "manifest.json"
# Where Vite writes its manifest: `.vite/manifest.json` since Vite 5, `manifest.json` before.
VITE_MANIFESTS = (".vite/manifest.json", "manifest.json")
# Why a file is immutable (judge_immutable): Vite's manifest lists it, a [cache] immutable glob names it,
# or its name alone looks hashed (reported).
BY_VITE, BY_CONFIG, BY_NAME = "vite", "config", "name"


@dataclass(frozen=True)
class ViteManifest:
    logical: Mapping[str, str]  # emitted file -> the source key Vite knows it by
    emitted: frozenset[str]  # every file Vite's manifest names (entries, chunks, css, assets)


def read_vite(root: Path, sources: tuple[SourceFile, ...]) -> ViteManifest:
    """What Vite's manifest says about the build, or an empty one when there is none (or it is not Vite's)."""
    present = {s.rel for s in sources}
    for rel in VITE_MANIFESTS:
        if rel not in present:
            continue
        try:
            data = json.loads((root / rel).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if is_vite(data):
            return _from_vite(data)
    return ViteManifest({}, frozenset())


def is_vite(data: object) -> bool:
    """Whether parsed JSON is Vite's manifest: an object of chunks, each naming its emitted `file`."""
    return isinstance(data, dict) and bool(data) and all(isinstance(v, dict) and "file" in v for v in data.values())


def _from_vite(data: dict[str, dict[str, Any]]) -> ViteManifest:
    logical: dict[str, str] = {}
    emitted: set[str] = set()
    for key in sorted(data):
        chunk = data[key]
        file = chunk.get("file")
        if isinstance(file, str):
            emitted.add(file)
            # Shared chunks are keyed "_name-hash.js": not a source name, so no logical name.
            if not key.startswith("_"):
                logical.setdefault(file, key)
        for listed in ("css", "assets"):
            emitted.update(f for f in chunk.get(listed, []) if isinstance(f, str))
    return ViteManifest(logical, frozenset(emitted))


def judge_immutable(sources: tuple[SourceFile, ...], vite: ViteManifest, cfg: CacheConfig) -> dict[str, str]:
    """The files that are safe to cache for a year, each with why (BY_VITE, BY_CONFIG or BY_NAME)."""
    judged: dict[str, str] = {}
    for source in sources:
        rel = source.rel
        if source.media_type in HTML_TYPES:
            continue  # a page is its address: never immutable, whatever its name
        if rel in vite.emitted and listed_hash(rel) is not None:
            judged[rel] = BY_VITE
        elif any(matches(glob, rel) for glob in cfg.immutable):
            judged[rel] = BY_CONFIG
        elif cfg.by_name and not is_source_map(rel) and content_hash(rel) is not None:
            judged[rel] = BY_NAME
    return judged


def build(sources: tuple[SourceFile, ...], encodings: Mapping[str, Mapping[str, Encoding]],
          failures: tuple[Failure, ...], vite: ViteManifest, **parts: Any) -> dict[str, Any]:
    """The manifest as a JSON-ready dict; `parts` are stream's keyword arguments (`minified`, `images`,
    `optimized`, `immutable`: judge_immutable's answer, by default the defaults')."""
    entry = _entries(sources, encodings, vite, **parts)
    return {"schema": SCHEMA, "files": {source.rel: entry(source) for source in sources},
            "failures": _failures(failures)}


def stream(
    sources: tuple[SourceFile, ...],
    encodings: Mapping[str, Mapping[str, Encoding]],
    failures: tuple[Failure, ...],
    vite: ViteManifest,
    minified: Mapping[str, Minified] | None = None,
    images: Mapping[str, Mapping[str, Any]] | None = None,
    optimized: Mapping[str, Minified] | None = None,
    immutable: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """`dumps(build(...))`, piece by piece in key order: one file's entry in memory at a time, never the
    whole document (90 MB of text at 200,000 files)."""
    entry = _entries(sources, encodings, vite, minified, images, optimized, immutable)
    encode = json.JSONEncoder(sort_keys=True).encode
    rows = (row(source.rel, entry(source), encode) for source in sorted(sources, key=_rel))
    return json_pieces({"schema": SCHEMA, "files": {}, "failures": _failures(failures)}, {"files": rows})


def row(rel: str, entry: Mapping[str, Any], encode: Callable[[Any], str]) -> str:
    """One file's line of the manifest, without its separator (build/splice.py writes these too)."""
    return f"    {encode(rel)}: {encode(entry)}"


def entries(sources: tuple[SourceFile, ...], encodings: Mapping[str, Mapping[str, Encoding]], vite: ViteManifest,
            immutable: Mapping[str, str]) -> Callable[[SourceFile], dict[str, Any]]:
    """One file's manifest entry, as `stream` makes it for a file neither minified, optimised nor an image."""
    return _entries(sources, encodings, vite, immutable=immutable)


def _rel(source: SourceFile) -> str:
    return source.rel


def _failures(failures: tuple[Failure, ...]) -> list[dict[str, str]]:
    return [{"file": f.file, "reason": f.reason} for f in sorted(failures, key=lambda f: (f.file, f.reason))]


def _entries(
    sources: tuple[SourceFile, ...],
    encodings: Mapping[str, Mapping[str, Encoding]],
    vite: ViteManifest,
    minified: Mapping[str, Minified] | None = None,
    images: Mapping[str, Mapping[str, Any]] | None = None,
    optimized: Mapping[str, Minified] | None = None,
    immutable: Mapping[str, str] | None = None,
) -> Callable[[SourceFile], dict[str, Any]]:
    """One file's manifest entry, made when it is wanted."""
    judged = judge_immutable(sources, vite, CacheConfig()) if immutable is None else immutable

    def entry_of(source: SourceFile) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "size": source.size,
            "sha256": source.sha256,
            "integrity": source.sha384,
            "type": source.media_type,
            "immutable": source.rel in judged,
        }
        if source.rel in vite.logical:
            entry["logical"] = vite.logical[source.rel]
        for name, replaced in (("minified", minified), ("optimized", optimized)):
            if replaced and source.rel in replaced:
                original = replaced[source.rel]
                entry[name] = {"original_size": original.original_size, "original_sha256": original.original_sha256}
        if images and source.rel in images:
            entry["image"] = images[source.rel]
        kept = encodings.get(source.rel)
        if kept:
            entry["encodings"] = {codec: {"file": e.file, "size": e.size} for codec, e in sorted(kept.items())}
        return entry

    return entry_of


def dumps(document: Mapping[str, Any]) -> bytes:
    """JSON with sorted keys, one line per file: readable in a diff, and written by json's C encoder
    (an indented dump takes the pure-Python path, ten times slower on a 2,000-file build)."""
    return json_lines(document)


def json_lines(document: Mapping[str, Any], rows: Mapping[str, Iterable[str]] | None = None) -> bytes:
    """`document` with sorted keys, each member of a non-empty object value on a line of its own.
    `rows` gives some of those lines ready-made, in the same form, sorted (the ledger's thousands of
    outputs, written faster than by the encoder: see ledger.encode)."""
    return "".join(json_pieces(document, rows)).encode("utf-8")


def json_pieces(document: Mapping[str, Any], rows: Mapping[str, Iterable[str]] | None = None) -> Iterator[str]:
    """json_lines' text, piece by piece: a `rows` iterable is consumed as it is written (Writer.write_state)."""
    # One encoder for every line: json.dumps with an argument builds a new one per call, which was
    # most of the cost on a 6,000-line ledger.
    encode = json.JSONEncoder(sort_keys=True).encode
    yield "{\n"
    for index, name in enumerate(sorted(document)):
        separator = ",\n" if index else ""
        value = document[name]
        if rows is not None and name in rows:
            lines = iter(rows[name])
        elif isinstance(value, dict) and value:
            lines = (f"    {encode(key)}: {encode(value[key])}" for key in sorted(value))
        else:
            yield f"{separator}  {encode(name)}: {encode(value)}"
            continue
        first = next(lines, None)
        if first is None:
            yield f"{separator}  {encode(name)}: {{}}"
            continue
        yield f"{separator}  {encode(name)}: {{\n{first}"
        for line in lines:
            yield ",\n" + line
        yield "\n  }"
    yield "\n}\n"
