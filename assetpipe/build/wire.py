"""Over the wire: the one definition of what a visitor's browser downloads, used by `build`'s summary
line and by `diff`'s sizes, so that the two agree on the same tree.

A current browser (Brotli and AVIF accepted) downloads, per file: for a text file the smaller of the
original and its `.br` sidecar (its `.gz` one where it has no `.br`, as when `compress.formats` leaves
Brotli out: the snippets try Brotli, then gzip); for a raster image its same-URL `.avif` sidecar, else its `.webp`
one, else the original, in the order the nginx and Caddy snippets (`config/`) try them, each sidecar
written only when smaller than the original. The gzip column of `diff` is the same browser from a
server that sends gzip instead of Brotli. Files `diff.ignore` leaves out (source maps, fetched only
with devtools open, and `.vite/`, build metadata) are downloaded by no visitor and count nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..config import Config
from ..globs import compile_glob

# The same-URL image sidecars in the order the servers try them for a browser that accepts both.
IMAGE_ORDER = ("avif", "webp")


def over_the_wire(size: int, sidecars: Mapping[str, int], content_encoding: str = "br") -> int:
    """Bytes downloaded for a file of `size` bytes with these sidecars (codec or format -> size), from a
    server that sends `content_encoding` ("br" or "gzip") sidecars."""
    image = next((sidecars[f] for f in IMAGE_ORDER if f in sidecars), None)
    if image is not None:
        return min(size, image)
    for encoding in (content_encoding, "gzip"):  # the server's order: its own encoding, then gzip
        if encoding in sidecars:
            return min(size, sidecars[encoding])
    return size


def ignored(rel: str, config: Config) -> bool:
    """Left out of every size (`diff.ignore`)."""
    return any(compile_glob(g).fullmatch(rel) for g in config.diff.ignore)


def totals(files: Iterable[tuple[str, int, Mapping[str, int]]], config: Config) -> tuple[int, int]:
    """(raw bytes, bytes over the wire) of a build's files, each (path, size, sidecars)."""
    raw = wire = 0
    for rel, size, sidecars in files:
        if not ignored(rel, config):
            raw += size
            wire += over_the_wire(size, sidecars)
    return raw, wire
