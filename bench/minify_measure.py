"""Minifier benchmark: bytes and time of each candidate per type, against esbuild and lightningcss.

Run by bench/minify.sh (which makes the venv with the candidates and installs the yardsticks in /tmp).
Every candidate minifies the same real, unminified files (from the corpus site's node_modules) in one
run of this script, in-process, one thread, RUNS times; the table shows the median time. A candidate
that raises on a file keeps that file's original bytes in its total and counts it as failed.

Usage: python bench/minify_measure.py NODE_MODULES CORPUS_SITE YARDSTICK_NODE_MODULES RESULTS_DIR
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = int(os.environ.get("RUNS", "3"))
TYPES = ("html", "css", "js", "svg", "json")
MEDIA = {
    "html": "text/html",
    "css": "text/css",
    "js": "text/javascript",
    "svg": "image/svg+xml",
    "json": "application/json",
}


def inputs(modules: Path, site: Path) -> dict[str, list[Path]]:
    """The real unminified files of each type (the issue's list)."""
    nm = modules
    sets = {
        "css": [
            nm / "bootstrap/dist/css" / f"{n}.css"
            for n in ("bootstrap", "bootstrap-grid", "bootstrap-reboot", "bootstrap-utilities")
        ]
        + [nm / "bootstrap-icons/font/bootstrap-icons.css", nm / "katex/dist/katex.css"],
        "js": [
            nm / "bootstrap/dist/js/bootstrap.js",
            nm / "three/build/three.module.js",
            nm / "three/build/three.core.js",
            *sorted((nm / "lodash-es").glob("*.js")),
        ],
        "svg": [*sorted((nm / "bootstrap-icons/icons").glob("*.svg")), nm / "bootstrap-icons/bootstrap-icons.svg"],
        "html": [
            site / "index.html",
            site / "gallery.html",
            *sorted(nm.glob("katex/contrib/*/index.html")),
            *sorted(nm.glob("tslib/*.html")),
        ],
        "json": sorted(p for p in nm.glob("*/package.json"))
        + sorted(nm.glob("@*/*/package.json"))
        + [nm / "bootstrap-icons/font/bootstrap-icons.json"],
    }
    return {t: [p for p in files if p.is_file()] for t, files in sets.items()}


_LIBRARY_STATE: list[str] = [""]  # which config tdewolff-minify (global to the library) has now


def _use_config(name: str, config: dict) -> None:
    import minify

    if _LIBRARY_STATE[0] != name:  # outside the timed loop after the first file of a row
        minify.config(config)
        _LIBRARY_STATE[0] = name


def candidates() -> dict[str, tuple[str, dict[str, Callable[[bytes], bytes]]]]:
    """name -> (version, {type: bytes -> bytes}); only those importable here."""
    found: dict[str, tuple[str, dict[str, Callable[[bytes], bytes]]]] = {}
    try:
        from assetpipe.minify import minifier as ap

        def ap_minify(kind: str, data: bytes) -> bytes:
            _use_config("assetpipe", ap.LIBRARY_CONFIG)  # the library's config is global
            return ap.minify_bytes(kind, data)

        found["assetpipe (tdewolff-minify)"] = (
            version("tdewolff-minify"),
            {t: (lambda data, t=t: ap_minify(t, data)) for t in TYPES},
        )
    except ImportError as exc:
        print(f"assetpipe.minify.minifier not importable: {exc}", file=sys.stderr)
    try:
        import minify

        def defaults(kind: str, data: bytes) -> bytes:
            _use_config("defaults", {})  # the library's own defaults, for comparison
            return minify.string(MEDIA[kind], data.decode()).encode()

        found["tdewolff-minify defaults"] = (
            version("tdewolff-minify"),
            {t: (lambda data, t=t: defaults(t, data)) for t in TYPES},
        )
    except ImportError:
        pass
    try:
        import minify_html

        found["minify-html"] = (
            version("minify-html"),
            {"html": lambda data: minify_html.minify(data.decode(), minify_css=True, minify_js=True).encode()},
        )
    except ImportError:
        pass
    try:
        import lightningcss

        found["lightningcss (py)"] = (
            version("lightningcss"),
            {"css": lambda data: lightningcss.process_stylesheet(data.decode(), minify=True).encode()},
        )
    except ImportError:
        pass
    try:
        import rcssmin
        import rjsmin

        found["rjsmin/rcssmin"] = (
            f"{version('rjsmin')}/{version('rcssmin')}",
            {"js": lambda data: rjsmin.jsmin(data), "css": lambda data: rcssmin.cssmin(data)},
        )
    except ImportError:
        pass
    try:
        import pyminifyjs  # oxc_minifier behind one function: no mangling option, optimize on

        found["pyminifyjs (oxc_minifier)"] = (
            version("pyminifyjs"),
            {"js": lambda data: pyminifyjs.minify_js(data.decode(), True).encode()},
        )
    except ImportError:
        pass
    try:
        import minifyjs  # an esbuild build inside a Go binary, one process per file

        found["minifyjs (esbuild in a binary)"] = (
            version("minifyjs"),
            {"js": lambda data: minifyjs.optimize(data.decode()).code.encode()},
        )
    except ImportError:
        pass
    try:
        from scour import scour

        def run_scour(data: bytes) -> bytes:
            options = scour.sanitizeOptions(None)
            options.quiet = True
            return scour.scourString(data.decode(), options).encode()

        found["scour"] = (version("scour"), {"svg": run_scour})
    except ImportError:
        pass

    def json_compact(data: bytes) -> bytes:
        return json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False).encode()

    found["json.dumps compact"] = (sys.version.split()[0], {"json": json_compact})
    return found


def measure(fn: Callable[[bytes], bytes], files: list[tuple[Path, bytes]]) -> dict:
    times: list[float] = []
    sizes: dict[str, int] = {}
    failed: list[str] = []
    for _ in range(RUNS):
        sizes, failed = {}, []
        start = time.perf_counter()
        for path, data in files:
            try:
                sizes[str(path)] = len(fn(data))
            except Exception:
                failed.append(str(path))
        times.append(time.perf_counter() - start)
    return {"times": times, "sizes": sizes, "failed": failed}


SEMANTICS_JS = r"""
const [dir] = process.argv.slice(2);
const _ = (await import(dir + "/lodash-es/lodash.js")).default;
const THREE = await import(dir + "/three/build/three.module.js");
const out = {};
out.lodash = [_.chunk([1, 2, 3, 4, 5], 2), _.sortBy([{a: 3}, {a: 1}, {a: 2}], "a"), _.merge({a: {b: 1}}, {a: {c: 2}}),
  _.debounce.length, _.template("hi <%= name %>!")({name: "x"}), _.camelCase("Foo Bar-baz"),
  _.isEqual({a: [1]}, {a: [1]}),
  _.uniqBy([2.1, 1.2, 2.3], Math.floor), _.groupBy(["one", "two", "three"], "length"), _.range(0, 20, 5),
  _.curry((a, b, c) => a + b + c)(1)(2)(3), _.get({a: [{b: {c: 3}}]}, "a[0].b.c"), _.escape("<a href='x'>&</a>"),
  _.zipObject(["a", "b"], [1, 2]), _.flattenDeep([1, [2, [3, [4]]]]), _.kebabCase("fooBarBaz"), Object.keys(_).length];
const m = new THREE.Matrix4().makeRotationFromEuler(new THREE.Euler(0.3, 0.5, 0.7)).setPosition(1, 2, 3);
const v = new THREE.Vector3(1, 2, 3).applyMatrix4(m);
const q = new THREE.Quaternion().setFromRotationMatrix(m);
const color = new THREE.Color("hsl(120, 50%, 50%)");
const box = new THREE.Box3().setFromPoints([new THREE.Vector3(-1, 0, 2), new THREE.Vector3(3, -4, 1)]);
const geometry = new THREE.BoxGeometry(1, 2, 3, 2, 2, 2);
geometry.computeBoundingSphere();
out.three = [THREE.REVISION, m.elements, v.toArray(), q.toArray(), color.getHexString(),
  box.getSize(new THREE.Vector3()).toArray(),
  geometry.attributes.position.count, geometry.boundingSphere.radius, new THREE.Spherical().setFromVector3(v),
  THREE.MathUtils.smoothstep(0.3, 0, 1), new THREE.CubicBezierCurve(new THREE.Vector2(0, 0), new THREE.Vector2(1, 2),
  new THREE.Vector2(3, 2), new THREE.Vector2(4, 0)).getPoints(4), Object.keys(THREE).length];
console.log(JSON.stringify(out));
"""


def semantics(modules: Path, scratch: Path) -> dict:
    """lodash-es (every file minified) and three's modules, run in node before and after assetpipe's minifier."""
    import minify

    from assetpipe.minify import minifier as ap

    minify.config(ap.LIBRARY_CONFIG)
    result: dict = {"minified": 0, "left": 0}
    for side in ("before", "after"):
        root = scratch / side
        shutil.rmtree(root, ignore_errors=True)
        for part in ("lodash-es", "three/build"):
            shutil.copytree(modules / part, root / part)
        if side == "after":
            for path in [
                *sorted((root / "lodash-es").glob("*.js")),
                root / "three/build/three.module.js",
                root / "three/build/three.core.js",
            ]:
                data = path.read_bytes()
                if ap.skip_reason("js", path.name, data) is None:
                    out = ap.minify_bytes("js", data)
                    if ap.worth_keeping(len(data), len(out)):
                        path.write_bytes(out)
                        result["minified"] += 1
                        continue
                result["left"] += 1
        (root / "check.mjs").write_text(SEMANTICS_JS)
        run = subprocess.run(["node", str(root / "check.mjs"), root.as_uri()], capture_output=True, text=True)
        result[side] = run.stdout.strip() or run.stderr.strip()[-500:]
    result["same"] = result["before"] == result["after"] and result["before"].startswith("{")
    return result


def _js_group(path: Path) -> str:
    return "lodash-es" if path.parent.name == "lodash-es" else path.name


def js_by_group(rows: list[dict], raw: dict, files: list[tuple[Path, bytes]]) -> str:
    """JS bytes per file group (bootstrap.js, three's two builds, all of lodash-es) per tool, vs esbuild."""
    groups = list(dict.fromkeys(_js_group(p) for p, _ in files))
    totals: dict[str, dict[str, int]] = {}
    for r in sorted((r for r in rows if r["type"] == "js"), key=lambda r: r["minified"]):
        sizes = raw[r["tool"]]["types"]["js"]["sizes"]
        per = dict.fromkeys(groups, 0)
        for p, d in files:
            per[_js_group(p)] += sizes.get(str(p), len(d))
        totals[r["tool"]] = per
    esb = totals.get("esbuild --minify")
    lines = ["", "JS by file group: bytes (vs esbuild)", "", "| tool | " + " | ".join(groups) + " |",
             "|---|" + "---|" * len(groups)]
    for tool, per in totals.items():
        cells = [f"{per[g]:,}" + (f" ({(per[g] / esb[g] - 1) * 100:+.1f} %)" if esb else "") for g in groups]
        lines.append(f"| {tool} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    modules, site, yard_modules, results = (Path(a) for a in sys.argv[1:5])
    sets = inputs(modules, site)
    data = {t: [(p, p.read_bytes()) for p in files] for t, files in sets.items()}
    raw: dict[str, dict] = {}
    for name, (ver, fns) in candidates().items():
        raw[name] = {"version": ver, "types": {t: measure(fn, data[t]) for t, fn in fns.items()}}
        print(f"measured {name}", file=sys.stderr)
    listing = json.dumps([[t, str(p)] for t in ("js", "css") for p in sets[t]])
    yard = subprocess.run(
        ["node", str(HERE / "minify_yardstick.mjs"), str(yard_modules), str(RUNS)],
        input=listing,
        capture_output=True,
        text=True,
        check=True,
    )
    for name, entry in json.loads(yard.stdout).items():
        raw[f"{name} --minify"] = entry
    rows = []
    for name, entry in raw.items():
        for t, m in entry["types"].items():
            original = sum(len(d) for _, d in data[t])
            out = sum(m["sizes"].get(str(p), len(d)) for p, d in data[t])
            seconds = statistics.median(m["times"])
            rows.append(
                {
                    "tool": name,
                    "version": entry["version"],
                    "type": t,
                    "files": len(data[t]),
                    "original": original,
                    "minified": out,
                    "failed": len(m["failed"]),
                    "seconds": seconds,
                    "mb_per_s": original / seconds / 1e6,
                    "times": m["times"],
                }
            )
    results.mkdir(parents=True, exist_ok=True)
    (results / "minify.json").write_text(json.dumps({"runs": RUNS, "rows": rows, "raw": raw}, indent=1))
    lines = [
        f"RUNS={RUNS}, median seconds, one thread, in-process",
        "",
        "| type | tool | files | original | minified | saved | vs esbuild | failed | median s | MB/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    esb = {r["type"]: r["minified"] for r in rows if r["tool"] == "esbuild --minify"}
    for t in TYPES:
        for r in sorted((r for r in rows if r["type"] == t), key=lambda r: r["minified"]):
            vs = f"{(r['minified'] / esb[t] - 1) * 100:+.1f} %" if t in esb else ""
            lines.append(
                f"| {t} | {r['tool']} {r['version']} | {r['files']} | {r['original']:,} | {r['minified']:,} "
                f"| {(1 - r['minified'] / r['original']) * 100:.1f} % | {vs} | {r['failed']} "
                f"| {r['seconds']:.3f} | {r['mb_per_s']:.1f} |"
            )
    table = "\n".join(lines) + "\n" + js_by_group(rows, raw, data["js"])
    try:
        check = semantics(modules, results / "minify-semantics")
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        verdict = "same results" if check["same"] else "DIFFERENT: " + check["after"][:300]
        table += (
            f"\nSemantics (node {node}):"
            f" lodash-es and three run before and after assetpipe's minifier ({check['minified']} files minified,"
            f" {check['left']} left alone): {verdict}\n"
        )
    except ImportError as exc:
        table += f"\nSemantics not checked: {exc}\n"
    (results / "minify.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
