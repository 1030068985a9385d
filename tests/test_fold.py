"""The first-viewport estimate (html/fold.py, html/flow.py; issue 23's "no lazy image among the first
viewport's"): beyond `html.eager`, content images estimated to start inside a phone's or a desktop's
first viewport are eager too; the rest stay lazy. Pure: pages in, markup out, no browser (tests/
test_vitals.py checks the same pages in Chromium)."""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from assetpipe import config
from assetpipe.html import flow, fold
from assetpipe.html.rewrite import rewrite
from assetpipe.model import ConfigError

from .conftest import REPO
from .test_loading import ASTRONAUT, COFFEE, HERO, ROCKET, imgs, page
from .test_markup import IMAGES

VIEWPORTS = (fold.Viewport(412, 915), fold.Viewport(1350, 940))
PARAGRAPH = "<p>" + "A line of body text that wraps on a phone. " * 4 + "</p>"


def lazy(body: str, **kw: object) -> list[bool]:
    """Whether each rewritten <img> of the page is lazy, with the default viewports unless told."""
    html = rewrite(page(body), "index.html", IMAGES, **{"viewports": VIEWPORTS, **kw}).html  # type: ignore[arg-type]
    return [i.get("loading") == "lazy" for i in imgs(html)]


def test_a_third_and_fourth_image_in_the_first_viewport_are_eager() -> None:
    """The framework fixtures' page: a heading, the 451x300 hero, a line, two images the author sized, a
    small one; Chromium shows all four in the first viewport (the astronaut 911 px down on the phone)."""
    body = (f'<main><h1>Cats and coffee</h1><img src="{HERO}" alt="a"><p>Chelsea the cat, then coffee.</p>'
            f'<img src="{COFFEE}" alt="b" width="300"><p><button>Liked 0 times</button></p>'
            f'<img src="{ROCKET}" alt="c" width="320"><img src="{ASTRONAUT}" alt="d"></main>')
    assert lazy(body) == [False, False, False, False]
    assert lazy(body, viewports=()) == [False, False, True, True]  # the count alone: SPEC's first two


def test_text_and_images_above_push_an_image_out_and_a_gallery_stays_lazy() -> None:
    gallery = "".join(f'<img src="{COFFEE}" alt="{n}">' for n in range(12))  # 600x400: 275 px tall on a phone
    assert lazy(f"<main><h1>Photos</h1>{gallery}</main>") == [False] * 4 + [True] * 8
    text = PARAGRAPH * 8  # about 4 lines each at 412 px: 8 x 120 px
    assert lazy(f'<main><img src="{HERO}" alt="a"><img src="{COFFEE}" alt="b">{text}'
                f'<img src="{ROCKET}" alt="c"></main>') == [False, False, True]
    assert lazy(f'<main><img src="{HERO}" alt="a"><img src="{COFFEE}" alt="b">{PARAGRAPH}'
                f'<img src="{ROCKET}" alt="c"></main>') == [False, False, False]


def test_the_size_the_author_gave_and_unknown_sizes() -> None:
    tall = f'<img src="{COFFEE}" alt="a" width="400" height="800">'  # 800 px: the next one is still in
    small = f'<img src="{COFFEE}" alt="b" style="width: 100px; height: 60px">'
    assert lazy(f"<main>{tall}{small}<p>x</p>{tall}{small}</main>") == [False, False, False, True]
    # a % width is the layout's: the image's own 600x400 counts, scaled to the phone's 412 px
    pct = f'<img src="{COFFEE}" alt="c" style="width:100%;height:auto" width="3000" height="3000">'
    assert lazy(f"<main>{pct}{pct}{pct}{pct}</main>") == [False, False, False, False]  # 3000 px: 4th lazy
    assert fold.box({"width": "300", "style": "width: 50px"}, (600, 400)) == fold.Box(50, None, (600, 400))
    assert fold.image_height(fold.Box(None, None, None), VIEWPORTS[0]) == 412 * fold.UNKNOWN
    assert fold.image_height(fold.Box(None, None, None), VIEWPORTS[1]) == fold.COLUMN * fold.UNKNOWN


def test_nav_header_footer_and_hidden_text_takes_no_place_but_a_header_bar_does() -> None:
    chrome = ("<header><a>Site</a>" + PARAGRAPH * 20 + "</header><nav>" + PARAGRAPH * 20 + "</nav>"
              "<aside>" + PARAGRAPH * 20 + "</aside><div hidden>" + PARAGRAPH * 20 + "</div>"
              "<script>" + "x" * 5000 + "</script><div>" + "chrome text " * 400 + "</div>")
    tags, blocks = flow.scan(f'<!doctype html><body>{chrome}<main><h2>Title</h2><p>Text</p>'
                             f'<img src="{HERO}" alt=""><li>one</li><li>two</li></main>')
    assert [(b.kind, b.chars) for b in blocks] == [("bar", 0), ("h2", 5), ("text", 4), ("item", 3), ("item", 3)]
    img = next(t for t in tags if t.name == "img")
    assert [b.after <= img.index for b in blocks] == [True, True, True, False, False]
    three = "".join(f'<img src="{COFFEE}" alt="{n}">' for n in range(3))
    assert lazy(f"{chrome}<main>{three}</main>") == [False, False, False]


def test_the_author_and_the_landmarks_still_win() -> None:
    body = (f'<nav><img src="{ROCKET}" alt="nav"></nav><main><img src="{HERO}" alt="a">'
            f'<img src="{COFFEE}" alt="b" loading="lazy"><img src="{ROCKET}" alt="c" loading="eager">'
            f'<img src="{COFFEE}" alt="d"></main><footer><img src="{HERO}" alt="e"></footer>')
    html = rewrite(page(body), "index.html", IMAGES, viewports=VIEWPORTS).html
    nav, a, b, c, d, e = imgs(html)
    assert "loading" not in nav and a.get("fetchpriority") == "high"
    assert b["loading"] == "lazy" and c["loading"] == "eager" and "loading" not in d  # d: 3 x 275 px down
    assert e["loading"] == "lazy"
    assert rewrite(html, "index.html", IMAGES, viewports=VIEWPORTS).html == html  # a second run: the same


def test_eager_viewports_is_checked() -> None:
    with pytest.raises(ConfigError) as info:
        config.parse(tomllib.loads('[html]\neager_viewports = ["412x915", "wide"]\n'), "assetpipe.toml")
    assert info.value.problems == ["assetpipe.toml: html.eager_viewports: expected a viewport WIDTHxHEIGHT in "
                                   "CSS px such as \"412x915\", got 'wide'"]
    parsed = config.parse(tomllib.loads("[html]\neager_viewports = []\n"), "assetpipe.toml")
    assert parsed.html.eager_viewports == ()
    assert fold.Viewport.parse("1350x940") == fold.Viewport(1350, 940)


@pytest.mark.parametrize(("viewports", "lazy_after"), [(None, []), ("[]", ["/img/rocket.jpg", "/img/astronaut.png"])])
def test_a_build_of_a_real_framework_page_follows_the_setting(
        cli: Callable[..., Result], tmp_path: Path, viewports: str | None, lazy_after: list[str]) -> None:
    """SvelteKit's real output (fixtures/hydrated/): by default all four images eager (Chromium shows
    them all in the first viewport: tests/test_vitals.py); `html.eager_viewports = []`: the first two."""
    site = tmp_path / "dist"
    shutil.copytree(REPO / "fixtures" / "hydrated" / "sveltekit", site)
    settings = '[images]\nwidths = [320]\nformats = ["webp"]\n'
    settings += f"[html]\neager_viewports = {viewports}\n" if viewports else ""
    (tmp_path / "assetpipe.toml").write_text(settings)
    result = cli("build", str(site), "--no-compress")
    assert result.exit_code == 0, result.output
    tags = re.findall(r"<img [^>]*>", (site / "index.html").read_text())
    assert len(tags) == 4
    assert [re.search(r'src="([^"]*)"', t).group(1) for t in tags if 'loading="lazy"' in t] == lazy_after  # type: ignore[union-attr]
