"""Per-file costs that must stay linear: each scenario built cold at N and 2N files, and the ratio.

python bench/scale/linear.py [--sizes 20000,40000] [--work DIR] [--label NAME]

A cost paid once per file is linear; one that redoes work over every file already seen is quadratic,
which no test sees at the few files a test builds, and which a 200,000-file site meets as hours. The
ratio of the two sizes' wall times shows which: about 2 when linear, about 4 when quadratic (the doubled
size's share of the fixed start-up cost makes a linear ratio a little under 2).

Scenarios (small JSON files, 500 a folder, each build cold with its own cache, `--no-images`):

- `out-minify`: `--out` with `[minify] json` (each minified copy's ledger record; it once copied every
  earlier record per file: 18.25 s at 20,000 files, 56.59 s at 40,000);
- `in-place`: the same files built in place without minify: the control.

`ASSETPIPE_SRC=DIR` runs another checkout, as run.py does. One JSON line per build, then a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from measure import one_run  # noqa: E402

SCENARIOS = {
    "out-minify": ('[minify]\njson = true\n[compress]\nformats = ["gzip"]\n', True),
    "in-place": ('[compress]\nformats = ["gzip"]\n', False),
}


def make(n: int, site: Path) -> None:
    """N small JSON files, 500 a folder: the same bytes every time."""
    for i in range(n):
        folder = site / f"d{i // 500:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:06d}.json").write_text(
            f'{{\n  "name": "item {i}",\n  "values": [1, 2, 3],\n  "nested": {{"a": true}}\n}}\n')


def measure(name: str, n: int, work: Path, label: str, timeout: float) -> dict:
    config, out = SCENARIOS[name]
    root = work / f"{name}-{n}"
    shutil.rmtree(root, ignore_errors=True)
    make(n, root / "site")
    (root / "assetpipe.toml").write_text(config)  # found in the working folder
    cmd = [sys.executable, "-m", "assetpipe", "build", str(root / "site"), "--no-images", "--cache-dir",
           str(root / "cache"), "-q", *(["--out", str(root / "out")] if out else [])]
    figures = one_run(cmd, str(root), timeout)
    row = {"label": label, "scenario": name, "files": n,
           **{k: figures.get(k) for k in ("exit", "wall_s", "cpu_s", "max_rss_mb", "stderr_tail")}}
    print(json.dumps(row), flush=True)
    shutil.rmtree(root, ignore_errors=True)
    return row


def table(rows: list[dict]) -> str:
    sizes = sorted({r["files"] for r in rows})
    lines = ["| label | scenario | " + " | ".join(f"{n:,} files" for n in sizes) + " | ratio |",
             "|---" * (len(sizes) + 3) + "|"]
    for label in dict.fromkeys(r["label"] for r in rows):
        for name in SCENARIOS:
            got = {r["files"]: r for r in rows if r["label"] == label and r["scenario"] == name}
            if not got:
                continue
            cells = [f"{got[n]['wall_s']:.2f} s" if n in got and got[n]["exit"] == 0 else "-" for n in sizes]
            ends = [got[n]["wall_s"] for n in (sizes[0], sizes[-1]) if n in got and got[n]["exit"] == 0]
            ratio = f"{ends[1] / ends[0]:.2f}" if len(ends) == 2 and len(sizes) > 1 else "-"
            lines.append(f"| {label} | {name} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20000,40000")
    ap.add_argument("--work", type=Path,
                    default=Path(os.environ.get("ASSETPIPE_BENCH_TMP", "/tmp/assetpipe-bench")) / "linear")
    ap.add_argument("--label", default="this checkout")
    ap.add_argument("--timeout", type=float, default=3600)
    a = ap.parse_args()
    if src := os.environ.get("ASSETPIPE_SRC"):
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (src, os.environ.get("PYTHONPATH"))))
    a.work.mkdir(parents=True, exist_ok=True)
    rows = [measure(name, n, a.work, a.label, a.timeout)
            for name in SCENARIOS for n in (int(s) for s in a.sizes.split(",") if s)]
    print(table(rows))


if __name__ == "__main__":
    main()
