"""The scale benchmark, one command: generated trees of small text files, four measurements each.

python bench/scale/run.py [--sizes 10000,50000,200000,1000000] [--diff-sizes 200000,1000000] [--reuse]
                          [--work DIR] [--out FILE] [--label NAME] [--formats gzip,zstd]

For each size N: generate the tree (generate.py, seed 1) with an empty cache, then measure under
/usr/bin/time -v (bench/measure.py's one_run: wall time, peak RSS of the largest process, sampled PSS of
the whole process tree):

- cold: `assetpipe build DIR --no-images --cache-dir CACHE -q --json`, nothing cached; `[compress] formats`
  is `--formats` (default gzip and zstd: two sidecars a file, as the default config makes, without Brotli
  11's minutes at 200k files; the no-op and memory figures depend on the number of files, not the codec);
- warm: the same again, nothing changed (the no-op), run twice, the second kept (replayed where the
  checkout has build/noop.py);
- full: the no-op once more with that record deleted: what the full build costs when nothing changed;
- one: one file changed (generate.touch_one: a page), then the same build;
- one-js: one script changed (the first .js of that folder), 2.5 s later: a delta build (build/delta.py);
- diff: `assetpipe diff BASE HEAD --format json` of the manifest after the cold build and the one after
  the one-file change, both copied out of the tree.

`--diff-sizes` measures diff alone on two manifests per size written directly in the build's layout
(manifests.py), since a tree of 1,000,000 files takes over an hour to build here.

`ASSETPIPE_SRC=DIR` puts DIR first on PYTHONPATH, so another checkout (main, for the baseline) runs with
the same interpreter. `--reuse` keeps a tree an earlier run built (its `touch_one` change included) and
measures from warm-1 on: how another checkout's warm figures are taken on the same tree.
Results: one JSON line per measurement appended to --out, and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from generate import generate, path_of, touch_one  # noqa: E402
from manifests import write as write_manifest  # noqa: E402
from measure import one_run  # noqa: E402


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "assetpipe", *args]


def _to_file(cmd: list[str], out: Path) -> list[str]:
    """`cmd` with its stdout in `out`: diff's JSON of a million files is 600 MB, which the harness would
    otherwise collect (and try to parse) itself. `exec`, so /usr/bin/time measures the command alone."""
    return ["sh", "-c", 'out="$1"; shift; exec "$@" > "$out"', "sh", str(out), *cmd]


def run_size(n: int, work: Path, label: str, timeout: float, formats: str, reuse: bool) -> list[dict]:
    root = work / f"n{n}"
    site, cache = root / "site", root / "cache"
    fresh = not (reuse and (site / ".assetpipe" / "manifest.json").is_file() and (root / "base.json").is_file())
    if fresh:
        shutil.rmtree(root, ignore_errors=True)
        generate(n, site)
    codecs = ", ".join(f'"{f}"' for f in formats.split(","))
    (root / "assetpipe.toml").write_text(f"[compress]\nformats = [{codecs}]\n")  # found in the working folder
    build = _cmd("build", str(site), "--no-images", "--cache-dir", str(cache), "-q", "--json")
    rows = []

    def measure(name: str, cmd: list[str], before: Callable[[], object] | None = None) -> dict:
        if before is not None:
            time.sleep(2.5)  # the last build's writes past the racy window (statmemo.RACY_NS)
            before()
        figures = one_run(cmd, str(root), timeout)
        figures.pop("summary", None)
        row = {"label": label, "files": n, "step": name, **{k: figures.get(k) for k in
               ("exit", "wall_s", "cpu_s", "max_rss_mb", "tree_pss_mb", "other_cpu_s", "stderr_tail")}}
        print(json.dumps(row), flush=True)
        rows.append(row)
        return row

    if fresh:
        measure("cold", build)
        shutil.copy(site / ".assetpipe" / "manifest.json", root / "base.json")
    measure("warm-1", build)
    measure("warm", build)  # the second no-op: replayed where a build records its no-op (build/noop.py)
    for record in [*cache.glob("noop-v1.sqlite3*"), *cache.glob("delta-v1.sqlite3*")]:
        record.unlink()  # no record: the full build's own no-op cost (it records again: "one" is a delta)
    measure("full", build)
    touch_one(site, n)
    measure("one", build)
    shutil.copy(site / ".assetpipe" / "manifest.json", root / "head.json")
    measure("one-js", build, lambda: _touch_script(site, n))  # a delta, where the checkout has build/delta.py
    # both out of the tree, so diff reads only the manifests (beside its tree, it would compress every file
    # whose manifest lists no .br, to measure both sides alike)
    measure("diff", _to_file(_cmd("diff", str(root / "base.json"), str(root / "head.json"), "--format", "json"),
                             root / "diff.json"))
    return rows


def _touch_script(site: Path, n: int) -> Path:
    """Change one script (the first .js of the middle file's folder) by appending a line."""
    folder = path_of(n // 2)
    folder = site / folder if (site / folder).is_dir() else site
    target = next(p for p in sorted(folder.rglob("*.js")))
    with target.open("ab") as handle:
        handle.write(b"\n/* changed again */\n")
    return target


def diff_size(n: int, work: Path, label: str, timeout: float) -> dict:
    """diff alone, of two manifests written directly (manifests.py): for sizes too large to build here."""
    root = work / f"manifests-{n}"
    if not (root / "head.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        write_manifest(n, root / "base.json", head=False)
        write_manifest(n, root / "head.json", head=True)
    figures = one_run(_to_file(_cmd("diff", str(root / "base.json"), str(root / "head.json"), "--format", "json"),
                               root / "diff.json"), str(root), timeout)
    row = {"label": label, "files": n, "step": "diff-manifests", **{k: figures.get(k) for k in
           ("exit", "wall_s", "cpu_s", "max_rss_mb", "tree_pss_mb", "other_cpu_s", "stderr_tail")}}
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict]) -> str:
    lines = ["| label | files | cold | warm no-op | no-op, full build | one changed | diff --format json |",
             "|---|---|---|---|---|---|---|"]
    by: dict[tuple[str, int], dict[str, dict]] = {}
    for r in rows:
        by.setdefault((r["label"], r["files"]), {})[r["step"]] = r

    def cell(r: dict | None) -> str:
        return "-" if r is None else f"{r['wall_s']:.2f} s ({r['cpu_s']:.2f} CPU s), {r['max_rss_mb']:.0f} MB"

    for (label, n), steps in by.items():
        cells = " | ".join(cell(steps.get(s) or (steps.get("diff-manifests") if s == "diff" else None))
                           for s in ("cold", "warm", "full", "one", "diff"))
        lines.append(f"| {label} | {n:,} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,50000,200000,1000000")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("ASSETPIPE_BENCH_TMP", "/tmp/assetpipe-bench"))
                    / "scale")
    ap.add_argument("--out", type=Path, default=Path("/tmp/assetpipe-bench-results/scale.jsonl"))
    ap.add_argument("--label", default="this checkout")
    ap.add_argument("--timeout", type=float, default=7200)
    ap.add_argument("--diff-sizes", default="",
                    help="also diff two manifests of each of these sizes written directly (manifests.py), no build")
    ap.add_argument("--reuse", action="store_true",
                    help="keep a tree an earlier run generated and built (no cold step): for a checkout's warm figures")
    ap.add_argument("--formats", default="gzip,zstd",
                    help="[compress] formats (default gzip,zstd: two sidecars a file, as the default br,gzip makes, "
                         "at a fraction of Brotli 11's time, so the cold build of a large tree takes minutes)")
    a = ap.parse_args()
    if src := os.environ.get("ASSETPIPE_SRC"):
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (src, os.environ.get("PYTHONPATH"))))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for n in (int(s) for s in a.sizes.split(",") if s):
        for row in run_size(n, a.work, a.label, a.timeout, a.formats, a.reuse):
            rows.append(row)
            with a.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
    for n in (int(s) for s in a.diff_sizes.split(",") if s):
        row = diff_size(n, a.work, a.label, a.timeout)
        rows.append(row)
        with a.out.open("a") as f:
            f.write(json.dumps(row) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
