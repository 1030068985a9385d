"""Content hashes in file names: finding them (for `immutable`) and naming what assetpipe writes.

A hash is a token between a `-` or `.` and the next `.`: Vite's and Rollup's 8 base64url characters
(`index-B7PI925R.js`) or webpack's 8 to 64 hex digits (`main.3f9a1c2e.js`). A false "hashed" is the
costly mistake (the file is then cached for a year), so by default a token must contain a digit; a
file that Vite's manifest names is known to be hashed, and there a capital letter after the token's
first character is enough (`EChartsPanel-DuvKirZd.js`). Words such as `use-selector.js` or
`logo-Homepage.svg` never pass.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"(?<=[-.])(?P<token>[A-Za-z0-9_-]{8}|[0-9a-f]{8,64})(?=\.)")
_STRICT = re.compile(r"[0-9]")
_LENIENT = re.compile(r"[0-9]|.[A-Z]")

SIDECAR_SUFFIXES: dict[str, str] = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}


def content_hash(rel: str, *, bundler_named: bool = False) -> str | None:
    """The content hash in a path's file name, or None; `bundler_named` when Vite's manifest lists it."""
    name = rel.rsplit("/", 1)[-1]
    looks_random = _LENIENT if bundler_named else _STRICT
    for match in reversed(list(_TOKEN.finditer(name))):
        token = match["token"]
        if looks_random.search(token):
            return token
    return None


def sidecar(rel: str, codec: str) -> str:
    """The path of a precompressed sidecar: `app.js` -> `app.js.br`, as nginx and Caddy look it up."""
    return rel + SIDECAR_SUFFIXES[codec]
