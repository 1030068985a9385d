"""Width variants only for images that markup can reach (issue 24, item 5): a page's `<img>`, or the
author's `images.variants_for`. An image only JavaScript names (a Vite/React import) gets its same-URL
sidecars alone, which serve it at full size; `images.widths = []` makes sidecars alone for every image."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

HERO = "assets/hero-gYV4LCM5.jpg"  # imported by the demo's JS only
COFFEE = "assets/coffee-A-I1hS5R.jpg"  # shown by index.html's <img>
VARIANT = re.compile(r"\.[0-9a-f]{8}\.[0-9]+w\.[a-z]+$")


def _variants(site: Path, image: str) -> list[str]:
    stem = image.rsplit(".", 1)[0]
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*")
                  if VARIANT.search(p.name) and p.relative_to(site).as_posix().startswith(stem + "."))


def _build(cli: Callable[..., Result], site: Path, cache: Path) -> dict:
    result = cli("build", str(site), "--cache-dir", str(cache), "--json")
    assert result.exit_code == 0, result.output
    return json.loads((site / ".assetpipe" / "manifest.json").read_text())["files"]


def test_an_image_only_javascript_names_gets_its_sidecars_alone(cli, site, cache_dir) -> None:
    files = _build(cli, site, cache_dir)
    assert _variants(site, HERO) == [] and files[HERO]["image"]["variants"] == []
    assert set(files[HERO]["encodings"]) == {"avif", "webp"}
    assert (site / f"{HERO}.avif").is_file() and (site / f"{HERO}.webp").is_file()
    assert _variants(site, COFFEE) and files[COFFEE]["image"]["variants"]
    assert b'<picture data-assetpipe="/assets/coffee-A-I1hS5R.jpg">' in (site / "index.html").read_bytes()


def test_a_page_that_starts_or_stops_showing_an_image_brings_its_variants(cli, site, cache_dir) -> None:
    _build(cli, site, cache_dir)
    page = site / "about.html"
    page.write_text(page.read_text().replace("</body>", f'<img src="/{HERO}" alt="hero"></body>'))
    files = _build(cli, site, cache_dir)
    assert _variants(site, HERO) and f'data-assetpipe="/{HERO}"' in page.read_text()
    assert {v["file"] for v in files[HERO]["image"]["variants"]} <= {
        *(p for p in _variants(site, HERO)), f"{HERO}.avif", f"{HERO}.webp"}
    page.write_text(re.sub(r'<picture data-assetpipe="/assets/hero-gYV4LCM5.jpg">.*?</picture>', "",
                           page.read_text()))
    _build(cli, site, cache_dir)
    assert _variants(site, HERO) == []  # nothing shows it any more: its variants go


def test_variants_for_opts_an_image_in(cli, site, cache_dir, tmp_path) -> None:
    (tmp_path / "assetpipe.toml").write_text('[images]\nvariants_for = ["assets/hero-*.jpg"]\n')
    files = _build(cli, site, cache_dir)
    assert _variants(site, HERO) and len(files[HERO]["image"]["variants"]) > 2


def test_no_widths_makes_sidecars_alone_and_no_picture(cli, site, cache_dir, tmp_path) -> None:
    _build(cli, site, cache_dir)
    assert b"data-assetpipe=" in (site / "index.html").read_bytes()
    (tmp_path / "assetpipe.toml").write_text("[images]\nwidths = []\n")
    files = _build(cli, site, cache_dir)
    for rel, entry in files.items():
        if "image" in entry:
            assert entry["image"]["variants"] == [] and _variants(site, rel) == [], rel
            assert set(entry["encodings"]) <= {"avif", "webp"}
    assert b"data-assetpipe=" not in (site / "index.html").read_bytes()  # the earlier pictures are undone
    assert (site / "index.html").read_bytes() == (Path(__file__).resolve().parent.parent
                                                  / "fixtures" / "site" / "index.html").read_bytes()
