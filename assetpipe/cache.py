"""The content-addressed cache of encoded outputs, kept outside the build folder.

An entry's key is the hash of the source's sha256, the codec, the settings that change its bytes and
the library version, so a wiped and rebuilt `dist/` or a CI job that restores only this folder gets
every unchanged output back without encoding. Each entry starts with the sha256 of its payload: a
damaged entry reads as a miss, never as wrong bytes. Entries are written atomically, so two builds
may share one cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

CACHE_VERSION = 1
_DIGEST = 32


def key(source_sha256: str, codec: str, settings: str) -> str:
    """The cache key of one output; it names the output's whole recipe, nothing else."""
    recipe = json.dumps([CACHE_VERSION, source_sha256, codec, settings])
    return hashlib.sha256(recipe.encode()).hexdigest()


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._folder = root / f"v{CACHE_VERSION}"

    def _path(self, key: str) -> Path:
        return self._folder / key[:2] / key

    def has(self, key: str) -> bool:
        return self._path(key).is_file()

    def get(self, key: str) -> bytes | None:
        try:
            blob = self._path(key).read_bytes()
        except OSError:
            return None
        digest, payload = blob[:_DIGEST], blob[_DIGEST:]
        if len(blob) < _DIGEST or hashlib.sha256(payload).digest() != digest:
            return None
        return payload

    def put(self, key: str, payload: bytes) -> None:
        """Store an entry; a cache that cannot be written only costs speed, so errors are ignored."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(hashlib.sha256(payload).digest())
                handle.write(payload)
            os.replace(temp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)
