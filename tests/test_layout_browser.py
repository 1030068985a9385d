"""`1x, 2x` candidates in a real headless Chromium (issue 23, item 3): at a device pixel ratio of 1 the page
shows the rendition at the author's width, at 2 the one twice as wide, each the AVIF, each laid out at the
author's width and the aspect-ratio height before it loads."""

from __future__ import annotations

import functools
import shutil
import threading
import time
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


def _browser(dpr: int, load: str = "normal") -> object:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.page_load_strategy = load  # "eager": back at DOMContentLoaded, before the images
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


SVGS = {"a.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="48" height="24"><rect width="48" height="24"/></svg>',
        "b.svg": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 150"><rect width="300" height="150"/></svg>',
        "c.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="90" viewBox="0 0 30 10"><rect width="30" height="10"/>'
                 "</svg>"}
SVG_PAGE = ('<img src="a.svg" alt="a"><img src="b.svg" alt="b"><img src="b.svg" alt="c" width="100">'
            '<img src="b.svg" alt="d" height="30"><img src="c.svg" alt="e">'
            '<img src="a.svg" alt="f" style="width: 96px">')
BOXES = """
const done = arguments[arguments.length - 1];
const boxes = () => [...document.images].map(i => [i.alt, i.getBoundingClientRect().width,
                                                    i.getBoundingClientRect().height]);
const early = boxes();  // laid out before any image has arrived (the server holds them back)
const loaded = () => [...document.images].every(i => i.complete);
(function wait() { loaded() ? done({early, late: boxes()}) : setTimeout(wait, 20); })();
"""


class _Slow(_Quiet):
    def do_GET(self) -> None:  # the SVGs arrive after the first layout
        if self.path.endswith(".svg"):
            time.sleep(0.5)
        super().do_GET()


def test_svg_img_tags_are_laid_out_at_their_final_size_before_they_load(tmp_path) -> None:
    untouched = make_site(tmp_path / "untouched", {"index.html": SVG_PAGE},
                          {name: text.encode() for name, text in SVGS.items()})
    built = tmp_path / "dist"
    shutil.copytree(untouched, built)
    result = CliRunner().invoke(main, ["build", str(built), "--cache-dir", str(tmp_path / "cache"), "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Slow, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = _browser(1, "eager")
    try:
        seen = {}
        for side in ("untouched", "dist"):
            browser.get(f"http://127.0.0.1:{server.server_address[1]}/{side}/index.html")
            seen[side] = browser.execute_async_script(BOXES)
    finally:
        browser.quit()
        server.shutdown()
        server.server_close()
    assert seen["dist"]["late"] == seen["untouched"]["late"]  # the page looks as it did
    sized = {"a", "c", "d", "e", "f"}  # b: a viewBox alone, as wide as its container: left as it was
    early = {alt: (w, h) for alt, w, h in seen["dist"]["early"]}
    late = {alt: (w, h) for alt, w, h in seen["dist"]["late"]}
    assert {alt for alt in late if early[alt] == late[alt]} >= sized  # no shift when they arrive
    assert {alt for alt, w, h in seen["untouched"]["early"] if (w, h) != late[alt]} >= sized - {"c", "f"}
