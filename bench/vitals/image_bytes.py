"""Image bytes of the hydrated fixtures on the phone profile, one cold load per side (bytes do not depend
on timing): two assetpipe checkouts (`--before`, `--after`: each a repository whose `assetpipe` is run with
this Python) served with their nginx snippets, and eleventy-img's side as bench/vitals/run.sh built it
(`$ASSETPIPE_BENCH_TMP/vitals/sides/hydrated-*/eleventy`) served as a static host does.

    python bench/vitals/image_bytes.py --before /work/main --after . [--work /tmp/image-bytes]

Prints a markdown table: per page, image bytes before, after, eleventy-img's, and after / eleventy-img.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

import server  # noqa: E402

from assetpipe.vitals.browser import Browser, find_chromium  # noqa: E402
from assetpipe.vitals.pageload import load_page  # noqa: E402
from assetpipe.vitals.profiles import PHONE  # noqa: E402


def build(repo: Path, fixture: Path, into: Path, cache: Path) -> Path:
    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(fixture, into)
    env = {**os.environ, "PYTHONPATH": str(repo)}
    env.pop("ASSETPIPE_CACHE_DIR", None)
    subprocess.run([sys.executable, "-m", "assetpipe", "build", str(into), "--cache-dir", str(cache), "-q"],
                   env=env, check=True, cwd=repo)
    return into


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/assetpipe-image-bytes"))
    bench_tmp = Path(os.environ.get("ASSETPIPE_BENCH_TMP", "/tmp/assetpipe-bench"))
    parser.add_argument("--sides", type=Path, default=bench_tmp / "vitals" / "sides")
    parser.add_argument("--chromium", default=None)
    args = parser.parse_args()
    fixtures = HERE.parent.parent / "fixtures" / "hydrated"
    names = sorted(p.name for p in fixtures.iterdir() if (p / "index.html").exists())
    roots: dict[tuple[str, str], tuple[Path, str]] = {}
    for name in names:
        for side, repo in (("before", args.before), ("after", args.after)):
            built = build(repo.resolve(), fixtures / name, args.work / side / name, args.work / f"cache-{side}")
            roots[name, side] = (built, "assetpipe")
        eleventy = args.sides / f"hydrated-{name}" / "eleventy"
        if (eleventy / "index.html").exists():
            roots[name, "eleventy"] = (eleventy, "static")
    ports = {key: server.free_port() for key in roots}
    servers = {ports[key]: root for key, root in roots.items()}
    assetpipe_bin = str(Path(sys.executable).parent / "assetpipe")
    rows = ["| page | before | after | eleventy-img | after / eleventy-img |", "|---|---|---|---|---|"]
    with server.Nginx(args.work / "nginx", servers, assetpipe_bin), Browser(find_chromium(args.chromium)) as browser:
        for name in names:
            got = {side: load_page(browser, f"http://127.0.0.1:{ports[name, side]}/", PHONE).bytes_images
                   for side in ("before", "after", "eleventy") if (name, side) in ports}
            ratio = f"{got['after'] / got['eleventy']:.2f}x" if got.get("eleventy") else "n/a"
            rows.append(f"| {name} | {got['before']:,} | {got['after']:,} | {got.get('eleventy', 0):,} | {ratio} |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
