"""`assetpipe watch` on a generated tree: the time from a script's save to the manifest written.

python bench/scale/watch.py DIR [--edits 5] [--settle 0.05]

DIR is a size's folder of `run.py` (its `site/`, `cache/` and `assetpipe.toml`), built already. The watcher
starts (its first run is a full build), then each edit appends a line to one script (the first .js of the
middle folder, as run.py's one-js step), 2.5 s after the last run (the racy window), and the time is taken
from the moment the file is closed to the moment `.assetpipe/manifest.json` is replaced, polled every ms.
That includes the watcher's settle period (`--settle`, the time it waits for more events); the run's own
time, from its run line, is given beside it. One JSON line per edit on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent)]

from generate import path_of  # noqa: E402

from assetpipe.build.pipeline import BuildRequest  # noqa: E402
from assetpipe.config.loading import load  # noqa: E402
from assetpipe.watch.watcher import Watcher  # noqa: E402


class Quiet:
    def start(self, total: int, label: str) -> None: ...

    def advance(self, output: str, outcome: str) -> None: ...

    def failure(self, failure: object) -> None: ...

    def notice(self, notice: object) -> None: ...

    def done(self) -> None: ...


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    ap.add_argument("--edits", type=int, default=5)
    ap.add_argument("--settle", type=float, default=0.05)
    a = ap.parse_args()
    site, cache = a.dir / "site", a.dir / "cache"
    files = int(re.sub(r"\D", "", a.dir.name) or 0)
    config = load(None, a.dir).config
    lines: list[str] = []
    watcher = Watcher(BuildRequest(site, config, cache, images=False, jobs=2), Quiet(), lines.append,
                      quiet=max(a.settle, 0.3), settle=a.settle)
    started = time.perf_counter()
    watcher.start()
    print(json.dumps({"step": "start", "seconds": round(time.perf_counter() - started, 2), "rss_mb": rss_mb(),
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}), flush=True)
    thread = threading.Thread(target=watcher.loop, daemon=True)
    thread.start()
    folder = site / path_of(files // 2)
    script = next(p for p in sorted((folder if folder.is_dir() else site).rglob("*.js")))
    manifest = site / ".assetpipe" / "manifest.json"
    try:
        for n in range(a.edits):
            time.sleep(2.5)
            before = os.stat(manifest).st_ino
            runs = len(lines)
            with script.open("ab") as handle:
                handle.write(f"\n/* watch edit {n} */\n".encode())
            saved = time.perf_counter()
            while os.stat(manifest).st_ino == before and time.perf_counter() - saved < 120:
                time.sleep(0.001)
            written = time.perf_counter() - saved
            while len(lines) == runs and time.perf_counter() - saved < 120:
                time.sleep(0.01)
            line = lines[-1] if len(lines) > runs else ""
            run = re.search(r"· ([0-9.]+) s$", line)
            print(json.dumps({"step": "edit", "files": files, "save_to_manifest_s": round(written, 3),
                              "run_s": float(run[1]) if run else None, "line": line}), flush=True)
    finally:
        watcher.stop()
        thread.join(30)
        watcher.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"step": "end", "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                      "rss_mb": rss_mb(), "max_rss_mb": usage.ru_maxrss // 1024}), flush=True)


def rss_mb() -> int:
    """The process's resident memory now (the peak is getrusage's): what the watcher holds between runs."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return -1


if __name__ == "__main__":
    main()
