"""The upload plan (a contract, SPEC §5 and §7): every file of a finished build with the headers it is
stored under, in the order that keeps a live site whole.

Pure: the manifest (what each file is) and the tree's sizes and hashes (what is really there) in, an
`UploadPlan` out. Phases: (1) content-hashed files, their sidecars and image variants, (2) every other
non-HTML file, (3) HTML, so a page is never live before the assets it names. A sidecar (`app.js.br`)
gets the original's type, its own `Content-Encoding` and the original's `Cache-Control`; a same-URL
image sidecar (`hero.jpg.avif`) gets its own image type and the original's `Cache-Control`, with no
`Content-Encoding`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..build.manifest import NAME as MANIFEST_NAME
from ..config import UploadConfig, UploadRule
from ..globs import matches
from ..mediatypes import HTML_TYPES, classify
from ..model import AssetpipeError

SCHEMA = 1
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# Unhashed files (favicon.ico, robots.txt, data fetched by the app) change at the same URL: a few minutes.
SHORT = "public, max-age=300"
# A service worker must be checked on every navigation, or a broken one lingers.
SERVICE_WORKERS = frozenset({"sw.js", "service-worker.js"})
PHASES = ("assets", "other", "html")  # names for ASSETPIPE_PHASE_NAME and messages
PHASE_TITLES = ("hashed assets and their sidecars", "other files", "HTML")
CONTENT_ENCODINGS = {"br": "br", "gzip": "gzip", "zstd": "zstd"}
IMAGE_TYPES = {"avif": "image/avif", "webp": "image/webp"}
_TEXT_APPLICATION = frozenset({"application/json", "application/manifest+json", "application/ld+json",
                               "application/geo+json", "application/xml", "application/javascript",
                               "application/yaml", "application/toml"})
# assetpipe's own state, never uploaded whatever the config says
STATE_PREFIX = ".assetpipe/"


class PlanError(AssetpipeError):
    """The tree does not match its manifest (edited after the build): every problem, then the fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FileFacts:
    """What the tree holds at a path."""

    size: int
    sha256: str


@dataclass(frozen=True)
class UploadItem:
    file: str  # POSIX path relative to the build folder
    key: str  # object key: upload.prefix + file
    content_type: str
    content_encoding: str | None
    cache_control: str
    size: int
    sha256: str
    sidecar: bool = False  # a `.br`/`.gz`/`.zst` or same-URL image sidecar (not part of the JSON contract)

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "key": self.key, "content_type": self.content_type,
                "content_encoding": self.content_encoding, "cache_control": self.cache_control,
                "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class UploadPlan:
    phases: tuple[tuple[UploadItem, ...], tuple[UploadItem, ...], tuple[UploadItem, ...]]
    delete: tuple[str, ...] = ()
    kept_back: tuple[str, ...] = ()  # files in the tree that are not uploaded (excluded), for pruning

    def items(self) -> Iterator[UploadItem]:
        for phase in self.phases:
            yield from phase

    def keys(self) -> frozenset[str]:
        return frozenset(item.key for item in self.items())

    def as_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "phases": [[item.as_json() for item in phase] for phase in self.phases],
                "delete": list(self.delete)}

    def dumps(self) -> str:
        return json.dumps(self.as_json(), indent=1, ensure_ascii=False) + "\n"


def normalise_prefix(prefix: str) -> str:
    """`site`, `/site/` -> `site/`; empty stays empty."""
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""


def with_charset(media_type: str) -> str:
    """Text types get `; charset=utf-8` (what Vite and every bundler emit), binary types none."""
    if media_type.startswith("text/") or media_type in _TEXT_APPLICATION or media_type.endswith(("+xml", "+json")):
        return f"{media_type}; charset=utf-8"
    return media_type


@dataclass(frozen=True)
class _Headers:
    content_type: str
    cache_control: str
    phase: int


def _original_headers(rel: str, entry: Mapping[str, Any], rules: tuple[UploadRule, ...]) -> _Headers:
    media_type = str(entry.get("type") or "application/octet-stream")
    name = rel.rsplit("/", 1)[-1]
    if media_type in HTML_TYPES:
        cache, phase = NO_CACHE, 2
    elif entry.get("immutable"):
        cache, phase = IMMUTABLE, 0
    elif name in SERVICE_WORKERS:
        cache, phase = NO_CACHE, 1
    else:
        cache, phase = SHORT, 1
    content_type = with_charset(media_type)
    for rule in rules:
        if matches(rule.glob, rel):
            cache = rule.cache_control or cache
            content_type = rule.content_type or content_type
            break
    return _Headers(content_type, cache, phase)


def build(manifest: Mapping[str, Any], tree: Mapping[str, FileFacts], cfg: UploadConfig,
          owned: frozenset[str] = frozenset()) -> UploadPlan:
    """The plan for a finished build. `tree` is every file under the build folder with its size and
    sha256; `owned` are assetpipe's outputs the manifest does not list (the `_headers` file), which
    are not uploaded. A file the manifest does not know, or one changed since the build, is a PlanError."""
    files = manifest.get("files")
    if manifest.get("schema") != 1 or not isinstance(files, dict):
        raise PlanError(["the manifest is not an assetpipe schema-1 manifest"])
    prefix = normalise_prefix(cfg.prefix)
    phases: tuple[list[UploadItem], list[UploadItem], list[UploadItem]] = ([], [], [])
    problems: list[str] = []
    known: set[str] = set()
    kept_back: list[str] = []

    def add(rel: str, phase: int, content_type: str, encoding: str | None, cache: str,
            expect_size: int | None, expect_sha: str | None, sidecar: bool = False) -> None:
        if rel in known:  # named twice (two entries sharing one output): planned once
            return
        known.add(rel)
        facts = tree.get(rel)
        if facts is None:
            problems.append(f"{rel}: listed in the manifest but missing from the folder")
            return
        if (expect_size is not None and facts.size != expect_size) or (expect_sha and facts.sha256 != expect_sha):
            problems.append(f"{rel}: changed since the build")
            return
        phases[phase].append(UploadItem(rel, prefix + rel, content_type, encoding, cache, facts.size, facts.sha256,
                                        sidecar))

    for rel in sorted(files):
        entry = files[rel]
        variants = (entry.get("image") or {}).get("variants") or ()
        derived = [rel, *(e.get("file") for e in (entry.get("encodings") or {}).values()),
                   *(v.get("file") for v in variants),
                   *(e.get("file") for v in variants for e in (v.get("encodings") or {}).values())]
        if any(matches(glob, rel) for glob in cfg.exclude):
            known.update(str(d) for d in derived if d)
            kept_back.extend(str(d) for d in derived if d and str(d) in tree)
            continue
        headers = _original_headers(rel, entry, cfg.rules)
        add(rel, headers.phase, headers.content_type, None, headers.cache_control, entry.get("size"),
            entry.get("sha256"))
        for codec, encoding in sorted((entry.get("encodings") or {}).items()):
            if codec in CONTENT_ENCODINGS:
                add(encoding["file"], headers.phase, headers.content_type, CONTENT_ENCODINGS[codec],
                    headers.cache_control, encoding.get("size"), None, sidecar=True)
            else:  # a same-URL image sidecar: its own type, served for the original's URL by Accept
                add(encoding["file"], headers.phase, IMAGE_TYPES.get(codec, f"image/{codec}"), None,
                    headers.cache_control, encoding.get("size"), None, sidecar=True)
        for variant in variants:
            # variants carry a content hash in their name (SPEC §2.1): cacheable for a year, phase 1
            add(variant["file"], 0, classify(variant["file"], b"")[0], None, IMMUTABLE, variant.get("size"), None)
            for codec, encoding in sorted((variant.get("encodings") or {}).items()):  # a rendition's same-URL
                add(encoding["file"], 0, IMAGE_TYPES.get(codec, f"image/{codec}"), None, IMMUTABLE,  # sidecar
                    encoding.get("size"), None, sidecar=True)

    for rel in sorted(tree):
        if rel not in known and not rel.startswith(STATE_PREFIX) and rel not in owned:
            problems.append(f"{rel}: not in the manifest (added after the build?)")
    if problems:
        raise PlanError(problems)
    return UploadPlan((tuple(phases[0]), tuple(phases[1]), tuple(phases[2])), (), tuple(sorted(kept_back)))


MANIFEST_PATH = f"{STATE_PREFIX}{MANIFEST_NAME}"
