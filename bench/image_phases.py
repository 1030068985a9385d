"""Where assetpipe's image build spends its CPU: decode, resize and each encode, timed one by one.

python image_phases.py [PHOTOS_DIR] [--jobs N]        (run with assetpipe's own Python)

Runs assetpipe's own decode/resize/encode functions (`assetpipe.images.decode` and `.encode`, the
steps a build runs inside `render`) with the default settings, one photo at a time, in N processes (default: all
cores), and prints CPU seconds per phase: each format split into the photo's own width above 1920 px
(variants eleventy-img never makes) and the rest. Writes nothing. Takes about as long as a cold build.
"""

from __future__ import annotations

import argparse
import collections
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from corpus import add_photo_arguments, photos_in


def one(path: str) -> list[dict]:
    from assetpipe.config import ImagesConfig
    from assetpipe.images.decode import decode_frames, open_image, probe
    from assetpipe.images.encode import encode_frames, resize
    from assetpipe.images.renditions import fallback_format, modern_formats, widths_for
    from assetpipe.images.stage import settings_from

    st = settings_from(ImagesConfig())
    data = Path(path).read_bytes()
    info = probe(data, st.max_pixels)
    fallback = fallback_format(info, st)
    formats = [f for f in (*modern_formats(info, st, fallback), fallback) if f]
    t = time.perf_counter()
    frames, durations, loop = decode_frames(open_image(data), info)
    rows = [{"phase": "decode", "s": time.perf_counter() - t}]
    for w in widths_for(info, st.widths):
        t = time.perf_counter()
        sized = [resize(f, w, info) for f in frames]
        rows.append({"phase": "resize", "s": time.perf_counter() - t})
        for fmt in formats:
            t = time.perf_counter()
            encode_frames(sized, durations, loop, fmt, st, None)
            big = w == info.width and w > 1920
            rows.append({"phase": f"{fmt} {'own width > 1920' if big else 'other widths'}",
                         "s": time.perf_counter() - t, "photo": Path(path).name, "width": w, "fmt": fmt})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    add_photo_arguments(ap)
    a = ap.parse_args()
    files = sorted(photos_in(a.photos), key=lambda p: -p.stat().st_size)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(a.jobs) as pool:
        rows = [r for rs in pool.map(one, map(str, files)) for r in rs]
    total = sum(r["s"] for r in rows)
    agg: dict[str, float] = collections.defaultdict(float)
    for r in rows:
        agg[r["phase"]] += r["s"]
    print(f"{len(files)} photos, {time.perf_counter() - t0:.0f} s wall on {a.jobs} processes, {total:.0f} CPU s\n")
    print("| phase | CPU s | share |\n|---|---:|---:|")
    for k, v in sorted(agg.items(), key=lambda kv: -kv[1]):
        print(f"| {k} | {v:.1f} | {100 * v / total:.1f} % |")
    print("\nslowest encodes:")
    for r in sorted((r for r in rows if "fmt" in r), key=lambda r: -r["s"])[:8]:
        print(f"  {r['photo']} {r['fmt']} {r['width']} px: {r['s']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
