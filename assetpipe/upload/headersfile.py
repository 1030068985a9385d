"""The `_headers` file for Netlify and Cloudflare Pages (`assetpipe build --headers netlify|cloudflare`).

Both platforms compress on their own and read `DIR/_headers` for response headers by path, so what
they need from a build is the upload plan's `Cache-Control` per URL: the plan's files, a page also at
its pretty URL (`/about`, `/docs/`) where no file has that name, and their sidecars (`.br`, `.gz`,
`.avif`) only in that none gets another value than its original's, since neither platform serves them in
its place. headerrules merges them into few rules that never overlap.

Cloudflare Pages reads at most 100 rules and lines of at most 2,000 characters; Netlify documents no
limit for the same format. `--headers cloudflare` refuses a file over those limits (HeadersError, before
anything is written); `--headers netlify` writes it and warns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from urllib.parse import quote

from .headerrules import HeadersError, Rule, merge
from .plan import UploadPlan

NAME = "_headers"
FORMATS = ("netlify", "cloudflare")
# Cloudflare Pages' documented limits (developers.cloudflare.com/pages/configuration/headers/)
MAX_RULES = 100
MAX_LINE = 2000
_HEAD = ("# Written by `assetpipe build --headers {format}` (Netlify and Cloudflare Pages): Cache-Control by path.",
         "# Hashed files are cached for a year, HTML is revalidated on every visit, other files for 5 minutes.",
         "")

__all__ = ["FORMATS", "NAME", "HeadersError", "HeadersFile", "build"]


@dataclass(frozen=True)
class HeadersFile:
    format: str
    rules: tuple[Rule, ...]

    def lines(self) -> list[str]:
        lines = [line.format(format=self.format) for line in _HEAD]
        for rule in self.rules:
            lines += [rule.pattern, f"  Cache-Control: {rule.value}", ""]
        return lines

    def render(self) -> bytes:
        return "\n".join(self.lines()).encode("utf-8")

    def over_limits(self) -> list[str]:
        """Why Cloudflare Pages would not read this file whole (empty when it would)."""
        problems: list[str] = []
        if len(self.rules) > MAX_RULES:
            folders = Counter(_folder(rule.pattern) for rule in self.rules).most_common(3)
            where = ", ".join(f"{folder}: {count:,}" for folder, count in folders)
            problems.append(f"{len(self.rules):,} rules, and Cloudflare Pages reads at most {MAX_RULES} (the most "
                            f"under {where}); a folder whose files differ in Cache-Control with no pattern in "
                            "their names takes a rule per file: see the warnings about names cached for a year, "
                            "or declare [cache] immutable globs")
        long = [line for line in self.lines() if len(line) > MAX_LINE]
        if long:
            problems.append(f"{len(long):,} lines longer than Cloudflare Pages' {MAX_LINE:,} characters, the first "
                            f"for {long[0][:60]}…")
        return problems


def build(plan: UploadPlan, format: str) -> HeadersFile:
    """The file for a plan; HeadersError when no rules can give two of its URLs different headers."""
    files = {_url(item.file): item.cache_control for item in plan.items() if not item.sidecar}
    sidecars = {_url(item.file): item.cache_control for item in plan.items() if item.sidecar}
    pretty = {url: files[_url(item.file)] for item in plan.items() if not item.sidecar
              for url in _pretty_urls(item.file) if url not in files}  # a file of that name wins
    return HeadersFile(format, merge({**files, **pretty}, sidecars, frozenset(pretty)))


def _folder(pattern: str) -> str:
    """The top folder a rule is in: `/icons/` for `/icons/a*`, `/` for `/favicon.ico`."""
    first, slash, _ = pattern[1:].partition("/")
    return f"/{first}/" if slash else "/"


def _pretty_urls(rel: str) -> list[str]:
    """The pretty URL both platforms serve an HTML page at (`/about`, `/docs/`), if it is one."""
    if rel == "index.html" or rel.endswith("/index.html"):
        return [_url(rel[: -len("index.html")])]
    return [_url(rel[: -len(".html")])] if rel.endswith(".html") else []


def _url(rel: str) -> str:
    return "/" + quote(rel, safe="/")
