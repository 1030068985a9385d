"""URLs in a page: resolving `src`/`srcset` to a path in the build folder, and writing the URLs of the variants.

Generated URLs follow the author's `src`: root-relative stays root-relative, relative stays relative (to the
`<base href>` when there is one), path segments percent-encoded (UTF-8), and the author's `?query` and
`#fragment` are dropped (the variant names carry a content hash). `..` above the root is clamped to the root,
as browsers do.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urljoin, urlsplit

from .parse import _SPACE
from .picture import Candidate

_ORIGIN = "http://assetpipe.invalid"  # a stand-in origin for resolving the build folder's URLs
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_URL_SAFE = "/"  # besides letters, digits and `_.-~`: everything else in a generated URL is percent-encoded


# --- URLs -----------------------------------------------------------------------------------------------


def _clean_url(url: str) -> str:
    # The URL parser strips leading/trailing C0 controls and spaces and drops tabs and newlines anywhere.
    url = url.strip("".join(chr(c) for c in range(0x21)))
    return url.replace("\t", "").replace("\n", "").replace("\r", "")


def _base_path(page: str, base_href: str | None) -> str | None:
    """The URL path relative URLs in `page` resolve against, or None when they resolve off-site."""
    # a name that is not UTF-8 (kept by the scan as surrogate escapes) is percent-encoded as its own bytes
    page_url = _ORIGIN + "/" + quote(page.lstrip("/"), safe="/", errors="surrogateescape")
    if base_href is None:
        return urlsplit(page_url).path
    base = _clean_url(base_href).replace("\\", "/")
    if base.startswith("//") or _SCHEME.match(base):
        return None
    return urlsplit(urljoin(page_url, base)).path


def resolve(url: str, page: str, base_href: str | None) -> str | None:
    """URL as written in `page` -> POSIX path inside the build folder, or None (external, data:, not a file).

    Relative URLs resolve against the page (or its `<base href>`), root-relative ones against the build folder's
    root; the `?query` and `#fragment` are ignored and the path is percent-decoded (UTF-8).
    """
    url = _clean_url(url).replace("\\", "/")
    if not url or url.startswith(("#", "?")) or url.startswith("//") or _SCHEME.match(url):
        return None
    base = _base_path(page, base_href) if not url.startswith("/") else "/"
    if base is None:
        return None
    joined = urlsplit(urljoin(_ORIGIN + quote(base, safe="/%"), url))
    if joined.netloc != urlsplit(_ORIGIN).netloc:
        return None
    try:
        path = unquote(joined.path, errors="strict")
    except UnicodeDecodeError:
        return None
    parts: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":  # `%2e%2e` decodes to a dot segment, which browsers resolve too
            if parts:
                parts.pop()
        elif segment != ".":
            parts.append(segment)
    if not parts or not parts[-1] or "\0" in path:
        return None
    return "/".join(parts)


def _url_for(file: str, author_src: str, page: str, base_href: str | None) -> str:
    """The URL of `file` written the way the author wrote `author_src`: root-relative or relative."""
    if _clean_url(author_src).replace("\\", "/").startswith("/"):
        return "/" + quote(file, safe=_URL_SAFE)
    base = unquote(_base_path(page, base_href) or "/")
    folder = base[1 : base.rfind("/") + 1].rstrip("/") or "."
    return quote(posixpath.relpath(file, folder), safe=_URL_SAFE)


def _srcset(candidates: Iterable[Candidate], author_src: str, page: str, base_href: str | None) -> str:
    return ", ".join(f"{_url_for(c.file, author_src, page, base_href)} {c.width}w" for c in candidates)


def _srcset_candidates(value: str) -> list[tuple[str, tuple[str, ...]]]:
    """The candidates of a srcset attribute, (URL, descriptors), per the HTML spec's candidate parsing.

    Descriptors are split as the spec's tokenizer splits them but not validated: two srcsets with the same
    candidates here select the same image in every browser.
    """
    candidates: list[tuple[str, tuple[str, ...]]] = []
    i, n = 0, len(value)
    while True:
        while i < n and (value[i] in _SPACE or value[i] == ","):
            i += 1
        if i >= n:
            return candidates
        start = i
        while i < n and value[i] not in _SPACE:
            i += 1
        url = value[start:i]
        descriptors: list[str] = []
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            current, state = "", "in"
            while i < n:
                c = value[i]
                i += 1
                if state == "after":
                    if c not in _SPACE:
                        state, i = "in", i - 1  # reconsume in the descriptor state
                elif state == "paren":
                    current += c
                    state = "in" if c == ")" else "paren"
                elif c in _SPACE:
                    descriptors += [current] if current else []
                    current, state = "", "after"
                elif c == ",":
                    break
                else:
                    current += c
                    state = "paren" if c == "(" else "in"
            descriptors += [current] if current else []
        candidates.append((url, tuple(descriptors)))


def _srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset attribute, per the HTML spec's candidate parsing."""
    return [url for url, _descriptors in _srcset_candidates(value)]
