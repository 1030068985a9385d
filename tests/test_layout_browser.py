"""`1x, 2x` candidates in a real headless Chromium (issue 23, item 3): at a device pixel ratio of 1 the page
shows the rendition at the author's width, at 2 the one twice as wide, each the AVIF, each laid out at the
author's width and the aspect-ratio height before it loads."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from assetpipe.cli import main

from .test_images_browser import CHROMEDRIVER, PIXELS, _Quiet
from .test_layout_widths import PHOTO, make_site

webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = pytest.mark.skipif(not CHROMEDRIVER.exists(), reason="Debian's chromium-driver is not installed "
                                                                   "(.ci/run installs it)")

PAGE = f'<p><img src="/{PHOTO}" alt="a photo" width="300" id="shown"></p>'
SHOWN = """
const done = arguments[arguments.length - 1];
const img = document.getElementById('shown');
const box = img.getBoundingClientRect();
const report = () => done({current: img.currentSrc, width: box.width, height: box.height,
                           fetched: performance.getEntriesByType('resource').map(e => e.name)
                             .filter(n => n.includes('/img/'))});
img.complete ? report() : img.addEventListener('load', report);
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("layout")
    site = make_site(root / "dist", {"index.html": PAGE})
    result = CliRunner().invoke(main, ["build", str(site), "--cache-dir", str(root / "cache"), "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _browser(dpr: int) -> object:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--window-size=800,600", f"--force-device-scale-factor={dpr}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


@pytest.mark.parametrize(("dpr", "width"), [(1, 300), (2, 600)])
def test_chromium_takes_the_1x_or_2x_candidate_by_device_pixel_ratio(served: str, dpr: int, width: int) -> None:
    browser = _browser(dpr)
    try:
        browser.get(f"{served}/index.html")
        assert browser.execute_script("return window.devicePixelRatio") == dpr
        shown = browser.execute_async_script(SHOWN)
        assert shown["current"].endswith(f".{width}w.avif"), shown
        assert browser.execute_async_script(PIXELS, shown["current"]) == width
        assert (shown["width"], shown["height"]) == (300, 225)  # the author's width, the aspect-ratio height
        assert [Path(url).name for url in shown["fetched"]] == [Path(shown["current"]).name]  # that file alone
    finally:
        browser.quit()
