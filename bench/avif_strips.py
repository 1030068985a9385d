"""Full-size AVIF in strips: the memory of libaom's encode against bytes and seams (a study, not a build step).

python avif_strips.py [PHOTO ...] [--strips 4,8]

Run with the quality venv bench/images.sh builds (Pillow 13 with its own aom, ssimulacra2, NumPy). libaom
holds about 17 bytes per pixel while it encodes (the 24 MP photo's own-width AVIF: 520 MB in its
process), which keeps a cold build's memory above 600 MB. An AVIF `grid` image is made of cells encoded
one by one (assetpipe does not write grids: Firefox cannot decode them, see bench/README.md); this
measures what they would give: each photo is encoded
whole and as N horizontal strips (heights a multiple of 64, as libavif wants for grid cells), each way
in a fresh process whose peak RSS is reported, at assetpipe's default settings (q60, speed 7, 4:2:0, one
thread). The strips are decoded and put together again, and 384 px crops centred on the first three
seams (at a quarter, half and three quarters of the width) are scored with SSIMULACRA2 against the
source, beside the same crops of the whole encode. Writes nothing.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import statistics
import time
from pathlib import Path
from typing import Any

from corpus import PHOTOS
from PIL import Image, ImageOps

CROP = 384


def load(path: str) -> Image.Image:
    image = Image.open(path)
    ImageOps.exif_transpose(image, in_place=True)  # in place: no second copy of the pixels
    return image if image.mode == "RGB" else image.convert("RGB")


def strip_height(height: int, strips: int) -> int:
    rows = -(-height // strips)
    return rows + (-rows) % 64


def encode(path: str, strips: int, out: multiprocessing.Queue) -> None:
    """In a fresh process (it imports neither NumPy nor the scorer): encode whole (strips=1) or in
    strips; report bytes, CPU, and the peak RSS beyond what the decoded photo already took."""
    image = load(path)
    decoded = high_water_mb()
    cpu = time.process_time()
    step = strip_height(image.height, strips) if strips > 1 else image.height
    cells = []
    for top in range(0, image.height, step):
        buffer = io.BytesIO()
        image.crop((0, top, image.width, min(top + step, image.height))).save(
            buffer, "AVIF", quality=60, speed=7, max_threads=1, subsampling="4:2:0")
        cells.append(buffer.getvalue())
    out.put({"cells": cells, "cpu_s": time.process_time() - cpu,
             "peak_mb": high_water_mb(), "decoded_mb": decoded})


def high_water_mb() -> int:
    """This process's peak RSS (VmHWM): getrusage's would include the parent's, kept across exec."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmHWM:"))


def run(path: str, strips: int) -> dict:
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(target=encode, args=(path, strips, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def reassemble(cells: list[bytes], size: tuple[int, int]) -> Any:
    image = Image.new("RGB", size)
    top = 0
    for cell in cells:
        decoded = Image.open(io.BytesIO(cell)).convert("RGB")
        image.paste(decoded, (0, top))
        top += decoded.height
    import numpy as np

    return np.asarray(image)


def seam_scores(reference: Any, encoded: Any, seams: list[int]) -> list[float]:
    from image_quality import ssimulacra2_arrays  # here, so the encoding processes do not import it

    width = reference.shape[1]
    return [ssimulacra2_arrays(reference[y - CROP // 2 : y + CROP // 2, x - CROP // 2 : x + CROP // 2],
                               encoded[y - CROP // 2 : y + CROP // 2, x - CROP // 2 : x + CROP // 2])
            for y in seams[:3] for x in (width // 4, width // 2, 3 * width // 4)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("photos", nargs="*", default=[str(PHOTOS / n) for n in (
        "lomiri-Painting-Colors_by__herobrine7gamer.jpg", "mate-Elephants_5640x3172.jpg",
        "plasma-SafeLanding-5120x2880.jpg")])
    ap.add_argument("--strips", default="4,8")
    a = ap.parse_args()
    import numpy as np

    print("| photo | cells | bytes | vs whole | CPU s | peak RSS MB (decoded photo) | seam crops: SSIMULACRA2 | "
          "whole, same crops |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for path in a.photos:
        reference = np.asarray(load(path))
        height, width = reference.shape[:2]
        whole = run(path, 1)
        whole_pixels = reassemble(whole["cells"], (width, height))
        whole_bytes = len(whole["cells"][0])
        print(f"| {Path(path).name} | 1 | {whole_bytes:,} | 1.000 | {whole['cpu_s']:.1f} | "
              f"{whole['peak_mb']} ({whole['decoded_mb']}) | | |")
        for strips in map(int, a.strips.split(",")):
            result = run(path, strips)
            pixels = reassemble(result["cells"], (width, height))
            seams = list(range(strip_height(height, strips), height, strip_height(height, strips)))
            size = sum(map(len, result["cells"]))
            print(f"| {Path(path).name} | {len(result['cells'])} | {size:,} | {size / whole_bytes:.3f} | "
                  f"{result['cpu_s']:.1f} | {result['peak_mb']} ({result['decoded_mb']}) | "
                  f"{statistics.median(seam_scores(reference, pixels, seams)):.2f} | "
                  f"{statistics.median(seam_scores(reference, whole_pixels, seams)):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
