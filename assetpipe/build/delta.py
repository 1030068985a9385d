"""The delta build: what changed since the recorded build, when that is only a few plain text files.

A full build that changed nothing records every folder's listing (build/listing.py) and what it reported.
The next build with the same fingerprint (noop.fingerprint) walks the folder and compares each folder's
listing with the record; within the folders that differ, the names whose stamp moved, that are new or
that are gone are the changes (`find`). When every change is a compressible text file that nothing else
in the build reads (JS, CSS, JSON, ...; an SVG while pages are rewritten only when its size, which the
pages' rewrite reads, is the recorded one; HTML, which build/deltapages.py rewrites while pages are
rewritten), and that is not one of assetpipe's
outputs (an output whose stamp moved must still hold the bytes the ledger records), only those files are
hashed, compressed and written (build/deltarun.py), and the manifest and the ledger are spliced. Anything
else, or anything unsure, raises Fallback with why, and the full build runs.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import mediatypes, naming
from ..cache.statmemo import StatMemo
from ..html.svgsize import size_of_file
from ..model import Kind, SourceFile
from . import forkwalk, listing, manifest, splice
from .ledger import OUTPUTS, STATE_DIR, TEMP_SUFFIX, Record
from .pageinputs import svg_text
from .request import BuildRequest
from .scan import remembered

MAX_CHANGES = 1000  # more changed names than this: a full build (it is a delta for a few files)
# More files recorded racy (times zeroed) that show the same size, inode and device now: a full build. Each is
# only hashed and compared with what the manifest or the ledger lists (the full build would hash it too: the
# stat memo does not trust a racy stamp either); the bound keeps the names held in memory bounded.
MAX_SETTLING = 100_000
_IMAGE_SIDECARS = (".avif", ".webp")
# An SVG's size is read by the pages' rewrite (the width and height of its <img>, build/pictures.py): while
# pages are rewritten, an SVG changed, added or removed whose size is not the recorded one can change a page,
# which only the full build redoes
_SVG = "image/svg+xml"
_SVG_READ = "an SVG, whose size the pages' rewrite reads, while pages are rewritten"
# The keys of a manifest entry a delta can make (no image, minified or optimised entry)
_PLAIN_KEYS = frozenset({"size", "sha256", "integrity", "type", "immutable", "logical", "encodings"})


class Fallback(Exception):
    """Why the delta does not apply: the full build runs."""


@dataclass(frozen=True)
class Found:
    """What changed since the record, checked: the changed or new text files, the removed ones, what the
    ledger and the manifest said of them, and the folders to record again."""

    sources: tuple[SourceFile, ...]  # changed or new, read now
    removed: tuple[str, ...]  # sources that are gone
    records: dict[str, Record]  # the ledger's records of their sidecars (and of checked outputs)
    old: dict[str, dict]  # the manifest's entries of the changed and removed sources (and Vite's manifest)
    folders: tuple[str, ...]  # the folders whose listing changed
    manifest: splice.Layout  # where their rows are in the manifest
    ledger: splice.Layout  # and in the ledger


def unsupported(request: BuildRequest) -> str | None:
    """Why no build of this request is a delta, beyond what noop.fingerprint already excludes."""
    if request.executor != "local" or request.shared_cache is not None:
        return "another executor or a shared cache"
    if request.config.minify.types():
        return "[minify] rewrites text files in place"
    if request.measure_lcp or request.config.html.measure_lcp:
        return "--measure-lcp"
    return None


def changed_folders(record: listing.Record, root: Path, workers: int = 1) -> list[tuple[str, bytes]]:
    """The folders whose listing differs from the record (with the listing now), by rel, walked on up to
    `workers` processes (forkwalk.py); Fallback for a folder added or removed."""
    recorded = record.digests()
    found = forkwalk.compare(root, recorded, workers)
    if found.new is not None:
        raise Fallback(f"{found.new}: a new folder")
    if found.seen != len(recorded):
        raise Fallback("a folder was removed")
    return list(found.changed)


def named_folders(record: listing.Record, root: Path, paths: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """`changed_folders` for `assetpipe watch`, which knows the changed paths from its events: only their
    folders' listings (and `.assetpipe/`'s) are read, not the whole folder's."""
    recorded = record.digests()
    changed: list[tuple[str, bytes]] = []
    for rel in sorted({STATE_DIR, *(path.rpartition("/")[0] for path in paths)}):
        if rel not in recorded:
            raise Fallback(f"{rel}: a folder not in the record")
        blob = listing.listing_of(root, rel)
        if recorded[rel] != listing.digest(blob):
            changed.append((rel, blob))
    return changed


def find(record: listing.Record, root: Path, changed: list[tuple[str, bytes]], codecs: tuple[str, ...],
         memo: StatMemo, pages: bool = False, sizes: Callable[[str], str | None] | None = None) -> Found:
    """What changed, checked; `pages`: HTML is plain text in this build (no page is rewritten); `sizes`:
    each SVG's size as the recorded build's rewrite read it (pageinputs.svg_text), given when a changed page
    is rewritten by the delta (build/deltapages.py); else, while pages are rewritten, neither a page nor an
    SVG is a delta's. `memo`: the stat memo, which learns every file read here (as the scan's would), so the
    next full build does not read them again."""
    rewritten = sizes is not None
    present, gone = _names(record, changed)
    candidates = set(present) | set(gone)
    sidecars = {naming.sidecar(rel, codec) for rel in candidates for codec in naming.SIDECAR_SUFFIXES}
    state = root / STATE_DIR
    outputs = splice.locate(state / OUTPUTS, splice.LEDGER, candidates | sidecars)
    records = {rel: Record(e["key"], e["sha256"], int(e["size"])) for rel, e in _parsed(outputs.rows).items()}
    # What the manifest says of the files whose stamp moved (one recorded racy, written within RACY_NS of the
    # recording build's start, or only touched, may hold the bytes it lists), of the gone ones and of Vite's
    # manifest: one pass over the manifest, whose layout the splice then uses for the real changes.
    files = splice.locate(state / manifest.NAME, splice.MANIFEST, {rel for rel in present if rel not in records}
                          | set(gone) | set(manifest.VITE_MANIFESTS))
    listed = _parsed(files.rows)
    sources: list[SourceFile] = []
    for rel in present:
        path = root / rel
        found = remembered(str(path), rel, memo)
        if rel in records:  # an output recorded racy: it must still hold what the ledger says
            if (found.sha256, found.size) != (records[rel].sha256, records[rel].size):
                raise Fallback(f"{rel}: an output of assetpipe's, changed by hand")
            continue
        before = listed.get(rel)
        if before is not None and (before.get("sha256"), before.get("size")) == (found.sha256, found.size):
            continue  # the bytes the last build saw: nothing to do, whatever kind of file (re-recorded below)
        _plain_name(rel)
        media_type, kind, compressible = mediatypes.classify(rel, found.head)
        if _SVG in (media_type, (before or {}).get("type")) and not pages:
            _same_size(rel, path, sizes)
        if kind is not Kind.TEXT or not compressible or (media_type in mediatypes.HTML_TYPES
                                                         and not (pages or rewritten)):
            raise Fallback(f"{rel}: {media_type}, not a compressible text file other than HTML"
                           + (" while pages are rewritten" if media_type in mediatypes.HTML_TYPES else ""))
        for codec in codecs:
            output = naming.sidecar(rel, codec)
            if output not in records and os.path.lexists(root / output):
                raise Fallback(f"{output}: a file of the user's where a sidecar goes")
        sources.append(SourceFile(rel, found.size, found.sha256, found.sha384, media_type, kind, compressible))
    if len(sources) > MAX_CHANGES:
        raise Fallback(f"more than {MAX_CHANGES} files changed")
    removed: list[str] = []
    for rel in gone:
        if rel in records:
            raise Fallback(f"{rel}: an output of assetpipe's, removed")
        _plain_name(rel)
        removed.append(rel)
    wanted = {s.rel for s in sources} | set(removed) | set(manifest.VITE_MANIFESTS)
    old = {rel: entry for rel, entry in listed.items() if rel in wanted}
    for rel in removed:
        if rel not in old:
            raise Fallback(f"{rel}: removed, and not a file the manifest lists")
        if old[rel].get("type") == _SVG and not pages:
            _same_size(rel, None, sizes)
    for rel, entry in old.items():
        if rel not in manifest.VITE_MANIFESTS:
            plain(rel, entry, pages, rewritten)
    return Found(tuple(sources), tuple(removed), records, old, tuple(rel for rel, _ in changed), files, outputs)


def plain(rel: str, entry: dict, pages: bool = False, rewritten: bool = False) -> None:
    """Fallback unless a manifest entry is one a delta can replace: a compressible text file's (not HTML's
    or an SVG's unless `pages`, or `rewritten`: pages rewritten by the delta, an SVG's size checked
    unchanged), with no image, minified or optimised part."""
    media_type, kind, compressible = mediatypes.classify(rel, b"")
    if _SVG in (media_type, entry.get("type")) and not (pages or rewritten):
        raise Fallback(f"{rel}: {_SVG_READ}")
    if (entry.get("type") != media_type or kind is not Kind.TEXT or not compressible
            or (media_type in mediatypes.HTML_TYPES and not (pages or rewritten))
            or not _PLAIN_KEYS.issuperset(entry)):
        raise Fallback(f"{rel}: was {entry.get('type')}, not a plain compressible text file")


def _same_size(rel: str, path: Path | None, sizes: Callable[[str], str | None] | None) -> None:
    """Fallback unless an SVG changed (`path`) or removed (None) leaves its size as the recorded build's
    rewrite read it (none, for a removed one): then no page's `<img>` of it changes."""
    if sizes is None:
        raise Fallback(f"{rel}: {_SVG_READ}")
    size = None if path is None else size_of_file(path)
    if (None if size is None else svg_text(size)) != sizes(rel):
        raise Fallback(f"{rel}: an SVG whose size changed, which the pages' rewrite reads")


def _names(record: listing.Record, changed: list[tuple[str, bytes]]) -> tuple[list[str], list[str]]:
    """The files whose stamp moved or that are new, and the ones that are gone, in the changed folders."""
    present: list[str] = []
    gone: list[str] = []
    settling = 0  # of them, files recorded racy that may hold the bytes listed: each is hashed, then compared
    for folder, blob in changed:
        if folder == STATE_DIR:
            raise Fallback(f"{STATE_DIR}/ changed since the record")
        before, now = listing.entries(record.listing(folder)), listing.entries(blob)
        for name in sorted(before.keys() | now.keys()):
            if before.get(name) == now.get(name):
                continue
            rel = f"{folder}/{name}" if folder else name
            for stamp in (before.get(name), now.get(name)):
                if stamp is not None and not stat.S_ISREG(stamp[0]):
                    raise Fallback(f"{rel}: not a plain file (a folder, a link, ...)")
            if name.endswith(TEMP_SUFFIX):
                raise Fallback(f"{rel}: a temp file of an interrupted build")
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                raise Fallback(f"{rel!r}: not a UTF-8 name") from None
            (present if name in now else gone).append(rel)
            if _racy(before.get(name), now.get(name)):
                settling += 1
                if settling > MAX_SETTLING:
                    raise Fallback(f"more than {MAX_SETTLING} files to hash again (written as the last build began)")
            elif len(present) + len(gone) - settling > MAX_CHANGES:
                raise Fallback(f"more than {MAX_CHANGES} files changed")
    return present, gone


def _racy(before: listing.Stamp | None, now: listing.Stamp | None) -> bool:
    """Whether a file was recorded racy (its times zeroed) and is the same file of the same size now."""
    return (before is not None and now is not None and before[2] == before[3] == 0
            and (before[0], before[1], before[4], before[5]) == (now[0], now[1], now[4], now[5]))


def _plain_name(rel: str) -> None:
    if rel in manifest.VITE_MANIFESTS:
        raise Fallback(f"{rel}: Vite's manifest (other files' entries depend on it)")
    if rel.endswith(tuple(naming.SIDECAR_SUFFIXES.values()) + _IMAGE_SIDECARS):
        raise Fallback(f"{rel}: named like a sidecar")


def _parsed(rows: Mapping[str, str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for rel, row in rows.items():
        value = json.loads("{" + row + "}")[rel]
        if not isinstance(value, dict):
            raise Fallback(f"{rel}: an entry of another shape")
        found[rel] = value
    return found
