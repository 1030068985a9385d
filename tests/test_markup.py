"""The <picture> rewrite: golden pages with every trap, idempotence, updates, untouched bytes, charsets, URLs."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import html5lib
import pytest

from assetpipe.html.picture import Candidate, PictureSpec
from assetpipe.html.rewrite import Rewrite, rewrite
from assetpipe.html.shown import references
from assetpipe.html.urls import resolve
from assetpipe.minify.minifier import minify_bytes

GOLDEN = Path(__file__).resolve().parent / "golden" / "markup"
UPDATE = os.environ.get("ASSETPIPE_UPDATE_GOLDEN") == "1"  # regenerate the expected files, then review the diff


def spec(
    source: str, width: int, height: int, fallback: str, widths: tuple[int, ...], tag: str = "3f9a1c2e"
) -> PictureSpec:
    """A PictureSpec with variant names as the pipeline makes them: `stem.HASH.WIDTHw.ext`."""
    stem = source.rsplit(".", 1)[0]
    mime = {"jpg": "image/jpeg", "png": "image/png", "avif": "image/avif", "webp": "image/webp"}

    def cands(ext: str, salt: str) -> tuple[Candidate, ...]:
        return tuple(Candidate(f"{stem}.{salt}.{w}w.{ext}", w) for w in widths)

    return PictureSpec(
        source=source,
        width=width,
        height=height,
        sources=(("image/avif", cands("avif", tag)), ("image/webp", cands("webp", tag[::-1]))),
        fallback_type=mime[fallback],
        fallback=cands(fallback, tag[4:] + tag[:4]),
    )


# The demo site's photos as the pipeline would describe them (default widths 320/640/1280/1920, never upscaled).
IMAGES = {
    s.source: s
    for s in (
        spec("assets/coffee-A-I1hS5R.jpg", 600, 400, "jpg", (320, 600), "1c9e44a0"),
        spec("assets/rocket-o3RhgSeM.jpg", 640, 427, "jpg", (320, 640), "7b21f0d3"),
        spec("assets/astronaut-K5G3V5PE.png", 160, 160, "png", (160,), "e05a9c11"),
        spec("assets/hero-gYV4LCM5.jpg", 451, 300, "jpg", (320, 451), "5d8e2b67"),
        spec("assets/old-banner-Dk29_xQ1.jpg", 1920, 600, "jpg", (320, 640, 1280, 1920), "90ab12cd"),
        spec("assets/team photo, 2024 ü.jpg", 1280, 853, "jpg", (320, 640, 1280), "44ff0e1b"),
    )
}

PAGES = [("index.html", "index.html"), ("about.html", "about.html"), ("blog/traps.html", "blog/traps.html")]


def expected_path(name: str) -> Path:
    return GOLDEN / name.replace(".html", ".expected.html")


def run(html: bytes, page: str, images: dict[str, PictureSpec] | None = None, **kw: str | int) -> Rewrite:
    """The rewrite as the tests of markup use it: every image lazy (`eager=0`) unless a test asks for the
    loading plan (the golden pages and test_loading.py do, with the default `eager=2`)."""
    return rewrite(html, page, IMAGES if images is None else images, **{"eager": 0, **kw})


def parse_errors(html: bytes) -> list[str]:
    parser = html5lib.HTMLParser()
    parser.parse(html)
    return [code for _pos, code, _vars in parser.errors]


def assert_only_tags_replaced(before: bytes, after: bytes, tags: list[bytes]) -> None:
    """`after` is `before` with each of `tags` (in order) replaced by a <picture>…</picture>; nothing else moved."""
    at_before = at_after = 0
    for tag in tags:
        start = before.index(tag, at_before)
        gap = before[at_before:start]
        assert after[at_after : at_after + len(gap)] == gap
        at_after += len(gap)
        assert after.startswith(b"<picture data-assetpipe=", at_after)
        close = after.index(b"</picture>", at_after) + len(b"</picture>")
        assert b"<picture" not in after[at_after + 1 : close]
        at_before, at_after = start + len(tag), close
    assert after[at_after:] == before[at_before:]


# --- golden pages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "page"), PAGES)
def test_golden_page(name: str, page: str) -> None:
    source = (GOLDEN / name).read_bytes()
    result = run(source, page, eager=2)  # the default loading plan
    if UPDATE:
        expected_path(name).write_bytes(result.html)
    assert result.html == expected_path(name).read_bytes()
    assert result.unreadable is None


def test_golden_inputs_are_the_demo_site() -> None:
    site = Path(__file__).resolve().parent.parent / "fixtures" / "site"
    for name in ("index.html", "about.html"):
        assert (GOLDEN / name).read_bytes() == (site / name).read_bytes()


def test_index_rewrites_only_the_one_reachable_image() -> None:
    source = (GOLDEN / "index.html").read_bytes()
    result = run(source, "index.html")
    # The comment, the <template>, the script string, the author's <picture>, the skipped, external and data:
    # images all keep their bytes; only the coffee photo in the intro becomes a picture.
    assert result.rewritten == ("assets/coffee-A-I1hS5R.jpg",)
    tag = b'<img src="/assets/coffee-A-I1hS5R.jpg" alt="A cup of coffee on a saucer, seen from above"'
    end = source.index(b"/>", source.index(tag)) + 2
    assert_only_tags_replaced(source, result.html, [source[source.index(tag) : end]])


def test_about_rewrites_relative_and_root_relative() -> None:
    source = (GOLDEN / "about.html").read_bytes()
    result = run(source, "about.html")
    assert result.rewritten == ("assets/rocket-o3RhgSeM.jpg", "assets/astronaut-K5G3V5PE.png")
    html = result.html.decode()
    # relative stays relative, root-relative stays root-relative
    assert 'srcset="assets/rocket-o3RhgSeM.7b21f0d3.320w.avif 320w, assets/rocket-o3RhgSeM.7b21f0d3.640w.avif' in html
    assert 'src="/assets/astronaut-K5G3V5PE.f0d37b21.160w.png"' not in html
    assert 'src="/assets/astronaut-K5G3V5PE.9c11e05a.160w.png"' in html
    tags = [
        b'<img src="assets/rocket-o3RhgSeM.jpg" alt="Rocket launch at dawn" width="640" height="427" loading="lazy" />',
        b'<img src="/assets/astronaut-K5G3V5PE.png" alt="Portrait of Eileen, head of logistics" width="160"'
        b' height="160" />',
    ]
    assert_only_tags_replaced(source, result.html, tags)


def test_traps_page() -> None:
    source = (GOLDEN / "blog" / "traps.html").read_bytes()
    result = run(source, "blog/traps.html")
    assert result.rewritten == (
        "assets/coffee-A-I1hS5R.jpg",
        "assets/rocket-o3RhgSeM.jpg",
        "assets/team photo, 2024 ü.jpg",
        "assets/astronaut-K5G3V5PE.png",
        "assets/astronaut-K5G3V5PE.png",
    )
    tags = [
        b"<IMG SRC=assets/coffee-A-I1hS5R.jpg ALT=Coffee CLASS=photo>",
        b'<img src="/assets/rocket-o3RhgSeM.jpg?v=3#top" alt="Rocket &amp; smoke" width="320">',
        b'<img src="assets/team%20photo%2C%202024%20%C3%BC.jpg" alt="The team" sizes="(min-width: 40em) 50vw, 100vw">',
        b"<img src='assets/astronaut-K5G3V5PE.png' alt='Eileen' loading=eager height='80'>",
        b'<img src="assets/astronaut-K5G3V5PE.png" alt="" width="50%">',
    ]
    assert_only_tags_replaced(source, result.html, tags)
    html = result.html.decode()
    # the base href (../) puts relative URLs at the root; upper case and unquoted attributes kept as written
    assert '<IMG SRC=assets/coffee-A-I1hS5R.44a01c9e.600w.jpg ALT=Coffee CLASS=photo srcset="' in html
    # query and fragment dropped from the generated URLs; the author's width kept and the height derived
    # (shown 320 px wide, from a 640 px source: `1x, 2x`, no sizes; issue 23)
    assert ('alt="Rocket &amp; smoke" width="320" srcset="/assets/rocket-o3RhgSeM.f0d37b21.320w.jpg 1x, '
            '/assets/rocket-o3RhgSeM.f0d37b21.640w.jpg 2x" height="214" loading="lazy" decoding="async">') in html
    # spaces and commas percent-encoded so srcset parses; the author's sizes used for every <source>
    assert "assets/team%20photo%2C%202024%20%C3%BC.44ff0e1b.320w.avif 320w" in html
    assert html.count('sizes="(min-width: 40em) 50vw, 100vw"') == 3
    # eager: no `auto` in sizes, no loading added; height given, width derived; single quotes kept
    assert "loading=eager height='80' srcset=\"assets/astronaut" in html
    assert 'sizes="100vw" width="80" decoding="async">' in html
    # a percentage width: nothing is derived, nothing contradicts it
    assert 'alt="" width="50%" srcset="assets/astronaut-K5G3V5PE.9c11e05a.160w.png 160w" sizes="auto, 100vw"' in html


@pytest.mark.parametrize(("name", "page"), PAGES)
@pytest.mark.parametrize("eager", [0, 2])
def test_idempotent(name: str, page: str, eager: int) -> None:
    once = run((GOLDEN / name).read_bytes(), page, eager=eager)
    twice = run(once.html, page, eager=eager)
    assert twice.html == once.html
    assert twice.rewritten == ()


@pytest.mark.parametrize(("name", "page"), PAGES)
def test_output_adds_no_parse_errors(name: str, page: str) -> None:
    source = (GOLDEN / name).read_bytes()
    assert parse_errors(run(source, page).html) == parse_errors(source)


@pytest.mark.parametrize("name", ["index.html", "about.html"])
def test_output_is_valid_html5(name: str) -> None:
    html = run((GOLDEN / name).read_bytes(), name).html
    html5lib.HTMLParser(strict=True).parse(html)  # raises on the first parse error


# --- updates and reverts of assetpipe's own pictures -----------------------------------------------------


@pytest.mark.parametrize(("name", "page"), PAGES)
def test_changed_spec_brings_pictures_up_to_date(name: str, page: str) -> None:
    source = (GOLDEN / name).read_bytes()
    old = run(source, page)
    newer = {
        k: spec(k, v.width * 2, v.height * 2, v.fallback[0].file.rsplit(".", 1)[1], (320, 640, 1280), "0000beef")
        for k, v in IMAGES.items()
    }
    updated = run(old.html, page, newer)
    assert updated.html == run(source, page, newer).html
    assert updated.rewritten == old.rewritten
    assert b"0000beef" in updated.html or not old.rewritten


@pytest.mark.parametrize(("name", "page"), PAGES)
def test_image_gone_gives_back_the_authors_img(name: str, page: str) -> None:
    source = (GOLDEN / name).read_bytes()
    old = run(source, page)
    back = run(old.html, page, {})
    assert back.html == source
    assert len(back.reverted) == len(old.rewritten)


def test_edited_own_picture_is_left_alone() -> None:
    html = run(b'<p><img src="/assets/coffee-A-I1hS5R.jpg" alt="x"></p>', "index.html").html
    edited = html.replace(b"<source", b"<!-- mine --><source", 1)
    assert run(edited, "index.html", {}).html == edited


def test_own_picture_update_only_changes_its_span() -> None:
    source = b'<p>a</p>\r\n<p><img src=/assets/coffee-A-I1hS5R.jpg alt="x" /></p>\r\n<!-- end -->\r\n'
    old = run(source, "index.html").html
    bigger = {"assets/coffee-A-I1hS5R.jpg": spec("assets/coffee-A-I1hS5R.jpg", 600, 400, "jpg", (600,), "aaaa1111")}
    new = run(old, "index.html", bigger).html
    start = old.index(b"<picture")
    assert new[:start] == old[:start]
    assert new.endswith(b"</picture></p>\r\n<!-- end -->\r\n")
    assert b"aaaa1111" in new and b"1c9e44a0" not in new


# --- what is never touched ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        b'<img src="/assets/unknown.jpg" alt="">',
        b'<img src="https://example.com/assets/coffee-A-I1hS5R.jpg">',
        b'<img src="data:image/png;base64,iVBORw0KGgo=">',
        b'<img data-assetpipe-skip src="/assets/coffee-A-I1hS5R.jpg">',
        b'<img src="/assets/coffee-A-I1hS5R.jpg" srcset="/assets/coffee-A-I1hS5R.jpg 2x">',
        b'<picture><source srcset="/a.avif"><img src="/assets/coffee-A-I1hS5R.jpg"></picture>',
        b'<template><img src="/assets/coffee-A-I1hS5R.jpg"></template>',
        b"<script>x = '<img src=\"/assets/coffee-A-I1hS5R.jpg\">'</script>",
        b'<style>/* <img src="/assets/coffee-A-I1hS5R.jpg"> */</style>',
        b'<textarea><img src="/assets/coffee-A-I1hS5R.jpg"></textarea>',
        b'<noscript><img src="/assets/coffee-A-I1hS5R.jpg"></noscript>',
        b'<svg><img src="/assets/coffee-A-I1hS5R.jpg"></svg>',
        b'<math><img src="/assets/coffee-A-I1hS5R.jpg"></math>',
        b'<!-- <img src="/assets/coffee-A-I1hS5R.jpg"> -->',
        b'<!-- -- > <img src="/assets/coffee-A-I1hS5R.jpg"> -->',
        b"<img src>",
        b"<img src=/assets/coffee-A-I1hS5R.jpg/>",  # the unquoted value is `…jpg/`, a folder
        b"no images at all",
    ],
)
def test_left_untouched(html: bytes) -> None:
    result = run(html, "index.html")
    assert result.html == html
    assert result.rewritten == ()


def test_comment_closed_by_bang_is_a_comment_end() -> None:
    # `--!>` ends a comment in HTML5, so the <img> after it is real markup
    html = b'<!-- x --!><img src="/assets/coffee-A-I1hS5R.jpg">'
    assert run(html, "index.html").rewritten == ("assets/coffee-A-I1hS5R.jpg",)


# --- attributes the author wrote -------------------------------------------------------------------------


def test_author_attributes_kept() -> None:
    html = (
        b'<img data-x=1 src="/assets/coffee-A-I1hS5R.jpg" WIDTH="300" height=200 loading="eager" '
        b"decoding=sync sizes='50vw' Alt=\"a &quot;b&quot;\" fetchpriority='high'/>"
    )
    out = run(html, "index.html").html.decode()
    img = out[out.index("<img") : out.index("</picture>")]
    assert img == (
        '<img data-x=1 src="/assets/coffee-A-I1hS5R.44a01c9e.600w.jpg" WIDTH="300" height=200 loading="eager" '
        "decoding=sync sizes='50vw' Alt=\"a &quot;b&quot;\" fetchpriority='high'"
        ' srcset="/assets/coffee-A-I1hS5R.44a01c9e.320w.jpg 320w, /assets/coffee-A-I1hS5R.44a01c9e.600w.jpg 600w"/>'
    )
    assert out.count('sizes="50vw"') == 2


def test_self_closing_style_is_followed() -> None:
    plain = run(b'<img src="/assets/coffee-A-I1hS5R.jpg">', "index.html").html
    slashed = run(b'<img src="/assets/coffee-A-I1hS5R.jpg" />', "index.html").html
    assert b"/>" not in plain
    assert slashed.count(b" />") == 3  # two <source /> and the <img />


def test_default_sizes_and_sizes_auto() -> None:
    lazy = run(b'<img src="/assets/coffee-A-I1hS5R.jpg">', "index.html", default_sizes="(min-width: 60em) 50vw, 100vw")
    assert lazy.html.count(b'sizes="auto, (min-width: 60em) 50vw, 100vw"') == 3
    eager = run(b'<img src="/assets/coffee-A-I1hS5R.jpg" loading=EAGER>', "index.html", default_sizes="80vw")
    assert eager.html.count(b'sizes="80vw"') == 3
    assert b"loading=EAGER srcset=" in eager.html


def test_width_only_derives_height() -> None:
    out = run(b'<img src="/assets/rocket-o3RhgSeM.jpg" width="300">', "index.html").html
    assert b' width="300" srcset=' in out
    assert b'height="200"' in out  # 300 * 427 / 640 = 200.16
    assert out.count(b"width=") == 1


def test_missing_dimensions_are_intrinsic() -> None:
    out = run(b'<img src="/assets/rocket-o3RhgSeM.jpg" alt="">', "index.html").html
    assert b'sizes="auto, 100vw" width="640" height="427" loading="lazy" decoding="async">' in out


def test_attribute_values_are_escaped() -> None:
    images = {"assets/a&b.jpg": spec("assets/a&b.jpg", 100, 100, "jpg", (100,))}  # not an icon: lazy
    out = run(b'<img src="/assets/a&amp;b.jpg">', "index.html", images, default_sizes='1px "x" & y').html
    assert b'sizes="auto, 1px &quot;x&quot; &amp; y"' in out
    assert b"/assets/a%26b.1c2e3f9a.100w.jpg" in out
    assert b'data-assetpipe="/assets/a&amp;amp;b.jpg"' in out
    assert run(out, "index.html", images, default_sizes='1px "x" & y').html == out


# --- URLs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "page", "base", "expected"),
    [
        ("/assets/x.jpg", "index.html", None, "assets/x.jpg"),
        ("assets/x.jpg", "index.html", None, "assets/x.jpg"),
        ("assets/x.jpg", "blog/post.html", None, "blog/assets/x.jpg"),
        ("../assets/x.jpg", "blog/post.html", None, "assets/x.jpg"),
        ("./../../../assets/x.jpg", "blog/post.html", None, "assets/x.jpg"),
        ("x.jpg", "blog/2024/post.html", None, "blog/2024/x.jpg"),
        ("assets/x.jpg", "blog/post.html", "../", "assets/x.jpg"),
        ("assets/x.jpg", "blog/post.html", "/static/", "static/assets/x.jpg"),
        ("assets/x.jpg", "blog/post.html", "/static/page.html", "static/assets/x.jpg"),
        ("/assets/x.jpg", "blog/post.html", "/static/", "assets/x.jpg"),
        ("assets/x.jpg", "index.html", "https://cdn.example.com/", None),
        ("/assets/x.jpg?v=2#frag", "index.html", None, "assets/x.jpg"),
        ("/assets/my%20photo%2C%C3%BC.jpg", "index.html", None, "assets/my photo,ü.jpg"),
        ("  /assets/x.jpg\n", "index.html", None, "assets/x.jpg"),
        ("\\assets\\x.jpg", "index.html", None, "assets/x.jpg"),
        ("/assets/%2e%2e/x.jpg", "index.html", None, "x.jpg"),
        ("https://example.com/x.jpg", "index.html", None, None),
        ("//example.com/x.jpg", "index.html", None, None),
        ("data:image/png;base64,AAAA", "index.html", None, None),
        ("mailto:x@example.com", "index.html", None, None),
        ("", "index.html", None, None),
        ("#top", "index.html", None, None),
        ("/assets/", "index.html", None, None),
        ("/assets/%ff.jpg", "index.html", None, None),
    ],
)
def test_resolve(url: str, page: str, base: str | None, expected: str | None) -> None:
    assert resolve(url, page, base) == expected


def test_relative_urls_from_a_subfolder() -> None:
    images = {"img/x.jpg": spec("img/x.jpg", 800, 600, "jpg", (320, 640, 800))}
    out = run(b'<img src="../../img/x.jpg">', "blog/2024/post.html", images).html.decode()
    assert 'src="../../img/x.1c2e3f9a.800w.jpg"' in out
    assert "../../img/x.3f9a1c2e.320w.avif 320w" in out
    # every URL written resolves back to the variant it names
    for url in ("../../img/x.1c2e3f9a.800w.jpg", "../../img/x.3f9a1c2e.320w.avif"):
        assert resolve(url, "blog/2024/post.html", None) == url.replace("../../", "")


def test_base_href_relative_output() -> None:
    images = {"static/img/x.jpg": spec("static/img/x.jpg", 100, 100, "jpg", (100,))}
    html = b'<head><base href="/static/"></head><body><img src="img/x.jpg"></body>'
    out = run(html, "blog/post.html", images).html.decode()
    assert 'src="img/x.1c2e3f9a.100w.jpg"' in out
    assert 'srcset="img/x.3f9a1c2e.100w.avif 100w"' in out


# --- charsets and line endings ------------------------------------------------------------------------


def test_bom_is_kept() -> None:
    html = b'\xef\xbb\xbf<!doctype html><p>caf\xc3\xa9 <img src="/assets/coffee-A-I1hS5R.jpg" alt="\xc3\xa9"></p>'
    result = run(html, "index.html")
    assert result.html.startswith(b"\xef\xbb\xbf<!doctype html><p>caf\xc3\xa9 <picture data-assetpipe=")
    assert b'alt="\xc3\xa9"' in result.html
    assert run(result.html, "index.html").html == result.html


def test_utf16_with_bom() -> None:
    text = '<p>\u00e9<img src="/assets/coffee-A-I1hS5R.jpg"></p>'
    html = b"\xff\xfe" + text.encode("utf-16-le")
    result = run(html, "index.html")
    assert result.html.startswith(b"\xff\xfe")
    decoded = result.html[2:].decode("utf-16-le")
    assert decoded.startswith("<p>\u00e9<picture data-assetpipe=") and decoded.endswith("</picture></p>")


def test_windows_1252_document() -> None:
    html = (
        b'<!doctype html><html><head><meta charset="windows-1252"><title>Caf\xe9</title></head><body>\r\n'
        b'<p>\x93Quoted\x94 \x80 <img src="/assets/coffee-A-I1hS5R.jpg" alt="R\xe9sum\xe9 \x96 caf\xe9"></p>\r\n'
        b"</body></html>\r\n"
    )
    result = run(html, "index.html")
    assert result.rewritten == ("assets/coffee-A-I1hS5R.jpg",)
    assert_only_tags_replaced(
        html, result.html, [b'<img src="/assets/coffee-A-I1hS5R.jpg" alt="R\xe9sum\xe9 \x96 caf\xe9">']
    )
    assert b'alt="R\xe9sum\xe9 \x96 caf\xe9" srcset=' in result.html
    html5lib.HTMLParser(strict=True).parse(result.html)
    assert run(result.html, "index.html").html == result.html


def test_latin1_label_means_windows_1252() -> None:
    html = (
        b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
        b'<img src="/assets/coffee-A-I1hS5R.jpg" alt="\x80">'
    )
    result = run(html, "index.html")
    assert b'alt="\x80"' in result.html and result.rewritten


@pytest.mark.parametrize(
    "html",
    [
        b'<meta charset="windows-1252"><img src="/assets/coffee-A-I1hS5R.jpg" alt="\x81">',  # 0x81 is undefined
        b'<img src="/assets/coffee-A-I1hS5R.jpg" alt="\xff\xfe broken utf-8">',
    ],
)
def test_undecodable_document_is_returned_unchanged(html: bytes) -> None:
    result = run(html, "index.html")
    assert result.html == html
    assert result.rewritten == ()
    assert result.unreadable is not None and "not valid" in result.unreadable
    assert references(html, "index.html") == frozenset()


def test_line_endings_and_multiline_tags() -> None:
    html = (
        b'<p>\r\n\r<img\r\n  src="/assets/coffee-A-I1hS5R.jpg"\n\talt="x"\r\n/>\r\n'
        b'<img src="/assets/rocket-o3RhgSeM.jpg">\n'
    )
    result = run(html, "index.html")
    assert result.rewritten == ("assets/coffee-A-I1hS5R.jpg", "assets/rocket-o3RhgSeM.jpg")
    assert_only_tags_replaced(
        html,
        result.html,
        [b'<img\r\n  src="/assets/coffee-A-I1hS5R.jpg"\n\talt="x"\r\n/>', b'<img src="/assets/rocket-o3RhgSeM.jpg">'],
    )
    assert b'alt="x" srcset=' in result.html and b'decoding="async"\r\n/>' in result.html


def test_long_lines_across_parser_chunks() -> None:
    filler = b"x" * 25000
    html = filler + b'<img src="/assets/coffee-A-I1hS5R.jpg">' + filler + b'\n<img src="/assets/rocket-o3RhgSeM.jpg">'
    result = run(html, "index.html")
    assert result.rewritten == ("assets/coffee-A-I1hS5R.jpg", "assets/rocket-o3RhgSeM.jpg")
    assert_only_tags_replaced(
        html, result.html, [b'<img src="/assets/coffee-A-I1hS5R.jpg">', b'<img src="/assets/rocket-o3RhgSeM.jpg">']
    )


# --- references ------------------------------------------------------------------------------------------


def test_references_on_demo_pages() -> None:
    assert references((GOLDEN / "index.html").read_bytes(), "index.html") == {
        "assets/logo-pPmQi5N6.svg",
        "assets/coffee-A-I1hS5R.jpg",
        "assets/rocket-o3RhgSeM.jpg",  # the author's <source srcset> and the skipped <img>
        "assets/astronaut-K5G3V5PE.png",  # in the <template>: a superset is safe for watch mode
        "icons/github.svg",
    }
    assert references((GOLDEN / "about.html").read_bytes(), "about.html") == {
        "assets/logo-pPmQi5N6.svg",
        "assets/rocket-o3RhgSeM.jpg",
        "assets/astronaut-K5G3V5PE.png",
        "icons/arrow-right.svg",
        "icons/github.svg",
    }


def test_references_of_rewritten_page_include_the_original() -> None:
    out = run((GOLDEN / "blog" / "traps.html").read_bytes(), "blog/traps.html").html
    refs = references(out, "blog/traps.html")
    assert {"assets/coffee-A-I1hS5R.jpg", "assets/team photo, 2024 ü.jpg", "assets/rocket-o3RhgSeM.jpg"} <= refs
    assert "assets/rocket-o3RhgSeM.f0d37b21.640w.jpg" in refs


# --- pictures a later stage minified ---------------------------------------------------------------------


def said(html: bytes) -> list[tuple[str, list[tuple[str, dict[str, object]]]]]:
    """Every assetpipe <picture> of a page as a browser reads it: its mark, then each child element's name and
    attributes (decoded), srcset as (URL, descriptor) pairs and sizes with whitespace collapsed."""

    def meaning(name: str, value: str) -> object:
        if name == "srcset":
            return [tuple(c.split()) for c in value.split(",")]
        return " ".join(value.split()) if name == "sizes" else value

    found = []
    for picture in html5lib.parse(html, namespaceHTMLElements=False).iter("picture"):
        if "data-assetpipe" in picture.attrib:
            children = [(el.tag, {k: meaning(k, v) for k, v in el.attrib.items()}) for el in picture]
            found.append((picture.attrib["data-assetpipe"], children))
    return found


def with_extra_width(images: dict[str, PictureSpec], extra: int = 200) -> dict[str, PictureSpec]:
    """The same images with one more width in every candidate list."""

    def more(cands: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        first = cands[0]
        added = Candidate(first.file.replace(f".{first.width}w.", f".{extra}w."), extra)
        return tuple(sorted((*cands, added), key=lambda c: c.width))

    return {
        k: dataclasses.replace(
            v, sources=tuple((mime, more(cands)) for mime, cands in v.sources), fallback=more(v.fallback)
        )
        for k, v in images.items()
    }


@pytest.mark.parametrize(("name", "page"), PAGES)
def test_minified_pictures_are_kept(name: str, page: str) -> None:
    once = run((GOLDEN / name).read_bytes(), page)
    minified = minify_bytes("html", once.html)
    assert minified != once.html and b" />" not in minified  # the minifier did change our pictures
    again = run(minified, page)
    assert again.html == minified
    # like a picture already in assetpipe's own form, a kept picture is not "rewritten": nothing changed
    assert again.rewritten == () and again.reverted == ()
    assert said(minified) == said(once.html)


@pytest.mark.parametrize(("name", "page"), PAGES)
def test_minified_pictures_follow_a_changed_spec(name: str, page: str) -> None:
    source = (GOLDEN / name).read_bytes()
    once = run(source, page)
    minified = minify_bytes("html", once.html)
    newer = with_extra_width(IMAGES)
    updated = run(minified, page, newer)
    fresh = run(source, page, newer)
    # a 200w candidate changes nothing of a picture with `1x, 2x` at 320 and 640 px (traps.html's rocket)
    dense = "assets/rocket-o3RhgSeM.jpg" if page == "blog/traps.html" else None
    assert updated.rewritten == tuple(k for k in fresh.rewritten if k != dense)
    assert fresh.rewritten == once.rewritten
    assert said(updated.html) == said(fresh.html) != said(once.html)
    assert b".200w." in updated.html or not once.rewritten
    assert run(updated.html, page, newer).html == updated.html
    # the image gone: the author's <img> comes back, in the minified form the page now has
    back = run(minified, page, {})
    assert len(back.reverted) == len(once.rewritten) and b"<picture data-assetpipe" not in back.html


OWN = (
    '<p><picture data-assetpipe="/assets/coffee-A-I1hS5R.jpg">'
    '<source type="image/avif" srcset="/assets/coffee-A-I1hS5R.1c9e44a0.320w.avif 320w,'
    ' /assets/coffee-A-I1hS5R.1c9e44a0.600w.avif 600w" sizes="auto, 100vw">'
    '<source type="image/webp" srcset="/assets/coffee-A-I1hS5R.0a44e9c1.320w.webp 320w,'
    ' /assets/coffee-A-I1hS5R.0a44e9c1.600w.webp 600w" sizes="auto, 100vw">'
    '<img src="/assets/coffee-A-I1hS5R.44a01c9e.600w.jpg" alt="a &amp; b"'
    ' srcset="/assets/coffee-A-I1hS5R.44a01c9e.320w.jpg 320w, /assets/coffee-A-I1hS5R.44a01c9e.600w.jpg 600w"'
    ' sizes="auto, 100vw" width="600" height="400" loading="lazy" decoding="async"></picture></p>'
)
AVIF = "/assets/coffee-A-I1hS5R.1c9e44a0.320w.avif 320w, /assets/coffee-A-I1hS5R.1c9e44a0.600w.avif 600w"
JPG = "/assets/coffee-A-I1hS5R.44a01c9e.320w.jpg 320w, /assets/coffee-A-I1hS5R.44a01c9e.600w.jpg 600w"


def test_own_picture_is_what_the_rewrite_writes() -> None:
    assert run(b'<p><img src="/assets/coffee-A-I1hS5R.jpg" alt="a &amp; b"></p>', "index.html").html == OWN.encode()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # whitespace inside the tags and between the picture's elements, self-closing slashes
        ('"><source', '">\n  <source'),
        ('"></picture>', '" />\n</picture>'),
        (' sizes="auto, 100vw">', '\n\tsizes="auto, 100vw"  />'),
        ('<img src="', '<img\r\n src = "'),
        # quoting: unquoted, single quotes, entities
        ('data-assetpipe="/assets/coffee-A-I1hS5R.jpg"', "data-assetpipe=/assets/coffee-A-I1hS5R.jpg"),
        ('src="/assets/coffee-A-I1hS5R.44a01c9e.600w.jpg"', "src=/assets/coffee-A-I1hS5R.44a01c9e.600w.jpg"),
        ('alt="a &amp; b"', "alt='a & b'"),
        ('loading="lazy"', "loading=&#108;azy"),
        ('type="image/avif"', "type='image&#x2F;avif'"),
        # srcset and sizes: the same candidates, other whitespace
        (f'srcset="{AVIF}"', 'srcset="  ' + AVIF.replace(", ", " ,\n ") + '  "'),
        (f'srcset="{JPG}"', f'srcset="{JPG.replace(", ", ",")}"'),
        ('sizes="auto, 100vw" width', 'sizes=" auto ,\n100vw " width'),
        # attribute order and case, in the <img> (ours moved among the author's too) and in a <source>
        (
            'width="600" height="400" loading="lazy" decoding="async"',
            'decoding="async" HEIGHT="400" Width=600 loading="lazy"',
        ),
        ('alt="a &amp; b" srcset=', 'alt="a &amp; b" width="600" srcset='),
        (
            '<source type="image/avif" srcset="' + AVIF + '" sizes="auto, 100vw">',
            '<SOURCE sizes="auto, 100vw" srcset="' + AVIF + '" TYPE="image/avif">',
        ),
    ],
)
def test_own_picture_variations_are_kept(old: str, new: str) -> None:
    assert OWN.count(old) >= 1
    variant = OWN.replace(old, new, 1).encode()
    result = run(variant, "index.html")
    assert result.html == variant
    assert result.rewritten == ()
    assert run(variant, "index.html", {}).reverted == ("/assets/coffee-A-I1hS5R.jpg",)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('sizes="auto, 100vw">', 'sizes="100vw">'),  # another sizes
        (f'srcset="{AVIF}"', f'srcset="{AVIF.replace(" 600w", " 601w")}"'),  # another descriptor
        (f'srcset="{AVIF}"', f'srcset="{AVIF.replace(".600w.avif", ".600w.AVIF")}"'),  # another URL
        (f'srcset="{AVIF}"', f'srcset="{AVIF.split(",")[0]}"'),  # a candidate less
        ('type="image/avif"', 'type="image/webp"'),
        ('<source type="image/webp"', '<source media="print" type="image/webp"'),  # an attribute more
        (' decoding="async"', ""),  # an attribute less
        ('loading="lazy"', 'loading="eager"'),  # ours, with another value
        ('src="/assets/coffee-A-I1hS5R.44a01c9e.600w.jpg"', 'src="/assets/coffee-A-I1hS5R.44a01c9e.320w.jpg"'),
    ],
)
def test_own_picture_that_says_something_else_is_rendered_again(old: str, new: str) -> None:
    variant = OWN.replace(old, new, 1).encode()
    assert variant != OWN.encode()
    result = run(variant, "index.html")
    assert result.html == OWN.encode()
    assert result.rewritten == ("assets/coffee-A-I1hS5R.jpg",)


def test_sources_in_another_order_are_rendered_again() -> None:
    start, middle, end = OWN.index("<source"), OWN.index('<source type="image/webp"'), OWN.index("<img")
    swapped = OWN[:start] + OWN[middle:end] + OWN[start:middle] + OWN[end:]
    assert run(swapped.encode(), "index.html").html == OWN.encode()


def test_minified_src_is_requoted_for_the_authors_img() -> None:
    images = {"assets/my photo.jpg": spec("assets/my photo.jpg", 100, 100, "jpg", (100,))}
    html = run(b"<p><img src='/assets/my photo.jpg' alt=x></p>", "index.html", images).html
    minified = minify_bytes("html", html)
    assert b"src=/assets/my%20photo.1c2e3f9a.100w.jpg" in minified  # the author's quotes are gone
    assert run(minified, "index.html", images).html == minified
    back = run(minified, "index.html", {})
    assert back.html == b'<p><img src="/assets/my photo.jpg" alt=x></p>'
    assert said(run(minified, "index.html", with_extra_width(images)).html) == said(
        run(html, "index.html", with_extra_width(images)).html
    )
