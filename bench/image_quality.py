"""Score responsive-image variants of two tools against the same reference, and count their bytes.

python image_quality.py --photos DIR --assetpipe BUILT_COPY --eleventy-summary FILE --eleventy-dir DIR
                        --out FILE [--sample auto|all] [--jobs N]

Runs in a scratch venv with `ssimulacra2` (PyPI, a NumPy/SciPy port of libjxl's tool), Pillow, NumPy
and SciPy; never in assetpipe's own venv. `images.sh` creates that venv.

Reference for a variant W x H of photo P: P decoded, EXIF-oriented, converted to sRGB through its
embedded ICC profile if any, as RGB (RGBA when P has alpha), resized to exactly W x H with Pillow
LANCZOS. The variant is decoded with Pillow and converted to sRGB through its own profile if it has
one. Images with alpha are flattened on a dark (10 % grey) and a light (90 % grey) background, both
sides the same way, and the lower score counts (what libjxl's ssimulacra2 tool does).

Score: SSIMULACRA2 (100 = identical; ~90 visually lossless, ~70 high quality, ~50 medium). The port
is pure NumPy at about 2 s per megapixel, so `--sample auto` scores a deterministic sample: every
variant 640 px wide, plus every variant at its source's own width when that width is at most 1920 px
(the largest variant both tools make of small photos). `--sample all` scores everything.

Every variant (scored or not) is also checked cheaply: decoded size equals what the tool listed,
aspect ratio matches the oriented source, and the PSNR of a <=256 px thumbnail of variant and
reference (catches a wrong orientation, colour, alpha or crop; not a quality measure).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from corpus import photos_in
from PIL import Image, ImageCms, ImageOps, features
from ssimulacra2 import ssimulacra2 as s2

Image.MAX_IMAGE_PIXELS = None
SRGB = ImageCms.createProfile("sRGB")
BACKGROUNDS = (round(0.1 * 255), round(0.9 * 255))


# ----------------------------------------------------------------------------- SSIMULACRA2
def ssimulacra2_arrays(orig: np.ndarray, dist: np.ndarray) -> float:
    """ssimulacra2.compute_ssimulacra2's body, on two HxWx3 uint8 sRGB arrays instead of two paths."""
    orig_linear = s2.srgb_to_linear(orig.astype(np.float64))
    dist_linear = s2.srgb_to_linear(dist.astype(np.float64))
    img1 = s2.make_positive_xyb(s2.linear_rgb_to_xyb(orig_linear))
    img2 = s2.make_positive_xyb(s2.linear_rgb_to_xyb(dist_linear))
    msssim = s2.Msssim()
    for scale in range(s2.kNumScales):
        if img1.shape[0] < 8 or img1.shape[1] < 8:
            break
        sigma1_sq = s2.blur_image(img1 * img1)
        sigma2_sq = s2.blur_image(img2 * img2)
        sigma12 = s2.blur_image(img1 * img2)
        mu1 = s2.blur_image(img1)
        mu2 = s2.blur_image(img2)
        data = s2.MsssimScale()
        data.avg_ssim = s2.ssim_map(mu1, mu2, sigma1_sq, sigma2_sq, sigma12)
        data.avg_edgediff = s2.edge_diff_map(img1, mu1, img2, mu2)
        msssim.scales.append(data)
        if scale < s2.kNumScales - 1:
            orig_linear = s2.downsample(orig_linear, 2, 2)
            dist_linear = s2.downsample(dist_linear, 2, 2)
            img1 = s2.make_positive_xyb(s2.linear_rgb_to_xyb(orig_linear))
            img2 = s2.make_positive_xyb(s2.linear_rgb_to_xyb(dist_linear))
    return float(msssim.score())


# ----------------------------------------------------------------------------- decoding
def to_srgb(im: Image.Image) -> Image.Image:
    """RGB or RGBA, in sRGB. 16-bit greyscale is scaled, palette and greyscale expanded."""
    icc = im.info.get("icc_profile")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in ("PA", "LA", "La", "RGBa") or (im.mode in ("L", "RGB") and "transparency" in im.info):
        im = im.convert("RGBA")
    elif im.mode == "CMYK":
        pass
    elif im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGB")
    alpha = im.getchannel("A") if im.mode == "RGBA" else None
    base = im.convert("RGB") if im.mode != "CMYK" else im
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if src.profile.xcolor_space.strip() in ("RGB", "CMYK"):
                base = ImageCms.profileToProfile(base, src, SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass
    if base.mode != "RGB":
        base = base.convert("RGB")
    if alpha is not None and alpha.getextrema() != (255, 255):
        base.putalpha(alpha)
    return base


def load_reference(path: Path) -> Image.Image:
    im = Image.open(path)
    im.load()
    icc = im.info.get("icc_profile")
    im = ImageOps.exif_transpose(im)
    if icc:
        im.info["icc_profile"] = icc
    return to_srgb(im)


def load_variant(path: Path) -> Image.Image:
    im = Image.open(path)
    im.load()
    return to_srgb(im)


def flatten(im: Image.Image, grey: int) -> np.ndarray:
    if im.mode != "RGBA":
        return np.asarray(im.convert("RGB"))
    canvas = Image.new("RGB", im.size, (grey, grey, grey))
    canvas.paste(im, mask=im.getchannel("A"))
    return np.asarray(canvas)


def thumb_psnr(ref: Image.Image, var: Image.Image) -> float:
    size = (256, max(1, round(256 * ref.height / ref.width))) if ref.width > 256 else ref.size
    a = flatten(ref.resize(size, Image.Resampling.BOX), 128).astype(np.float64)
    b = flatten(var.resize(size, Image.Resampling.BOX), 128).astype(np.float64)
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255 * 255 / mse)


# ----------------------------------------------------------------------------- one source
def work_source(args: tuple[str, list[dict], bool]) -> list[dict]:
    photo, variants, _alpha_any = args
    t0 = time.perf_counter()
    base = load_reference(Path(photo))
    out = []
    for v in variants:
        r = dict(v)
        try:
            var = load_variant(Path(v["path"]))
        except Exception as e:
            r["error"] = f"decode: {e}"
            out.append(r)
            continue
        r["decoded_size"] = list(var.size)
        r["decoded_mode"] = var.mode
        # eleventy-img's metadata can list a height 1 px off what sharp wrote (it floors, sharp rounds)
        r["listed_size_off_px"] = max(abs(var.width - v["width"]), abs(var.height - v["height"]))
        r["size_ok"] = r["listed_size_off_px"] <= 1
        ar_src = base.width / base.height
        r["aspect_ok"] = abs(var.width / ar_src - var.height) <= 1.0 + 0.01 * var.height
        ref = base.resize(var.size, Image.Resampling.LANCZOS)
        r["alpha_ref"] = ref.mode == "RGBA"
        r["alpha_variant"] = var.mode == "RGBA"
        r["thumb_psnr"] = round(thumb_psnr(ref, var), 2)
        if v["score"]:
            t1 = time.perf_counter()
            greys = BACKGROUNDS if (ref.mode == "RGBA" or var.mode == "RGBA") else (None,)
            scores = [ssimulacra2_arrays(flatten(ref, g or 0), flatten(var, g or 0)) for g in greys]
            r["ssimulacra2"] = round(min(scores), 3)
            r["score_s"] = round(time.perf_counter() - t1, 3)
        out.append(r)
    for r in out:
        r["source_s"] = round(time.perf_counter() - t0, 2)
    return out


# ----------------------------------------------------------------------------- listing
def oriented_size(path: Path) -> tuple[int, int]:
    im = Image.open(path)
    w, h = im.size
    try:
        if im.getexif().get(0x0112) in (5, 6, 7, 8):
            w, h = h, w
    except Exception:
        pass
    return w, h


def list_variants(a) -> tuple[list[dict], dict]:
    photos = {p.name: p for p in photos_in(a.photos)}
    sizes = {n: oriented_size(p) for n, p in photos.items()}
    variants: list[dict] = []
    extra: dict = {"assetpipe_sidecars": [], "assetpipe_skipped": {}, "assetpipe_not_in_manifest": []}

    manifest = json.loads((a.assetpipe / ".assetpipe" / "manifest.json").read_text())
    listed = set()
    for name, entry in sorted(manifest["files"].items()):
        img = entry.get("image")
        if not img:
            continue
        for v in img.get("variants", []):
            p = a.assetpipe / v["file"]
            listed.add(v["file"])
            variants.append(
                {
                    "tool": "assetpipe",
                    "source": name,
                    "format": v["format"],
                    "width": v["width"],
                    "height": v["height"],
                    "size": v["size"],
                    "file": v["file"],
                    "path": str(p),
                    "size_on_disk": p.stat().st_size if p.exists() else None,
                }
            )
        if img.get("skipped"):
            extra["assetpipe_skipped"][name] = img["skipped"]
        for fmt, enc in sorted((entry.get("encodings") or {}).items()):
            if fmt in ("avif", "webp"):
                p = a.assetpipe / enc["file"]
                listed.add(enc["file"])
                extra["assetpipe_sidecars"].append(
                    {
                        "source": name,
                        "format": fmt,
                        "file": enc["file"],
                        "size": enc["size"],
                        "size_on_disk": p.stat().st_size if p.exists() else None,
                    }
                )
    for p in sorted(a.assetpipe.iterdir()):
        if p.is_file() and p.name not in photos and p.name not in listed:
            extra["assetpipe_not_in_manifest"].append(p.name)

    summary = json.loads(a.eleventy_summary.read_text())
    for o in summary["files"]:
        p = a.eleventy_dir / o["file"]
        variants.append(
            {
                "tool": "eleventy-img",
                "source": o["source"],
                "format": o["format"],
                "width": o["width"],
                "height": o["height"],
                "size": o["size"],
                "file": o["file"],
                "path": str(p),
                "size_on_disk": p.stat().st_size if p.exists() else None,
            }
        )
    extra["eleventy_files_on_disk"] = sum(1 for p in a.eleventy_dir.iterdir() if p.is_file())
    extra["eleventy_bytes_on_disk"] = sum(p.stat().st_size for p in a.eleventy_dir.iterdir() if p.is_file())

    for v in variants:
        sw, sh = sizes[v["source"]]
        v["source_width"], v["source_height"] = sw, sh
        v["own_width"] = v["width"] == sw
        v["score"] = a.sample == "all" or v["width"] == 640 or (v["own_width"] and sw <= 1920)
        v["photo"] = str(photos[v["source"]])
    return variants, extra


# ----------------------------------------------------------------------------- summaries
def pct(values: list[float], q: float) -> float | None:
    """q-th percentile, linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    return round(float(np.percentile(values, q)), 2)


def summarise(rows: list[dict]) -> dict:
    out: dict = {}
    for tool in ("assetpipe", "eleventy-img"):
        mine = [r for r in rows if r["tool"] == tool]
        per: dict = {}
        for fmt in sorted({r["format"] for r in mine}):
            rs = [r for r in mine if r["format"] == fmt]
            sc = [r["ssimulacra2"] for r in rs if "ssimulacra2" in r]
            per[fmt] = {
                "files": len(rs),
                "bytes": sum(r["size"] for r in rs),
                "scored": len(sc),
                "ssimulacra2_median": pct(sc, 50),
                "ssimulacra2_p10": pct(sc, 10),
                "scored_bytes": sum(r["size"] for r in rs if "ssimulacra2" in r),
            }
        per["all"] = {"files": len(mine), "bytes": sum(r["size"] for r in mine)}
        out[tool] = per
    # The same (source, format, width) made by both tools.
    key = lambda r: (r["source"], r["format"], r["width"])  # noqa: E731
    ap = {key(r): r for r in rows if r["tool"] == "assetpipe"}
    el = {key(r): r for r in rows if r["tool"] == "eleventy-img"}
    common = sorted(set(ap) & set(el))
    matched: dict = {}
    for fmt in sorted({k[1] for k in common}):
        ks = [k for k in common if k[1] == fmt]
        both = [k for k in ks if "ssimulacra2" in ap[k] and "ssimulacra2" in el[k]]
        diffs = [ap[k]["ssimulacra2"] - el[k]["ssimulacra2"] for k in both]
        matched[fmt] = {
            "files": len(ks),
            "assetpipe_bytes": sum(ap[k]["size"] for k in ks),
            "eleventy_bytes": sum(el[k]["size"] for k in ks),
            "scored_pairs": len(both),
            "assetpipe_scored_bytes": sum(ap[k]["size"] for k in both),
            "eleventy_scored_bytes": sum(el[k]["size"] for k in both),
            "assetpipe_median": pct([ap[k]["ssimulacra2"] for k in both], 50),
            "eleventy_median": pct([el[k]["ssimulacra2"] for k in both], 50),
            "assetpipe_p10": pct([ap[k]["ssimulacra2"] for k in both], 10),
            "eleventy_p10": pct([el[k]["ssimulacra2"] for k in both], 10),
            "median_difference": pct(diffs, 50),
            "assetpipe_better_or_equal": sum(d >= 0 for d in diffs),
        }
    matched["all"] = {
        "files": len(common),
        "assetpipe_bytes": sum(ap[k]["size"] for k in common),
        "eleventy_bytes": sum(el[k]["size"] for k in common),
    }
    only_ap = sorted(set(ap) - set(el))
    only_el = sorted(set(el) - set(ap))
    return {
        "per_tool": out,
        "matched": matched,
        "only_assetpipe": {
            "files": len(only_ap),
            "bytes": sum(ap[k]["size"] for k in only_ap),
            "megapixels": round(sum(ap[k]["width"] * ap[k]["height"] for k in only_ap) / 1e6, 1),
            "own_width_over_1920": sum(1 for k in only_ap if ap[k]["own_width"] and k[2] > 1920),
        },
        "only_eleventy": {
            "files": len(only_el),
            "bytes": sum(el[k]["size"] for k in only_el),
            "which": [list(k) for k in only_el][:50],
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--assetpipe", type=Path, required=True, help="the built copy (with .assetpipe/manifest.json)")
    ap.add_argument("--eleventy-summary", type=Path, required=True)
    ap.add_argument("--eleventy-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sample", choices=("auto", "all"), default="auto")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()

    t0 = time.perf_counter()
    variants, extra = list_variants(a)
    by_photo: dict[str, list[dict]] = {}
    for v in variants:
        by_photo.setdefault(v["photo"], []).append(v)
    # biggest sources first, so the pool ends evenly
    tasks = sorted(
        ((p, vs, False) for p, vs in by_photo.items()),
        key=lambda t: -max(v["source_width"] * v["source_height"] for v in t[1]),
    )
    rows: list[dict] = []
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        for i, res in enumerate(pool.map(work_source, tasks), 1):
            rows.extend(res)
            print(f"  quality: {i}/{len(tasks)} sources", file=sys.stderr, flush=True) if i % 10 == 0 else None
    rows.sort(key=lambda r: (r["tool"], r["source"], r["format"], r["width"]))
    wall = time.perf_counter() - t0

    scored = [r for r in rows if "ssimulacra2" in r]
    score_cpu = sum(r["score_s"] for r in scored)
    scored_mp = sum(r["width"] * r["height"] for r in scored) / 1e6
    all_mp = sum(r["width"] * r["height"] for r in rows) / 1e6
    suspicious = [
        {
            k: r.get(k)
            for k in (
                "tool",
                "file",
                "source",
                "format",
                "width",
                "height",
                "decoded_size",
                "listed_size_off_px",
                "aspect_ok",
                "thumb_psnr",
                "alpha_ref",
                "alpha_variant",
                "ssimulacra2",
                "error",
            )
        }
        for r in rows
        if r.get("error")
        or not r.get("size_ok", True)
        or not r.get("aspect_ok", True)
        or r.get("thumb_psnr", 99) < 30
        or r.get("alpha_ref") != r.get("alpha_variant")
        or ("ssimulacra2" in r and r["ssimulacra2"] < 30)
        or (r["size_on_disk"] is not None and r["size_on_disk"] != r["size"])
        or r["size_on_disk"] is None
    ]
    result = {
        "listed_size_off_by_1px": {
            t: sum(1 for r in rows if r["tool"] == t and r.get("listed_size_off_px") == 1)
            for t in ("assetpipe", "eleventy-img")
        },
        "metric": "SSIMULACRA2 (PyPI ssimulacra2 0.3.0, NumPy port)",
        "reference": "source, EXIF-oriented, ICC -> sRGB, RGB(A), Pillow LANCZOS to the variant's exact size; "
        "alpha: flattened on 10 % and 90 % grey, lower score",
        "sample": a.sample,
        "sample_rule": "all variants"
        if a.sample == "all"
        else "every variant 640 px wide + every variant at its source's own width when that is <= 1920 px",
        "pillow": Image.__version__,
        "libavif": features.version("avif"),
        "libwebp": features.version("webp"),
        "variants": len(rows),
        "scored": len(scored),
        "scored_megapixels": round(scored_mp, 1),
        "all_megapixels": round(all_mp, 1),
        "score_cpu_s": round(score_cpu, 1),
        "score_s_per_megapixel": round(score_cpu / scored_mp, 3) if scored_mp else None,
        "estimated_cpu_s_to_score_all": round(score_cpu / scored_mp * all_mp) if scored_mp else None,
        "wall_s": round(wall, 1),
        "jobs": a.jobs,
        "summary": summarise(rows),
        "suspicious": suspicious,
        "lowest_scores": sorted(
            ({k: r[k] for k in ("tool", "file", "format", "width", "ssimulacra2", "size")} for r in scored),
            key=lambda r: r["ssimulacra2"],
        )[:15],
        **extra,
        "rows": [{k: v for k, v in r.items() if k not in ("path", "photo")} for r in rows],
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"quality: {len(rows)} variants checked, {len(scored)} scored ({scored_mp:.1f} MP) in {wall:.0f} s; "
        f"{len(suspicious)} suspicious",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
