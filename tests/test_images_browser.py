"""The built demo site in a real headless Chromium over a real HTTP server: every rewritten <img> shows its
AVIF variant at the width the browser chose, and no image on the page lacks width and height."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from assetpipe.cli import main

from .conftest import DEMO
from .servedsite import serving

CHROMEDRIVER = Path("/usr/bin/chromedriver")
webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = pytest.mark.skipif(not CHROMEDRIVER.exists(), reason="Debian's chromium-driver is not installed "
                                                                   "(.ci/run installs it)")


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
