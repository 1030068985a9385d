"""Loading follows web vitals (SPEC §2.2, issue 23 item 1): the likely first-viewport images are never
lazy, the first large one gets fetchpriority="high", later ones are lazy; the author always wins."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

from assetpipe.html import fold
from assetpipe.html.rewrite import rewrite
from assetpipe.html.svgsize import SvgSize

from .conftest import DEMO
from .test_markup import IMAGES

COFFEE, ROCKET, ASTRONAUT, HERO = (f"/assets/{n}" for n in (
    "coffee-A-I1hS5R.jpg", "rocket-o3RhgSeM.jpg", "astronaut-K5G3V5PE.png", "hero-gYV4LCM5.jpg"))


VIEWPORTS = (fold.Viewport(412, 915), fold.Viewport(1350, 940))


def imgs(html: bytes) -> list[dict[str, str]]:
    """Each rewritten <img>'s attributes, in document order."""
    found = []
    for picture in re.findall(rb"<picture data-assetpipe=.*?</picture>", html, re.S):
        tag = re.search(rb"<img [^>]*>", picture).group(0).decode()
        found.append(dict(re.findall(r'([a-z-]+)="([^"]*)"', tag)))
    return found


def page(body: str) -> bytes:
    return f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>".encode()


def test_the_first_two_content_images_are_eager_and_the_first_large_one_is_high() -> None:
    html = page(f'<header><img src="{ASTRONAUT}" alt="logo" width="96" height="96"></header>'
                f'<main><img src="{COFFEE}" alt="hero"><img src="{ROCKET}" alt="2nd">'
                f'<img src="{HERO}" alt="3rd"><img src="{COFFEE}" alt="4th"></main>')
    logo, hero, second, third, fourth = imgs(rewrite(html, "index.html", IMAGES).html)
    assert "loading" not in logo and "fetchpriority" not in logo  # a header logo: not content, not lazy
    assert hero.get("fetchpriority") == "high" and "loading" not in hero and hero["sizes"] == "100vw"
    assert "loading" not in second and "fetchpriority" not in second
    for later in (third, fourth):
        assert later["loading"] == "lazy" and later["sizes"] == "auto, 100vw" and "fetchpriority" not in later


def test_nav_icons_and_footer_images_take_no_first_viewport_place() -> None:
    html = page(f'<nav><img src="{ROCKET}" alt="nav"></nav>'
                f'<p><img src="{ASTRONAUT}" alt="icon" width="24" height="24"></p>'
                f'<main><img src="{COFFEE}" alt="hero"></main><footer><img src="{HERO}" alt="foot"></footer>')
    nav, icon, hero, foot = imgs(rewrite(html, "index.html", IMAGES).html)
    assert "loading" not in nav and "loading" not in icon
    assert hero.get("fetchpriority") == "high" and "loading" not in hero
    assert foot["loading"] == "lazy"


def test_a_small_first_image_stays_eager_but_the_priority_goes_to_the_first_large_one() -> None:
    html = page(f'<img src="{ASTRONAUT}" alt="small" width="160" height="160"><img src="{COFFEE}" alt="big">')
    small, big = imgs(rewrite(html, "index.html", IMAGES).html)
    assert "loading" not in small and "fetchpriority" not in small  # 25,600 px²: under the hero floor
    assert big.get("fetchpriority") == "high"


def test_a_hero_inside_header_is_content() -> None:
    html = page(f'<header><img src="{COFFEE}" alt="hero"></header><img src="{ROCKET}" alt="x">')
    hero, second = imgs(rewrite(html, "index.html", IMAGES).html)
    assert hero.get("fetchpriority") == "high" and "loading" not in second


def test_the_author_always_wins() -> None:
    html = page(f'<img src="{COFFEE}" alt="a" loading="lazy"><img src="{ROCKET}" alt="b">'
                f'<img src="{HERO}" alt="c" loading="eager"><img src="{COFFEE}" alt="d" fetchpriority="low">')
    first, second, third, fourth = imgs(rewrite(html, "index.html", IMAGES).html)
    assert first["loading"] == "lazy" and first["sizes"] == "auto, 100vw"  # the author's lazy stays
    assert "fetchpriority" not in second  # the author set a fetchpriority on the page: none is added
    assert third["loading"] == "eager" and fourth["fetchpriority"] == "low" and fourth["loading"] == "lazy"


def test_eager_is_a_setting() -> None:
    html = page(f'<img src="{COFFEE}" alt="a"><img src="{ROCKET}" alt="b"><img src="{HERO}" alt="c">')
    assert [i.get("loading") for i in imgs(rewrite(html, "index.html", IMAGES, eager=0).html)] == ["lazy"] * 3
    three = imgs(rewrite(html, "index.html", IMAGES, eager=3).html)
    assert [i.get("loading") for i in three] == [None] * 3 and three[0]["fetchpriority"] == "high"


def test_a_built_page_keeps_its_plan_on_every_build(cli, tmp_path: Path) -> None:
    """Through the real build: the demo's about page, rebuilt, says the same (the plan is part of the
    idempotent rewrite), with its second content image eager (the first is lazy by its author)."""
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    (tmp_path / "c").mkdir()
    assert cli("build", str(site), "--cache-dir", str(tmp_path / "c")).exit_code == 0
    first = (site / "about.html").read_bytes()
    assert cli("build", str(site), "--cache-dir", str(tmp_path / "c")).exit_code == 0
    assert (site / "about.html").read_bytes() == first
    rocket, astronaut = imgs(first)[:2]
    assert rocket["loading"] == "lazy"  # the author wrote it
    assert "loading" not in astronaut  # the second content image: in the first viewport


def test_an_svg_given_its_size_is_weighed_at_that_size_so_a_second_run_decides_the_same() -> None:
    """An icon SVG without width/height before the hero: the rewrite gives it its size (40 x 20, an icon),
    and the loading plan weighs it at that size, so the hero gets the priority on the first run, as the
    next run (reading the sized tag) decides. It went to the icon first (its area unknown, so a possible
    LCP), and the second build rewrote the page again."""
    svgs = {"assets/icon.svg": SvgSize(40, 20, True)}
    html = page(f'<main><img src="/assets/icon.svg" alt=""><img src="{HERO}" alt="hero"></main>')
    first = rewrite(html, "index.html", IMAGES, svgs=svgs).html
    assert b'<img src="/assets/icon.svg" alt="" width="40" height="20">' in first
    assert imgs(first)[0].get("fetchpriority") == "high"
    assert rewrite(first, "index.html", IMAGES, svgs=svgs).html == first
    # an SVG shown large is weighed large: it takes the priority (it cannot carry it) on both runs
    large = {"assets/icon.svg": SvgSize(800, 400, True)}
    first = rewrite(html, "index.html", IMAGES, svgs=large).html
    assert "fetchpriority" not in imgs(first)[0]
    assert rewrite(first, "index.html", IMAGES, svgs=large).html == first


@pytest.mark.parametrize("seed", range(200))
def test_a_rewritten_page_with_svgs_is_rewritten_to_itself(seed: int) -> None:
    """Idempotence with SVGs in the page (the golden pages have none sized): random pages of SVG icons and
    illustrations (sized or not, by attribute or style, sizes of their own or a viewBox ratio) among
    photos, in landmarks, with and without viewports: the second run changes nothing."""
    rng = random.Random(seed)
    svgs = {f"assets/s{i}.svg": SvgSize(rng.choice((16, 40, 300, 900)), rng.choice((16, 20, 250, 600)),
                                        rng.random() < 0.8) for i in range(4)}
    parts = []
    for _ in range(rng.randint(2, 9)):
        if rng.random() < 0.5:
            attrs = rng.choice(("", ' width="24"', ' height="300"', ' width="24" height="24"',
                                ' style="width: 500px"', ' style="width: 50%"', ' loading="lazy"'))
            tag = f'<img src="/assets/s{rng.randrange(4)}.svg" alt=""{attrs}>'
        else:
            attrs = rng.choice(("", ' width="40" height="40"', ' width="800"', ' loading="lazy"'))
            tag = f'<img src="{rng.choice((COFFEE, ROCKET, ASTRONAUT, HERO))}" alt="x"{attrs}>'
        landmark = rng.choice(("main", "main", "header", "nav", "footer"))
        parts.append(f"<{landmark}>{tag}<p>{'words ' * rng.randint(0, 200)}</p></{landmark}>")
    html = page("".join(parts))
    options = {"eager": rng.randint(0, 3), "svgs": svgs,
               "viewports": VIEWPORTS if rng.random() < 0.5 else ()}
    once = rewrite(html, "index.html", IMAGES, **options)  # type: ignore[arg-type]
    twice = rewrite(once.html, "index.html", IMAGES, **options)  # type: ignore[arg-type]
    assert twice.html == once.html, html


PRELOAD = f'<link rel="preload" as="image" href="{COFFEE}">'


def test_an_authors_preload_of_a_rewritten_image_is_brought_in_line() -> None:
    """So the hero is fetched once: the preload names the same AVIF candidates the <picture> picks from."""
    html = (f"<!doctype html><html><head>{PRELOAD}<link rel=preload as=font href=/f.woff2>"
            f'<link rel="preload" as="image" href="{ROCKET}" imagesrcset="/r.avif 1w"></head>'
            f'<body><img src="{COFFEE}" alt="hero"></body></html>').encode()
    once = rewrite(html, "index.html", IMAGES).html
    link = re.search(rb'<link rel="preload" as="image" href="/assets/coffee[^>]*>', once).group(0).decode()
    avif = re.search(rb'<source type="image/avif" srcset="([^"]*)"', once).group(1).decode()
    assert f'imagesrcset="{avif}"' in link and 'imagesizes="100vw"' in link and 'type="image/avif"' in link
    assert b"<link rel=preload as=font href=/f.woff2>" in once  # not an image
    assert f'href="{ROCKET}" imagesrcset="/r.avif 1w">'.encode() in once  # the author's own responsive preload
    assert rewrite(once, "index.html", IMAGES).html == once  # a rebuild changes nothing
    assert rewrite(once, "index.html", {}).html == html  # the image gone: the author's tags come back
