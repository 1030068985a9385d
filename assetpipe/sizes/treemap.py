"""The HTML report: one self-contained page (inline style, script and data; a Content-Security-Policy
that forbids every fetch), rendered from a SizeReport and the chunks' source-map breakdowns.

The page draws itself from the JSON it carries: a zoomable treemap of the build by folder and file
(raw / gzip / brotli switch), the diff against the base with growth in colour, the budgets, totals by
type, each JS chunk by source file and npm package, and each image with its variants. The same input
gives the same bytes.
"""

from __future__ import annotations

import html
import json
from importlib.resources import files
from typing import Any

from ..model import Notice
from .budgets import as_json
from .formats import to_json
from .model import CATEGORIES, SizeReport
from .sourcemaps import Breakdown

_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'")


def render(report: SizeReport, chunks: tuple[Breakdown, ...] = (), notices: tuple[Notice, ...] = ()) -> str:
    data = page_data(report, chunks)
    payload = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    payload = payload.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    assets = files("assetpipe.sizes") / "report_assets"
    style = (assets / "report.css").read_text(encoding="utf-8")
    script = (assets / "report.js").read_text(encoding="utf-8")
    diff = report.diff
    title = f"assetpipe size report: {diff.head.label}"
    subtitle = (f"{diff.base.label} → {diff.head.label}" if diff.base is not None
                else f"{diff.head.label} (no baseline)")
    warnings = "".join(f"<li>{html.escape(n.file)}: {html.escape(n.message)}</li>"
                       for n in (*report.notices, *notices))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title>
<style>
{style}</style>
</head>
<body>
<header>
<h1>Size report <span class="badge {report.result}">{report.result}</span></h1>
<div class="muted">{html.escape(subtitle)} · headline metric: {diff.metric}</div>
</header>
<section>
<h2>The build, by folder and file</h2>
<div class="controls">
<span>size:</span>
<label><input type="radio" name="metric" id="metric-raw" value="raw"> raw</label>
<label><input type="radio" name="metric" id="metric-gzip" value="gzip"> gzip</label>
<label><input type="radio" name="metric" id="metric-brotli" value="brotli"> brotli</label>
<span id="crumbs"></span>
</div>
<div class="legend">{"".join(f'<span class="cat-{c}">{c}</span>' for c in CATEGORIES)}
<span class="muted">click a folder, or a file in it, to zoom in</span></div>
<div id="treemap"></div>
</section>
<section id="tables"></section>
<section id="chunks"></section>
<section id="images"></section>
{f'<section><h2>Warnings</h2><ul>{warnings}</ul></section>' if warnings else ''}
<footer>Sizes measured by assetpipe on the emitted files: raw bytes, and the gzip and Brotli sidecars a
server sends (computed at the build's settings where no sidecar exists). Source-map attribution counts
the raw bytes of each chunk exactly.</footer>
<script type="application/json" id="assetpipe-data">{payload}</script>
<script>
{script}</script>
</body>
</html>
"""


def page_data(report: SizeReport, chunks: tuple[Breakdown, ...]) -> dict[str, Any]:
    """What the page's script draws from: the JSON report, plus every HEAD file, the chunks and the images."""
    document = json.loads(to_json(report))
    head = report.diff.head
    document["head"]["files"] = [
        {"path": f.path, "category": f.category, "raw": f.sizes.raw, "gzip": f.sizes.gzip, "brotli": f.sizes.brotli,
         "logical": f.logical} for f in head.files]
    document["budgets"] = [as_json(b) for b in report.budgets]
    document["chunks"] = [{"file": c.file, "size": c.size, "sources": [list(s) for s in c.sources],
                           "packages": [list(p) for p in c.packages]} for c in chunks]
    document["images"] = [
        {"path": f.path, "size": f.sizes.raw, "format": f.image.format if f.image else f.media_type.split("/")[-1],
         "width": f.image.width if f.image else 0, "height": f.image.height if f.image else 0,
         "variants": [{"file": v.file, "format": v.format, "width": v.width, "height": v.height, "size": v.size}
                      for v in (f.image.variants if f.image else ())]}
        for f in head.files if f.category == "image"]
    return document
