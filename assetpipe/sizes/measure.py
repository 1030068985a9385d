"""One side of a size comparison: an assetpipe manifest, or a built folder, read into `Measured`.

A folder's own `.assetpipe/manifest.json` is used when it has one; otherwise the folder is scanned and
measured in memory, and nothing is written into it. Compressed sizes come from the manifest's sidecars;
a compressible file without one is compressed here with the build's own codecs and settings (when its
bytes are at hand and still match the manifest), so both sides are measured alike. Files that are never
precompressed (fonts in woff/woff2, archives, media) count at their raw size in every column, and a
raster image at its same-URL .avif (else .webp) sidecar in the compressed columns: what a server sends
(build/wire.py, the one definition of "over the wire"); no encoded size is counted above the raw size,
since a server that has no smaller sidecar sends the file as it is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from .. import mediatypes
from ..build import ledger, manifest
from ..build.scan import scan
from ..build.wire import ignored, over_the_wire
from ..compress import codecs as compress
from ..config import CompressConfig, Config
from ..model import Failure, Notice, UsageError
from . import manifestlines
from .model import ImageInfo, ImageVariant, Measured, MeasuredFile, Sizes

MANIFEST = f"{ledger.STATE_DIR}/{manifest.NAME}"
_FONTS = frozenset({"woff", "woff2", "ttf", "otf", "eot"})
_SCRIPTS = frozenset({"js", "mjs", "cjs"})
_COLUMNS = (("brotli", "br"), ("gzip", "gzip"))  # a compressed size column and the sidecar it comes from


def measure(path: Path, config: Config, *, jobs: int = 1) -> Measured:
    """Read one side; UsageError when it cannot be read (a missing path is the caller's decision)."""
    located = manifest_of(path)
    if located is not None:
        return _from_file(*located, config, jobs)
    if path.is_dir():
        return _from_folder(path, config, jobs)
    raise UsageError(f"{path}: no such file or folder")


def manifest_of(path: Path) -> tuple[Path, Path | None, str] | None:
    """(the manifest file, the folder its files are in when at hand, the label) of a side given as a
    manifest or a built folder with one; None for a folder without a manifest (or no such path)."""
    if path.is_dir():
        state = path / MANIFEST
        return (state, path, str(path)) if state.is_file() else None
    if path.is_file():
        return path, path.parent.parent if path.parent.name == ledger.STATE_DIR else None, str(path)
    return None


def _from_file(path: Path, root: Path | None, label: str, config: Config, jobs: int) -> Measured:
    """A manifest read a line at a time when it is in the build's layout (manifestlines), else whole."""
    try:
        document = {"failures": manifestlines.failures(path), "files": manifestlines.entries(path)}
        return _from_manifest(document, root, label, config, jobs)
    except (manifestlines.NotLines, OSError, UnicodeDecodeError, UsageError):  # the whole read says what is wrong
        return _from_manifest(_read_manifest(path), root, label, config, jobs)


def category(rel: str, media_type: str) -> str:
    """js, css, html, image, font or other: the groups budgets and totals use."""
    ext = mediatypes.extension(rel)
    if ext in _SCRIPTS or media_type == "text/javascript":
        return "js"
    if ext == "css" or media_type == "text/css":
        return "css"
    if media_type == "text/html" or ext in {"html", "htm"}:
        return "html"
    if media_type.startswith("image/") and ext != "ico":
        return "image"
    if ext in _FONTS or media_type.startswith("font/"):
        return "font"
    return "other"


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != manifest.SCHEMA or not isinstance(data.get("files"), dict):
        raise UsageError(f"{path}: not an assetpipe manifest (schema {manifest.SCHEMA}){_which_instead(path, data)}")
    return data


def _which_instead(path: Path, data: object) -> str:
    """Given Vite's manifest (`DIR/.vite/manifest.json`, or Vite 4's `DIR/manifest.json`), the one to give."""
    if not manifest.is_vite(data):
        return ""
    folder = path.parent.parent if path.parent.name == ".vite" else path.parent
    ours = folder / MANIFEST
    if ours.is_file():
        return f": it is Vite's; did you mean {ours}?"
    return f": it is Vite's; give the built folder {folder}, or {ours} once `assetpipe build` has written it"


def _from_folder(root: Path, config: Config, jobs: int) -> Measured:
    inventory = scan(root, ledger.load(root))
    vite = manifest.read_vite(root, inventory.sources)
    document = manifest.build(inventory.sources, {}, inventory.failures, vite)
    return _from_manifest(document, root, str(root), config, jobs, notices=inventory.notices)


def _from_manifest(document: Mapping[str, Any], root: Path | None, label: str, config: Config, jobs: int,
                   notices: tuple[Notice, ...] = ()) -> Measured:
    files: list[MeasuredFile] = []
    todo: list[tuple[int, str, str]] = []  # (index, path, codec name) to compute
    listed = document["files"]
    for rel, entry in sorted(listed.items()) if isinstance(listed, Mapping) else listed:
        if ignored(rel, config):
            continue
        found, missing = entry_file(rel, entry, label, root is not None)
        todo.extend((len(files), rel, codec) for codec in missing)
        files.append(found)
    failures = failures_of(document.get("failures", []))
    if todo and root is not None:
        files = _compute(files, todo, root, config.compress, jobs, failures)
    initial = initial_js(root) if root is not None else None
    return Measured(label, tuple(files), initial, tuple(failures), tuple(notices), root)


def entry_file(rel: str, entry: Any, label: str, at_hand: bool) -> tuple[MeasuredFile, tuple[str, ...]]:
    """One manifest entry as a MeasuredFile, and the codecs whose size is to be computed from its bytes
    (`_compute`; none unless the files are `at_hand`). UsageError for an entry without a size."""
    if not isinstance(entry, dict) or not isinstance(entry.get("size"), int):
        raise UsageError(f"{label}: files.{rel}: not a manifest entry (no size)")
    media_type = str(entry.get("type", mediatypes.OCTET_STREAM))
    raw = entry["size"]
    encodings = entry.get("encodings") or {}
    sidecars = {name: found["size"] for name, found in encodings.items()
                if isinstance(found, dict) and isinstance(found.get("size"), int)}
    sizes = {metric: over_the_wire(raw, sidecars, codec) for metric, codec in _COLUMNS}
    missing: tuple[str, ...] = ()
    if _compressible(rel, media_type) and at_hand:  # no sidecar: computed as the build would
        missing = tuple(codec for _, codec in _COLUMNS if codec not in sidecars)
    return MeasuredFile(rel, category(rel, media_type), media_type, str(entry.get("sha256", "")),
                        Sizes(raw, sizes["gzip"], sizes["brotli"]), entry.get("logical"),
                        _image(entry.get("image"))), missing


def failures_of(listed: Any) -> list[Failure]:
    """The manifest's `failures`, the entries that are objects."""
    return [Failure(str(f.get("file")), str(f.get("reason"))) for f in listed if isinstance(f, dict)]


def _compressible(rel: str, media_type: str) -> bool:
    if media_type.startswith("image/") and media_type != "image/svg+xml":
        return False
    return mediatypes.classify(rel, b"")[2]


def _compute(files: list[MeasuredFile], todo: list[tuple[int, str, str]], root: Path, settings: CompressConfig,
             jobs: int, failures: list[Failure]) -> list[MeasuredFile]:
    """Compress what the manifest has no sidecar for, at the build's own settings, on a thread pool."""
    codecs = {c.name: c for c in compress.codecs(replace(settings, formats=("br", "gzip")))}
    wanted = sorted({(i, rel) for i, rel, _ in todo})
    data: dict[int, bytes | None] = {}
    for i, rel in wanted:
        try:
            blob = (root / rel).read_bytes()
        except OSError:
            blob = None  # a manifest without its files: raw sizes stand in
        if blob is not None and files[i].sha256 and hashlib.sha256(blob).hexdigest() != files[i].sha256:
            blob = None  # changed since the manifest was written: its bytes are not what it describes
        data[i] = blob
    work = [(i, codec) for i, _, codec in todo if data[i] is not None]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        sizes = list(pool.map(lambda item: len(codecs[item[1]].compress(data[item[0]] or b"")), work))
    # kept by the build's rule, or the original is what a server sends (build/wire.py)
    sizes = [size if compress.keep(files[i].sizes.raw, size, settings.min_ratio) else files[i].sizes.raw
             for (i, _), size in zip(work, sizes, strict=True)]
    result = list(files)
    for (i, codec), size in zip(work, sizes, strict=True):
        metric = "brotli" if codec == "br" else "gzip"
        result[i] = replace(result[i], sizes=replace(result[i].sizes, **{metric: size}))
    return result


def _image(raw: Any) -> ImageInfo | None:
    if not isinstance(raw, dict):
        return None
    variants = tuple(
        ImageVariant(str(v.get("file", "")), str(v.get("format", "")), int(v.get("width", 0)),
                     int(v.get("height", 0)), int(v.get("size", 0)))
        for v in raw.get("variants", []) if isinstance(v, dict))
    return ImageInfo(int(raw.get("width", 0)), int(raw.get("height", 0)), str(raw.get("format", "")),
                     tuple(sorted(variants, key=lambda v: (v.format, v.width, v.file))))


def initial_js(root: Path) -> frozenset[str] | None:
    """Vite's entry chunks and everything they import statically, or None without Vite's manifest."""
    for rel in manifest.VITE_MANIFESTS:
        try:
            data = json.loads((root / rel).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if manifest.is_vite(data):
            return _closure(data)
    return None


def _closure(chunks: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    seen: set[str] = set()
    stack = sorted(key for key, chunk in chunks.items() if chunk.get("isEntry"))
    while stack:
        key = stack.pop()
        if key in seen or key not in chunks:
            continue
        seen.add(key)
        stack.extend(i for i in chunks[key].get("imports", []) if isinstance(i, str))
    files = {str(chunks[key]["file"]) for key in seen}
    return frozenset(f for f in files if mediatypes.extension(f) in _SCRIPTS)


def source_map_for(root: Path, rel: str, code: bytes) -> tuple[str, bytes] | None:
    """The source map of a JS file: its `sourceMappingURL` (a file or a data: URL), else `FILE.map`."""
    match = _MAP_URL.search(code[-4096:])
    candidates: list[str | None] = []
    if match:
        url = match["url"].decode("utf-8", "replace")
        if url.startswith("data:"):
            return _data_url(rel, url)
        if "://" not in url:
            folder = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
            candidates.append(_normalise(folder + url.split("?", 1)[0].split("#", 1)[0]))
    candidates.append(rel + ".map")
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            return candidate, (root / candidate).read_bytes()
        except OSError:
            continue
    return None


_MAP_URL = re.compile(rb"//[#@] sourceMappingURL=(?P<url>\S+)\s*$")


def _data_url(rel: str, url: str) -> tuple[str, bytes] | None:
    head, _, body = url.partition(",")
    try:
        blob = base64.b64decode(body) if head.endswith(";base64") else unquote_to_bytes(body)
    except ValueError:
        return None
    return rel, blob


def _normalise(rel: str) -> str | None:
    parts: list[str] = []
    for part in rel.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None  # outside the build folder
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)
