"""A full build that wrote images records the folder for the next build (build/deltarun.py `_steady`, with
`BuildResult.idle_images` from images/stage.py `work_if_unchanged`): the counts it records are what a full
build of the unchanged folder counts. Checked against that full build, run for real on a copy of the
folder and the cache with the records dropped, over image trees that keep, drop, link and name renditions
in different ways; the folder the replay leaves is the full build's too.

Before, any build that wrote an image (or rewrote a page, with images on) recorded nothing, so the next
build was always a full one: in `assetpipe watch`, every run after a page's edit."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from assetpipe.build import listing
from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.cache.statmemo import RACY_NS
from assetpipe.config import Config
from assetpipe.config.loading import parse
from assetpipe.model import BuildResult

from .conftest import REPO, Quiet, note_routes, snapshot

FIXTURES = REPO / "fixtures"


def _build(site: Path, cache: Path, config: Config) -> BuildResult:
    return build(BuildRequest(site, config, cache, jobs=2), Quiet())


def _recorded(site: Path, cache: Path) -> bool:
    try:
        record = listing.Record(cache, site, create=False)
    except Exception:  # no database: nothing recorded
        return False
    try:
        return record.head() is not None
    finally:
        record.close()


def _alike(source: Path, into: Path) -> None:
    """A copy that keeps hard links as links (a variant linked to its same-URL sidecar): copytree does not."""
    subprocess.run(["cp", "-a", str(source), str(into)], check=True)


def _counts(result: BuildResult) -> object:
    return replace(result.stats, seconds=0)


def _copy(tree: str) -> Callable[[Path], Path]:
    def make(into: Path) -> Path:
        shutil.copytree(FIXTURES / tree, into)
        return into
    return make


_AT_200 = '<img src="assets/rocket-o3RhgSeM.jpg" width="200" alt="A rocket, small"></body>'


def _page_edited(into: Path) -> Path:
    """The demo site built once, then a page edited to show an image at a width no page gave it (the image
    stage's input changed: a full build, which writes that image's renditions for it and the page)."""
    site = _copy("site")(into)
    assert _build(site, into.parent / "cache", Config()).exit_code == 0
    page = site / "about.html"
    page.write_text(page.read_text().replace("</body>", _AT_200))
    return site


def _widths_narrowed(into: Path) -> Path:
    """The demo site built with more widths than the config now asks for: the build that writes removes
    the renditions no longer wanted."""
    site = _copy("site")(into)
    wide = parse({"images": {"widths": [160, 320, 480, 640, 960, 1280, 1920]}}, "test")
    assert _build(site, into.parent / "cache", wide).exit_code == 0
    return site


SCENARIOS: dict[str, tuple[Callable[[Path], Path], dict]] = {
    "the demo site": (_copy("site"), {}),
    "the demo site, negotiate off, webp only": (_copy("site"), {"images": {"negotiate": False,
                                                                           "formats": ["webp"]}}),
    "images with alpha": (_copy("images/alpha"), {}),
    "colour spaces": (_copy("images/colour"), {}),
    "a framework's build": (_copy("hydrated/vitepress"), {"cache": {"by_name": False}}),
    "a page edited": (_page_edited, {}),
    "widths narrowed": (_widths_narrowed, {"images": {"widths": [320, 640]}}),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_record_after_a_build_that_wrote_images_holds_a_full_builds_counts(tmp_path: Path, name: str) -> None:
    make, settings = SCENARIOS[name]
    config = parse(settings, "test")
    site, cache = make(tmp_path / "dist"), tmp_path / "cache"
    wrote = _build(site, cache, config)
    assert wrote.exit_code == 0 and not wrote.notices, wrote.notices
    assert wrote.route.startswith("full") and wrote.stats.written and wrote.stats.images
    assert _recorded(site, cache), "a build that wrote images and said nothing records the folder"
    # the same folder and cache, with no record: a full build of the unchanged folder, run for real
    full, full_cache = tmp_path / "full", tmp_path / "full-cache"
    _alike(site, full)
    _alike(cache, full_cache)
    for db in (listing.DB_NAME, "noop-v1.sqlite3"):
        (full_cache / db).unlink(missing_ok=True)
    whole = _build(full, full_cache, config)
    assert whole.route.startswith("full") and whole.stats.written == 0 and whole.stats.removed == 0
    replayed = _build(site, cache, config)  # at once: the files it wrote, racy, are read again
    assert replayed.route == "delta", replayed.route
    assert _counts(replayed) == _counts(whole)
    assert snapshot(site) == snapshot(full)


def test_a_script_edited_after_a_page_is_a_delta(tmp_path: Path) -> None:
    """`assetpipe watch` on a site with images: a page's edit is a full build (the pages are rewritten),
    and the edit after it is a delta again, whose folder and counts are a full build's."""
    site = _page_edited(tmp_path / "dist")
    cache = tmp_path / "cache"
    assert _build(site, cache, Config()).route.startswith("full")
    time.sleep(RACY_NS / 1e9 + 0.2)
    script = next(site.glob("assets/index-*.js"))
    full, full_cache = tmp_path / "full", tmp_path / "full-cache"
    _alike(site, full)
    _alike(cache, full_cache)
    (full_cache / listing.DB_NAME).unlink()
    for root in (site, full):
        path = root / script.relative_to(site)
        path.write_text(path.read_text() + "\n// edited\n")
    delta = _build(site, cache, Config())
    assert delta.route == "delta", delta.route
    whole = _build(full, full_cache, Config())
    assert whole.route.startswith("full")
    assert _counts(delta) == _counts(whole)
    assert snapshot(site) == snapshot(full)


def test_a_build_whose_next_would_encode_records_nothing(tmp_path: Path) -> None:
    """A variant on disk that a build finds no longer worth keeping (its fallback, re-encoded, is now
    smaller) is removed; when the cache does not hold it either (the cache was cleared since the build that
    wrote it), the next build encodes it again to weigh it. That is not what an unchanged folder's build
    counts: nothing is recorded, and the next build is a full one, which encodes."""
    site, cache = _copy("site")(tmp_path / "dist"), tmp_path / "cache"
    assert _build(site, cache, Config()).exit_code == 0
    shutil.rmtree(cache)
    smaller = parse({"images": {"quality": {"jpeg": 5}}}, "test")
    wrote = _build(site, cache, smaller)
    assert wrote.exit_code == 0 and wrote.stats.removed, "variants no longer worth keeping are removed"
    assert wrote.idle_images is not None and any(a.name == "ENCODE" for a in wrote.idle_images)
    assert not _recorded(site, cache)
    time.sleep(RACY_NS / 1e9 + 0.2)
    after = _build(site, cache, smaller)
    assert after.route.startswith("full") and after.stats.encoded and not after.stats.written, after.route
    assert _recorded(site, cache)  # it wrote nothing: its own counts are recorded


def test_watch_on_a_site_with_images_builds_a_script_after_a_page_as_a_delta(tmp_path: Path) -> None:
    """`assetpipe watch` on the demo site (images on, pages rewritten): its first run writes every image;
    a page edited to show an image at a new width is a full run (which writes that page and renditions),
    the script edited after it is a delta, and the page's text edited then a delta too (build/deltapages.py).
    The folder at the end is a clean build's."""
    from assetpipe.watch.watcher import Watcher

    site, cache = _copy("site")(tmp_path / "dist"), tmp_path / "cache"
    lines: list[str] = []
    watcher = Watcher(BuildRequest(site, Config(), cache, jobs=2), Quiet(), lines.append, quiet=0.3, settle=0.1)
    routes = note_routes(watcher)
    assert watcher.start().route.startswith("full")
    thread = threading.Thread(target=watcher.loop, daemon=True)
    thread.start()
    page, script = site / "about.html", next(site.glob("assets/index-*.js"))
    try:
        for n in range(3):
            time.sleep(RACY_NS / 1e9 + 0.2)
            edited = page if n % 2 == 0 else script
            text = edited.read_text()
            edited.write_text(text.replace("</body>", _AT_200 if n == 0 else f"<p>edit {n}</p></body>")
                              if edited is page else text + f"\n// edit {n}\n")
            deadline = time.monotonic() + 60
            while len(lines) < n + 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(lines) == n + 1, lines
        assert [r.split(":")[0] for r in routes[1:]] == ["full (delta", "delta", "delta"], routes
        assert "about.html: assets/rocket-o3RhgSeM.jpg shown anew at 200px" in routes[1], routes
    finally:
        watcher.stop()
        thread.join(30)
        watcher.close()
    clean = _copy("site")(tmp_path / "clean")  # the same edits, built once
    about = clean / "about.html"
    about.write_text(about.read_text().replace("</body>", _AT_200.replace("</body>", "<p>edit 2</p></body>")))
    code = clean / script.relative_to(site)
    code.write_text(code.read_text() + "\n// edit 1\n")
    assert _build(clean, tmp_path / "clean-cache", Config()).exit_code == 0
    assert snapshot(site) == snapshot(clean)


class _RemovesWhileItRuns(Quiet):
    """An Observer that, when the build's first compression is done (after its scan read every file),
    removes files and folders of the site: what a user or another tool does while a build runs."""

    def __init__(self, *paths: Path) -> None:
        super().__init__()
        self.paths = paths
        self.compressing = False

    def start(self, total: int, label: str) -> None:
        self.compressing = label == "compressing"

    def done(self) -> None:
        if not self.compressing:
            return
        for path in self.paths:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        self.paths = ()


@pytest.mark.parametrize("images", [True, False], ids=["images", "no images"])
def test_a_file_removed_while_a_build_writes_is_not_lost_by_its_record(tmp_path: Path, images: bool) -> None:
    """The build that wrote read robots.txt and data/ before they were removed, so its manifest lists them;
    the folder recorded after it must not hide that they are gone. Nothing is recorded: the next build is
    a full one, whose folder is a clean build's of what is left."""
    site, cache = _copy("site")(tmp_path / "dist"), tmp_path / "cache"
    removing = _RemovesWhileItRuns(site / "robots.txt", site / "data")
    wrote = build(BuildRequest(site, Config(), cache, images=images, jobs=2), removing)
    assert wrote.exit_code == 0 and wrote.stats.written
    assert "robots.txt" in (site / ".assetpipe/manifest.json").read_text()  # read before it went
    assert not _recorded(site, cache)
    time.sleep(RACY_NS / 1e9 + 0.2)
    after = build(BuildRequest(site, Config(), cache, images=images, jobs=2), Quiet())
    assert after.route.startswith("full"), after.route
    assert "robots.txt" not in (site / ".assetpipe/manifest.json").read_text()
    clean = _copy("site")(tmp_path / "clean")
    (clean / "robots.txt").unlink()
    shutil.rmtree(clean / "data")
    assert build(BuildRequest(clean, Config(), tmp_path / "clean-cache", images=images, jobs=2),
                 Quiet()).exit_code == 0
    assert snapshot(site) == snapshot(clean)


def test_a_file_removed_while_a_delta_writes_is_not_lost_by_its_record(tmp_path: Path) -> None:
    """The same while a delta runs: a file of the changed folder removed after the delta read the folder.
    The delta gives way to the full build, which finds it gone; the folder is a clean build's."""
    site, cache = _copy("site")(tmp_path / "dist"), tmp_path / "cache"
    assert _build(site, cache, Config()).exit_code == 0
    time.sleep(RACY_NS / 1e9 + 0.2)
    script = next(site.glob("assets/index-*.js"))
    script.write_text(script.read_text() + "\n// edited\n")
    gone = site / "assets/empty-ish.txt"
    result = build(BuildRequest(site, Config(), cache, jobs=2), _RemovesWhileItRuns(gone))
    assert result.route == "full (delta: assets/empty-ish.txt: removed while the build ran)", result.route
    assert "empty-ish.txt" not in (site / ".assetpipe/manifest.json").read_text()
    clean = _copy("site")(tmp_path / "clean")
    (clean / "assets/empty-ish.txt").unlink()
    code = clean / script.relative_to(site)
    code.write_text(code.read_text() + "\n// edited\n")
    assert _build(clean, tmp_path / "clean-cache", Config()).exit_code == 0
    assert snapshot(site) == snapshot(clean)
