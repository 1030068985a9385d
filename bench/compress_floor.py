"""The compression floor: CPU seconds that brotli q11 + gzip 9 alone need for a file set, in memory.

python compress_floor.py DIR [--maps]

One thread, no files written, the settings assetpipe uses (brotli quality 11 with a window of
max(22, min(24, bits of the size)), gzip level 9 with mtime 0); the file set is the text files
assetpipe compresses by default on the corpus site (.map only with --maps). Does not import assetpipe.
Prints JSON: files, bytes, CPU seconds per codec and in total, and the wall time the work would take
spread perfectly over all cores (CPU / cores): no build on this machine can be faster than that.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time

import brotli

TEXT = (".js", ".mjs", ".css", ".html", ".svg", ".json", ".ttf", ".txt", ".xml", ".webmanifest")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--maps", action="store_true", help="include .map files")
    a = ap.parse_args()
    suffixes = (*TEXT, ".map") if a.maps else TEXT
    paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(a.root) for f in fs if f.lower().endswith(suffixes))
    br_s = gz_s = 0.0
    size = 0
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        size += len(data)
        t0 = time.process_time()
        brotli.compress(data, quality=11, lgwin=max(22, min(24, (len(data) + 16).bit_length())))
        t1 = time.process_time()
        gzip.compress(data, compresslevel=9, mtime=0)
        t2 = time.process_time()
        br_s += t1 - t0
        gz_s += t2 - t1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(json.dumps({"files": len(paths), "bytes": size, "brotli_cpu_s": round(br_s, 3), "gzip_cpu_s": round(gz_s, 3),
                      "cpu_s": round(br_s + gz_s, 3), "cores": cores,
                      "ideal_wall_s": round((br_s + gz_s) / cores, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
