"""The build that uses its records (delta, no-op) against the full build, over random sequences of changes to
the demo site with images on and pages rewritten (the defaults): after every step the folder and the counts
are the full build's, run for real on a copy of the folder given the same changes, with its records dropped.

The steps are what a developer's edits and a rebuild do: a script, a stylesheet or a page edited, a file
added or removed, an SVG resized (the pages' rewrite reads its size), an image added or removed, a file
touched, nothing at all; sometimes after the racy window, sometimes at once (then the record's racy stamps
are looked at again). `MODEL_SEEDS_FROM` and `MODEL_SEEDS_TO` run other sequences (on 2026-12-07 seeds 0-39
passed with the defaults and 0-15 with pages not rewritten; CI runs seed 0 of each, for its time)."""

from __future__ import annotations

import json
import os
import random
import shutil
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

from .conftest import DEMO, Quiet, snapshot


def _build(site: Path, cache: Path, config: Config) -> BuildResult:
    return build(BuildRequest(site, config, cache, jobs=2), Quiet())


def _append(rel: str, text: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / rel
        path.write_text(path.read_text() + text)
    return change


def _page(rel: str, n: int, more: str = "") -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / rel
        path.write_text(path.read_text().replace("</body>", f"<p>edit {n}</p>{more}</body>", 1))
    return change


def _afresh(rel: str, n: int) -> Callable[[Path], None]:
    """The page as the framework's build writes it again (its own markup, not the rewritten one), edited."""
    def change(root: Path) -> None:
        text = (DEMO / rel).read_text().replace("</body>", f"<p>edit {n}</p></body>", 1)
        (root / rel).write_text(text.replace("<body>", _SHAPE_IMG, 1) if rel == "index.html" else text)
    return change


_SHAPE_IMG = '<body><img src="/assets/shape.svg" alt="">'
_NEW_PAGE = "<!doctype html><html><head><title>{n}</title></head><body><h1>{n}</h1>{img}<p>Text.</p></body></html>"
_SHOWS = ("", '<img src="assets/shape.svg" alt="">', '<img src="assets/rocket-o3RhgSeM.jpg" alt="">')


def _svg(width: int, height: int, definite: bool = True) -> Callable[[Path], None]:
    """The SVG with a size of its own, or a viewBox alone (a ratio: its `<img>` is left unsized)."""
    size = f'width="{width}" height="{height}"' if definite else f'viewBox="0 0 {width} {height}"'
    def change(root: Path) -> None:
        (root / "assets/shape.svg").write_text(f'<svg xmlns="http://www.w3.org/2000/svg" {size}>'
                                               '<rect width="9" height="9"/></svg>')
    return change


def _write(rel: str, text: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        (root / rel).write_text(text)
    return change


def _remove(rel: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        (root / rel).unlink(missing_ok=True)
    return change


def _copy_image(name: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        shutil.copy(root / "assets/coffee-A-I1hS5R.jpg", root / "assets" / name)
    return change


def _touch(rel: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / rel
        if path.exists():
            path.touch()
    return change


def _step(rng: random.Random, n: int) -> tuple[str, Callable[[Path], None]]:
    script = rng.choice(("assets/index-2vZXRZ4C.js", "assets/vendor-w039_3iX.js", "assets/about-A9tvyagY.js"))
    choices: list[tuple[str, Callable[[Path], None]]] = [
        ("a script edited", _append(script, f"\n// edit {n}\n" * rng.randint(1, 40))),
        ("a stylesheet edited", _append("assets/index-AVh2cVPR.css", f"\n.e{n} {{ margin: {n}px }}\n" * 20)),
        ("a page edited", _page(rng.choice(("index.html", "about.html")), n)),
        ("a page written afresh", _afresh(rng.choice(("index.html", "about.html")), n)),
        ("a page added", _write(f"page-{n}.html", _NEW_PAGE.format(n=n, img=rng.choice(_SHOWS)))),
        ("a page removed", _remove(f"page-{rng.randrange(max(n, 1))}.html")),
        ("a photo shown at a new width", _page("about.html", n, f'<img src="assets/rocket-o3RhgSeM.jpg" '
                                                                f'width="{rng.choice((100, 200, 300))}" alt="">')),
        ("a file added", _write(f"data/extra-{n}.json", json.dumps({"n": n, "pad": "x" * rng.randint(0, 900)}))),
        ("a file removed", _remove(f"data/extra-{rng.randrange(max(n, 1))}.json")),
        ("an svg resized", _svg(rng.choice((16, 40, 400)), rng.choice((16, 20, 300)), rng.random() < 0.5)),
        ("an svg removed", _remove("assets/shape.svg")),
        ("an image added", _copy_image(f"photo-{n}.jpg")),
        ("an image removed", _remove(f"assets/photo-{rng.randrange(max(n, 1))}.jpg")),
        ("a script touched", _touch(script)),
        ("nothing", lambda root: None),
    ]
    return rng.choice(choices)


def _setup(root: Path) -> Path:
    site = root / "site"
    shutil.copytree(DEMO, site)
    _svg(40, 20, definite=False)(site)
    index = site / "index.html"  # a page that shows the SVG without a size, before the hero
    index.write_text(index.read_text().replace("<body>", _SHAPE_IMG, 1))
    return site


SEEDS = range(int(os.environ.get("MODEL_SEEDS_FROM", "0")), int(os.environ.get("MODEL_SEEDS_TO", "1")))


CONFIGS = {"defaults": {}, "pages not rewritten": {"html": {"rewrite": False}}}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("setting", CONFIGS)
def test_every_step_the_recorded_build_gives_is_the_full_builds(tmp_path: Path, seed: int, setting: str) -> None:
    """With pages not rewritten, a page and an SVG are plain text files to the delta too."""
    rng = random.Random(seed)
    config = parse(CONFIGS[setting], "test")
    site, cache = _setup(tmp_path / "a"), tmp_path / "a" / "cache"
    full, full_cache = _setup(tmp_path / "b"), tmp_path / "b" / "cache"
    steps: list[str] = []
    routes: list[str] = []
    for n in range(7):
        what, change = (("the first build", lambda root: None) if n == 0
                        else ("a script edited", _append("assets/index-2vZXRZ4C.js", "\n// one\n")) if n == 1
                        else _step(rng, n))
        steps.append(what)
        if rng.random() < 0.5:
            time.sleep(RACY_NS / 1e9 + 0.2)  # else at once: the racy stamps are looked at again
        change(site)
        change(full)
        got = _build(site, cache, config)
        for db in (listing.DB_NAME, "noop-v1.sqlite3"):
            (full_cache / db).unlink(missing_ok=True)
        whole = _build(full, full_cache, config)
        assert whole.route.startswith("full"), whole.route
        context = f"steps {steps}, route {got.route}"
        assert got.exit_code == whole.exit_code == 0, context
        assert snapshot(site) == snapshot(full), context
        assert replace(got.stats, seconds=0) == replace(whole.stats, seconds=0), context
        routes.append(got.route)
    # the first build wrote images and recorded the folder: the script edited next is a delta
    assert routes[1] == "delta", routes
