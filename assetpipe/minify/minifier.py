"""Minification: pure bytes-to-bytes minifiers for HTML, CSS, JS, SVG and JSON, and the rules that decide
which files get minified and which results are kept.

One library does all five types: tdewolff-minify (Go, through cffi; the call releases the GIL, so a
thread pool uses every core). Its settings are fixed here for safety, not for the last byte: HTML keeps
`<html>`/`<head>`/`<body>`, end tags and default attribute values (CSS such as `input[type=text]` must
still match), JS never gets syntax newer than ES2015 added by the minifier (`a ?? b` for
`a != null ? a : b`), JSON keeps numbers as written (`1.0` stays a float for Python, Go and Rust
readers). Everything that changes the output goes into `Minifier.settings`, and so into the cache key.

A file is left alone when it already looks minified, when it carries a source map reference (the
minifier cannot update the map, and a stale map is worse than none), when it is not UTF-8, or when
the minifier rejects it (syntax it does not know): never a broken file.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from .. import mediatypes
from ..cache.store import library_version
from . import esmodule

TYPES = ("html", "css", "js", "svg", "json")
_MEDIA_TYPES = {"text/html": "html", "text/css": "css", "text/javascript": "js", "image/svg+xml": "svg",
                "application/json": "json"}
# What the Go library is asked to minify each type as.
_LIBRARY_TYPES = {"html": "text/html", "css": "text/css", "js": "application/javascript",
                  "svg": "image/svg+xml", "json": "application/json"}
# The library's configuration (global to the library, so set once, here, and never changed).
LIBRARY_CONFIG: dict[str, str | bool | int] = {
    "html-keep-document-tags": True,
    "html-keep-end-tags": True,
    "html-keep-default-attr-vals": True,
    "html-keep-special-comments": True,  # conditional comments and server-side includes
    "js-version": 2015,
    "json-keep-numbers": True,
}
# A result is kept only when it saves at least this share: rewriting a user's file is not worth less.
MIN_SAVING = 0.02
# Minified code has long lines: a file whose lines average this many bytes or more is left alone.
MINIFIED_LINE_LENGTH = 300
_MINIFIED_NAME = re.compile(r"[.-]min\.[a-z]+$")
_SOURCE_MAP = re.compile(rb"[#@]\s*sourceMappingURL\s*=")
_BOM = b"\xef\xbb\xbf"
# Direct eval and `with` look local names up at run time; the minifier renames locals anyway (found by
# tests/test_minify.py), so scripts that may use either are left alone. Matches in comments or strings
# only make the rule more careful.
_SCOPE_BY_NAME = re.compile(rb"\b(?:eval|with)\s*\(")
_INLINE_SCRIPT = re.compile(rb"<script\b[^>]*>(.*?)</script", re.S | re.I)

_configure_lock = threading.Lock()
_configured = False


class MinifyFailed(Exception):
    """The minifier could not minify a file; the file is left as it was."""


@dataclass(frozen=True)
class Minifier:
    """The minifier and everything that changes its output, for the cache key."""

    name: str
    settings: str


def minifier() -> Minifier:
    lib_version, grammar, parser = (library_version(name) for name in ("tdewolff-minify",
                                                                        "tree-sitter-javascript", "tree-sitter"))
    options = ",".join(f"{k}={v}" for k, v in sorted(LIBRARY_CONFIG.items()))
    return Minifier("tdewolff-minify", f"{lib_version} {options} min_saving={MIN_SAVING} "
                                       f"line={MINIFIED_LINE_LENGTH} esm-rename={esmodule.REVISION} "
                                       f"tree-sitter={parser} tree-sitter-javascript={grammar}")



def type_of(rel: str, media_type: str) -> str | None:
    """The minify type of a file ("html", "css", "js", "svg", "json"), or None; never source maps."""
    kind = _MEDIA_TYPES.get(media_type)
    if kind == "json" and mediatypes.is_source_map(rel):
        return None
    return kind


def skip_reason(kind: str, rel: str, data: bytes) -> str | None:
    """Why a file is left alone before any minifying ("" for a silent skip), or None to minify it."""
    if not data.strip():
        return ""
    if looks_minified(rel, data):
        return ""
    if kind in ("js", "css") and _SOURCE_MAP.search(data[-4096:]):
        return "has a source map reference; not minified (the minifier cannot update the map)"
    scripts = [data] if kind == "js" else _INLINE_SCRIPT.findall(data) if kind == "html" else []
    if any(_SCOPE_BY_NAME.search(script) for script in scripts):
        return "uses eval or with, which look names up at run time; not minified (renaming would break it)"
    return None


def looks_minified(rel: str, data: bytes) -> bool:
    """A `.min.` name, or lines as long as a minifier's (Vite's chunks, a minified vendor file)."""
    if _MINIFIED_NAME.search(rel.rsplit("/", 1)[-1]):
        return True
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    return len(data) / max(1, lines) >= MINIFIED_LINE_LENGTH


def minify_bytes(kind: str, data: bytes) -> bytes:
    """The minified bytes of one file; raises MinifyFailed when the minifier rejects it."""
    import minify as library  # tdewolff-minify; imported here so assetpipe starts without loading Go

    _configure(library)
    bom = data.startswith(_BOM)
    try:
        text = data[len(_BOM) if bom else 0:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MinifyFailed(f"not UTF-8 (byte {exc.start})") from None
    try:
        out = library.string(_LIBRARY_TYPES[kind], text)
    except library.MinifyError as exc:
        raise MinifyFailed(_one_line(str(exc))) from None
    except UnicodeDecodeError:
        raise MinifyFailed("the minifier returned bytes that are not UTF-8") from None
    result = out.encode("utf-8")
    if kind == "js":
        result = _with_module_names_renamed(library, result)
    if kind == "html" and not result.strip() and text.strip():
        raise MinifyFailed("the minifier returned an empty document")
    return (_BOM if bom else b"") + result


def _with_module_names_renamed(library: object, minified: bytes) -> bytes:
    """An ES module's top-level names renamed too (esmodule.py); the plain result when it is not a module,
    or when the renaming declines or fails."""
    def minify_js(text: str) -> str:
        return library.string(_LIBRARY_TYPES["js"], text)  # type: ignore[attr-defined,no-any-return]

    try:
        renamed = esmodule.minify_module(minified, minify_js).encode("utf-8")
    except (esmodule.NotAModule, library.MinifyError, UnicodeDecodeError):  # type: ignore[attr-defined]
        return minified
    return renamed if len(renamed) < len(minified) else minified


def worth_keeping(original_size: int, minified_size: int) -> bool:
    return minified_size <= original_size * (1 - MIN_SAVING)


def _configure(library: object) -> None:
    global _configured
    if _configured:
        return
    with _configure_lock:
        if not _configured:
            library.config(LIBRARY_CONFIG)  # type: ignore[attr-defined]
            _configured = True


def _one_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "rejected by the minifier"
