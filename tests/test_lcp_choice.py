"""The measured LCP image as an input of the rewrite (`--measure-lcp`, html/loading.py): pure, no browser.
tests/test_measure_lcp.py finds the images in Chromium."""

from __future__ import annotations

from assetpipe.html.loading import LcpImage
from assetpipe.html.rewrite import rewrite

from .test_loading import COFFEE, HERO, ROCKET, imgs, page
from .test_markup import IMAGES

PAGE = page(f'<main><img src="{COFFEE}" alt="1st"><img src="{ROCKET}" alt="2nd">'
            f'<img src="{HERO}" alt="3rd"><img src="{COFFEE}" alt="4th"></main>')


def test_the_measured_image_alone_is_high_and_eager() -> None:
    guessed = imgs(rewrite(PAGE, "index.html", IMAGES).html)
    assert [i.get("fetchpriority") for i in guessed] == ["high", None, None, None]
    measured = imgs(rewrite(PAGE, "index.html", IMAGES, lcp={LcpImage(HERO[1:], 0)}).html)
    assert [i.get("fetchpriority") for i in measured] == [None, None, "high", None]
    assert [i.get("loading") for i in measured] == [None, None, None, "lazy"]  # the rest: the heuristic's
    assert measured[2]["sizes"] == "100vw"  # eager: no sizes="auto"


def test_an_image_shown_twice_is_named_by_its_occurrence() -> None:
    measured = imgs(rewrite(PAGE, "index.html", IMAGES, lcp={LcpImage(COFFEE[1:], 1)}).html)
    assert [i.get("fetchpriority") for i in measured] == [None, None, None, "high"]
    assert [i.get("loading") for i in measured] == [None, None, "lazy", None]


def test_two_viewports_two_images() -> None:
    measured = imgs(rewrite(PAGE, "index.html", IMAGES, lcp={LcpImage(ROCKET[1:], 0), LcpImage(HERO[1:], 0)}).html)
    assert [i.get("fetchpriority") for i in measured] == [None, "high", "high", None]


def test_a_name_that_is_no_image_of_the_page_keeps_the_guess() -> None:
    measured = rewrite(PAGE, "index.html", IMAGES, lcp={LcpImage(HERO[1:], 5)}).html
    assert measured == rewrite(PAGE, "index.html", IMAGES).html


def test_a_rewritten_page_gives_the_same_page_again() -> None:
    """A warm build reads the page it wrote: its pictures count as their author's <img>, so the same choice
    gives the same bytes, and no choice gives back the heuristic's page."""
    lcp = {LcpImage(HERO[1:], 0)}
    first = rewrite(PAGE, "index.html", IMAGES, lcp=lcp).html
    assert rewrite(first, "index.html", IMAGES, lcp=lcp).html == first
    assert rewrite(first, "index.html", IMAGES).html == rewrite(PAGE, "index.html", IMAGES).html


def test_the_author_still_wins() -> None:
    html = page(f'<img src="{COFFEE}" alt="1st"><img src="{HERO}" alt="lcp" loading="lazy">'
                f'<img src="{ROCKET}" alt="3rd" fetchpriority="low">')
    first, lcp, third = imgs(rewrite(html, "index.html", IMAGES, lcp={LcpImage(HERO[1:], 0)}).html)
    assert lcp["loading"] == "lazy" and "fetchpriority" not in lcp  # their loading="lazy", and their priorities
    assert "fetchpriority" not in first and third["fetchpriority"] == "low"
