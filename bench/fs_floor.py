"""The file-system floor for writing sidecars: create FILE.br and FILE.gz next to every text file.

python fs_floor.py DIR [--bytes N] [--direct]

Does only what assetpipe's writer does per output, with no compression: a temp file in the same
folder (tempfile.mkstemp), a small payload, chmod, os.replace onto the final name. The text files are
the ones assetpipe compresses by default on the corpus site (.js .css .html .svg .json .ttf, no .map),
2,120 files there, so 4,240 files are created. Prints JSON: files created, seconds inside the loop,
milliseconds per file. --direct writes the final names directly (no temp file, no rename), to show
what the atomic pattern itself costs.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

TEXT = (".js", ".mjs", ".css", ".html", ".svg", ".json", ".ttf", ".txt", ".xml", ".webmanifest")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--bytes", type=int, default=200, help="payload per file (default 200)")
    ap.add_argument("--direct", action="store_true", help="open(final, 'wb') instead of temp file + os.replace")
    a = ap.parse_args()
    targets = []
    for dirpath, dirs, files in os.walk(a.root):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(TEXT):
                targets.append(os.path.join(dirpath, name))
    payload = os.urandom(a.bytes)
    mode = 0o644
    started = time.perf_counter()
    made = 0
    for path in targets:
        folder, name = os.path.split(path)
        for suffix in (".br", ".gz"):
            if a.direct:
                with open(path + suffix, "wb") as handle:
                    handle.write(payload)
                made += 1
                continue
            fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}{suffix}.", suffix=".floor-tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.chmod(temp, mode)
            os.replace(temp, path + suffix)
            made += 1
    seconds = time.perf_counter() - started
    print(json.dumps({"text_files": len(targets), "files_created": made, "payload_bytes": a.bytes,
                      "method": "open(final)" if a.direct else "mkstemp + chmod + os.replace",
                      "loop_s": round(seconds, 3), "ms_per_file": round(1000 * seconds / max(made, 1), 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
