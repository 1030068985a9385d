"""The Dask executor against the local one: cold image builds of 12 corpus photos, and where the client's
serial time goes per image (the figures of docs/scale.md, "Executors" and "Scaling out").

python bench/executors.py [PHOTOS_DIR] [--rounds 2] [--workers 2]     (run with assetpipe's own Python)

Each round builds a fresh copy of a small site (one page showing the 12 photos: every 5th of the
corpus by name) with an empty cache, once with `--executor local` and once with `dask-local:N` (the
LocalCluster's start included: that is what a user waits for), in child processes, alternating which
goes first; the outputs and manifests must be byte-identical. Then one more cold dask-local build runs
in this process under cProfile (timed by the main thread's CPU clock), to split the client's own work
into scan, plan, the image results taken (cache, decide, write), the page rewrite, precompression,
manifest, and the cluster's start and check. Prints JSON. Wall times on a machine shared with other
work are noisy: the CPU seconds (children's, from getrusage) are printed beside them. Writes only under
--work (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import PHOTOS, photos_in

# the client's phases, by the function that does each (cumulative CPU time in the main thread)
PHASES = {
    "scan": "scan.py:scan",
    "plan images": "stage.py:plan_images",
    "plan sidecars": "plan.py:make_plan",
    "take image results (cache, decide, write)": "pictures.py:_take_images",
    "write outputs": "writer.py:write",
    "rewrite pages": "pictures.py:_rewrite_pages",
    "precompression": "pipeline.py:_build",  # replaced below by execute's own figure
    "manifest": "manifest.py:build",
    "write manifest": "writer.py:write_state",
    "executor start and check": "executor.py:running",
}


def make_site(photos: list[Path], root: Path) -> Path:
    site = root / "dist"
    (site / "img").mkdir(parents=True)
    tags = []
    for photo in photos:
        shutil.copyfile(photo, site / "img" / photo.name)
        tags.append(f'<img src="img/{photo.name}" alt="">')
    (site / "index.html").write_text("<!doctype html><title>photos</title>\n" + "\n".join(tags) + "\n")
    return site


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def cold(photos: list[Path], work: Path, name: str, executor: str) -> tuple[float, float, dict[str, str], dict]:
    root = work / name
    shutil.rmtree(root, ignore_errors=True)
    site = make_site(photos, root)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "assetpipe", "build", str(site), "--cache-dir", str(root / "cache"),
                           "--executor", executor, "--json"], capture_output=True, text=True, cwd=root)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{executor}: exit {done.returncode}: {done.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, tree(site), json.loads(done.stdout)


def profile(photos: list[Path], work: Path, executor: str) -> dict[str, float]:
    """One cold build in this process: the client's main-thread CPU seconds per phase (cProfile timed by
    time.thread_time, so waiting and the machine's other load do not count), and in all."""
    from click.testing import CliRunner

    from assetpipe.cli import main

    root = work / "profiled"
    shutil.rmtree(root, ignore_errors=True)
    site = make_site(photos, root)
    profiler = cProfile.Profile(time.thread_time)
    main_cpu, cpu, started = time.thread_time(), time.process_time(), time.perf_counter()
    profiler.enable()
    result = CliRunner().invoke(main, ["build", str(site), "--cache-dir", str(root / "cache"), "--executor", executor,
                                       "-q"])
    profiler.disable()
    wall, cpu, main_cpu = time.perf_counter() - started, time.process_time() - cpu, time.thread_time() - main_cpu
    assert result.exit_code == 0, result.output
    cumulative: dict[str, float] = {}
    for (file, _, name), (_, _, _, ct, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        key = f"{Path(file).name}:{name}"
        cumulative[key] = max(cumulative.get(key, 0.0), ct)
    phases = {phase: round(cumulative.get(where, 0.0), 3) for phase, where in PHASES.items()}
    phases["precompression"] = round(cumulative.get("run.py:execute", 0.0), 3)
    phases["cache puts"] = round(cumulative.get("store.py:put", 0.0), 3)
    phases["main thread CPU in all"] = round(main_cpu, 3)
    phases["process CPU (all threads: client, its event loop, the scheduler)"] = round(cpu, 3)
    phases["wall"] = round(wall, 3)
    return phases


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("photos", type=Path, nargs="?", default=PHOTOS)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--no-profile", action="store_true", help="only the cold builds, not the profiled one")
    args = ap.parse_args()
    photos = photos_in(args.photos)[::5][:12]
    work = args.work or Path(tempfile.mkdtemp(prefix="assetpipe-executors-"))
    dask = f"dask-local:{args.workers}"
    runs: dict[str, list[dict]] = {"local": [], dask: []}
    trees: dict[str, dict[str, str]] = {}
    for round_ in range(args.rounds):
        order = ["local", dask] if round_ % 2 == 0 else [dask, "local"]
        for executor in order:
            wall, cpu, files, document = cold(photos, work, executor.replace(":", "-"), executor)
            runs[executor].append({"wall": round(wall, 2), "cpu": round(cpu, 2), "encoded": document["encoded"]})
            trees[executor] = files
    identical = trees["local"] == trees[dask]
    megapixels = 0.0
    from PIL import Image

    for photo in photos:
        with Image.open(photo) as image:
            megapixels += image.width * image.height / 1e6
    report = {
        "photos": [p.name for p in photos], "megapixels": round(megapixels, 1), "cores": os.cpu_count(),
        "load average at the end": os.getloadavg(), "runs": runs, "identical outputs and manifest": identical,
        "best wall ratio dask/local": round(min(r["wall"] for r in runs[dask]) / min(r["wall"] for r in runs["local"]),
                                            3),
    }
    if not args.no_profile:
        report["client profile (cold, dask-local, in-process)"] = profile(photos, work, dask)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
