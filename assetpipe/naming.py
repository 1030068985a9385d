"""Content hashes in file names: finding them (for `immutable`, and renamed chunks) and naming what
assetpipe writes.

A token is what sits between a `-` or `.` and the next `.`: 8 base64url characters (Vite's and Rollup's
`index-B7PI925R.js`) or 8 to 64 hex digits (webpack's `main.3f9a1c2e.js`, assetpipe's own variants).
Words fit that shape too (`arrow-90deg-up.svg`, `grid-1x2-fill.svg`, `use-selector.js`), and a false
"hashed" is the costly mistake (the file is then cached for a year), so a name alone counts as hashed
only when its token looks random: a digit, a capital and a small letter in the 8 characters, or hex
with a digit and a letter. What Vite's manifest lists is hashed by construction, whatever its token
holds (`main-qvvkftmj.css`); `listed_hash` says so for those. The nginx and Caddy snippets in config/
apply the same rule (Caddy a stricter one) to URLs.

`content_hash(rel, bundler_named=True)` is the looser rule the build's safety net uses to see that a
chunk was renamed (a digit, or a capital after the first character).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# zero-width, so that every candidate is seen, overlapping or not
_BASE64URL = re.compile(r"(?<=[-.])(?=([A-Za-z0-9_-]{8})\.)")
_HEX = re.compile(r"(?<=[-.])(?=([0-9a-f]{8,64})\.)")
_LENIENT = re.compile(r"[0-9]|.[A-Z]")

SIDECAR_SUFFIXES: dict[str, str] = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}
# The names assetpipe gives image variants, `stem.<8 hex>.<width>w.<ext>` (images.renditions.variant_name):
# how the image stage passes over its own outputs and the removal net tells whose output a file is.
VARIANT = re.compile(r"^(?P<stem>.*)\.[0-9a-f]{8}\.[0-9]+w\.(?:avif|webp|jpg|png|gif)$")


def _tokens(rel: str) -> Iterator[str]:
    """Every hash-shaped token in a path's file name, last first."""
    name = rel.rsplit("/", 1)[-1]
    found = [m[1] for m in _BASE64URL.finditer(name)] + [m[1] for m in _HEX.finditer(name)]
    yield from sorted(set(found), key=name.rindex, reverse=True)


def _looks_random(token: str) -> bool:
    """Hex with a digit and a letter, or 8 characters with a digit, a capital and a small letter."""
    def has(characters: str) -> bool:
        return re.search(characters, token) is not None

    if re.fullmatch(r"[0-9a-f]+", token):
        return has("[0-9]") and has("[a-f]")
    return len(token) == 8 and has("[0-9]") and has("[A-Z]") and has("[a-z]")


def content_hash(rel: str, *, bundler_named: bool = False) -> str | None:
    """The content hash in a path's file name, or None: by the name alone (the conservative rule), or,
    with `bundler_named`, by the looser rule for recognising renamed chunks."""
    for token in _tokens(rel):
        if _LENIENT.search(token) if bundler_named else _looks_random(token):
            return token
    return None


def listed_hash(rel: str) -> str | None:
    """The hash-shaped token of a file that Vite's manifest lists (hashed by construction), or None when
    its name has none (a build configured with `entryFileNames: "[name].js"`)."""
    return next(_tokens(rel), None)


def sidecar(rel: str, codec: str) -> str:
    """The path of a precompressed sidecar: `app.js` -> `app.js.br`, as nginx and Caddy look it up."""
    return rel + SIDECAR_SUFFIXES[codec]
