"""The image cache on the demo site: what a change of pixels or of one setting encodes again, and what
it leaves alone (SPEC §2.5: source hash + effective settings + encoder versions; widths are not in it)."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

from PIL import Image, JpegImagePlugin

from assetpipe.config import ImagesConfig

from .conftest import snapshot

COFFEE = "assets/coffee-A-I1hS5R.jpg"
DEFAULTS = ImagesConfig()


def images_of(site: Path) -> dict[str, dict]:
    files = json.loads((site / ".assetpipe" / "manifest.json").read_text())["files"]
    return {rel: entry for rel, entry in files.items() if "image" in entry}


def outputs(entry: dict) -> list[tuple[str, int]]:
    """Every (format, width) an image's build encodes: each format at each width. A same-URL sidecar is
    the own-width variant's bytes (one encode, stored once: SPEC §2.1), so it adds nothing."""
    image = entry["image"]
    widths = {v["width"] for v in image["variants"]} | {s["width"] for s in image.get("skipped", [])}
    formats = sorted(image["settings"])
    if not widths:  # no markup shows it (issue 24, item 5): its same-URL sidecars alone, at its own width
        return [(fmt, image["width"]) for fmt in formats if fmt in ("avif", "webp") and fmt != image["format"]]
    return [(fmt, width) for width in sorted(widths) for fmt in formats]


def names(entry: dict, fmt: str) -> set[str]:
    """The hashed names of an image's variants in one format (the own-width one of a hashed original
    is its same-URL sidecar, whose name is the original's and never changes)."""
    same_url = {e["file"] for e in entry.get("encodings", {}).values()}
    return {v["file"] for v in entry["image"]["variants"] if v["format"] == fmt and v["file"] not in same_url}


def build(cli, site: Path, cache_dir: Path) -> dict:
    result = cli("build", str(site), "--cache-dir", str(cache_dir), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def rebuild(cli, site: Path, cache_dir: Path) -> tuple[int, dict[str, dict]]:
    """Build again; return how many image outputs it encoded (the `encoded` count less the Brotli and
    gzip sidecars of the pages whose <picture> markup changed), and the images' manifest entries."""
    pages = {rel: digest for rel, digest in snapshot(site).items() if rel.endswith(".html")}
    report = build(cli, site, cache_dir)
    now = snapshot(site)
    return report["encoded"] - 2 * sum(now[rel] != digest for rel, digest in pages.items()), images_of(site)


def test_every_image_lists_its_effective_settings(cli, site, cache_dir) -> None:
    build(cli, site, cache_dir)
    for rel, entry in images_of(site).items():
        settings = entry["image"]["settings"]
        assert set(settings) == {"avif", "webp", entry["image"]["format"]}, rel
        assert f" q60 s{DEFAULTS.avif_speed} 420" in settings["avif"] and " q80 m4 a100" in settings["webp"], rel
        assert {v["format"] for v in entry["image"]["variants"]} <= set(settings), rel


def test_one_changed_image_encodes_only_its_own_outputs(cli, site, cache_dir) -> None:
    build(cli, site, cache_dir)
    before = images_of(site)
    photo = Image.open(site / COFFEE)
    photo.putpixel((0, 0), (255, 0, 255))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90)
    (site / COFFEE).write_bytes(buffer.getvalue())

    encoded, after = rebuild(cli, site, cache_dir)
    assert encoded == len(outputs(after[COFFEE])) > 0
    assert {rel: e for rel, e in after.items() if rel != COFFEE} == {
        rel: e for rel, e in before.items() if rel != COFFEE}
    assert not names(after[COFFEE], "avif") & names(before[COFFEE], "avif")  # its names follow its pixels


def test_a_changed_quality_encodes_only_that_format_again(cli, site, cache_dir, tmp_path) -> None:
    build(cli, site, cache_dir)
    before = images_of(site)
    (tmp_path / "assetpipe.toml").write_text("[images.quality]\nwebp = 70\n")

    encoded, after = rebuild(cli, site, cache_dir)
    assert encoded == sum(fmt == "webp" for e in after.values() for fmt, _ in outputs(e)) > 0
    for rel, entry in after.items():
        assert " q70 m4 " in entry["image"]["settings"]["webp"]
        assert names(entry, "avif") == names(before[rel], "avif") and names(entry, "jpeg") == names(before[rel], "jpeg")
        assert names(entry, "webp").isdisjoint(names(before[rel], "webp")), rel


def test_avif_speed_and_chroma_subsampling_are_settings_of_their_formats(cli, site, cache_dir, tmp_path) -> None:
    build(cli, site, cache_dir)
    before = images_of(site)
    (tmp_path / "assetpipe.toml").write_text('[images]\nsubsampling = "4:4:4"\navif_speed = 7\n')

    encoded, after = rebuild(cli, site, cache_dir)
    changed = ("avif", "jpeg")  # WebP is always 4:2:0; PNG is lossless
    assert encoded == sum(fmt in changed for e in after.values() for fmt, _ in outputs(e)) > 0
    for rel, entry in after.items():
        assert " s7 444" in entry["image"]["settings"]["avif"], rel
        assert names(entry, "webp") == names(before[rel], "webp") and names(entry, "png") == names(before[rel], "png")
    for file in names(after[COFFEE], "jpeg"):
        assert JpegImagePlugin.get_sampling(Image.open(site / file)) == 0  # 4:4:4
    for file in names(before[COFFEE], "jpeg"):  # the 4:2:0 ones were this build's own: replaced
        assert not (site / file).exists()


def test_an_added_width_encodes_only_that_width_and_keeps_every_name(cli, site, cache_dir, tmp_path) -> None:
    build(cli, site, cache_dir)
    before = images_of(site)
    on_disk = snapshot(site)
    (tmp_path / "assetpipe.toml").write_text("[images]\nwidths = [320, 480, 640, 1280, 1920]\n")

    encoded, after = rebuild(cli, site, cache_dir)
    assert encoded == sum(w == 480 for e in after.values() for _, w in outputs(e)) > 0
    for rel, entry in after.items():
        old = {v["file"]: v for v in before[rel]["image"]["variants"]}
        new = {v["file"]: v for v in entry["image"]["variants"]}
        assert {f: v for f, v in new.items() if v["width"] != 480} == old, rel
        assert all(on_disk[f] == snapshot(site)[f] for f in old), rel


def test_a_changed_background_encodes_only_the_jpegs_of_images_with_alpha(cli, site, cache_dir, tmp_path) -> None:
    """With a JPEG fallback only an image with alpha is flattened onto the background, so only its JPEGs
    depend on it; every opaque image's outputs come from the cache (issue 17, item 2)."""
    (tmp_path / "assetpipe.toml").write_text('[images]\nfallback = "jpeg"\n')
    build(cli, site, cache_dir)
    before = images_of(site)
    alpha = {rel for rel, entry in before.items() if "bg" in entry["image"]["settings"]["jpeg"]}
    assert alpha and alpha != set(before), "the demo has images with alpha and without"
    (tmp_path / "assetpipe.toml").write_text('[images]\nfallback = "jpeg"\nbackground = "#000000"\n')
    encoded, after = rebuild(cli, site, cache_dir)
    assert encoded == sum(fmt == "jpeg" for rel in alpha for fmt, _ in outputs(after[rel]))
    for rel, entry in after.items():
        if rel in alpha:
            assert names(entry, "jpeg").isdisjoint(names(before[rel], "jpeg")), rel
        else:
            assert entry == before[rel], rel


def _flat_site(root: Path) -> None:
    """Flat colours: lossless PNG fallbacks of about 100 bytes, which AVIF (and WebP at some widths)
    cannot beat, so the build skips those variants (SPEC §2.1) and drops a sidecar or two."""
    root.mkdir()
    Image.new("RGB", (400, 300), (200, 40, 40)).save(root / "flat.png")
    Image.new("RGB", (64, 64), (20, 140, 40)).save(root / "tiny.png")


def _counts(cli, site: Path, cache: Path) -> tuple[tuple[int, ...], dict]:
    """(what --dry-run says it would encode, take from the cache, keep up to date), and the build's JSON."""
    plan = cli("build", str(site), "--cache-dir", str(cache), "--dry-run")
    said = re.search(r"would encode (\d+), take (\d+) from the cache, keep (\d+) up to date", plan.stderr)
    assert said is not None, plan.stderr
    return tuple(map(int, said.groups())), build(cli, site, cache)


def test_dry_run_counts_what_the_build_then_does(cli, tmp_path) -> None:
    """Cold, up to date, and outputs wiped with the cache kept: --dry-run's `encode`, `take from the
    cache` and `up to date` are the build's `encoded`, `cache_hits` and `up_to_date` right after, skipped
    variants included, and the manifest is the same each time."""
    site, cache = tmp_path / "dist", tmp_path / "cache"
    _flat_site(site)
    (tmp_path / "assetpipe.toml").write_text('[images]\nvariants_for = ["*.png"]\n')  # no page shows them
    manifests, builds = [], []
    for state in ("cold", "up to date", "outputs wiped, cache kept"):
        if state == "outputs wiped, cache kept":
            shutil.rmtree(site)
            _flat_site(site)
        said, built = _counts(cli, site, cache)
        assert said == (built["encoded"], built["cache_hits"], built["up_to_date"]), state
        manifests.append((site / ".assetpipe" / "manifest.json").read_bytes())
        builds.append(built)
        skipped = [k for e in images_of(site).values() for k in e["image"].get("skipped", [])]
        assert len(skipped) >= 3, state
    assert manifests[0] == manifests[1] == manifests[2]
    cold, again, wiped = builds
    assert (again["encoded"], again["cache_hits"]) == (0, 0)  # a skipped variant is not read again
    assert (wiped["encoded"], wiped["cache_hits"]) == (0, cold["encoded"])  # every encode of the cold build


def test_dry_run_counts_a_variant_stored_as_its_sidecar_once(cli, site, cache_dir) -> None:
    """The demo's originals are content-hashed, so each own-width AVIF/WebP is stored once, as the
    same-URL sidecar: one encode cold, nothing to read up to date, and --dry-run says so. (A folder
    wiped of its outputs is left out: there --dry-run plans the pages' sidecars before the <picture>
    rewrite it does not run.)"""
    cold_said, cold = _counts(cli, site, cache_dir)
    again_said, again = _counts(cli, site, cache_dir)
    assert cold_said == (cold["encoded"], cold["cache_hits"], cold["up_to_date"])
    assert again_said == (again["encoded"], again["cache_hits"], again["up_to_date"])
    compressed = [j for j in json.loads(cli("build", str(site), "--cache-dir", str(cache_dir), "--dry-run",
                                            "--json").stdout)["plan"]["outputs"] if j["action"] == "cached"]
    assert again["cache_hits"] == len(compressed)  # only sidecars dropped by compress.min_ratio are read
