"""A large tree for the scale benchmark made from a smaller one already built: K copies of its sources.

python bench/scale/widen.py --base 200000 --copies 5 [--work DIR]

Generating 1,000,000 files and compressing all of them takes over an hour here; this takes minutes. It
makes WORK/n{BASE*K}/site/q0 … q{K-1}, each a copy of WORK/n{BASE}/site's sources (sidecars and
`.assetpipe/` left out), and a copy of WORK/n{BASE}/cache without its no-op and delta records, so the cold
build of the wide tree finds every sidecar in the cache (the copies hold the same bytes) and writes it
from there. That cold build is measured like run.py's (wall, CPU, peak RSS), and its manifest kept as
base.json, so that `run.py --sizes N --reuse --work DIR` then measures the warm steps on the wide tree
(`generate.touch_one` finds the middle copy's file).

The copies repeat content: what is measured is the number of files, names and folders (the walk, the
records, the per-file memory), not the variety of bytes. Needs run.py's tree of BASE files first
(`python bench/scale/run.py --sizes BASE --work DIR`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from measure import one_run  # noqa: E402

_SIDECARS = (".br", ".gz", ".zst")


def widen(work: Path, base: int, copies: int) -> Path:
    source = work / f"n{base}"
    if not (source / "site" / ".assetpipe" / "manifest.json").is_file():
        raise SystemExit(f"{source}: no built tree of {base} files; run `python bench/scale/run.py --sizes {base} "
                         f"--work {work}` first")
    root = work / f"n{base * copies}"
    shutil.rmtree(root, ignore_errors=True)
    site = root / "site"
    for q in range(copies):
        shutil.copytree(source / "site", site / f"q{q}",
                        ignore=lambda folder, names: [n for n in names if n.endswith(_SIDECARS) or n == ".assetpipe"])
    shutil.copytree(source / "cache", root / "cache",
                    ignore=lambda folder, names: [n for n in names if n.startswith(("noop-v1.", "delta-v1."))])
    shutil.copy(source / "assetpipe.toml", root / "assetpipe.toml")  # the same [compress] formats
    return root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=int, default=200_000)
    ap.add_argument("--copies", type=int, default=5)
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("ASSETPIPE_BENCH_TMP", "/tmp/assetpipe-bench"))
                    / "scale")
    ap.add_argument("--timeout", type=float, default=7200)
    a = ap.parse_args()
    root = widen(a.work, a.base, a.copies)
    cmd = [sys.executable, "-m", "assetpipe", "build", str(root / "site"), "--no-images", "--cache-dir",
           str(root / "cache"), "-q", "--json"]
    figures = one_run(cmd, str(root), a.timeout)
    figures.pop("summary", None)
    print(json.dumps({"files": a.base * a.copies, "step": "cold (from the cache)",
                      **{k: figures.get(k) for k in ("exit", "wall_s", "cpu_s", "max_rss_mb", "stderr_tail")}}))
    shutil.copy(root / "site" / ".assetpipe" / "manifest.json", root / "base.json")


if __name__ == "__main__":
    main()
