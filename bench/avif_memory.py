"""Peak memory of one full-size AVIF encode per AV1 encoder: libaom, rav1e, SVT-AV1 (pillow-avif-plugin).

python avif_memory.py PHOTO CODEC SPEED        (assetpipe's Python with `pip install -e ".[bench]"`)

Decodes PHOTO to RGB, then encodes it at its own size with CODEC ("aom", "rav1e" or "svt") at SPEED, q60,
4:2:0, one thread, as a build does, and prints the bytes, the CPU seconds and this process's peak RSS
(VmHWM) before and after the encode. Run each encoder in a process of its own: the peak is the
process's whole life.
"""

from __future__ import annotations

import io
import sys
import time

import pillow_avif  # noqa: F401 - registers the plugin's AVIF encoders (aom, rav1e, SVT-AV1)
from PIL import Image


def high_water_mb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmHWM:"))


def main() -> int:
    path, codec, speed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    image = Image.open(path).convert("RGB")
    decoded = high_water_mb()
    cpu = time.process_time()
    buffer = io.BytesIO()
    image.save(buffer, "AVIF", codec=codec, quality=60, speed=speed, max_threads=1, subsampling="4:2:0")
    print(f"{codec} speed {speed}: {buffer.tell():,} bytes, {time.process_time() - cpu:.1f} CPU s, "
          f"peak RSS {high_water_mb()} MB ({decoded} MB with the decoded photo, before encoding)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
