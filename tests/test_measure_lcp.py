"""`assetpipe build --measure-lcp` and the page-load package under it (assetpipe.vitals), in real Chromium.

The pages are made so that html/loading.py's heuristic guesses wrong: the image it would give
fetchpriority="high" is hidden, and the real LCP element is the third image, which it makes lazy.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from assetpipe.build import lcp
from assetpipe.cli import main
from assetpipe.vitals.browser import Browser, ChromiumMissing, find_chromium
from assetpipe.vitals.pageload import PageLoadError, load_page
from assetpipe.vitals.profiles import DESKTOP, PHONE
from assetpipe.vitals.serve import StaticServer

from .conftest import run_entry_point, snapshot

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")

# The count alone (html.eager_viewports = []): the first-viewport estimate (html/fold.py) would make the
# hero eager, and these pages are here to show what measuring adds to a guess that is wrong.
CONFIG = """[images]
widths = [320, 640]
formats = ["avif"]
negotiate = false
[html]
eager_viewports = []
"""

STYLE = """<style>
  body { margin: 0; font: 14px sans-serif; }
  .hidden { display: none; }
  .thumb { width: 80px; height: 80px; }
  .hero { width: 100%; height: auto; display: block; }
  @media (max-width: 600px) { .wide-only { display: none; } }
  @media (min-width: 601px) { .phone-only { display: none; } }
</style>"""

# The heuristic (html.eager = 2): the hidden 800x600 image is the first large content image, so it gets
# fetchpriority="high"; the thumbnail is the second; the hero, third, is made lazy. Chromium's LCP: the hero.
WRONG_GUESS = f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{STYLE}</head><body>
<div class="hidden"><img src="img/banner.png" alt="" width="800" height="600"></div>
<p>Hi <img class="thumb" src="img/thumb.png" alt="" width="80" height="80"></p>
<img class="hero" src="img/hero.png" alt="The hero" width="960" height="600">
<div style="height: 3000px"></div><img src="img/later.png" alt="" width="640" height="400">
</body></html>
"""

# One hero at phone widths, another at desktop widths.
TWO_VIEWPORTS = f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{STYLE}</head><body>
<p>Hi <img class="thumb" src="img/thumb.png" alt="" width="80" height="80"></p>
<img class="hero wide-only" src="img/banner.png" alt="" width="800" height="600">
<img class="hero phone-only" src="img/hero.png" alt="" width="960" height="600">
<div style="height: 3000px"></div><img src="img/later.png" alt="" width="640" height="400">
</body></html>
"""

TEXT_ONLY = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<h1 style="font-size:64px">A headline much larger than the little picture below it, by far</h1>
<img src="img/thumb.png" alt="" width="80" height="80"></body></html>
"""


PAGES = {"wrong.html": WRONG_GUESS, "viewports.html": TWO_VIEWPORTS, "text.html": TEXT_ONLY}


def _noise(path: Path, width: int, height: int, seed: int) -> None:
    """A photo-like image Chromium counts for LCP (a flat one has too little entropy to be a candidate)."""
    rng = random.Random(seed)
    small = Image.new("RGB", (width // 8, height // 8))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                   for _ in range(small.width * small.height)])
    path.parent.mkdir(parents=True, exist_ok=True)
    small.resize((width, height), Image.Resampling.BILINEAR).save(path)


def _lcp_site(root: Path) -> Path:
    dist = root / "dist"
    _noise(dist / "img/banner.png", 800, 600, 1)
    _noise(dist / "img/thumb.png", 160, 160, 2)
    _noise(dist / "img/hero.png", 960, 600, 3)
    _noise(dist / "img/later.png", 640, 400, 4)
    for name, text in PAGES.items():
        (dist / name).write_text(text)
    (root / "assetpipe.toml").write_text(CONFIG)
    return dist


@pytest.fixture
def lcp_site(tmp_path: Path) -> Path:
    return _lcp_site(tmp_path)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The site built once with --measure-lcp, for the tests that only read what that build did (each build
    launches Chromium: about 5 s)."""
    root = tmp_path_factory.mktemp("measured")
    dist = _lcp_site(root)
    with pytest.MonkeyPatch.context() as patch:  # as the cli fixture does
        patch.chdir(root)
        patch.delenv("ASSETPIPE_CACHE_DIR", raising=False)
        result = CliRunner().invoke(main, ["build", str(dist), "--json", "--no-compress", "--measure-lcp"],
                                    catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dist, json.loads(result.stdout)


def _imgs(page: Path) -> dict[str, str]:
    """The author's src of each <img> (an assetpipe picture's, else its own) -> its whole tag."""
    html = page.read_text()
    found: dict[str, str] = {}
    for match in re.finditer(r'(?:<picture data-assetpipe="([^"]+)">(?:<source[^>]*>)*)?(<img [^>]*>)', html):
        src = match.group(1) or re.search(r'src="([^"]+)"', match.group(2)).group(1)  # type: ignore[union-attr]
        found[src] = match.group(2)
    return found


def _build(cli: Callable[..., Result], dist: Path, *args: str) -> dict:
    result = cli("build", str(dist), "--json", "--no-compress", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_heuristic_guesses_wrong_on_this_page(cli: Callable[..., Result], lcp_site: Path) -> None:
    """Without --measure-lcp: the hidden image gets the high priority, the real LCP image is lazy."""
    document = _build(cli, lcp_site)
    assert "lcp" not in document
    imgs = _imgs(lcp_site / "wrong.html")
    assert 'fetchpriority="high"' in imgs["img/banner.png"]
    assert 'loading="lazy"' in imgs["img/hero.png"]


def test_measure_lcp_marks_exactly_the_real_lcp_image(measured: tuple[Path, dict]) -> None:
    lcp_site, document = measured
    imgs = _imgs(lcp_site / "wrong.html")
    hero = imgs["img/hero.png"]
    assert 'fetchpriority="high"' in hero and "loading=" not in hero
    assert 'sizes="100vw"' in hero  # eager: no sizes="auto"
    others = [tag for src, tag in imgs.items() if src != "img/hero.png"]
    assert all("fetchpriority" not in tag for tag in others)
    # nothing else changed: the other decisions are the heuristic's
    assert "loading=" not in imgs["img/banner.png"] and "loading=" not in imgs["img/thumb.png"]
    assert 'loading="lazy"' in imgs["img/later.png"]
    results = {r["page"]: r for r in document["lcp"]["results"]}
    assert results["wrong.html"]["marked"] == ["img/hero.png"]
    assert [s["image"] for s in results["wrong.html"]["seen"]] == ["img/hero.png", "img/hero.png"]
    assert document["lcp"]["measured"] == 3 and document["lcp"]["cached"] == 0


def test_phone_and_desktop_heroes_are_both_marked(measured: tuple[Path, dict]) -> None:
    lcp_site, document = measured
    imgs = _imgs(lcp_site / "viewports.html")
    assert 'fetchpriority="high"' in imgs["img/hero.png"] and 'fetchpriority="high"' in imgs["img/banner.png"]
    assert "loading=" not in imgs["img/hero.png"] and "loading=" not in imgs["img/banner.png"]
    assert "fetchpriority" not in imgs["img/thumb.png"] and "fetchpriority" not in imgs["img/later.png"]
    seen = {r["page"]: r["seen"] for r in document["lcp"]["results"]}["viewports.html"]
    assert {s["profile"]: s["image"] for s in seen} == {"phone": "img/hero.png", "desktop": "img/banner.png"}


def test_text_lcp_keeps_the_heuristic_and_says_so(measured: tuple[Path, dict]) -> None:
    document = measured[1]
    result = {r["page"]: r for r in document["lcp"]["results"]}["text.html"]
    assert result["marked"] == []
    assert result["heuristic_because"] == "phone: text (<h1>); desktop: text (<h1>)"
    assert document["lcp"]["heuristic"] == 1


def _refusing_chromium(folder: Path) -> tuple[Path, Path]:
    """An executable that records being run and fails, standing in for a Chromium that must not start."""
    marker = folder / "chromium-was-run"
    script = folder / "no-chromium"
    script.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, marker


def test_a_warm_build_launches_no_browser_and_writes_the_same_bytes(cli: Callable[..., Result], lcp_site: Path,
                                                                     tmp_path: Path) -> None:
    _build(cli, lcp_site, "--measure-lcp")
    cold = snapshot(lcp_site)
    script, marker = _refusing_chromium(tmp_path)
    document = _build(cli, lcp_site, "--measure-lcp", "--chromium", str(script))
    assert not marker.exists()
    assert document["lcp"]["measured"] == 0 and document["lcp"]["cached"] == 3
    assert document["lcp"]["marked"] == 2
    assert snapshot(lcp_site) == cold
    # the same from a fresh copy of the untouched site with the cache warm (a wiped and rebuilt dist/)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for name, text in PAGES.items():
        (fresh / name).write_text(text)
    shutil.copytree(lcp_site / "img", fresh / "img", ignore=shutil.ignore_patterns("*.*.*"))  # no variants
    document = _build(cli, fresh, "--measure-lcp", "--chromium", str(script))
    assert not marker.exists() and document["lcp"]["measured"] == 0
    for name in PAGES:
        assert (fresh / name).read_bytes() == (lcp_site / name).read_bytes()


def test_a_changed_page_is_measured_again(cli: Callable[..., Result], lcp_site: Path) -> None:
    _build(cli, lcp_site, "--measure-lcp")
    page = lcp_site / "text.html"
    page.write_text(page.read_text().replace("by far", "by far, still"))
    document = _build(cli, lcp_site, "--measure-lcp")
    assert document["lcp"]["measured"] == 1 and document["lcp"]["cached"] == 2


def test_without_chromium_one_line_exit_2_nothing_written(lcp_site: Path, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    before = snapshot(tmp_path)
    env = {"PATH": str(empty), "ASSETPIPE_CHROMIUM": ""}
    done = run_entry_point("build", "dist", "--measure-lcp", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --measure-lcp needs Chromium: none of chromium, chromium-browser, google-chrome is on PATH "
        "(install Chromium, or give --chromium PATH or $ASSETPIPE_CHROMIUM)"]
    done = run_entry_point("build", "dist", "--measure-lcp", "--chromium", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: --measure-lcp needs Chromium: --chromium '{tmp_path / 'nowhere'}' is not " \
                                  "an executable file"
    assert snapshot(tmp_path) == before
    assert not (tmp_path / ".assetpipe-cache").exists() and not (lcp_site / ".assetpipe").exists()


def test_config_key_turns_it_on_and_chromium_that_fails_keeps_the_heuristic(
        cli: Callable[..., Result], lcp_site: Path, tmp_path: Path) -> None:
    """[html] measure_lcp = true; a Chromium that will not start: one notice per page, exit 0, the
    heuristic's markup (the same bytes as a build without measuring), nothing cached."""
    (tmp_path / "assetpipe.toml").write_text(CONFIG + "measure_lcp = true\n")
    script, marker = _refusing_chromium(tmp_path)
    document = _build(cli, lcp_site, "--chromium", str(script))
    assert marker.exists()
    assert sorted(w["file"] for w in document["warnings"]) == ["text.html", "viewports.html", "wrong.html"]
    assert all(w["message"].startswith("LCP not measured, the heuristic's choice kept: ") for w in document["warnings"])
    assert 'loading="lazy"' in _imgs(lcp_site / "wrong.html")["img/hero.png"]
    document = _build(cli, lcp_site, "--no-measure-lcp")
    assert "lcp" not in document and document["written"] == 0


def test_a_page_that_never_loads_gets_a_notice(cli: Callable[..., Result], lcp_site: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (lcp_site / "stuck.html").write_text('<!doctype html><img src="img/hero.png" alt="">'
                                         "<script>for (;;) {}</script>\n")
    monkeypatch.setattr(lcp, "LOAD_S", 3.0)
    document = _build(cli, lcp_site, "--measure-lcp")
    assert [w for w in document["warnings"] if w["file"] == "stuck.html"] == [
        {"file": "stuck.html", "message": "LCP not measured, the heuristic's choice kept: no load event within 3 s"}]
    assert document["exit_code"] == 0
    assert {r["page"]: r["marked"] for r in document["lcp"]["results"]}["wrong.html"] == ["img/hero.png"]


# --- the page-load package ---------------------------------------------------------------------------


def test_find_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSETPIPE_CHROMIUM", raising=False)
    assert find_chromium(None) == CHROMIUM
    monkeypatch.setenv("ASSETPIPE_CHROMIUM", str(tmp_path / "none"))
    with pytest.raises(ChromiumMissing, match=r"^\$ASSETPIPE_CHROMIUM '.*none' is not an executable file$"):
        find_chromium(None)
    assert find_chromium(CHROMIUM) == CHROMIUM


def test_load_page_on_the_built_demo_site(site: Path, tmp_path: Path) -> None:
    done = run_entry_point("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--no-compress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert CHROMIUM is not None
    with StaticServer(site) as server, Browser(CHROMIUM) as browser:
        phone = load_page(browser, server.url("index.html"), PHONE)  # throttled as the profile says
        desktop = load_page(browser, server.url("index.html"), DESKTOP, throttle=False)
        with pytest.raises(PageLoadError, match=r"/missing\.html: HTTP 404$"):
            load_page(browser, server.url("missing.html"), DESKTOP, timeout_s=5)
    for load in (phone, desktop):
        assert load.lcp_ms > 0 and load.cls >= 0
        assert load.lcp_tag == "IMG" and load.lcp_image is not None
        hero = load.images[load.lcp_image]
        assert hero.current_src.endswith(".avif")  # the <picture>'s AVIF, not the fallback
        assert hero.rewritten_src == server.url("assets/coffee-A-I1hS5R.jpg")
        assert load.bytes_images > 0 and load.bytes_total > load.bytes_images
        assert any(r.resource_type == "Image" and r.url.endswith(".avif") and r.status == 200 for r in load.requests)
        assert load.console_errors == ()
        assert hero.in_viewport and hero.width > 0 and hero.fetchpriority == "" and hero.loading == "lazy"
    assert (phone.profile, desktop.profile) == ("phone", "desktop")


def test_the_static_server_serves_only_its_folder(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    root = tmp_path / "root"
    root.mkdir()
    (root / "a.html").write_text("on disk")
    (root / ".assetpipe").mkdir()
    (root / ".assetpipe" / "manifest.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    with StaticServer(root, {"a.html": b"from memory"}) as server:
        assert urllib.request.urlopen(server.url("a.html")).read() == b"from memory"
        for path in ("../secret.txt", "%2e%2e/secret.txt", "link.txt", ".assetpipe/manifest.json", "nope"):
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(f"{server.origin}/{path}")
            assert caught.value.code == 404


SHIFTING = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<p id="text" style="font-size: 40px">Some text that is pushed down by a banner inserted above it.</p>
<script>
  console.error("a console error", 42);
  // after the first frame is painted (a shift before it is no layout shift), however slow the machine
  addEventListener("load", () => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => {
    const banner = document.createElement("div");
    banner.style.height = "300px";
    document.body.prepend(banner);
    throw new Error("an uncaught one");
  }, 0))));
</script></body></html>
"""


def test_load_page_reports_layout_shifts_and_console_errors(tmp_path: Path) -> None:
    (tmp_path / "shift.html").write_text(SHIFTING)
    assert CHROMIUM is not None
    with StaticServer(tmp_path) as server, Browser(CHROMIUM) as browser:
        load = load_page(browser, server.url("shift.html"), DESKTOP, throttle=False)
    assert load.cls > 0.05
    assert load.lcp_tag == "P" and load.lcp_image is None and load.images == ()
    assert load.console_errors[0] == "a console error 42"
    assert load.console_errors[1].startswith("Error: an uncaught one")


def test_with_out_the_copy_is_measured_and_dir_left_alone(cli: Callable[..., Result], lcp_site: Path,
                                                         tmp_path: Path) -> None:
    before = snapshot(lcp_site)
    document = _build(cli, lcp_site, "--measure-lcp", "--out", str(tmp_path / "site"))
    assert snapshot(lcp_site) == before
    assert {r["page"]: r["marked"] for r in document["lcp"]["results"]}["wrong.html"] == ["img/hero.png"]
    assert 'fetchpriority="high"' in _imgs(tmp_path / "site" / "wrong.html")["img/hero.png"]
