"""`assetpipe diff` on two 10,000-file manifests, and the HTML size report in headless Chromium.

python bench/diff.py [--runs N] [--files N] [--seed N] [--part diff|report|all]

Run it with assetpipe's own Python (the CLI runs as `python -m assetpipe` with this checkout first on
PYTHONPATH; the in-process rows import it). Needs Debian's /usr/bin/chromium and /usr/bin/chromedriver
and selenium (the test extra) for the report part, and the corpus site (`../shared/bench/make-corpus.sh`).

diff    Two schema-valid manifests of FILES entries each (default 10,000), generated with a fixed seed in
        the shape of the corpus site's real manifest: Vite-hashed chunks with their .map files, logical
        names for entries and routes (none for shared chunks, several named `index-*.js`), CSS, fonts, images with
        AVIF/WebP encodings and responsive variants, public SVG icons, JSON data, pages; br and gzip sizes
        for the text files. HEAD differs from BASE as a busy pull request does: ~4 % of hashed files
        rebuilt with new hashes and sizes, ~5 % of public text files edited, ~1.5 % removed and as many added.
        Timed: `assetpipe diff BASE.json HEAD.json --format F` for text, markdown and json, wall time from
        outside (subprocess), median of RUNS; `assetpipe --version` (interpreter start + CLI import) the
        same way; and in-process, the phases (measure both sides, compare, render). Goal: <= 1 s.
report  The corpus site built by `assetpipe build HEAD --report build.html` (a cache folder in the
        scratch folder is kept between invocations, so only the first one pays for the images), and
        `assetpipe diff BASE HEAD --report diff.html` against a slightly changed copy (the largest chunk
        smaller, an icon fewer, a page more). Each report's size (goal < 2 MB), then its load in headless
        Chromium (the flags tests/test_htmlreport.py uses): a script injected before the page's own
        (CDP Page.addScriptToEvaluateOnNewDocument) notes performance.now() (ms since navigation start)
        when the treemap's boxes exist (a MutationObserver) and after the next frame has been drawn (rAF,
        then a task); RUNS loads in one browser ("warm") and 3 loads each in a fresh browser ("cold").
        Goal: drawn <= 2 s. The 10,000-file diff's report is loaded too, as context.

Prints markdown and writes $ASSETPIPE_BENCH_RESULTS/diff.{md,json}; scratch in $ASSETPIPE_BENCH_TMP/scratch-diff.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assetpipe.sizes.diff import DEFAULT_HASH_PATTERN

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TMP = Path(os.environ.get("TMPDIR", "/tmp"))
CORPUS = Path(os.environ.get("ASSETPIPE_CORPUS", TMP / "assetpipe-corpus"))
SCRATCH = Path(os.environ.get("ASSETPIPE_BENCH_TMP", TMP / "assetpipe-bench")) / "scratch-diff"
RESULTS = Path(os.environ.get("ASSETPIPE_BENCH_RESULTS", TMP / "assetpipe-bench-results"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
GOAL_DIFF_S = 1.0
GOAL_OPEN_S = 2.0
GOAL_BYTES = 2_000_000
FORMATS = ("text", "markdown", "json")

# --- two realistic manifests -----------------------------------------------------------------------

_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_WORDS = ("account", "admin", "alert", "analytics", "api", "app", "auth", "avatar", "badge", "banner", "billing",
          "blog", "button", "calendar", "card", "cart", "chart", "chat", "checkout", "comment", "dashboard",
          "date", "dialog", "docs", "editor", "feed", "filter", "footer", "form", "gallery", "grid", "header",
          "help", "home", "invoice", "list", "login", "map", "media", "menu", "modal", "nav", "order", "page",
          "panel", "payment", "pricing", "profile", "report", "search", "settings", "shop", "sidebar", "signup",
          "stats", "table", "tabs", "team", "theme", "toast", "upload", "user", "video", "wizard")
_PACKAGES = ("react-dom", "lodash-es", "date-fns", "three", "echarts", "chart.js", "katex", "zod", "axios",
             "d3-scale", "d3-shape", "rxjs", "immer", "zustand", "i18next", "marked", "dompurify", "prismjs")
# br / gzip as a fraction of raw, per kind (the corpus site's own ratios, rounded)
_RATIOS = {"js": (0.27, 0.31), "css": (0.15, 0.19), "svg": (0.45, 0.52), "json": (0.30, 0.36),
           "html": (0.35, 0.50), "ttf": (0.52, 0.55), "other": (0.40, 0.45)}
_MEDIA = {"js": "text/javascript", "map": "application/json", "css": "text/css", "svg": "image/svg+xml",
          "json": "application/json", "html": "text/html", "woff2": "font/woff2", "woff": "font/woff",
          "ttf": "font/ttf", "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
          "wasm": "application/wasm", "txt": "text/plain", "ico": "image/vnd.microsoft.icon",
          "webmanifest": "application/manifest+json"}
_IMAGE_FORMATS = {"jpg": "jpeg", "png": "png", "webp": "webp", "gif": "gif"}
_HASHLIKE = re.compile(DEFAULT_HASH_PATTERN)


def _vite_hash(rng: random.Random) -> str:
    return "".join(rng.choice(_B64URL) for _ in range(8))


def _name(rng: random.Random, parts: int = 2) -> str:
    return "-".join(rng.choice(_WORDS) for _ in range(parts))


def _size(rng: random.Random, median: float, spread: float = 1.0) -> int:
    return max(40, int(rng.lognormvariate(0, spread) * median))


class Spec:
    """One file of the generated build, before it becomes a manifest entry: enough to change it for HEAD."""

    def __init__(self, folder: str, stem: str, ext: str, size: int, *, hashed: bool, logical: str | None = None,
                 image: tuple[int, int] | None = None, version: int = 0, hash_: str = "") -> None:
        self.folder, self.stem, self.ext, self.size = folder, stem, ext, size
        self.hashed, self.logical, self.image, self.version, self.hash = hashed, logical, image, version, hash_

    @property
    def path(self) -> str:
        name = f"{self.stem}-{self.hash}.{self.ext}" if self.hashed else f"{self.stem}.{self.ext}"
        return f"{self.folder}/{name}" if self.folder else name


def _specs(rng: random.Random, count: int) -> list[Spec]:
    """The base build: the corpus site's kinds of files, in the proportions a large Vite app has."""
    out: list[Spec] = []
    used: set[str] = set()

    def add(spec: Spec) -> bool:
        if spec.hashed and not spec.hash:
            spec.hash = _vite_hash(rng)
        if spec.path in used or (not spec.hashed and _HASHLIKE.search(spec.path.rsplit("/", 1)[-1])):
            return False  # a public name the default pattern takes for a hash (`footer-2.svg`): left out
        used.add(spec.path)
        out.append(spec)
        return True

    def chunk(stem: str, logical: str | None, median: float) -> None:
        spec = Spec("assets", stem, "js", _size(rng, median, 1.1), hashed=True, logical=logical)
        add(spec)
        add(Spec("assets", stem, "js.map", int(spec.size * rng.uniform(2.5, 4.0)), hashed=True, hash_=spec.hash))

    share = max(1, count // 100)
    for i in range(share):  # pages and their entry chunks (Vite keys an entry by its page)
        page = "index" if i == 0 else f"{_name(rng)}-{i}"
        folder = "" if i == 0 else "pages"
        if add(Spec(folder, page, "html", _size(rng, 1500, 0.5), hashed=False)):
            chunk("main" if i == 0 else page, f"{folder + '/' if folder else ''}{page}.html", 60_000)
    for i in range(15 * share // 2):  # routes and components, lazily imported
        stem = _name(rng, 1).capitalize() + _name(rng, 1).capitalize()
        chunk(stem, f"src/{rng.choice(('pages', 'components', 'features'))}/{stem}-{i}.tsx", 25_000)
    for i in range(2 * share):  # shared chunks: keyed `_name-hash.js` by Vite, so no logical name
        stem = rng.choice(_PACKAGES) if i % 3 else _name(rng, 1)
        chunk("index" if i % 40 == 0 else f"{stem}-{i}", None, 15_000)  # Vite names many chunks `index`
    for i in range(5 * share):
        logical = f"src/styles/{_name(rng)}-{i}.css" if i % 5 == 0 else None
        add(Spec("assets", f"{_name(rng)}-{i}", "css", _size(rng, 8_000, 1.2), hashed=True, logical=logical))
    for i in range(share):  # font families: woff2, woff and ttf of each, hashed, from node_modules
        family = f"{rng.choice(('Inter', 'KaTeX_Main', 'Roboto', 'Noto'))}-{_name(rng, 1)}-{i}"
        for ext, median in (("woff2", 25_000), ("woff", 32_000), ("ttf", 60_000)):
            add(Spec("assets", family, ext, _size(rng, median, 0.6), hashed=True,
                     logical=f"node_modules/@fontsource/{family.lower()}.{ext}"))
    for i in range(8 * share):  # imported images: hashed, with variants
        ext = rng.choice(("jpg", "jpg", "png", "png", "webp", "gif"))
        stem = f"{_name(rng)}-{i}"
        width = rng.choice((256, 512, 800, 1200, 1600, 2400, 3000))
        add(Spec("assets", stem, ext, _size(rng, width * 120, 0.7), hashed=True, logical=f"src/assets/{stem}.{ext}",
                 image=(width, int(width * rng.uniform(0.5, 1.4)))))
    for i in range(2 * share):  # public images
        ext = rng.choice(("jpg", "png"))
        width = rng.choice((320, 640, 1024, 1920))
        add(Spec("img", f"{_name(rng)}-{i}", ext, _size(rng, width * 100, 0.7), hashed=False,
                 image=(width, int(width * rng.uniform(0.5, 1.4)))))
    for i in range(3 * share):
        add(Spec("data", f"{_name(rng)}-{i}", "json", _size(rng, 6_000, 1.5), hashed=False))
    for i in range(share):
        add(Spec("assets", f"{_name(rng, 1)}-{i}", "wasm", _size(rng, 200_000, 1.0), hashed=True,
                 logical=f"src/wasm/{_name(rng, 1)}-{i}.wasm"))
    for stem, ext, size in ((".vite/manifest", "json", 40 * count), ("robots", "txt", 60), ("favicon", "ico", 15_086),
                            ("site", "webmanifest", 420), ("icons-sprite", "svg", 1_123_048)):
        add(Spec("", stem, ext, size, hashed=False))
    while len(out) < count:  # public icons fill the rest, as bootstrap-icons does in the corpus site
        suffix = rng.choice(("fill", "line", "circle", "square", "x"))
        add(Spec("icons", f"{_name(rng, rng.choice((1, 2, 3)))}-{suffix}", "svg", _size(rng, 600, 0.5), hashed=False))
    return out[:count]


def _entry(spec: Spec, seed: int) -> dict[str, Any]:
    digest = hashlib.sha256(f"{seed}:{spec.path}:{spec.version}".encode()).digest()
    entry: dict[str, Any] = {"size": spec.size, "sha256": digest.hex(), "type": _MEDIA[spec.ext.split(".")[-1]],
                             "immutable": spec.hashed,
                             "integrity": "sha384-" + base64.b64encode(hashlib.sha384(digest).digest()).decode()}
    if spec.logical:
        entry["logical"] = spec.logical
    kind = spec.ext if spec.ext in _RATIOS else "other" if spec.ext in ("txt", "webmanifest", "ico") else None
    wobble = 1 + (digest[0] - 128) / 2000  # +-6 %: per-file compressibility
    if kind and spec.ext != "ico":
        br, gz = _RATIOS[kind]
        entry["encodings"] = {"br": {"file": f"{spec.path}.br", "size": int(spec.size * br * wobble)},
                              "gzip": {"file": f"{spec.path}.gz", "size": int(spec.size * gz * wobble)}}
    if spec.image is not None:
        width, height = spec.image
        fmt = _IMAGE_FORMATS[spec.ext]
        stem = spec.path.rsplit(".", 1)[0]
        variants = []
        widths = [w for w in (320, 640, 1280, 1920) if w < width] + [width]
        for w in widths:
            h = max(1, round(height * w / width))
            for vfmt, ratio in {"avif": 0.35, "webp": 0.55, fmt: 1.0}.items():  # a WebP's own format once
                if vfmt == fmt and w == width:
                    continue
                tag = hashlib.sha256(f"{spec.path}:{vfmt}".encode()).hexdigest()[:8]
                ext = "jpg" if vfmt == "jpeg" else vfmt
                variants.append({"file": f"{stem}.{tag}.{w}w.{ext}", "format": vfmt, "width": w, "height": h,
                                 "size": int(spec.size * ratio * (w / width) ** 2 * wobble)})
        entry["image"] = {"width": width, "height": height, "format": fmt, "animated": fmt == "gif" and wobble > 1,
                          "variants": variants}
        if fmt != "gif":
            entry["encodings"] = {f: {"file": f"{spec.path}.{f}", "size": int(spec.size * r * wobble)}
                                  for f, r in (("avif", 0.35), ("webp", 0.55)) if f != fmt}
    return entry


def manifests(count: int, seed: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    """BASE and HEAD manifests of `count` files each, and what was changed between them."""
    rng = random.Random(seed)
    base = _specs(rng, count)
    head: list[Spec] = []
    changes = {"rebuilt": 0, "edited": 0, "removed": 0, "added": 0}
    maps = {s.path: s for s in base if s.ext == "js.map"}
    skip: set[str] = set()
    for spec in base:
        if spec.path in skip:
            continue
        roll = rng.random()
        companion = maps.get(spec.path + ".map") if spec.ext == "js" else None
        if spec.ext == "js.map":
            head.append(spec)  # its chunk was kept as it was
            continue
        if roll < 0.015 and spec.folder != "" and not spec.path.startswith("pages"):
            changes["removed"] += 1 + (companion is not None)
            if companion is not None:
                skip.add(companion.path)  # the chunk's map comes after it, and goes with it
            continue
        if roll < 0.055 and spec.hashed:  # rebuilt: new content, new hash
            factor = rng.choice((rng.uniform(0.85, 1.0), rng.uniform(1.0, 1.25), rng.uniform(1.5, 3.0)))
            new = Spec(spec.folder, spec.stem, spec.ext, max(40, int(spec.size * factor)), hashed=True,
                       logical=spec.logical, image=spec.image, version=spec.version + 1, hash_=_vite_hash(rng))
            head.append(new)
            changes["rebuilt"] += 1
            if companion is not None:
                skip.add(companion.path)
                head.append(Spec("assets", spec.stem, "js.map", int(companion.size * factor), hashed=True,
                                 version=companion.version + 1, hash_=new.hash))
                changes["rebuilt"] += 1
            continue
        if roll < 0.065 and not spec.hashed and spec.ext in ("svg", "json", "html"):  # edited in place
            head.append(Spec(spec.folder, spec.stem, spec.ext, max(40, int(spec.size * rng.uniform(0.9, 1.3))),
                             hashed=False, image=spec.image, version=spec.version + 1))
            changes["edited"] += 1
            continue
        head.append(spec)
    grow = random.Random(seed + 1)
    while len(head) < count:  # new routes (a chunk and its map) and new icons
        if len(head) + 2 <= count and grow.random() < 0.5:
            stem = "New" + _name(grow, 1).capitalize()
            spec = Spec("assets", stem, "js", _size(grow, 20_000), hashed=True, hash_=_vite_hash(grow),
                        logical=f"src/pages/{stem}-{len(head)}.tsx")
            head += [spec, Spec("assets", stem, "js.map", spec.size * 3, hashed=True, hash_=spec.hash)]
            changes["added"] += 2
        else:
            head.append(Spec("icons", f"new-{_name(grow)}-{len(head)}", "svg", _size(grow, 600, 0.5), hashed=False))
            changes["added"] += 1

    def document(specs: list[Spec]) -> dict[str, Any]:
        return {"schema": 1, "files": {s.path: _entry(s, seed) for s in sorted(specs, key=lambda s: s.path)},
                "failures": []}

    return document(base), document(head[:count]), changes


def _validate(document: dict[str, Any], label: str) -> str:
    try:
        import jsonschema
    except ImportError:
        return "not checked (no jsonschema)"
    schema = json.loads((REPO / "config" / "manifest.schema.json").read_text())
    jsonschema.validate(document, schema)
    return f"{label}: valid"


# --- timing helpers --------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETPIPE_")}
    env["PYTHONPATH"] = str(REPO)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: compiled modules cached
    return env


CLI = [sys.executable, "-m", "assetpipe"]


def _timed(args: list[str], out: Path | None = None, ok: tuple[int, ...] = (0,)) -> float:
    with open(out or os.devnull, "wb") as sink:
        start = time.perf_counter()
        done = subprocess.run(args, cwd=SCRATCH, env=_env(), stdout=sink, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}\n{done.stderr.decode(errors='replace')}")
    return wall


def _stats(values: list[float]) -> dict[str, Any]:
    return {"runs": [round(v, 4) for v in values], "median": round(statistics.median(values), 4),
            "min": round(min(values), 4), "max": round(max(values), 4)}


def _spread(s: dict[str, Any], unit: float = 1.0, digits: int = 2) -> str:
    return f"{s['median'] * unit:.{digits}f} ({s['min'] * unit:.{digits}f}-{s['max'] * unit:.{digits}f})"


# --- part 1: the diff of two 10,000-file manifests -------------------------------------------------


def bench_diff(runs: int, count: int, seed: int) -> dict[str, Any]:
    folder = SCRATCH / "manifests"
    folder.mkdir(parents=True, exist_ok=True)
    base, head, changes = manifests(count, seed)
    valid = [_validate(base, "base"), _validate(head, "head")]
    paths = {"base": folder / f"base-{count}.json", "head": folder / f"head-{count}.json"}
    for side, doc in (("base", base), ("head", head)):
        paths[side].write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    result: dict[str, Any] = {"files": count, "seed": seed, "changes": changes, "schema": valid,
                              "bytes": {s: p.stat().st_size for s, p in paths.items()}, "rows": {}}
    _timed([*CLI, "--version"])  # page the interpreter in once
    result["rows"]["version"] = {"command": "assetpipe --version",
                                 **_stats([_timed([*CLI, "--version"]) for _ in range(runs)])}
    for fmt in FORMATS:
        args = [*CLI, "diff", str(paths["base"]), str(paths["head"]), "--format", fmt]
        output = folder / f"out.{fmt}"
        walls = [_timed(args, output) for _ in range(runs + 1)][1:]  # the first run warms the page cache
        result["rows"][fmt] = {"command": f"assetpipe diff {paths['base'].name} {paths['head'].name} --format {fmt}",
                               "output_bytes": output.stat().st_size, **_stats(walls)}
    report = folder / "diff-10k.html"
    walls = [_timed([*CLI, "diff", str(paths["base"]), str(paths["head"]), "-q", "--report", str(report)])
             for _ in range(runs)]
    result["rows"]["report"] = {"command": f"assetpipe diff {paths['base'].name} {paths['head'].name} -q --report "
                                           "diff-10k.html", "output_bytes": report.stat().st_size, **_stats(walls)}
    summary = json.loads((folder / "out.json").read_text())
    result["statuses"] = {s: sum(1 for f in summary["files"] if f["status"] == s)
                          for s in ("added", "removed", "changed", "unchanged")}
    result["warnings"] = len(summary["warnings"])
    result["in_process"] = _in_process(paths["base"], paths["head"], runs)
    result["report_path"] = str(report)
    return result


def _in_process(base: Path, head: Path, runs: int) -> dict[str, Any]:
    """The same work without the interpreter's start: each phase timed separately."""
    from assetpipe.config import Config
    from assetpipe.sizes import comment
    from assetpipe.sizes import formats as diffreport
    from assetpipe.sizes.budgets import evaluate
    from assetpipe.sizes.diff import compare
    from assetpipe.sizes.measure import measure
    from assetpipe.sizes.model import SizeReport

    config = Config()
    phases: dict[str, list[float]] = {k: [] for k in ("measure", "compare", "text", "markdown", "json")}
    for _ in range(runs):
        start = time.perf_counter()
        sides = measure(base, config), measure(head, config)
        phases["measure"].append(time.perf_counter() - start)
        start = time.perf_counter()
        diff = compare(*sides)
        report = SizeReport(diff, tuple(evaluate((), diff)), diff.notices)
        phases["compare"].append(time.perf_counter() - start)
        renderers: dict[str, Callable[[SizeReport], str]] = {
            "text": diffreport.text, "markdown": comment.markdown, "json": diffreport.to_json}
        for name, render in renderers.items():
            start = time.perf_counter()
            render(report)
            phases[name].append(time.perf_counter() - start)
    return {k: _stats(v) for k, v in phases.items()}


# --- part 2: the HTML report of the corpus site in Chromium ----------------------------------------


def _prepare_sites() -> tuple[Path, Path]:
    source = CORPUS / "site"
    if not source.is_dir():
        raise SystemExit(f"{source}: no corpus site; run bash ../shared/bench/make-corpus.sh first")
    head, base = SCRATCH / "head", SCRATCH / "base"
    for folder in (head, base):
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(source, folder, symlinks=True)
    # BASE: the largest chunk 10 % smaller, one icon more (gone in HEAD), one page fewer (new in HEAD)
    chunk = next(base.glob("assets/EChartsPanel-*.js"))
    data = chunk.read_bytes()
    chunk.write_bytes(data[: len(data) * 9 // 10])
    (base / "icons" / "retired-icon.svg").write_bytes((base / "icons" / "alarm.svg").read_bytes() + b"<!-- old -->")
    (base / "gallery.html").unlink()
    cache = SCRATCH / "cache"  # kept between invocations: only the first build encodes the images
    _timed([*CLI, "build", str(base), "-q", "--cache-dir", str(cache)])
    return base, head


def bench_report(runs: int, extra: list[tuple[str, Path]]) -> dict[str, Any]:
    base, head = _prepare_sites()
    cache = SCRATCH / "cache"
    build_html, diff_html = SCRATCH / "build.html", SCRATCH / "diff.html"
    rows: dict[str, Any] = {}
    wall = _timed([*CLI, "build", str(head), "-q", "--cache-dir", str(cache), "--report", str(build_html)])
    rows["build"] = {"command": "assetpipe build head -q --cache-dir cache --report build.html",
                     "command_wall_s": round(wall, 3), "path": str(build_html)}
    walls = [_timed([*CLI, "diff", str(base), str(head), "-q", "--report", str(diff_html)]) for _ in range(runs)]
    rows["diff"] = {"command": "assetpipe diff base head -q --report diff.html", "command_wall": _stats(walls),
                    "path": str(diff_html)}
    for name, path in extra:
        rows[name] = {"command": "see the diff part", "path": str(path)}
    for row in rows.values():
        path = Path(row["path"])
        row["bytes"] = path.stat().st_size
        row["files"] = len(_page_data(path)["head"]["files"])
    with _Browser() as browser:
        for row in rows.values():
            row["warm"] = browser.loads(Path(row["path"]), runs, row["files"])
    for row in rows.values():
        cold = []
        for _ in range(3):
            with _Browser() as browser:
                cold.append(browser.loads(Path(row["path"]), 1, row["files"], raw=True)[0])
        row["cold"] = {k: _stats([c[k] for c in cold]) for k in cold[0]}
    return rows


def _page_data(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="assetpipe-data">')
    body = text[text.index(">", start) + 1: text.index("</script>", start)]
    return json.loads(body)


# Injected before the page's own script; a mutation observer's callback runs right after the task that
# added the boxes, so `drawn` is when the report's script has put the treemap in the document, and
# `painted` is after the next frame (rAF, then a task: the frame has been drawn by then).
_PROBE = """
if (location.protocol === "file:") {
  window.__bench = {};
  const observer = new MutationObserver(() => {
    const tiles = document.querySelectorAll("#treemap .tile").length;
    if (!tiles || window.__bench.drawn) return;
    window.__bench.drawn = performance.now();
    window.__bench.tiles = tiles;
    observer.disconnect();
    requestAnimationFrame(() => setTimeout(() => { window.__bench.painted = performance.now(); }, 0));
  });
  observer.observe(document, { childList: true, subtree: true });
}
"""


class _Browser:
    def __enter__(self) -> _Browser:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1600"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.started = time.perf_counter()
        self.driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        self.start_s = time.perf_counter() - self.started
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _PROBE})
        return self

    def __exit__(self, *exc: object) -> None:
        self.driver.quit()

    def loads(self, path: Path, runs: int, files: int, raw: bool = False) -> Any:
        samples = []
        for _ in range(runs):
            self.driver.get("about:blank")
            start = time.perf_counter()
            self.driver.get(path.as_uri())  # returns after the load event
            while not self.driver.execute_script("return window.__bench && window.__bench.painted"):
                time.sleep(0.01)
            outside = time.perf_counter() - start
            page = self.driver.execute_script("""
              const nav = performance.getEntriesByType("navigation")[0];
              return {drawn: window.__bench.drawn, painted: window.__bench.painted, tiles: window.__bench.tiles,
                      dom_content_loaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                      ready: document.body.dataset.ready};""")
            errors = [e for e in self.driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
            if errors or page["ready"] != "1" or page["tiles"] != files:
                raise SystemExit(f"{path}: not drawn as expected: {page}, console {errors}")
            samples.append({"drawn_s": page["drawn"] / 1000, "painted_s": page["painted"] / 1000,
                            "dom_content_loaded_s": page["dom_content_loaded"] / 1000, "load_s": page["load"] / 1000,
                            "outside_s": outside,
                            **({"browser_start_s": self.start_s} if raw else {})})
        if raw:
            return samples
        return {k: _stats([s[k] for s in samples]) for k in samples[0]}


# --- the report ------------------------------------------------------------------------------------


def _markdown(results: dict[str, Any]) -> str:
    out = [f"Load average {results['load_start']} at the start, {results['load_end']} at the end; "
           f"{results['machine']}; commit {results['commit']}.", ""]
    goals: list[tuple[str, str, str, bool]] = []
    if "diff" in results:
        d = results["diff"]
        ins = d["in_process"]
        out += [f"### Diff of two {d['files']:,}-file manifests",
                "", f"Generated with seed {d['seed']} ({', '.join(d['schema'])}; BASE {d['bytes']['base']:,} B, "
                f"HEAD {d['bytes']['head']:,} B); changes made: {d['changes']}; the diff found "
                f"{d['statuses']} ({d['warnings']} warnings about names shared by several files).", "",
                "| command | runs | wall s, median (min-max) | output bytes |", "|---|---:|---:|---:|"]
        for row in d["rows"].values():
            out.append(f"| `{row['command']}` | {len(row['runs'])} | {_spread(row, digits=3)} "
                       f"| {row.get('output_bytes', 0):,} |")
        out += ["", "In-process (no interpreter start), median (min-max) s: "
                + ", ".join(f"{k} {_spread(v, digits=3)}" for k, v in ins.items()), ""]
        for fmt in FORMATS:
            row = d["rows"][fmt]
            goals.append((f"`assetpipe diff` of 2 x {d['files']:,} files, --format {fmt}", f"≤ {GOAL_DIFF_S:g} s",
                          f"{row['median']:.3f} s", row["median"] <= GOAL_DIFF_S))
    if "report" in results:
        out += ["### The HTML report in headless Chromium", "",
                "Times in s from navigation start (in-page `performance.now()`), median (min-max); "
                "\"outside\" = from `driver.get()` to the probe's `painted` seen by polling (includes "
                "chromedriver's round trips).", "",
                "| report | bytes | treemap boxes | loads | drawn | painted (goal) | load event | outside |",
                "|---|---:|---:|---|---:|---:|---:|---:|"]
        for name, row in results["report"].items():
            for mode in ("warm", "cold"):
                r = row[mode]
                label = f"{len(r['painted_s']['runs'])} in one browser" if mode == "warm" else \
                    f"{len(r['painted_s']['runs'])} in fresh browsers"
                out.append(f"| {name} | {row['bytes']:,} | {row['files']:,} | {label} | {_spread(r['drawn_s'])} "
                           f"| {_spread(r['painted_s'])} | {_spread(r['load_s'])} "
                           f"| {_spread(r['outside_s'])} |")
            if name in ("build", "diff"):
                goals.append((f"report of the corpus site ({name}) size", "< 2 MB", f"{row['bytes']:,} B",
                              row["bytes"] < GOAL_BYTES))
                worst = max(row["warm"]["painted_s"]["median"], row["cold"]["painted_s"]["median"])
                goals.append((f"report of the corpus site ({name}) opened and drawn (slower of warm/cold medians)",
                              f"≤ {GOAL_OPEN_S:g} s", f"{worst:.2f} s", worst <= GOAL_OPEN_S))
        rows = results["report"]
        out += ["", "Commands: " + "; ".join(f"`{r['command']}`" for r in rows.values() if "see" not in r["command"])
                + f" (this one {_spread(rows['diff']['command_wall'])} s; the build with --report "
                f"{rows['build']['command_wall_s']} s, cache warm)." if "diff" in rows else "", ""]
    out += ["### Goals", "", "| goal | target | measured | met |", "|---|---|---|---|"]
    out += [f"| {g} | {t} | {m} | {'yes' if ok else '**no**'} |" for g, t, m, ok in goals]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--part", choices=("diff", "report", "all"), default="all")
    args = parser.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    results: dict[str, Any] = {"load_start": ", ".join(f"{x:.2f}" for x in os.getloadavg()), "commit": commit,
                               "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"}
    extra: list[tuple[str, Path]] = []
    if args.part in ("diff", "all"):
        results["diff"] = bench_diff(args.runs, args.files, args.seed)
        extra.append((f"diff of the {args.files:,}-file manifests (context)", Path(results["diff"]["report_path"])))
    if args.part in ("report", "all"):
        results["report"] = bench_report(args.runs, extra)
    results["load_end"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    text = _markdown(results)
    (RESULTS / "diff.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "diff.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
