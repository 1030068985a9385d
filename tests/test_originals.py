"""Same-URL sidecars and opt-in `images.optimize_originals` on a Vite-style app whose image only JS names,
with the real optimisers (oxipng, mozjpeg), Pillow and the real CLI."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from PIL import Image, PngImagePlugin

from assetpipe.build.pipeline import BuildRequest
from assetpipe.build.pipeline import build as run_build
from assetpipe.config import CacheConfig, Config, ImagesConfig
from assetpipe.images import originals
from assetpipe.images.decode import probe
from assetpipe.images.originals import OptimiseError
from assetpipe.model import Failure, Notice

from .conftest import REPO, snapshot

JS_ONLY = REPO / "fixtures/images/js-only"
HERO = "assets/hero-Bq3xY9kL.jpg"  # named only by assets/index-C0ffee42.js
EXTRA = {"assets/badge.png": REPO / "fixtures/images/alpha/badge.png",
         "assets/turned.jpg": REPO / "fixtures/images/orientation/orientation-6.jpg"}
ORIGINALS = (HERO, *EXTRA)
ADOBE_RGB = (REPO / "fixtures/icc/compatibleWithAdobeRGB1998.icc").read_bytes()
SCHEMA = json.loads((REPO / "config/manifest.schema.json").read_text())
VARIANT = re.compile(r"\.[0-9a-f]{8}\.[0-9]+w\.[a-z]+$")
GPS_IFD = 0x8825


def make_app(folder: Path) -> Path:
    """The js-only fixture (a Vite build whose one image only its JS chunk names), plus a PNG with alpha and
    a JPEG carrying EXIF orientation 6."""
    shutil.copytree(JS_ONLY, folder)
    for rel, source in EXTRA.items():
        shutil.copyfile(source, folder / rel)
    return folder


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return make_app(tmp_path / "dist")


HASHED = '[cache]\nimmutable = ["assets/*-*.*"]\n'  # the js-only fixture has no Vite manifest to say so


def configure(tmp_path: Path, text: str = "", *, variants: bool = True) -> None:
    """optimize_originals on; with `variants`, width variants for every image too (the app's images are
    shown by its JS alone, which otherwise gets them the same-URL sidecars only)."""
    (tmp_path / "assetpipe.toml").write_text("[images]\noptimize_originals = true\n"
                                             + ('variants_for = ["**"]\n' if variants else "") + text)


def build(cli, folder: Path, cache: Path, *extra: str) -> dict:
    result = cli("build", str(folder), "--cache-dir", str(cache), "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def manifest_of(root: Path) -> dict:
    return json.loads((root / ".assetpipe/manifest.json").read_text())


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def photo(width: int = 240, height: int = 160) -> Image.Image:
    """A smooth gradient with some edges: compresses like a photo, not like flat colour."""
    image = Image.radial_gradient("L").resize((width, height)).convert("RGB")
    stripes = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", (image.getchannel(0), stripes, image.getchannel(0).rotate(90)))


# --- same-URL sidecars (on by default) ---------------------------------------------------------


def test_an_image_only_js_names_gets_same_url_sidecars_and_stays_as_it_is(cli, app, cache_dir) -> None:
    before = snapshot(app)
    build(cli, app, cache_dir)
    entry = manifest_of(app)["files"][HERO]
    original = (app / HERO).read_bytes()
    assert set(entry["encodings"]) == {"avif", "webp"}
    for fmt, sidecar in entry["encodings"].items():
        assert sidecar["file"] == f"{HERO}.{fmt}"
        data = (app / sidecar["file"]).read_bytes()
        assert len(data) == sidecar["size"] < len(original)
        decoded = Image.open(io.BytesIO(data))
        assert (decoded.format.lower(), decoded.size) == (fmt, Image.open(io.BytesIO(original)).size)
    after = snapshot(app)
    assert {rel: after[rel] for rel in before} == before  # the image, the JS and the page: untouched
    assert "optimized" not in entry


# --- optimize_originals: what the optimised file is -----------------------------------------------


def test_images_no_markup_shows_are_optimised_with_no_variant_written(cli, app, cache_dir, tmp_path) -> None:
    """The JS-only app without variants_for: its images get no width variants (nothing could name them,
    issue 24 item 5), yet each JPEG is still weighed against its re-encode at the configured quality
    (encoded, never written) and the originals shrink as with variants."""
    configure(tmp_path, HASHED, variants=False)
    before = {rel: (app / rel).read_bytes() for rel in ORIGINALS}
    stats = build(cli, app, cache_dir)
    assert stats["warnings"] == [] and stats["optimized"]["files"] == len(ORIGINALS)
    assert not [rel for rel in snapshot(app) if VARIANT.search(rel) or "#" in rel]
    with_variants = make_app(tmp_path / "with-variants")
    configure(tmp_path, HASHED)
    build(cli, with_variants, tmp_path / "other-cache")
    for rel in ORIGINALS:  # the same optimised bytes either way
        assert (app / rel).read_bytes() == (with_variants / rel).read_bytes() != before[rel], rel
    configure(tmp_path, HASHED, variants=False)
    assert build(cli, app, cache_dir)["encoded"] == 0  # warm: nothing encoded again


def test_originals_are_replaced_by_smaller_files_of_their_own_format(cli, app, cache_dir, tmp_path) -> None:
    # the fixture is a Vite build without Vite's manifest: its hashed names are declared, so no warning is due
    configure(tmp_path, '[cache]\nimmutable = ["assets/*-*.*"]\n')
    before = {rel: (app / rel).read_bytes() for rel in ORIGINALS}
    stats = build(cli, app, cache_dir)
    assert stats["warnings"] == []
    assert stats["optimized"] == {"files": len(ORIGINALS), "saved": sum(
        len(before[rel]) - (app / rel).stat().st_size for rel in ORIGINALS)}
    document = manifest_of(app)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    for rel in ORIGINALS:
        data, old = (app / rel).read_bytes(), before[rel]
        assert len(data) < len(old), rel
        now, was = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(old))
        assert now.format == was.format, rel  # never another format
        assert GPS_IFD not in now.getexif(), rel
        entry = document["files"][rel]
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["integrity"] == "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
        assert entry["optimized"] == {"original_size": len(old), "original_sha256": hashlib.sha256(old).hexdigest()}
        # every same-URL sidecar beats what the URL now serves
        assert all(s["size"] < len(data) for s in entry.get("encodings", {}).values()), rel
    badge_now = Image.open(app / "assets/badge.png")
    badge_was = Image.open(io.BytesIO(before["assets/badge.png"]))
    assert badge_now.convert("RGBA").tobytes() == badge_was.convert("RGBA").tobytes()  # PNG: lossless
    turned = probe((app / "assets/turned.jpg").read_bytes(), 10**9)
    was_turned = probe(before["assets/turned.jpg"], 10**9)
    assert (turned.width, turned.height) == (was_turned.width, was_turned.height)  # orientation kept
    assert (app / "assets/index-C0ffee42.js").read_bytes() == (JS_ONLY / "assets/index-C0ffee42.js").read_bytes()


def test_variants_are_made_from_the_original_pixels(cli, tmp_path) -> None:
    """Variant names and bytes are those of a build that leaves the originals alone, and stay so when a
    later build must decode again (a new width) after the originals were replaced."""
    optimised, plain = make_app(tmp_path / "a"), make_app(tmp_path / "b")
    configure(tmp_path)
    build(cli, optimised, tmp_path / "cache-a")
    (tmp_path / "assetpipe.toml").write_text('[images]\nvariants_for = ["**"]\n')
    build(cli, plain, tmp_path / "cache-b")

    def variants(root: Path) -> dict[str, str]:
        return {rel: digest for rel, digest in snapshot(root).items() if VARIANT.search(rel)}

    assert variants(optimised) == variants(plain) != {}
    configure(tmp_path, "widths = [100, 320, 640]\n")
    stats = build(cli, optimised, tmp_path / "cache-a")
    assert stats["encoded"] > 0
    (tmp_path / "assetpipe.toml").write_text('[images]\nvariants_for = ["**"]\nwidths = [100, 320, 640]\n')
    build(cli, plain, tmp_path / "cache-b")
    assert variants(optimised) == variants(plain)
    assert any(".100w." in rel for rel in variants(optimised))


# --- optimize_originals: a build again, a wiped dist, --out, --dry-run ---------------------------------


def test_a_second_build_changes_nothing_and_a_wiped_dist_comes_back_from_the_cache(cli, app, cache_dir,
                                                                                  tmp_path) -> None:
    configure(tmp_path)
    first = build(cli, app, cache_dir)
    assert first["encoded"] > 0
    built = snapshot(app)
    again = build(cli, app, cache_dir)
    assert (again["encoded"], again["written"]) == (0, 0)
    assert snapshot(app) == built  # recognised by the ledger: not optimised twice, no new variant names
    shutil.rmtree(app)
    make_app(app)
    restored = build(cli, app, cache_dir)
    assert restored["encoded"] == 0 and restored["cache_hits"] > 0
    assert snapshot(app) == built


def test_out_gets_the_optimised_copy_and_dir_stays_untouched(cli, app, cache_dir, tmp_path) -> None:
    configure(tmp_path)
    in_place = make_app(tmp_path / "in-place")
    build(cli, in_place, tmp_path / "other-cache")
    before = snapshot(app)
    out = tmp_path / "out"
    build(cli, app, cache_dir, "--out", str(out))
    assert snapshot(app) == before
    expected = snapshot(in_place)
    assert {rel: d for rel, d in snapshot(out).items() if not rel.startswith(".assetpipe/")} == {
        rel: d for rel, d in expected.items() if not rel.startswith(".assetpipe/")}
    assert manifest_of(out) == manifest_of(in_place)
    out_built = snapshot(out)
    build(cli, app, cache_dir, "--out", str(out))  # again: the same copy
    assert snapshot(out) == out_built and snapshot(app) == before


def test_dry_run_plans_the_originals_and_writes_nothing(cli, app, cache_dir, tmp_path) -> None:
    configure(tmp_path)
    before = snapshot(app)
    result = cli("build", str(app), "--cache-dir", str(cache_dir), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert f"encode  {HERO}\n" in result.stdout
    assert snapshot(app) == before and not cache_dir.exists()


def test_an_original_the_cache_lost_is_never_remade_from_the_optimised_copy(cli, app, cache_dir, tmp_path) -> None:
    configure(tmp_path)
    build(cli, app, cache_dir)
    optimised = {rel: (app / rel).read_bytes() for rel in ORIGINALS}
    shutil.rmtree(cache_dir)
    configure(tmp_path, "widths = [100]\n")  # every image needs decoding again
    result = cli("build", str(app), "--cache-dir", str(cache_dir))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if "no longer in the cache" in line]
    assert len(lines) == len(ORIGINALS)
    assert all(line.startswith("error: ") for line in lines)
    assert {rel: (app / rel).read_bytes() for rel in ORIGINALS} == optimised
    assert not list(app.rglob("*.100w.*"))


def test_an_original_that_changes_mid_build_is_left_alone_with_one_warning(cli, app, cache_dir, tmp_path) -> None:
    """A wiped dist rebuilt from the cache needs no decode; the bundler rewrites the image meanwhile: the
    writer refuses to replace it, one warning, the new bytes stay, the build goes on (exit 0)."""
    configure(tmp_path)
    build(cli, app, cache_dir)
    shutil.rmtree(app)
    make_app(app)
    newer = encode(photo(480, 320), "JPEG", quality=90)

    class RewriteWhenImagesStart:
        def __init__(self) -> None:
            self.failures: list[Failure] = []
            self.notices: list[Notice] = []

        def start(self, total: int, label: str) -> None:
            if label == "encoding images":  # after the scan and the plan, before any image is settled
                (app / HERO).write_bytes(newer)

        def advance(self, output: str, outcome: str) -> None: ...

        def failure(self, failure: Failure) -> None:
            self.failures.append(failure)

        def notice(self, notice: Notice) -> None:
            self.notices.append(notice)

        def done(self) -> None: ...

    observer = RewriteWhenImagesStart()
    config = Config(images=ImagesConfig(optimize_originals=True), cache=CacheConfig(immutable=("assets/*-*.*",)))
    result = run_build(BuildRequest(app, config, cache_dir), observer)
    assert result.exit_code == 0 and observer.failures == []
    assert observer.notices == [Notice(HERO, "not optimised, left as it is: changed during the build; left alone")]
    assert (app / HERO).read_bytes() == newer
    assert "optimized" not in manifest_of(app)["files"][HERO]
    assert "optimized" in manifest_of(app)["files"]["assets/badge.png"]


def test_turning_the_option_off_keeps_what_is_in_place(cli, app, cache_dir, tmp_path) -> None:
    configure(tmp_path)
    build(cli, app, cache_dir)
    built = snapshot(app)
    (tmp_path / "assetpipe.toml").write_text('[images]\noptimize_originals = false\nvariants_for = ["**"]\n')
    stats = build(cli, app, cache_dir)
    assert stats["written"] == 0
    assert snapshot(app) == built
    assert manifest_of(app)["files"][HERO]["optimized"]["original_size"] == (JS_ONLY / HERO).stat().st_size


# --- the optimisers themselves ----------------------------------------------------------------


def test_png_is_optimised_losslessly_keeping_colour_and_dropping_text() -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "made with a camera at home")
    source = photo()
    original = encode(source, "PNG", compress_level=1, icc_profile=ADOBE_RGB, pnginfo=text)
    found = originals.optimise(original, probe(original, 10**9), 1, None)
    assert found is not None and found.method == "oxipng" and len(found.data) < len(original)
    out = Image.open(io.BytesIO(found.data))
    assert out.format == "PNG" and out.convert("RGB").tobytes() == source.tobytes()
    assert out.info.get("icc_profile") == ADOBE_RGB
    assert "Comment" not in out.info
    assert originals.optimise(original, probe(original, 10**9), 1, None) == found  # deterministic


def test_jpeg_lossless_keeps_pixels_orientation_and_profile_and_drops_gps() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Camera maker"
    exif.get_ifd(GPS_IFD)[2] = (51.0, 30.0, 0.0)
    original = encode(photo(), "JPEG", quality=70, exif=exif, icc_profile=ADOBE_RGB)
    found = originals.optimise(original, probe(original, 10**9), originals.orientation_of(original), None)
    assert found is not None and found.method == "mozjpeg-lossless"
    out = Image.open(io.BytesIO(found.data))
    assert out.tobytes() == Image.open(io.BytesIO(original)).tobytes()  # the same DCT coefficients
    assert dict(out.getexif()) == {0x0112: 6}  # orientation only: no maker, no GPS
    assert out.info.get("icc_profile") == ADOBE_RGB


def test_jpeg_at_the_configured_quality_only_when_it_is_smaller() -> None:
    high = encode(photo(), "JPEG", quality=97)
    info = probe(high, 10**9)
    lossy = encode(photo(), "JPEG", quality=80, optimize=True, progressive=True)
    chosen = originals.optimise(high, info, 1, lossy, "jpeg-q80")
    assert chosen is not None and chosen.method == "jpeg-q80" and chosen.data == lossy
    low = encode(photo(), "JPEG", quality=50)
    kept = originals.optimise(low, probe(low, 10**9), 1, lossy, "jpeg-q80")  # the re-encode is larger
    assert kept is None or (kept.method == "mozjpeg-lossless" and len(kept.data) < len(low))
    once = originals.optimise(lossy, probe(lossy, 10**9), 1, None)
    assert once is not None and once.method == "mozjpeg-lossless"
    assert originals.optimise(once.data, probe(once.data, 10**9), 1, lossy) is None  # never larger


def test_gif_webp_avif_and_animations_are_left_alone() -> None:
    for fmt in ("GIF", "WEBP", "AVIF"):
        data = encode(photo(64, 48), fmt)
        info = probe(data, 10**9)
        assert not originals.handles(info)
        assert originals.optimise(data, info, 1, None) is None
    frames = [photo(32, 32), photo(32, 32).rotate(90)]
    apng = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    assert not originals.handles(probe(apng, 10**9))


def test_an_optimiser_failure_is_one_line() -> None:
    png_info = probe(encode(photo(16, 16), "PNG"), 10**9)
    jpeg_info = probe(encode(photo(16, 16), "JPEG"), 10**9)
    for info in (png_info, jpeg_info):
        with pytest.raises(OptimiseError) as caught:
            originals.optimise(b"\x89PNG\r\n\x1a\n not really" if info.format == "png" else b"\xff\xd8 no",
                               info, 1, None)
        assert str(caught.value) and "\n" not in str(caught.value)


def test_the_demo_site_keeps_its_picture_rewrite_and_its_size_diff(cli, site, cache_dir, tmp_path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(site, plain)
    build(cli, plain, tmp_path / "cache-plain")
    configure(tmp_path)
    build(cli, site, cache_dir)
    built = snapshot(site)
    assert (site / "index.html").read_bytes() == (plain / "index.html").read_bytes()  # the same <picture>s
    assert b"<picture data-assetpipe=" in (site / "index.html").read_bytes()
    build(cli, site, cache_dir)
    assert snapshot(site) == built
    report = tmp_path / "report.html"
    result = cli("diff", str(plain), str(site), "--format", "json", "--report", str(report))
    assert result.exit_code == 0, result.stderr
    by_path = {f["head"]["path"]: f for f in json.loads(result.stdout)["files"] if f["head"]}
    optimised = {rel: entry for rel, entry in manifest_of(site)["files"].items() if "optimized" in entry}
    assert "assets/coffee-A-I1hS5R.jpg" in optimised
    for rel, entry in optimised.items():
        change = by_path[rel]
        assert change["delta"]["raw"] == entry["size"] - entry["optimized"]["original_size"] < 0, rel
        # over the wire (the brotli column) an AVIF-accepting browser gets the same .avif sidecar as before
        assert change["head"]["brotli"] == entry["encodings"]["avif"]["size"] == change["base"]["brotli"], rel
        assert change["status"] == "unchanged", rel
    assert report.stat().st_size > 0
