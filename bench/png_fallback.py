"""Lossless PNG fallbacks: bytes and seconds of each way to write them, on the corpus PNGs.

python png_fallback.py [PHOTOS_DIR] [--jobs N] [--json OUT]      (run with assetpipe's own Python)

For every PNG in the folder it decodes and resizes exactly as a build does (assetpipe.images.decode and
.encode, the default widths plus the photo's own), then writes each fallback every way below and checks that the
result decodes to the same pixels:
  pillow-cN      Pillow, compress_level N (1..9), no optimize
  pillow-opt     Pillow, optimize=True (what assetpipe did before)
  oxipng-oN      pyoxipng (oxipng, Rust, multi-threaded) from the raw pixels, preset level N
  oxipng-o0-f:A,B  level 0 trying the row filters A, B ... (oxipng's names) instead of its one default
  pillow-c1+oxipng-oN  Pillow level 1, then oxipng's optimize_from_memory at level N
CPU seconds are the process's (oxipng's threads included); wall seconds are each encode's own.
Writes nothing but the optional JSON.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import re
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from corpus import add_photo_arguments

OXI_LEVELS = (0, 1, 2, 3)
# Row filter sets tried at level 0 (oxipng's level 0 tries one filter; level 1 raises the deflate effort).
FILTER_SETS = ("NoOp,Bigrams,Paeth", "NoOp,BigEnt,Paeth", "NoOp,MinSum,Paeth,Bigrams,BigEnt")


def methods(levels: tuple[int, ...], only: str = "") -> list[str]:
    every = ([f"pillow-c{n}" for n in levels] + ["pillow-opt"] + [f"oxipng-o{n}" for n in OXI_LEVELS]
             + [f"oxipng-o0-f:{f}" for f in FILTER_SETS] + [f"pillow-c1+oxipng-o{n}" for n in (1, 2)])
    return [m for m in every if re.search(only, m)]


def encode(method: str, image, icc: bytes | None) -> bytes:  # image: a PIL image
    import oxipng

    extra = {"icc_profile": icc} if icc else {}
    if method == "pillow-opt":
        buffer = io.BytesIO()
        image.save(buffer, "PNG", optimize=True, **extra)
        return buffer.getvalue()
    if method.startswith("pillow-c") and "+" not in method:
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=int(method[len("pillow-c"):]), **extra)
        return buffer.getvalue()
    if method.startswith("pillow-c1+oxipng-o"):
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=1, **extra)
        return oxipng.optimize_from_memory(buffer.getvalue(), level=int(method[-1]),
                                           grayscale_reduction=not icc)
    color = {"RGB": oxipng.ColorType.rgb(), "RGBA": oxipng.ColorType.rgba(), "L": oxipng.ColorType.grayscale(),
             "LA": oxipng.ColorType.grayscale_alpha()}[image.mode]
    raw = oxipng.RawImage(image.tobytes(), image.width, image.height, color_type=color)
    if icc:
        raw.add_icc_profile(icc)
    if "-f:" in method:
        filters = [getattr(oxipng.RowFilter, name) for name in method.split("-f:")[1].split(",")]
        return raw.create_optimized_png(level=0, filter=filters, grayscale_reduction=not icc)
    return raw.create_optimized_png(level=int(method[len("oxipng-o"):]), grayscale_reduction=not icc)


def one(path: str, levels: tuple[int, ...], only: str) -> list[dict]:
    from PIL import Image

    from assetpipe.config import ImagesConfig
    from assetpipe.images.decode import decode_frames, icc_for_output, open_image, probe
    from assetpipe.images.encode import profile_fits, resize
    from assetpipe.images.renditions import widths_for
    from assetpipe.images.stage import settings_from

    st = settings_from(ImagesConfig())
    data = Path(path).read_bytes()
    info = probe(data, st.max_pixels)
    opened = open_image(data)
    frames, _, _ = decode_frames(opened, info)
    icc = icc_for_output(opened)
    rows = []
    for width in widths_for(info, st.widths):
        sized = resize(frames[0], width, info)
        icc_ok = icc if icc and profile_fits(icc, sized.mode, "png") else None
        pixels = sized.tobytes()
        for method in methods(levels, only):
            cpu, wall = time.process_time(), time.perf_counter()
            out = encode(method, sized, icc_ok)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            back = Image.open(io.BytesIO(out))
            back = back.convert(sized.mode) if back.mode != sized.mode else back
            if back.tobytes() != pixels:
                raise SystemExit(f"{path} {width} {method}: not lossless")
            rows.append({"photo": Path(path).name, "width": width, "method": method, "bytes": len(out),
                         "cpu_s": cpu, "wall_s": wall})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    add_photo_arguments(ap)
    ap.add_argument("--levels", default="1,2,3,4,5,6,7,8,9", help="Pillow compress levels to try")
    ap.add_argument("--methods", default="", help="only the methods whose name matches this regex")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    levels = tuple(int(n) for n in a.levels.split(","))
    files = sorted((p for p in a.photos.iterdir() if p.suffix.lower() == ".png"), key=lambda p: -p.stat().st_size)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(a.jobs) as pool:
        rows = [r for rs in pool.map(one, map(str, files), [levels] * len(files), [a.methods] * len(files)) for r in rs]
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    agg: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for r in rows:
        s = agg[r["method"]]
        s[0] += r["bytes"]
        s[1] += r["cpu_s"]
        s[2] += r["wall_s"]
        s[3] = max(s[3], r["wall_s"])
    base = agg["pillow-opt"] if "pillow-opt" in agg else next(iter(agg.values()))
    print(f"{len(files)} PNGs, {len(rows) // len(agg)} fallbacks each way, {time.perf_counter() - t0:.0f} s wall "
          f"on {a.jobs} processes; pixels checked equal after decoding\n")
    against = "optimize=True" if "pillow-opt" in agg else next(iter(agg))
    print(f"| method | MB | bytes vs {against} | CPU s | wall s | slowest encode s |")
    print("|---|---:|---:|---:|---:|---:|")
    for method in methods(levels, a.methods):
        b, cpu, wall, slowest = agg[method]
        print(f"| {method} | {b / 1e6:.2f} | {b / base[0]:.3f} | {cpu:.1f} | {wall:.1f} | {slowest:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
