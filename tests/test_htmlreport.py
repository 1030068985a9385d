"""The HTML size report, rendered in a real headless Chromium (Debian's chromium + chromedriver):
it loads offline with no console errors, draws one treemap box per file, the raw/gzip/brotli switch
changes the sizes shown, zooming works, chunks and images are listed, and a screenshot is not blank."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from assetpipe.cli import main

from .conftest import DEMO, REPO

CHROMEDRIVER = Path("/usr/bin/chromedriver")
SIZES = REPO / "tests" / "fixtures" / "sizes"

webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = pytest.mark.skipif(not CHROMEDRIVER.exists(),
                                reason="needs Debian's chromium-driver (.ci/run installs it)")


def run(*args: str) -> None:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A diff report of the demo site against a changed copy, and a report of a manifest with image variants."""
    root = tmp_path_factory.mktemp("reports")
    base, head = root / "base", root / "head"
    shutil.copytree(DEMO, base)
    shutil.copytree(DEMO, head)
    vendor = head / "assets" / "vendor-w039_3iX.js"
    vendor.write_bytes(vendor.read_bytes() + b"\n" + bytes(range(40, 126)) * 40)  # grows a lot
    (head / "assets" / "Prices-cV_D64Ms.js").unlink()
    run("build", str(head), "--cache-dir", str(root / "cache"), "-q", "--no-images",  # pages as in base
        "--report", str(root / "build.html"))
    run("diff", str(base), str(head), "--report", str(root / "diff.html"), "-q")
    run("diff", str(root / "none"), str(SIZES / "image-manifest.json"), "--report", str(root / "images.html"), "-q")
    return {"diff": root / "diff.html", "build": root / "build.html", "images": root / "images.html", "head": head}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def open_page(browser, path: Path):
    browser.get(path.as_uri())
    assert browser.execute_script("return document.body.dataset.ready") == "1"
    return browser


def page_data(path: Path) -> dict:
    text = path.read_text()
    return json.loads(re.search(r'<script type="application/json" id="assetpipe-data">(.*?)</script>', text, re.S)[1])


def tile_size(browser, file: str) -> str:
    return browser.find_element("css selector", f'.tile[data-file="{file}"] .size').text


def test_loads_offline_with_no_console_errors(browser, reports) -> None:
    page = open_page(browser, reports["diff"])
    assert [entry for entry in page.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")] == []
    assert page.execute_script("return performance.getEntriesByType('resource').length") == 0  # nothing fetched
    html = reports["diff"].read_text()
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_one_treemap_box_per_file(browser, reports) -> None:
    page = open_page(browser, reports["diff"])
    files = [f["path"] for f in page_data(reports["diff"])["head"]["files"]]
    assert len(files) == 26  # the demo site less Prices, its map and Vite's manifest
    tiles = page.find_elements("css selector", "#treemap .tile[data-file]")
    assert sorted(t.get_attribute("data-file") for t in tiles) == sorted(files)
    big = page.find_element("css selector", '.tile[data-file="assets/astronaut-K5G3V5PE.png"]')
    assert big.size["width"] > 100 and big.size["height"] > 100


def test_the_switch_changes_the_sizes_shown(browser, reports) -> None:
    page = open_page(browser, reports["diff"])
    data = {f["path"]: f for f in page_data(reports["diff"])["head"]["files"]}["assets/vendor-w039_3iX.js"]
    assert page.find_element("id", "metric-brotli").is_selected()
    brotli = tile_size(page, "assets/vendor-w039_3iX.js")
    page.find_element("id", "metric-raw").click()
    raw = tile_size(page, "assets/vendor-w039_3iX.js")
    page.find_element("id", "metric-gzip").click()
    gzip = tile_size(page, "assets/vendor-w039_3iX.js")
    assert (raw, gzip, brotli) == tuple(f"{data[m] / 1000:.1f} kB" for m in ("raw", "gzip", "brotli"))
    assert len({raw, gzip, brotli}) == 3
    tile = page.find_element("css selector", '.tile[data-file="assets/vendor-w039_3iX.js"]')
    assert tile.get_attribute("data-bytes") == str(data["gzip"])


def test_zoom_into_a_folder_and_back(browser, reports) -> None:
    page = open_page(browser, reports["diff"])
    page.find_element("css selector", '.tile[data-file="icons/github.svg"]').click()  # a click in a folder zooms
    shown = [t.get_attribute("data-file") for t in page.find_elements("css selector", "#treemap .tile")]
    assert sorted(shown) == [f"icons/{n}.svg" for n in ("arrow-right", "cart3", "github", "heart-fill", "search")]
    page.find_element("css selector", "#crumbs button").click()  # "build": the whole tree again
    assert len(page.find_elements("css selector", "#treemap .tile")) == 26
    page.find_element("css selector", '.folder[data-folder="assets"] > .head').click()
    shown = [t.get_attribute("data-file") for t in page.find_elements("css selector", "#treemap .tile")]
    assert len(shown) == 11 and all(f.startswith("assets/") for f in shown)


def test_diff_budgets_and_chunks_are_shown(browser, reports) -> None:
    page = open_page(browser, reports["diff"])
    rows = {r.get_attribute("data-status"): r for r in page.find_elements("css selector", "#tables tr[data-status]")}
    assert set(rows) == {"changed", "removed"}
    grew = rows["changed"].find_elements("css selector", "td")
    assert grew[0].text == "assets/vendor-*.js" and "grow" in grew[3].get_attribute("class")
    assert "shrink" in rows["removed"].find_elements("css selector", "td")[3].get_attribute("class")
    chunk = page.find_element("css selector", '#chunks .bar[data-chunk="assets/index-2vZXRZ4C.js"]')
    assert len(chunk.find_elements("css selector", "span")) == 5  # preact, app, unmapped, map comment, EOLs
    assert "preact" in page.find_element("id", "chunks").text


def test_images_with_their_variants(browser, reports) -> None:
    page = open_page(browser, reports["images"])
    assert page.get_log("browser") == []
    hero = page.find_element("css selector", 'tr[data-image="img/hero.jpg"]').text
    assert "img/hero.jpg" in hero and "1600\u00d71200" in hero and "912.3 kB" in hero
    avif = page.find_element("css selector", 'tr[data-variant="img/hero.3f9a1c2e.640w.avif"]').text
    assert "640\u00d7480" in avif and "20.5 kB" in avif and "-891.9 kB" in avif and "-97.8 %" in avif
    assert len(page.find_elements("css selector", "tr[data-variant]")) == 3


def test_a_screenshot_is_not_blank(browser, reports) -> None:
    page = open_page(browser, reports["build"])
    shot = Image.open(io.BytesIO(page.get_screenshot_as_png())).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, tiles in six category colours, tables
    most = max(count for count, _ in colours)
    assert most < 0.8 * shot.width * shot.height  # not one flat colour


def test_the_report_is_deterministic(reports, tmp_path) -> None:
    again = tmp_path / "again.html"
    base = reports["head"].parent / "base"
    run("diff", str(base), str(reports["head"]), "--report", str(again), "-q")
    assert again.read_bytes() == reports["diff"].read_bytes()
    assert again.stat().st_mode & 0o777 == 0o644
