"""An edited page in a delta build, while pages are rewritten (build/deltapages.py): on the demo site (images,
`<picture>`s, an unsized SVG) and a framework's build, each edit is built twice, by the recorded build and by
a real full build of a copy (`cp -a`, the records dropped), and the two folders and their counts must be
the same. A page whose share of the image stage's input changed (it shows another image, or one at another
author's width), or a removed page that showed images, takes the full build."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from assetpipe.build import listing
from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.config import Config
from assetpipe.config.loading import parse
from assetpipe.model import BuildResult

from .conftest import REPO, Quiet, snapshot

FIXTURES = REPO / "fixtures"
_SHAPE = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 20"><rect width="9" height="9"/></svg>'


def _build(site: Path, cache: Path, config: Config) -> BuildResult:
    return build(BuildRequest(site, config, cache, jobs=2), Quiet())


def _cp(source: Path, into: Path) -> None:
    """A copy that keeps hard links as links (a variant linked to its same-URL sidecar)."""
    subprocess.run(["cp", "-a", str(source), str(into)], check=True)


def _demo(into: Path) -> Path:
    """The demo site with an SVG sized by its own attributes, shown without a size on the home page."""
    site = into / "site"
    shutil.copytree(FIXTURES / "site", site)
    (site / "assets/shape.svg").write_text(_SHAPE.replace('viewBox="0 0 40 20"', 'width="40" height="20"'))
    (site / "icons/unsized.svg").write_text(_SHAPE.replace(' viewBox="0 0 40 20"', ""))  # says no size
    shutil.copy(site / "about.html", site / "twin.html")  # a page that shows what another shows
    index = site / "index.html"
    index.write_text(index.read_text().replace("<body>", '<body><img src="/assets/shape.svg" alt="">', 1))
    return site


def _vitepress(into: Path) -> Path:
    site = into / "site"
    shutil.copytree(FIXTURES / "hydrated/vitepress", site)
    return site


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Each tree built once (its images encoded once, into the cache every test here copies)."""
    trees: dict[str, tuple[Path, Path]] = {}
    for name, make, settings in (("demo", _demo, {}), ("vitepress", _vitepress, {"cache": {"by_name": False}})):
        root = tmp_path_factory.mktemp(name)
        site, cache = make(root), root / "cache"
        assert _build(site, cache, parse(settings, "test")).exit_code == 0
        trees[name] = (site, cache)
    return trees


def _text(rel: str) -> Callable[[Path], None]:
    def change(site: Path) -> None:
        page = site / rel
        page.write_text(page.read_text().replace("</body>", "<p>One more paragraph.</p></body>", 1))
    return change


def _fresh(tree: str, rel: str, edit: Callable[[str], str]) -> Callable[[Path], None]:
    """The page as the framework's build writes it again (its own markup, not the rewritten one), edited."""
    def change(site: Path) -> None:
        text = (FIXTURES / tree / rel).read_text()
        if tree == "site" and rel == "index.html":  # as _demo made it
            text = text.replace("<body>", '<body><img src="/assets/shape.svg" alt="">', 1)
        (site / rel).write_text(edit(text))
    return change


def _paragraph(text: str) -> str:
    return text.replace("</body>", "<p>One more paragraph.</p></body>", 1)


def _first_image_last(text: str) -> str:
    """The page's first photo moved to its end: the loading plan (eager, fetchpriority) changes."""
    start = text.index("<img", text.index("<main") if "<main" in text else 0)
    end = text.index(">", start) + 1
    return text[:start] + text[end:].replace("</body>", text[start:end] + "</body>", 1)


def _both(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(site: Path) -> None:
        for one in changes:
            one(site)
    return change


def _rearranged(text: str) -> str:
    """The home page with a paragraph more and its photos moved about: it shows what it showed."""
    return _first_image_last(_paragraph(text))


def _write(rel: str, text: str) -> Callable[[Path], None]:
    def change(site: Path) -> None:
        (site / rel).write_text(text)
    return change


def _replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def change(site: Path) -> None:
        page = site / rel
        text = page.read_text()
        assert old in text, old
        page.write_text(text.replace(old, new, 1))
    return change


def _remove(rel: str) -> Callable[[Path], None]:
    def change(site: Path) -> None:
        (site / rel).unlink()
    return change


_PLAIN_PAGE = "<!doctype html><html><head><title>New</title></head><body><h1>New</h1><p>Text.</p></body></html>\n"
_SVG_PAGE = _PLAIN_PAGE.replace("<p>Text.</p>", '<p><img src="assets/shape.svg" alt="">Text.</p>')
_PHOTO_PAGE = _PLAIN_PAGE.replace("<p>Text.</p>", '<img src="assets/rocket-o3RhgSeM.jpg" alt="A rocket">')

DELTAS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "a page's text": ("demo", _text("about.html")),
    "the page with the unsized SVG": ("demo", _text("index.html")),
    "a new page without images": ("demo", _write("new.html", _PLAIN_PAGE)),
    "a new page showing the SVG unsized": ("demo", _write("new.html", _SVG_PAGE)),
    "a new page showing a photo as another page does": ("demo", _write("new.html", _PHOTO_PAGE)),
    "a page removed whose photos another page shows": ("demo", _remove("twin.html")),
    "a page's photos given the widths another page gives them": ("demo", _fresh("site", "index.html", _rearranged)),
    "a page written afresh": ("demo", _fresh("site", "about.html", _paragraph)),
    "the home page written afresh (the unsized SVG)": ("demo", _fresh("site", "index.html", _paragraph)),
    "a page's first photo moved last": ("demo", _fresh("site", "about.html", _first_image_last)),
    "a framework's page": ("vitepress", _text("index.html")),
    "a framework's page written afresh": ("vitepress", _fresh("hydrated/vitepress", "index.html", _paragraph)),
    "an SVG's drawing, not its size": ("demo", _write("assets/shape.svg", _SHAPE.replace(
        'viewBox="0 0 40 20"', 'width="40" height="20"').replace('width="9"', 'width="30"'))),
    "an SVG without a size added": ("demo", _write("assets/new.svg", _SHAPE.replace(' viewBox="0 0 40 20"', ""))),
    "an SVG without a size removed": ("demo", _remove("icons/unsized.svg")),
}

FULL: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "a new page showing a photo at a new width": ("demo", _write("new.html", _PHOTO_PAGE.replace(
        'alt="A rocket"', 'width="300" alt="A rocket"')), "new.html: assets/rocket-o3RhgSeM.jpg shown anew at 300px"),
    "a photo at a new width": ("demo", _replace("about.html", "</body>",
                                                '<img src="assets/rocket-o3RhgSeM.jpg" width="200" alt=""></body>'),
                               "about.html: assets/rocket-o3RhgSeM.jpg shown anew at 200px"),
    "the only page that showed photos without a width removed": (
        "demo", _remove("index.html"), "index.html: assets/astronaut-K5G3V5PE.png no longer shown without a width"),
    "a photo no longer shown without a width": ("demo", _fresh("site", "index.html", lambda text: text.replace(
        "coffee-A-I1hS5R.jpg", "rocket-o3RhgSeM.jpg")), "index.html: assets/coffee-A-I1hS5R.jpg no longer shown"),
    "an SVG resized, the page that shows it written afresh": ("demo", _both(
        _write("assets/shape.svg", _SHAPE.replace('viewBox="0 0 40 20"', 'width="40" height="30"')),
        _fresh("site", "index.html", _paragraph)), "assets/shape.svg: an SVG whose size changed"),
    "an SVG given a size": ("demo", _write("icons/unsized.svg", _SHAPE), "icons/unsized.svg: an SVG whose size"),
    "a sized SVG removed": ("demo", _remove("assets/shape.svg"), "assets/shape.svg: an SVG whose size"),
    "a sized SVG added": ("demo", _write("assets/new.svg", _SHAPE), "assets/new.svg: an SVG whose size"),
}


def _twice(built: dict[str, tuple[Path, Path]], tree: str, change: Callable[[Path], None], tmp_path: Path
           ) -> tuple[BuildResult, BuildResult, Path, Path]:
    site, cache = built[tree]
    settings = parse({"cache": {"by_name": False}} if tree == "vitepress" else {}, "test")
    mine, mine_cache, full, full_cache = (tmp_path / n for n in ("mine", "mine-cache", "full", "full-cache"))
    for source, into in ((site, mine), (cache, mine_cache), (site, full), (cache, full_cache)):
        _cp(source, into)
    for db in (listing.DB_NAME, "noop-v1.sqlite3"):
        (full_cache / db).unlink(missing_ok=True)
    first = _build(mine, mine_cache, settings)  # the record is of a folder's path: this copy's own, made now
    assert first.route.startswith("full") and first.stats.written == 0, first.route
    change(mine)
    change(full)
    got = _build(mine, mine_cache, settings)
    whole = _build(full, full_cache, settings)
    assert whole.route.startswith("full"), whole.route
    assert got.exit_code == whole.exit_code == 0
    assert replace(got.stats, seconds=0) == replace(whole.stats, seconds=0)
    assert snapshot(mine) == snapshot(full)
    return got, whole, mine, full


@pytest.mark.parametrize("name", DELTAS)
def test_an_edited_page_is_a_delta_whose_folder_is_the_full_builds(built: dict, name: str, tmp_path: Path) -> None:
    tree, change = DELTAS[name]
    got, whole, mine, _ = _twice(built, tree, change, tmp_path)
    assert got.route == "delta", got.route
    assert got.stats.written == whole.stats.written
    again = _build(mine, tmp_path / "mine-cache", parse({"cache": {"by_name": False}} if tree == "vitepress"
                                                        else {}, "test"))
    assert again.route == "delta" and again.stats.written == 0, again.route  # the rewritten page, read again


def test_the_unsized_svg_on_a_new_page_is_sized_from_the_record(built: dict, tmp_path: Path) -> None:
    got, _, mine, _ = _twice(built, "demo", _write("new.html", _SVG_PAGE), tmp_path)
    assert got.route == "delta"
    assert '<img src="assets/shape.svg" alt="" width="40" height="20">' in (mine / "new.html").read_text()


@pytest.mark.parametrize("name", FULL)
def test_a_page_that_changes_the_image_stages_input_takes_the_full_build(built: dict, name: str,
                                                                         tmp_path: Path) -> None:
    tree, change, why = FULL[name]
    got, _, _, _ = _twice(built, tree, change, tmp_path)
    assert got.route.startswith("full (delta: ") and why in got.route, got.route


def test_a_page_in_a_folder_whose_name_is_not_utf8_is_built_and_not_recorded(tmp_path: Path) -> None:
    """A name that is not UTF-8 (the scan keeps it as surrogate escapes) under a page, and a folder: the
    pages are read for their images and rewritten, and the record, which SQLite cannot hold, is not made.
    Both were tracebacks: quoting the page's path to resolve its URLs, and recording the folder."""
    site = _demo(tmp_path)
    folder = os.fsencode(site) + b"/d\xff"
    os.mkdir(folder)
    page = (site / "about.html").read_bytes().replace(b"</body>", b'<img src="../assets/shape.svg" alt=""></body>')
    with open(folder + b"/p\xfe.html", "wb") as handle:
        handle.write(page)
    first = _build(site, tmp_path / "cache", Config())
    assert first.exit_code == 0 and not first.notices, first.notices
    with open(folder + b"/p\xfe.html", "rb") as handle:
        rewritten = handle.read()
    assert b"<picture" in rewritten and b'<img src="../assets/shape.svg" alt="" width="40" height="20">' in rewritten
    again = _build(site, tmp_path / "cache", Config())
    assert again.route == "full (delta: no record)" and again.exit_code == 0 and again.stats.written == 0
