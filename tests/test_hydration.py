"""Hydrated pages (SPEC §2.2, `html.hydrated`) on each framework's real output (fixtures/hydrated/, built by
its generate.sh): the roots found from each framework's own markers, the three values of the setting, and a
real headless Chromium letting each page hydrate over a real HTTP server.

The Chromium tests decide and check the per-framework table of docs/hydration.md: built with
`html.hydrated = "picture"`, a framework that replaces mismatched markup shows it (a hydration error logged,
a <picture> gone, an image fetched twice), one that keeps it does not; built with the default, every page
hydrates without an error, its DOM after hydration is the untouched site's but for the attributes assetpipe
added (and the <picture>s where the framework keeps them), and no image is fetched twice.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from assetpipe.cli import main
from assetpipe.html.hydration import Hydration
from assetpipe.html.inplace import MARK
from assetpipe.html.parse import _decode, _scan
from assetpipe.html.preload import PRELOAD_MARK

from .conftest import DEMO, REPO, build_hydrated
from .servedsite import serving

FIXTURES = REPO / "fixtures" / "hydrated"
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Measured in Chromium on the fixtures (test_the_table_is_what_chromium_does checks every one, every run):
# whether the framework replaces markup that differs from what it rendered, or binds to the wrong element.
REPLACES = {"next": True, "nuxt": True, "sveltekit": True, "astro": True, "vitepress": True}
# The framework of each <img> of the fixture's page, in document order (None: static markup).
ROOTS = {
    "next": ["next"] * 4,
    "nuxt": ["nuxt"] * 4,
    "sveltekit": ["sveltekit"] * 4,
    "astro": [None, "astro", "astro", None],  # the React island holds coffee and rocket
    "vitepress": ["vitepress"] * 4,
}


def _page(framework: str) -> Path:
    return FIXTURES / framework / "index.html"


def _copy(framework: str, into: Path) -> Path:
    site = into / framework
    shutil.copytree(FIXTURES / framework, site)
    return site


# --- detection, on each framework's real output ------------------------------------------------------------


@pytest.mark.parametrize("framework", sorted(ROOTS))
def test_each_img_is_found_in_its_frameworks_root(framework: str) -> None:
    doc = _decode(_page(framework).read_bytes())
    assert not isinstance(doc, str)
    hydration = Hydration.of(doc.text)
    found = [hydration.framework(tag) for tag in _scan(doc.text) if tag.name == "img" and not tag.end_tag]
    assert [f.name if f else None for f in found] == ROOTS[framework]
    assert [f.replaces for f in found if f] == [REPLACES[framework]] * sum(1 for f in found if f)


@pytest.mark.parametrize("page", ["index.html", "about.html"])
def test_a_static_page_has_no_hydrated_root(page: str) -> None:
    doc = _decode((DEMO / page).read_bytes())
    assert not isinstance(doc, str)
    hydration = Hydration.of(doc.text)
    assert [hydration.framework(t) for t in _scan(doc.text) if t.name == "img"] == [None] * sum(
        1 for t in _scan(doc.text) if t.name == "img")


def test_an_id_app_without_vitepress_is_no_root() -> None:
    text = '<!doctype html><div id="app"><img src="a.jpg"></div><div id="__nuxt"><img src="b.jpg"></div>'
    hydration = Hydration.of(text)
    assert [getattr(hydration.framework(t), "name", None) for t in _scan(text) if t.name == "img"] == [None, "nuxt"]


# --- the three values of html.hydrated -----------------------------------------------------------------------


def _tags(html: str, name: str) -> list[str]:
    return re.findall(rf"<{name}\b[^>]*>", html)


@pytest.mark.parametrize("framework", sorted(ROOTS))
def test_default_gives_attributes_in_replacing_roots_and_pictures_elsewhere(framework: str, tmp_path: Path) -> None:
    site = _copy(framework, tmp_path)
    build_hydrated(site, tmp_path / "cache")
    html = (site / "index.html").read_text()
    in_place = sum(1 for name in ROOTS[framework] if name and REPLACES[framework])
    assert html.count("<picture data-assetpipe=") == len(ROOTS[framework]) - in_place
    marked = [tag for tag in _tags(html, "img") if MARK in tag]
    assert len(marked) == in_place
    for tag in marked:  # the author's src kept, attributes added
        assert re.search(r' src="/img/[a-z]+\.(jpg|png)"', tag) and " srcset=" in tag and " width=" in tag, tag


@pytest.mark.parametrize("framework", sorted(ROOTS))
def test_twice_changes_nothing_and_skip_gives_back_every_byte(framework: str, tmp_path: Path) -> None:
    site = _copy(framework, tmp_path)
    original = (site / "index.html").read_bytes()
    build_hydrated(site, tmp_path / "cache")
    once = (site / "index.html").read_bytes()
    assert once != original
    build_hydrated(site, tmp_path / "cache")
    assert (site / "index.html").read_bytes() == once
    build_hydrated(site, tmp_path / "cache", "skip")  # an earlier run's attributes are recognised and taken back
    skipped = (site / "index.html").read_bytes()
    if all(name is None or not REPLACES[framework] for name in ROOTS[framework]):
        assert skipped == once  # nothing is in a replacing root
    else:
        assert MARK.encode() not in skipped and PRELOAD_MARK.encode() not in skipped
        assert skipped.count(b"<picture ") == once.count(b"<picture ")
    build_hydrated(site, tmp_path / "cache", "picture")
    build_hydrated(site, tmp_path / "cache")  # from pictures back to attributes: as a first run would write it
    assert (site / "index.html").read_bytes() == once


@pytest.mark.parametrize("framework", ["next", "nuxt"])
def test_a_minified_page_is_recognised_and_left_as_it_is(framework: str, tmp_path: Path) -> None:
    """--minify rewrites the marked <img>s after the rewrite (quotes, `=""`): a second run reads them back as
    its own and, since they say what it would write, changes nothing."""
    site = _copy(framework, tmp_path)
    args = ["build", str(site), "--cache-dir", str(tmp_path / "cache"), "-q", "--minify"]
    assert CliRunner().invoke(main, args, catch_exceptions=False).exit_code == 0
    once = (site / "index.html").read_bytes()
    assert once.count(MARK.encode()) == 4
    assert CliRunner().invoke(main, args, catch_exceptions=False).exit_code == 0
    assert (site / "index.html").read_bytes() == once


def test_skip_on_a_fresh_next_export_changes_no_byte(tmp_path: Path) -> None:
    site = _copy("next", tmp_path)
    build_hydrated(site, tmp_path / "cache", "skip")
    assert (site / "index.html").read_bytes() == _page("next").read_bytes()


def test_picture_restructures_anyway(tmp_path: Path) -> None:
    site = _copy("next", tmp_path)
    build_hydrated(site, tmp_path / "cache", "picture")
    html = (site / "index.html").read_text()
    assert html.count("<picture data-assetpipe=") == 4 and MARK not in html


def test_attributes_keep_every_byte_outside_the_tags(tmp_path: Path) -> None:
    site = _copy("next", tmp_path)
    build_hydrated(site, tmp_path / "cache")
    built = (site / "index.html").read_text()
    original = _page("next").read_text()
    pattern = r"<(?:img\b|link rel=\"preload\" as=\"image\")[^>]*>"
    assert re.split(pattern, built) == re.split(pattern, original)
    for before, after in zip(re.findall(pattern, original), re.findall(pattern, built), strict=True):
        assert after.startswith(before[:-2]), (before, after)  # the author's attributes, then ours


def test_a_wrong_value_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "assetpipe.toml"
    config.write_text('[html]\nhydrated = "pictures"\n')
    site = _copy("next", tmp_path)
    result = CliRunner().invoke(main, ["build", str(site), "--config", str(config), "-q"])
    assert result.exit_code == 2
    assert "html.hydrated" in result.stderr and '"picture"' in result.stderr


# --- in Chromium ---------------------------------------------------------------------------------------------


@pytest.fixture
def serve() -> Iterator[Callable[[Path], str]]:
    with contextlib.ExitStack() as servers:
        yield lambda folder: servers.enter_context(serving(folder)) + "/"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    if not CHROMEDRIVER.exists():
        pytest.skip("Debian's chromium-driver is not installed (.ci/run installs it)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run",
                "--window-size=1280,3000"):  # tall enough that every lazy image is in view
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


# Hydrated: a button holds the framework's handler (React's `__reactProps$…`, Vue's invokers under a symbol,
# Svelte 5's delegated `__click`; the counter's, or on a page without one the theme's), and every image has
# loaded.
HYDRATED = """
const handled = [...document.querySelectorAll('button')].some(
  b => Object.keys(b).length + Object.getOwnPropertySymbols(b).length > 0);
return handled && [...document.images].every(i => i.complete);
"""
RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name);"
SNAPSHOT = """
const origin = location.origin;  // a URL the framework made absolute is compared without the server's port
// <script> elements are the frameworks' loaders, which React 19 adopts, drops or moves in the head depending
// on whether they loaded before it hydrated (seen on the untouched page too): not compared. Nor is Astro's
// <!--astro:end--> island marker, which its runtime removes at a moment that depends on the load (both ways).
const volatile = c => c.localName === 'script' || (c.nodeType === Node.COMMENT_NODE && c.data === 'astro:end');
const walk = node => {
  if (node.nodeType === Node.TEXT_NODE) return ['#text', node.data];
  if (node.nodeType === Node.COMMENT_NODE) return ['#comment', node.data];
  return [node.localName, [...node.attributes].map(a => [a.name, a.value.split(origin).join('')]),
          [...node.childNodes].filter(c => !volatile(c)).map(walk)];
};
return walk(document.documentElement);
"""
CLICK = """
const button = [...document.querySelectorAll('button')].find(b => b.textContent.includes('Liked'));
if (button) button.click();
return Boolean(button);
"""
_ERROR = re.compile(r"hydrat|mismatch|Minified React error|#418|#423", re.IGNORECASE)


def _visit(driver: Any, url: str) -> dict[str, Any]:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drained
    driver.get(url)
    WebDriverWait(driver, 60, poll_frequency=0.1).until(lambda d: d.execute_script(HYDRATED))
    seen: list[int] = []

    def quiet(d: Any) -> bool:  # network idle: no new resource over three polls in a row
        seen.append(len(d.execute_script(RESOURCES)))
        return len(seen) >= 3 and len(set(seen[-3:])) == 1

    WebDriverWait(driver, 60, poll_frequency=0.3).until(quiet)
    doms: list[Any] = []

    def settled(d: Any) -> bool:  # and the DOM too: the same over three polls (an island still hydrating
        doms.append(d.execute_script(SNAPSHOT))  # on a loaded machine is not the page's final DOM)
        return len(doms) >= 3 and doms[-1] == doms[-2] == doms[-3]

    WebDriverWait(driver, 60, poll_frequency=0.3).until(settled)
    visit = {"dom": doms[-1], "resources": driver.execute_script(RESOURCES),
             "pictures": driver.execute_script("return document.querySelectorAll('picture').length;")}
    if driver.execute_script(CLICK):  # and the counter counts: hydrated, not merely loaded
        WebDriverWait(driver, 20).until(lambda d: "Liked 1 times" in d.execute_script(
            "return [...document.querySelectorAll('button')].map(b => b.textContent).join('|');"))
    visit["log"] = [entry["message"] for entry in driver.get_log("browser")
                    if (entry["level"] in ("SEVERE", "WARNING") and "favicon.ico" not in entry["message"])
                    or _ERROR.search(entry["message"])]
    return visit


def _images_fetched(resources: list[str]) -> dict[str, list[str]]:
    """Each source image (by its name's stem) and the URLs fetched for it."""
    fetched: dict[str, list[str]] = {}
    for url in resources:
        if "/img/" in url:
            fetched.setdefault(url.rsplit("/", 1)[-1].split(".")[0], []).append(url)
    return fetched


_ADDED = {"img": {"srcset", "sizes", "width", "height", "loading", "decoding", "fetchpriority", MARK},
          "link": {"imagesrcset", "imagesizes", "type", PRELOAD_MARK}}


def _differences(untouched: Any, built: Any, keeps: bool, path: str = "") -> list[str]:
    """Where the built page's DOM differs from the untouched one's, but for the attributes assetpipe adds
    (and, where the framework keeps markup, its <picture> around the author's <img>)."""
    if untouched[0].startswith("#") or built[0].startswith("#"):
        return [] if untouched == built else [f"{path}: {untouched!r} != {built!r}"]
    name, attrs, children = built
    here = f"{path}/{name}"
    if name == "picture" and untouched[0] == "img" and keeps:
        extra = [key for key, _ in attrs if key != "data-assetpipe"]
        if extra:
            return [f"{here}[{key}]: set on the <picture>" for key in extra]
        author_src = dict(attrs).get("data-assetpipe")
        img = next(child for child in children if child[0] == "img")
        built = ["img", [(k, author_src if k == "src" else v) for k, v in img[1]], img[2]]
        name, attrs, children = built
    if untouched[0] != name:
        return [f"{here}: <{untouched[0]}> became <{name}>"]
    found = []
    before, after = dict(untouched[1]), dict(attrs)
    for key in before.keys() | after.keys():
        if before.get(key) == after.get(key) or (key not in before and key in _ADDED.get(name, set())):
            continue
        found.append(f"{here}[{key}]: {before.get(key)!r} != {after.get(key)!r}")
    if len(untouched[2]) != len(children):
        return [*found, f"{here}: {len(untouched[2])} children != {len(children)}"]
    for k, (one, other) in enumerate(zip(untouched[2], children, strict=True)):
        found += _differences(one, other, keeps, f"{here}[{k}]")
    return found


def _served(framework: str, tmp_path: Path, serve: Callable[[Path], str], hydrated: str | None) -> tuple[str, str]:
    untouched = _copy(framework, tmp_path / "untouched")
    built = _copy(framework, tmp_path / "built")
    build_hydrated(built, tmp_path / "cache", hydrated)
    return serve(untouched), serve(built)


# What each framework does with a <picture> in place of its <img> (html.hydrated = "picture"), measured:
# "replaced": a hydration error logged, the <picture>s gone and their images fetched again at the original
# URL; "rebound": no error, but the framework sets the <img>'s dynamic attributes on the <picture>;
# "kept": the page hydrates with the <picture>s as they are.
MEASURED = {
    ("next", "index.html"): "replaced",
    ("nuxt", "index.html"): "replaced",
    ("sveltekit", "index.html"): "rebound",  # the two images of an {#each}; the static two are kept
    ("astro", "index.html"): "replaced",  # the React island's two; the static ones outside it are kept
    ("vitepress", "index.html"): "replaced",  # the two raw <img>s next to a component
    ("vitepress", "plain.html"): "kept",  # plain Markdown: Vue adopts it as one static block
}


@pytest.mark.parametrize(("framework", "page"), sorted(MEASURED))
def test_the_table_is_what_chromium_does(browser: Any, framework: str, page: str, tmp_path: Path, serve) -> None:
    """Built with html.hydrated = "picture": whether the framework keeps a <picture> in place of its <img>."""
    untouched_url, built_url = _served(framework, tmp_path, serve, "picture")
    untouched = _visit(browser, untouched_url + page)
    built = _visit(browser, built_url + page)
    written = (tmp_path / "built" / framework / page).read_text().count("<picture data-assetpipe=")
    twice = {stem: urls for stem, urls in _images_fetched(built["resources"]).items() if len(urls) > 1}
    errors = [line for line in built["log"] if _ERROR.search(line)]
    differences = _differences(untouched["dom"], built["dom"], keeps=True)
    if MEASURED[framework, page] == "replaced":
        assert errors and built["pictures"] < written and twice, (built["log"], built["pictures"], twice)
    elif MEASURED[framework, page] == "rebound":
        assert not errors and built["pictures"] == written and not twice, (built["log"], twice)
        assert differences and all("/picture[" in line for line in differences), differences
    else:
        assert not errors and built["pictures"] == written == 4 and not twice, (built["log"], twice)
        assert differences == []


@pytest.mark.parametrize("framework", sorted(ROOTS))
def test_default_hydrates_as_the_untouched_page(browser: Any, framework: str, tmp_path: Path, serve) -> None:
    untouched_url, built_url = _served(framework, tmp_path, serve, None)
    untouched = _visit(browser, untouched_url)
    built = _visit(browser, built_url)
    assert not [line for line in built["log"] if _ERROR.search(line)], built["log"]
    assert built["log"] == [] or len(built["log"]) <= len(untouched["log"]), built["log"]
    assert _differences(untouched["dom"], built["dom"], keeps=True) == []
    written = (tmp_path / "built" / framework / "index.html").read_text().count("<picture data-assetpipe=")
    assert built["pictures"] == written == sum(1 for name in ROOTS[framework] if name is None)
    fetched = _images_fetched(built["resources"])
    assert len(fetched) == 4 and all(len(urls) == 1 for urls in fetched.values()), fetched
