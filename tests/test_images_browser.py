"""The built demo site in a real headless Chromium over a real HTTP server: every rewritten <img> shows its
AVIF variant at the width the browser chose, and no image on the page lacks width and height."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from assetpipe.cli import main

from .conftest import DEMO

CHROMEDRIVER = Path("/usr/bin/chromedriver")
webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = pytest.mark.skipif(not CHROMEDRIVER.exists(), reason="Debian's chromium-driver is not installed "
                                                                   "(.ci/run installs it)")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("served")
    site = root / "dist"
    shutil.copytree(DEMO, site)
    result = CliRunner().invoke(main, ["build", str(site), "--cache-dir", str(root / "cache"), "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    with serving(site) as url:
        yield url


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--window-size=1280,6000"):  # tall enough that every lazy image is in view
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


LOADED = """
const imgs = [...document.querySelectorAll('picture[data-assetpipe] img')];
return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
"""
PICTURES = """
return [...document.querySelectorAll('picture[data-assetpipe]')].map(p => {
  const img = p.querySelector('img');
  const avif = p.querySelector('source[type="image/avif"]');
  return {src: p.dataset.assetpipe, current: img.currentSrc, natural: img.naturalWidth,
          width: img.getAttribute('width'), height: img.getAttribute('height'),
          avif: avif ? avif.getAttribute('srcset') : null};
});
"""
# The pixel width of the file the browser chose: img.naturalWidth is density-corrected (a 160w candidate
# shown 128 CSS px wide reports 128), so decode the chosen URL on its own.
PIXELS = """
const done = arguments[arguments.length - 1];
const probe = new Image();
probe.onload = () => done(probe.naturalWidth);
probe.onerror = () => done(-1);
probe.src = arguments[0];
"""
FETCHED = """
return performance.getEntriesByType('resource').map(e => e.name)
  .filter(n => /\\.(avif|webp|jpe?g|png|gif)$/.test(n));
"""
UNSIZED = """
return [...document.images]
  .filter(i => !/^(data:|https?:)/.test(i.getAttribute('src') || ''))  // the site's own images
  .filter(i => !(i.hasAttribute('width') && i.hasAttribute('height')))
  .map(i => i.outerHTML);
"""


@pytest.mark.parametrize("page", ["index.html", "about.html"])
def test_every_rewritten_img_shows_its_avif_variant(browser, served: str, page: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{served}/{page}")
    WebDriverWait(browser, 20).until(lambda b: b.execute_script(LOADED))
    pictures = browser.execute_script(PICTURES)
    assert pictures
    for picture in pictures:
        assert picture["current"].endswith(".avif"), picture
        candidates = dict(reversed(part.strip().rsplit(" ", 1)) for part in picture["avif"].split(","))
        chosen = next(w for url, w in ((u, w) for w, u in candidates.items()) if picture["current"].endswith(url))
        assert browser.execute_async_script(PIXELS, picture["current"]) == int(chosen.rstrip("w")), picture
        assert picture["natural"] > 0
        assert picture["width"] and picture["height"], picture
    fetched = browser.execute_script(FETCHED)
    for picture in pictures:  # only the AVIF was fetched for each picture, never its fallback as well
        stem = picture["src"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        assert all(url.endswith(".avif") for url in fetched if f"/{stem}." in url), fetched


@pytest.mark.parametrize("page", ["index.html", "about.html"])
def test_no_local_image_without_width_and_height(browser, served: str, page: str) -> None:
    browser.get(f"{served}/{page}")
    assert browser.execute_script(UNSIZED) == []


# The image drawn on a canvas: the RGBA of each [x, y] asked for.
DRAWN = """
const [url, points] = arguments; const done = arguments[arguments.length - 1];
const image = new Image();
image.onload = () => {
  const canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  done({size: [image.naturalWidth, image.naturalHeight],
        pixels: points.map(([x, y]) => Array.from(context.getImageData(x, y, 1, 1).data))});
};
image.onerror = () => done(null);
image.src = url;
"""


def test_a_full_size_avif_grid_shows_in_chromium_as_pillow_decodes_it(browser, tmp_path: Path) -> None:
    """The own-width AVIF of a large photo is a grid of strips (images.AVIF_CELL_PIXELS): Chromium draws it
    at its size with Pillow's pixels, across the seam and in the cropped last strip too."""
    from .test_images import photo_like

    site = tmp_path / "dist"
    site.mkdir()
    photo_like(2400, 1800).save(site / "big.jpg", quality=90)  # 4.3 MP: strips of 1,728 rows
    (site / "index.html").write_text('<!doctype html><title>t</title><img src="big.jpg" alt="big">\n')
    result = CliRunner().invoke(main, ["build", str(site), "--cache-dir", str(tmp_path / "cache"), "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    files = json.loads((site / ".assetpipe" / "manifest.json").read_text())["files"]
    (grid,) = [v["file"] for v in files["big.jpg"]["image"]["variants"] if v["format"] == "avif" and v["width"] == 2400]
    data = (site / grid).read_bytes()
    assert b"grid\0" in data[:2000]
    points = [[x, y] for x in (5, 1200, 2395) for y in (0, 900, 1727, 1728, 1799)]
    with serving(site) as url:
        browser.get(f"{url}/index.html")
        drawn = browser.execute_async_script(DRAWN, f"{url}/{grid}", points)
    assert drawn is not None and drawn["size"] == [2400, 1800]
    expected = Image.open(io.BytesIO(data)).convert("RGB")
    for (x, y), pixel in zip(points, drawn["pixels"], strict=True):
        assert max(abs(a - b) for a, b in zip(pixel[:3], expected.getpixel((x, y)), strict=True)) <= 2, (x, y)
