"""`assetpipe watch` latency on the corpus site: from a file's write to its finished outputs.

python bench/watch.py [--runs N] [--photo-runs N] [--wipe-runs N]

Run it with assetpipe's own Python (it times the same work done alone through assetpipe's library).
It copies the corpus site to $ASSETPIPE_BENCH_TMP/scratch-watch/site, adds a 12-megapixel photo
(4000x3000, cropped from the corpus photo lomiri-Infinite-Sea_by_Aury88.jpg, JPEG q90) and a page
that shows it, and starts the real CLI, `assetpipe watch site --cache-dir cache`, defaults (quiet
period 200 ms, 50 ms once every written file is closed), in a child process whose stderr lines are
timestamped as they arrive. The cache folder is kept between invocations of this script: the first
one fills it.

Three measurements, each RUNS times, each waiting first until the watcher has printed nothing for 1 s:
  js-large / js-small  a comment line is appended to assets/EChartsPanel-*.js (1.1 MB, the largest
                       chunk) / assets/main-*.js (84 kB): latency = arrival of the run's line (printed
                       once the run is finished: sidecars, manifest and ledger written) - the moment
                       before the write. Baseline: the same new bytes built alone through the library
                       (a folder holding only that file, an empty cache, images off): its compression
                       time. Goal: latency <= baseline + 0.3 s.
  photo-12mp           the photo's bytes with a new trailer after the JPEG's end (new content for the
                       cache, the same pixels to encode): latency as above; baseline: the photo built
                       alone (compression off): its encode time. Goal: latency <= baseline + 0.3 s.
  wipe                 what Vite's emptyOutDir does: every entry of site/ deleted, then the corpus site
                       (and the photo and its page) copied back; recovery = arrival of the last run line
                       - the end of the copy (no line for 3 s ends the wait). Goal: <= 2 s with a warm
                       cache. Afterwards the tree must equal the one before the wipe, byte for byte.

Prints a markdown table and writes $ASSETPIPE_BENCH_RESULTS/watch.{md,json}.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.config import Config

HERE = Path(__file__).resolve().parent
TMP = Path(os.environ.get("TMPDIR", "/tmp"))
CORPUS = Path(os.environ.get("ASSETPIPE_CORPUS", TMP / "assetpipe-corpus"))
SCRATCH = Path(os.environ.get("ASSETPIPE_BENCH_TMP", TMP / "assetpipe-bench")) / "scratch-watch"
RESULTS = Path(os.environ.get("ASSETPIPE_BENCH_RESULTS", TMP / "assetpipe-bench-results"))
PHOTO_SOURCE = "lomiri-Infinite-Sea_by_Aury88.jpg"
PHOTO = "img/photo-12mp.jpg"
PAGE = "photo.html"
GOAL_OVER = 0.3
GOAL_WIPE = 2.0


class Silent:
    def start(self, total: int, label: str) -> None: ...
    def advance(self, output: str, outcome: str) -> None: ...
    def failure(self, failure) -> None: print(f"  baseline failure: {failure}", file=sys.stderr)
    def notice(self, notice) -> None: ...
    def done(self) -> None: ...


class Child:
    """The watcher process; `lines` holds (arrival time, line) of everything it printed on stderr."""

    def __init__(self, site: Path, cache: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "ASSETPIPE_CACHE_DIR"}
        env["PYTHONPATH"] = str(HERE.parent)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: compiled modules cached
        self.process = subprocess.Popen([sys.executable, "-m", "assetpipe", "watch", str(site), "--cache-dir",
                                         str(cache)], cwd=SCRATCH, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))
            print(f"  | {line.rstrip()}", file=sys.stderr)

    def wait_for(self, text: str, after: int, deadline: float = 600) -> tuple[float, str]:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            for stamp, line in self.lines[after:]:
                if text in line:
                    return stamp, line
            if self.process.poll() is not None:
                raise SystemExit(f"the watcher ended (exit {self.process.returncode})")
            time.sleep(0.005)
        raise SystemExit(f"no line with {text!r} within {deadline} s")

    def idle(self, seconds: float) -> None:
        """Wait until nothing was printed for `seconds`."""
        while True:
            last = self.lines[-1][0] if self.lines else 0.0
            if time.monotonic() - last >= seconds:
                return
            time.sleep(0.05)

    def stop(self) -> int:
        self.process.send_signal(2)
        return self.process.wait(timeout=30)


def alone(rel: str, data: bytes, *, images: bool, compress: bool) -> float:
    """Wall seconds of the library building a folder that holds only this file, from an empty cache."""
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        folder = Path(tmp) / "site"
        (folder / rel).parent.mkdir(parents=True)
        (folder / rel).write_bytes(data)
        request = BuildRequest(folder, Config(), Path(tmp) / "cache", jobs=os.cpu_count() or 1, images=images,
                               compress=compress)
        started = time.perf_counter()
        result = build(request, Silent())
        seconds = time.perf_counter() - started
        assert result.stats.encoded > 0 and not result.failures, result
    return seconds


def prepare() -> tuple[Path, Path, bytes]:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    site, cache = SCRATCH / "site", SCRATCH / "cache"
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(CORPUS / "site", site, symlinks=True)
    photo = SCRATCH / "photo-12mp.jpg"
    if not photo.exists():
        with Image.open(CORPUS / "photos" / PHOTO_SOURCE) as image:
            out = io.BytesIO()
            image.convert("RGB").crop((48, 548, 4048, 3548)).save(out, "JPEG", quality=90)
        photo.write_bytes(out.getvalue())
    (site / PHOTO).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(photo, site / PHOTO)
    (site / PAGE).write_text(page(), encoding="utf-8")
    return site, cache, photo.read_bytes()


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def change(child: Child, site: Path, rel: str, data: bytes, baseline: float) -> dict:
    child.idle(1.0)
    after = len(child.lines)
    started = time.monotonic()
    (site / rel).write_bytes(data)
    stamp, line = child.wait_for(f" changed ({rel}", after)
    return {"latency_s": round(stamp - started, 3), "alone_s": round(baseline, 3), "line": line}


def wipe(child: Child, site: Path, photo: bytes) -> dict:
    child.idle(1.0)
    after = len(child.lines)
    started = time.monotonic()
    for entry in list(site.iterdir()):
        if entry.name != ".git":  # as Vite's emptyDir
            # as rmSync(force): a file the watcher's run puts in place or removes meanwhile is no error
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    wiped = time.monotonic()
    shutil.copytree(CORPUS / "site", site, symlinks=True, dirs_exist_ok=True)
    (site / PHOTO).parent.mkdir(parents=True, exist_ok=True)
    (site / PHOTO).write_bytes(photo)
    (site / PAGE).write_text(page(), encoding="utf-8")
    written = time.monotonic()
    child.wait_for(" changed (", after)
    child.idle(3.0)
    runs = [(stamp, line) for stamp, line in child.lines[after:] if " changed (" in line]
    return {"recovery_s": round(runs[-1][0] - written, 3), "from_wipe_s": round(runs[-1][0] - started, 3),
            "wipe_s": round(wiped - started, 3), "rewrite_s": round(written - wiped, 3), "runs": len(runs),
            "lines": [line for _, line in runs]}


def page() -> str:
    return ('<!doctype html>\n<html lang="en"><head><meta charset="UTF-8"><title>Photo</title></head>'
            f'<body><img src="{PHOTO}" alt="the sea"></body></html>\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each JS measurement (default 5)")
    parser.add_argument("--photo-runs", type=int, default=3, help="runs of the photo measurement (default 3)")
    parser.add_argument("--wipe-runs", type=int, default=3, help="runs of the wipe measurement (default 3)")
    args = parser.parse_args()
    if not (CORPUS / "site" / ".vite" / "manifest.json").exists():
        raise SystemExit(f"no corpus site in {CORPUS}: run 'bash ../shared/bench/make-corpus.sh' first")
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} at the start" + (" (busy machine: figures will be noisy)" if load > 1 else ""),
          file=sys.stderr)
    site, cache, photo = prepare()
    child = Child(site, cache)
    results: dict = {"load_at_start": round(load, 2), "cores": os.cpu_count()}
    try:
        started = time.monotonic()
        stamp, _ = child.wait_for("watching ", 0, deadline=1800)
        summary = [line for _, line in child.lines if line.startswith(f"{site}: ")]
        results["first_build"] = {"seconds": round(stamp - started, 2), "line": summary[-1] if summary else ""}
        child.idle(2.0)
        before = tree(site)
        results["wipe"] = [wipe(child, site, photo) for _ in range(args.wipe_runs)]
        child.idle(1.0)
        results["wipe_equal"] = tree(site) == before
        assets = site / "assets"
        for name, prefix in (("js-large", "EChartsPanel-"), ("js-small", "main-")):
            rel = "assets/" + next(p.name for p in assets.iterdir() if p.name.startswith(prefix)
                                   and p.name.endswith(".js"))
            original = (site / rel).read_bytes()
            runs = []
            for n in range(args.runs):
                data = original + f"\n// bench {n} {time.time_ns()}\n".encode()
                runs.append(change(child, site, rel, data, alone(rel, data, images=False, compress=True)))
            results[name] = {"file": rel, "bytes": len(original), "runs": runs}
        runs = []
        for n in range(args.photo_runs):
            data = photo + f"bench {n} {time.time_ns()}".encode()  # after the JPEG's end: same pixels
            runs.append(change(child, site, PHOTO, data, alone(PHOTO, data, images=True, compress=False)))
        results["photo-12mp"] = {"file": PHOTO, "bytes": len(photo), "runs": runs}
    finally:
        results["exit_code"] = child.stop()
    report(results)


def report(results: dict) -> None:
    rows = ["| measurement | runs | latency s (median, min-max) | the same work alone s (median) | "
            "latency - alone s (median) | goal | met |", "|---|---:|---:|---:|---:|---|---|"]
    for name in ("js-large", "js-small", "photo-12mp"):
        runs = results[name]["runs"]
        lat = [r["latency_s"] for r in runs]
        over = [r["latency_s"] - r["alone_s"] for r in runs]
        alone_s = statistics.median(r["alone_s"] for r in runs)
        results[name]["median_over_s"] = round(statistics.median(over), 3)
        met = statistics.median(over) <= GOAL_OVER
        rows.append(f"| {name} (`{results[name]['file']}`, {results[name]['bytes']:,} B) | {len(runs)} | "
                    f"{statistics.median(lat):.2f} ({min(lat):.2f}-{max(lat):.2f}) | {alone_s:.2f} | "
                    f"{statistics.median(over):.2f} | alone + {GOAL_OVER} s | {'yes' if met else 'no'} |")
    wipes = results["wipe"]
    rec = [w["recovery_s"] for w in wipes]
    met = statistics.median(rec) <= GOAL_WIPE
    rows.append(f"| wipe and rewrite (emptyOutDir), warm cache | {len(wipes)} | {statistics.median(rec):.2f} "
                f"({min(rec):.2f}-{max(rec):.2f}) | | | <= {GOAL_WIPE} s | {'yes' if met else 'no'} |")
    notes = [f"First build (cache as left by earlier invocations): {results['first_build']['seconds']} s: "
             f"{results['first_build']['line']}",
             f"Runs per wipe: {[w['runs'] for w in wipes]}; wipe {[w['wipe_s'] for w in wipes]} s, rewrite "
             f"{[w['rewrite_s'] for w in wipes]} s; tree equal to before the wipes: {results['wipe_equal']}.",
             f"Load average at the start: {results['load_at_start']}; watcher exit code after SIGINT: "
             f"{results['exit_code']}."]
    text = "\n".join(rows) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "watch.md").write_text(text, encoding="utf-8")
    (RESULTS / "watch.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
