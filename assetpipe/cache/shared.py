"""A cache shared between machines (`--cache-dir s3://bucket/prefix`, or any fsspec URL such as
`file:///mnt/cache`), in front of which the local cache folder stays.

CI runners and cluster clients that point at the same URL encode each output once between them: a
build looks an output up in its local cache, then in the shared one (a hit there is kept locally
too), and puts what it encodes in both. The shared store holds one blob per cache key, under
`v1/KEY[:2]/KEY`: a 4-byte tag, the sha256 of the payload, the payload. A blob is uploaded to a
temporary name first and then moved to its key (on S3 a copy and a delete, on a local filesystem a
rename), so a reader never sees half of one under its key; one that is truncated or damaged all the
same (a disk, a hand) no longer matches its sha256 and reads as a miss: encoded again, never shipped.

Lookups are listings where that is cheaper: the first key looked up in a key folder (`v1/ab/`) is asked
for alone, the second lists the folder (one request per 1,000 keys on S3) and every later lookup there is
answered from that listing, so a cold build of 100,000 images costs a few hundred listings, not a request
per output. A key another machine publishes after the listing is a miss (encoded again, the same bytes).

The URL is reached once before the build starts: no credentials, a missing bucket or an unreachable
host is one line and exit 2, before anything is written. After that, a failed read or write of the
shared store costs speed only, as with the local cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..model import UsageError
from .store import Cache

_TAG = b"APC1"
_LAYOUT = "v1"
_LIST_AFTER = 2  # keys looked up in one key folder, after which it is listed instead of asked key by key
# Listed keys held at most, as 64-bit prefixes (about 70 bytes each in a set: 70 MB): a store never pruned
# may hold tens of millions; past this, the remaining folders are asked key by key.
_LISTED_MAX = 1_000_000


class SharedStore:
    """The blobs at one fsspec URL."""

    def __init__(self, url: str, fs: Any, root: str) -> None:
        self.url = url
        self._fs = fs
        self._root = root.rstrip("/")
        protocols = (fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol
        self._folders = "file" in protocols or "local" in protocols  # an object store has keys, not folders
        self._asked: dict[str, set[str]] = {}  # key folder -> the keys looked up there, until it is listed
        self._listed: dict[str, set[int]] = {}  # key folder -> its listing's keys (and this build's), by _short
        self._held = 0  # keys in _listed

    def _write(self, path: str, data: bytes) -> None:
        if self._folders:
            self._fs.makedirs(path.rpartition("/")[0], exist_ok=True)
        self._fs.pipe_file(path, data)

    def _move(self, source: str, destination: str) -> None:
        if self._folders:
            self._fs.makedirs(destination.rpartition("/")[0], exist_ok=True)
        self._fs.mv(source, destination)

    def _path(self, key: str) -> str:
        return f"{self._root}/{_LAYOUT}/{key[:2]}/{key}"

    def _known(self, key: str) -> bool | None:
        """Whether the key is in the store by its folder's listing; None while that folder is not listed."""
        folder = key[:2]
        if folder not in self._listed:
            asked = self._asked.setdefault(folder, set())
            asked.add(key)
            if len(asked) < _LIST_AFTER or self._held >= _LISTED_MAX:
                return None
            try:
                names = self._fs.ls(f"{self._root}/{_LAYOUT}/{folder}", detail=False)
            except FileNotFoundError:
                names = []
            except Exception:  # an unreachable store: asked key by key, each a miss
                return None
            self._listed[folder] = {_short(str(name).rstrip("/").rpartition("/")[2]) for name in names}
            self._held += len(self._listed[folder])
            del self._asked[folder]
        return _short(key) in self._listed[folder]

    def has(self, key: str) -> bool:
        known = self._known(key)
        if known is not None:
            return known
        try:
            return bool(self._fs.exists(self._path(key)))
        except Exception:  # an unreachable store is a miss
            return False

    def get(self, key: str) -> bytes | None:
        if self._known(key) is False:
            return None
        try:
            blob = self._fs.cat_file(self._path(key))
        except Exception:
            return None
        payload = blob[len(_TAG) + 32:]
        if blob[:len(_TAG)] != _TAG or hashlib.sha256(payload).digest() != blob[len(_TAG):len(_TAG) + 32]:
            return None  # truncated or damaged: recomputed, and the good bytes put over it
        return bytes(payload)

    def put(self, key: str, payload: bytes) -> None:
        final = self._path(key)
        temporary = f"{self._root}/{_LAYOUT}/tmp/{key}.{uuid.uuid4().hex}"
        try:
            self._write(temporary, _TAG + hashlib.sha256(payload).digest() + payload)
            self._move(temporary, final)
            if key[:2] in self._listed:
                self._listed[key[:2]].add(_short(key))
        except Exception:  # a shared store that cannot be written only costs speed
            with contextlib.suppress(Exception):
                self._fs.rm(temporary)

    def probe(self, *, write: bool) -> None:
        """Reach the store now: UsageError naming the URL and the reason when it cannot be used."""
        try:
            if write:
                marker = f"{self._root}/{_LAYOUT}/tmp/probe-{uuid.uuid4().hex}"
                self._write(marker, b"")
                self._fs.rm(marker)
            else:
                with contextlib.suppress(FileNotFoundError):
                    self._fs.ls(self._root)
        except Exception as exc:
            raise UsageError(f"--cache-dir {self.url}: cannot use it: {_reason(exc)}") from None


class SharedCache(Cache):
    """The local cache folder, backed by a shared store: read from either, written to both."""

    def __init__(self, root: Path, shared: SharedStore) -> None:
        super().__init__(root)
        self.shared = shared

    def has(self, key: str) -> bool:
        return super().has(key) or self.shared.has(key)

    def get(self, key: str) -> bytes | None:
        data = super().get(key)
        if data is None:
            data = self.shared.get(key)
            if data is not None:
                super().put(key, data)
        return data

    def put(self, key: str, payload: bytes) -> None:
        super().put(key, payload)
        self.shared.put(key, payload)


def open_store(url: str, *, write: bool) -> SharedStore:
    """The shared store at `url`, reached once (UsageError when it cannot be used)."""
    try:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(url, skip_instance_cache=True)
    except ImportError as exc:
        raise UsageError(f"--cache-dir {url}: needs fsspec (and s3fs for s3://), which are not installed "
                         f"({_reason(exc)}); pip install 'assetpipe[dask]'") from None
    except (ValueError, OSError) as exc:
        raise UsageError(f"--cache-dir {url}: not a URL fsspec can open: {_reason(exc)}") from None
    store = SharedStore(url, fs, root)
    store.probe(write=write)
    return store


def open_cache(root: Path, url: str | None, *, writes: bool) -> Cache:
    """The build's cache: the local folder alone, or backed by the shared store at `url`."""
    if url is None:
        return Cache(root)
    return SharedCache(root, open_store(url, write=writes))


def local_path(url: str | None) -> Path | None:
    """The folder a file:// URL names (the build refuses one inside DIR, as it does a cache folder)."""
    if url is None or not url.startswith("file://"):
        return None
    return Path(unquote(urlsplit(url).path))


def _short(key: str) -> int:
    """A key by its first 64 bits. Two keys sharing them (one in 2^64) would make a miss look like a hit
    at plan time; its read then finds nothing and the output is encoded, as for an entry gone since."""
    try:
        return int(key[:16], 16)
    except ValueError:  # not a key of ours (a stray object in the folder)
        return -1


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
