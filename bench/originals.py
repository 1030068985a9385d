"""Candidates for `images.optimize_originals`, side by side on the corpus photos: bytes and time.

python bench/originals.py [PHOTOS_DIR] > originals.json     (wrap it in `flock /tmp/assetpipe-bench.lock`)

Per JPEG: Pillow at the configured quality (q80 progressive, optimised Huffman, 4:2:0, from the oriented
decode, as assetpipe's fallback variant is made), pyjpegli at q80 (RGB only: it takes no ICC profile
and no greyscale), and mozjpeg-lossless-optimization on the original bytes (pixels unchanged). Per PNG:
Pillow's `optimize=True` re-save and oxipng (pyoxipng) at levels 2 and 4, both lossless. Lossy
candidates get a PSNR against the decoded original (Pillow's ImageStat; no numpy needed). Times are
encode times only, one thread, wall clock; the decode is timed apart. The summary goes to stderr.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import mozjpeg_lossless_optimization
import oxipng
import pyjpegli
from PIL import Image, ImageChops, ImageOps, ImageStat

Image.MAX_IMAGE_PIXELS = None
QUALITY = 80


def timed(work: Callable[[], bytes]) -> tuple[bytes, float]:
    started = time.perf_counter()
    data = work()
    return data, time.perf_counter() - started


def psnr(reference: Image.Image, data: bytes) -> float:
    decoded = Image.open(io.BytesIO(data)).convert(reference.mode)
    rms = ImageStat.Stat(ImageChops.difference(reference, decoded)).rms
    mean = math.sqrt(sum(r * r for r in rms) / len(rms))
    return round(99.0 if mean == 0 else 20 * math.log10(255 / mean), 2)


def pillow_jpeg(image: Image.Image, icc: bytes | None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY, optimize=True, progressive=True, subsampling=2,
               **({"icc_profile": icc} if icc else {}))
    return buffer.getvalue()


def jpeg_row(path: Path) -> dict:
    data = path.read_bytes()
    started = time.perf_counter()
    source = Image.open(io.BytesIO(data))
    icc = source.info.get("icc_profile")
    oriented = ImageOps.exif_transpose(source)
    oriented.load()
    decode = time.perf_counter() - started
    row: dict = {"file": path.name, "format": "jpeg", "mode": source.mode, "pixels": oriented.width * oriented.height,
                 "original": len(data), "decode_s": round(decode, 3)}
    rgb = oriented if oriented.mode == "RGB" else None
    out, seconds = timed(lambda: pillow_jpeg(oriented, icc))
    row["pillow_q80"] = {"bytes": len(out), "s": round(seconds, 3), "psnr": psnr(oriented.convert("RGB"), out)}
    if rgb is not None:
        out, seconds = timed(lambda: pyjpegli.encode(rgb.tobytes(), rgb.width, rgb.height, QUALITY))
        row["jpegli_q80"] = {"bytes": len(out), "s": round(seconds, 3), "psnr": psnr(rgb, out)}
    out, seconds = timed(lambda: mozjpeg_lossless_optimization.optimize(data))
    row["mozjpeg_lossless"] = {"bytes": len(out), "s": round(seconds, 3)}
    return row


def pillow_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True, **({"icc_profile": image.info["icc_profile"]}
                                                 if image.info.get("icc_profile") else {}))
    return buffer.getvalue()


def png_row(path: Path) -> dict:
    data = path.read_bytes()
    started = time.perf_counter()
    source = Image.open(io.BytesIO(data))
    source.load()
    decode = time.perf_counter() - started
    row: dict = {"file": path.name, "format": "png", "mode": source.mode, "pixels": source.width * source.height,
                 "original": len(data), "decode_s": round(decode, 3)}
    out, seconds = timed(lambda: pillow_png(source))
    row["pillow_optimize"] = {"bytes": len(out), "s": round(seconds, 3)}
    for level in (2, 4):
        out, seconds = timed(lambda level=level: oxipng.optimize_from_memory(
            data, level=level, strip=oxipng.StripChunks.safe()))
        row[f"oxipng_o{level}"] = {"bytes": len(out), "s": round(seconds, 3)}
    return row


def summarise(rows: list[dict]) -> None:
    for fmt in ("jpeg", "png"):
        found = [r for r in rows if r["format"] == fmt]
        tools = sorted({k for r in found for k, v in r.items() if isinstance(v, dict)})
        print(f"{fmt}: {len(found)} files, {sum(r['original'] for r in found):,} bytes", file=sys.stderr)
        for tool in tools:
            have = [r for r in found if tool in r]
            original = sum(r["original"] for r in have)
            out = sum(min(r[tool]["bytes"], r["original"]) for r in have)  # never larger: keep the original
            seconds = sum(r[tool]["s"] for r in have)
            grew = sum(r[tool]["bytes"] >= r["original"] for r in have)
            psnrs = sorted(r[tool]["psnr"] for r in have if "psnr" in r[tool])
            median = f", median PSNR {psnrs[len(psnrs) // 2]} dB" if psnrs else ""
            print(f"  {tool:18} {len(have):3} files  {out / original:6.1%} of original (kept only when smaller; "
                  f"{grew} not smaller)  {seconds:7.1f} s encode{median}", file=sys.stderr)


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ASSETPIPE_CORPUS", "/tmp/assetpipe-corpus")
                  + "/photos")
    rows: list[dict] = []
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix in (".jpg", ".jpeg"):
            rows.append(jpeg_row(path))
        elif suffix == ".png":
            rows.append(png_row(path))
        print(f"{path.name}: done", file=sys.stderr)
    print(json.dumps({"load": os.getloadavg(), "rows": rows}, indent=1))
    summarise(rows)


if __name__ == "__main__":
    main()
