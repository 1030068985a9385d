"""Same-URL sidecars of fallback renditions (issue 23): what an `<img>` given attributes in place needs.

Inside a hydrated root (`html.hydrated = "attributes"`, html/inplace.py) the `<img>` keeps its tag and gets
the fallback format's `srcset` (`hero.cf892927.451w.jpg 1x, …`): no `<source>` offers AVIF or WebP. So each
of those renditions gets same-URL sidecars, `hero.cf892927.451w.jpg.avif` and `.webp`, which the shipped
nginx and Caddy snippets serve at the rendition's own URL by `Accept` (with `Vary: Accept`), as they serve
`hero.jpg.avif` at `hero.jpg`.

A rendition's sidecar holds the modern variant's bytes at the same width (one cache key, one encode), so it
is kept exactly when that variant is (smaller than the fallback at its width), and is stored once: a hard
link to the file that holds those bytes (the original's own same-URL sidecar at the image's own width when
there is one, else the modern variant). Where the file system cannot link, it is a copy: the tag's `srcset`
names the fallback rendition, and no other name can stand in for it (build/pictures.py writes it). The
manifest lists them under the fallback variant's `encodings`, as an original lists its own. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .stage import Produced


def links(keep: Sequence[Produced]) -> tuple[tuple[str, str], ...]:
    """(rendition sidecar, the kept file holding its bytes) for each kept rendition sidecar, sorted: the
    original's same-URL sidecar with the same key first, else the modern variant. `keep` holds only files
    that are written (a variant renamed to its sidecar is not in it)."""
    holders: dict[str, str] = {}
    for p in keep:
        r = p.rendition
        if r.stands_for or r.candidate:
            continue
        if r.sidecar or r.key not in holders:
            holders[r.key] = r.file
    return tuple(sorted((p.rendition.file, holders[p.rendition.key]) for p in keep
                        if p.rendition.stands_for and p.rendition.key in holders))


def encodings(keep: Sequence[Produced]) -> dict[str, dict[str, dict[str, int | str]]]:
    """The kept rendition sidecars by the fallback rendition they stand for: the `encodings` of its variant
    entry in the manifest (`{"avif": {"file", "size"}}`)."""
    found: dict[str, dict[str, dict[str, int | str]]] = {}
    for p in keep:
        if p.rendition.stands_for:
            found.setdefault(p.rendition.stands_for, {})[p.rendition.format] = {"file": p.rendition.file,
                                                                                 "size": p.size}
    return found


def listed(variants: list[dict], by_rendition: Mapping[str, Mapping[str, Mapping[str, int | str]]],
           refused: frozenset[str] = frozenset()) -> list[dict]:
    """The manifest's variant entries, each fallback rendition with the `encodings` of its sidecars (those
    not `refused`: a user's file holds the name)."""
    out: list[dict] = []
    for variant in variants:
        kept = {fmt: dict(e) for fmt, e in sorted(by_rendition.get(variant["file"], {}).items())
                if e["file"] not in refused}
        out.append({**variant, "encodings": kept} if kept else variant)
    return out
