"""AVIF encoders at equal bytes: libaom (what assetpipe uses) against SVT-AV1 (pillow-avif-plugin).

Two steps, two Pythons:
  python avif_encoders.py encode OUT [PHOTOS_DIR] [--every 8] [--width 1280]
      assetpipe's Python with pillow-avif-plugin installed: decodes a sample of the corpus photos the
      way a build does (assetpipe.images), resizes to --width (or the photo's own width, if smaller),
      keeps that as the reference (lossless PNG), and encodes it with aom (speed 6, or --aom-speed;
      assetpipe's default is 7) at q50/60/70 and with SVT-AV1 at speed 6 and 8, q50..80, one thread each, as a build
      does; bytes and CPU seconds (the process's, encoder threads included) go into OUT/encodes.json.
  python avif_encoders.py score OUT
      the quality venv bench/images.sh builds (ssimulacra2, NumPy): SSIMULACRA2 of every encode
      against its reference, then per photo the SVT-AV1 curve interpolated (score against log bytes)
      at the bytes and at the score of aom q60: the score SVT-AV1 reaches in aom's bytes, and the bytes
      it needs for aom's score. Prints a table; OUT/scores.json keeps every row.
Both encoders come from the same pillow-avif-plugin build (one libavif), so only the encoder differs.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from corpus import add_photo_arguments, photos_in

AOM_QUALITIES = (50, 60, 70)
SVT_QUALITIES = (50, 55, 60, 65, 70, 75, 80)
SVT_SPEEDS = (6, 8)
AOM_SPEED = 6  # assetpipe's images.avif_speed before it became 7; `--aom-speed` picks another


def encode_one(args: tuple[str, str, int, int]) -> list[dict]:
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole configuration to stderr otherwise
    import pillow_avif  # noqa: F401 - registers the plugin's AVIF encoder (aom, SVT-AV1, rav1e)

    from assetpipe.images.decode import decode_source, probe
    from assetpipe.images.encode import resize

    path, out, width, aom_speed = Path(args[0]), Path(args[1]), args[2], args[3]
    data = path.read_bytes()
    info = probe(data, 10**9)
    frames, _, _, _ = decode_source(data, info)
    ref = resize(frames[0], min(width, info.width), info).convert("RGB")
    stem = path.stem
    ref.save(out / f"{stem}.ref.png")
    rows = []
    runs = [("aom", aom_speed, q) for q in AOM_QUALITIES] + [("svt", s, q) for s in SVT_SPEEDS for q in SVT_QUALITIES]
    for codec, speed, quality in runs:
        buffer = io.BytesIO()
        cpu = time.process_time()
        ref.save(buffer, "AVIF", codec=codec, quality=quality, speed=speed, subsampling="4:2:0", max_threads=1)
        cpu = time.process_time() - cpu
        name = f"{stem}.{codec}-s{speed}-q{quality}.avif"
        (out / name).write_bytes(buffer.getvalue())
        rows.append({"photo": path.name, "ref": f"{stem}.ref.png", "file": name, "codec": codec, "speed": speed,
                     "quality": quality, "bytes": len(buffer.getvalue()), "cpu_s": round(cpu, 3),
                     "width": ref.width, "height": ref.height})
    return rows


def encode(a: argparse.Namespace) -> int:
    import pillow_avif

    a.out.mkdir(parents=True, exist_ok=True)
    photos = photos_in(a.photos)[::a.every]
    with ProcessPoolExecutor(a.jobs) as pool:
        tasks = [(str(p), str(a.out), a.width, a.aom_speed) for p in photos]
        rows = [r for rs in pool.map(encode_one, tasks) for r in rs]
    from pillow_avif import _avif

    meta = {"pillow_avif_plugin": pillow_avif.__version__, "codecs": _avif.codec_versions(), "width": a.width}
    (a.out / "encodes.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"{len(photos)} photos, {len(rows)} encodes -> {a.out}/encodes.json ({meta['codecs']})")
    return 0


def score_one(args: tuple[str, dict]) -> dict:
    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).parent))
    from image_quality import ssimulacra2_arrays

    out, row = Path(args[0]), args[1]
    ref = np.asarray(Image.open(out / row["ref"]).convert("RGB"))
    dist = np.asarray(Image.open(out / row["file"]).convert("RGB"))
    return {**row, "ssimulacra2": round(float(ssimulacra2_arrays(ref, dist)), 3)}


def at(points: list[tuple[float, float]], x: float) -> float | None:
    """Linear interpolation of y at x over (x, y) points sorted by x; None outside their range."""
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1 and x1 > x0:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return None


def score(a: argparse.Namespace) -> int:
    doc = json.loads((a.out / "encodes.json").read_text())
    with ProcessPoolExecutor(a.jobs) as pool:
        rows = list(pool.map(score_one, [(str(a.out), r) for r in doc["rows"]]))
    (a.out / "scores.json").write_text(json.dumps({"meta": doc["meta"], "rows": rows}, indent=1))
    print(f"codecs: {doc['meta']['codecs']}; {len({r['photo'] for r in rows})} photos at {doc['meta']['width']} px\n")
    print("| photo | aom q60 bytes | aom q60 SSIMULACRA2 | aom CPU s | "
          + " | ".join(f"SVT s{s}: score at aom's bytes | SVT s{s}: bytes for aom's score | SVT s{s} CPU s"
                       for s in SVT_SPEEDS) + " |")
    print("|---|---:|---:|---:|" + "---:|---:|---:|" * len(SVT_SPEEDS))
    deltas: dict[int, list[float]] = {s: [] for s in SVT_SPEEDS}
    ratios: dict[int, list[float]] = {s: [] for s in SVT_SPEEDS}
    cpu: dict[str, float] = {}
    for photo in sorted({r["photo"] for r in rows}):
        mine = [r for r in rows if r["photo"] == photo]
        aom = next(r for r in mine if r["codec"] == "aom" and r["quality"] == 60)
        cells = [photo, f"{aom['bytes']:,}", f"{aom['ssimulacra2']:.2f}", f"{aom['cpu_s']:.2f}"]
        cpu["aom"] = cpu.get("aom", 0) + aom["cpu_s"]
        for s in SVT_SPEEDS:
            svt = sorted((r for r in mine if r["codec"] == "svt" and r["speed"] == s), key=lambda r: r["bytes"])
            by_bytes = [(math.log(r["bytes"]), r["ssimulacra2"]) for r in svt]
            by_score = sorted((r["ssimulacra2"], math.log(r["bytes"])) for r in svt)
            score_there = at(by_bytes, math.log(aom["bytes"]))
            log_bytes = at(by_score, aom["ssimulacra2"])
            seconds = at([(math.log(r["bytes"]), r["cpu_s"]) for r in svt], math.log(aom["bytes"]))
            if score_there is not None:
                deltas[s].append(score_there - aom["ssimulacra2"])
            if log_bytes is not None:
                ratios[s].append(math.exp(log_bytes) / aom["bytes"])
            if seconds is not None:
                cpu[f"svt{s}"] = cpu.get(f"svt{s}", 0) + seconds
            cells += [f"{score_there:.2f}" if score_there is not None else "out of range",
                      f"{math.exp(log_bytes) / aom['bytes']:.3f}x" if log_bytes is not None else "out of range",
                      f"{seconds:.2f}" if seconds is not None else "-"]
        print("| " + " | ".join(cells) + " |")
    print()
    for s in SVT_SPEEDS:
        if deltas[s] and ratios[s]:
            print(f"SVT-AV1 speed {s}: median SSIMULACRA2 at aom q60's bytes {statistics.median(deltas[s]):+.2f} "
                  f"({len(deltas[s])} photos); median bytes for aom q60's score "
                  f"{statistics.median(ratios[s]):.3f}x ({len(ratios[s])} photos); "
                  f"CPU at aom's bytes {cpu.get(f'svt{s}', 0):.1f} s against aom's {cpu['aom']:.1f} s")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=("encode", "score"))
    ap.add_argument("out", type=Path)
    add_photo_arguments(ap)
    ap.add_argument("--every", type=int, default=8, help="every Nth photo, by name")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--aom-speed", type=int, default=AOM_SPEED, help="libaom's speed (assetpipe's default is 7)")
    a = ap.parse_args()
    return encode(a) if a.step == "encode" else score(a)


if __name__ == "__main__":
    raise SystemExit(main())
