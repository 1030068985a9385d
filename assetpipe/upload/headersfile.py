"""The `_headers` file for Netlify and Cloudflare Pages (`assetpipe build --headers netlify`).

Both platforms compress on their own and read `DIR/_headers` for response headers by path, so what
they need from a build is the upload plan's `Cache-Control` per URL. Rules never overlap (both
platforms join the values of every matching rule with a comma, which would garble `Cache-Control`),
and a folder whose files all share one value becomes one `/folder/*` rule, which keeps a large build
under Cloudflare Pages' limit of 100 rules where it can. Sidecars are left out: neither platform
serves them by `Accept-Encoding` or `Accept`.
"""

from __future__ import annotations

from urllib.parse import quote

from .plan import UploadPlan

NAME = "_headers"
FORMATS = ("netlify",)


def render(plan: UploadPlan) -> bytes:
    files = {item.file: item.cache_control for item in plan.items() if not item.sidecar}
    lines = ["# Written by `assetpipe build --headers netlify` (Netlify and Cloudflare Pages): Cache-Control by path.",
             "# Hashed files are cached for a year, HTML is revalidated on every visit, other files for 5 minutes.",
             ""]
    for pattern, value in _rules("", files):
        lines += [pattern, f"  Cache-Control: {value}", ""]
    return "\n".join(lines).encode("utf-8")


def _rules(folder: str, files: dict[str, str]) -> list[tuple[str, str]]:
    """Non-overlapping rules for `files` (paths below `folder`): one splat when they all agree."""
    values = set(files.values())
    if len(values) == 1 and (folder or len(files) > 1):
        return [(_url(folder + "/" if folder else "") + "*", values.pop())]
    start = len(folder) + 1 if folder else 0
    direct = {rel: v for rel, v in files.items() if "/" not in rel[start:]}
    subfolders = sorted({rel[: rel.index("/", start)] for rel in files if rel not in direct})
    rules: list[tuple[str, str]] = []
    for rel in sorted(direct):
        rules += [(url, direct[rel]) for url in _urls(rel)]
    for sub in subfolders:
        rules += _rules(sub, {rel: v for rel, v in files.items() if rel.startswith(sub + "/")})
    return rules


def _urls(rel: str) -> list[str]:
    """A file's URL, plus the pretty URLs both platforms serve an HTML page at (`/about`, `/docs/`)."""
    urls = [_url(rel)]
    if rel == "index.html" or rel.endswith("/index.html"):
        urls.append(_url(rel[: -len("index.html")]))
    elif rel.endswith(".html"):
        urls.append(_url(rel[: -len(".html")]))
    return urls


def _url(rel: str) -> str:
    return "/" + quote(rel, safe="/")
