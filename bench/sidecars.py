"""List the .br / .gz sidecars any tool left in DIR, per original file, as JSON on stdout.

python sidecars.py DIR

Same rule as ../shared/bench/anchors/compressed_sizes.py (X.gz or X.br next to an existing X is a
variant of X; every other file is an original), but per file, so two tools can be compared on the
originals both of them compressed. assetpipe's own state folder DIR/.assetpipe/ is not counted.
"""

from __future__ import annotations

import json
import os
import sys

ENCODINGS = ("br", "gz")


def scan(root: str) -> dict:
    originals: dict[str, int] = {}
    variants: dict[str, dict[str, int]] = {e: {} for e in ENCODINGS}
    for dirpath, dirs, files in os.walk(root):
        if dirpath == root and ".assetpipe" in dirs:
            dirs.remove(".assetpipe")
        for name in files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            size = os.path.getsize(path)
            for enc in ENCODINGS:
                if name.endswith("." + enc) and os.path.exists(path[: -len(enc) - 1]):
                    variants[enc][rel[: -len(enc) - 1]] = size
                    break
            else:
                originals[rel] = size
    result: dict = {"originals": {"files": len(originals), "bytes": sum(originals.values())}}
    for enc in ENCODINGS:
        found = variants[enc]
        result[enc] = {
            "files": len(found),
            "input_bytes": sum(originals.get(o, 0) for o in found),
            "output_bytes": sum(found.values()),
        }
    # rel -> [original bytes, .br bytes or null, .gz bytes or null], only for originals with a variant
    result["per_file"] = {
        rel: [originals.get(rel, 0), variants["br"].get(rel), variants["gz"].get(rel)]
        for rel in sorted(set(variants["br"]) | set(variants["gz"]))
    }
    return result


if __name__ == "__main__":
    print(json.dumps(scan(sys.argv[1]), separators=(",", ":")))
