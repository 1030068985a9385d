"""libaom speed 6 against 7 at the photos' own width: bytes, CPU and SSIMULACRA2 (images.avif_speed).

python avif_speed.py [PHOTOS_DIR] [--largest 12] [--jobs N]

Run with the quality venv bench/images.sh builds (Pillow 13 with its own aom, ssimulacra2, NumPy). Takes
the N largest corpus photos by pixels, EXIF-oriented and converted to RGB as a build's reference is,
encodes each at its own width with aom at speed 6 q60 and speed 7 q60/62/64 (4:2:0, one thread, as a
build does), and scores four 768 px crops of each decoded encode (the quarter points of the image)
against the same crops of the source: scoring whole 24 MP images would take minutes each. Prints the
totals per setting and one line per photo. Writes nothing.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from corpus import add_photo_arguments, photos_in
from image_quality import ssimulacra2_arrays
from PIL import Image, ImageOps

SETTINGS = ((6, 60), (7, 60), (7, 62), (7, 64))  # (speed, quality)
CROP = 768


def crops(pixels: np.ndarray) -> list[np.ndarray]:
    height, width = pixels.shape[:2]
    return [pixels[y - CROP // 2 : y + CROP // 2, x - CROP // 2 : x + CROP // 2]
            for y in (height // 4, 3 * height // 4) for x in (width // 4, 3 * width // 4)]


def one(path: str) -> list[dict]:
    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    reference = crops(np.asarray(image))
    rows = []
    for speed, quality in SETTINGS:
        buffer = io.BytesIO()
        cpu = time.process_time()
        image.save(buffer, "AVIF", quality=quality, speed=speed, max_threads=1, subsampling="4:2:0")
        cpu = time.process_time() - cpu
        decoded = crops(np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")))
        score = statistics.mean(ssimulacra2_arrays(r, d) for r, d in zip(reference, decoded, strict=True))
        rows.append({"photo": Path(path).name, "speed": speed, "quality": quality, "bytes": buffer.tell(),
                     "cpu_s": cpu, "score": score})
    return rows


def pixels(path: Path) -> int:
    with Image.open(path) as image:
        return image.width * image.height


def main() -> int:
    ap = argparse.ArgumentParser()
    add_photo_arguments(ap)
    ap.add_argument("--largest", type=int, default=12)
    a = ap.parse_args()
    files = sorted(photos_in(a.photos), key=lambda p: (-pixels(p), p.name))[: a.largest]
    with ProcessPoolExecutor(a.jobs) as pool:
        rows = [r for rs in pool.map(one, map(str, files)) for r in rs]
    print("| speed | q | bytes | CPU s | median SSIMULACRA2 | mean |\n|---:|---:|---:|---:|---:|---:|")
    for speed, quality in SETTINGS:
        mine = [r for r in rows if (r["speed"], r["quality"]) == (speed, quality)]
        print(f"| {speed} | {quality} | {sum(r['bytes'] for r in mine):,} | {sum(r['cpu_s'] for r in mine):.1f} | "
              f"{statistics.median(r['score'] for r in mine):.2f} | {statistics.mean(r['score'] for r in mine):.2f} |")
    for path in files:
        print(path.name, [(r["speed"], r["quality"], r["bytes"], round(r["score"], 2))
                          for r in rows if r["photo"] == path.name])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
