"""Loading follows web vitals (SPEC §2.2, issue 23 item 1): the likely first-viewport images are never
lazy, the first large one gets fetchpriority="high", later ones are lazy; the author always wins."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from assetpipe.html.rewrite import rewrite

from .conftest import DEMO
from .test_markup import IMAGES

COFFEE, ROCKET, ASTRONAUT, HERO = (f"/assets/{n}" for n in (
    "coffee-A-I1hS5R.jpg", "rocket-o3RhgSeM.jpg", "astronaut-K5G3V5PE.png", "hero-gYV4LCM5.jpg"))


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
