"""Layout-aware widths (issue 23, item 3): an `<img>` the author gave a width in CSS px gets the renditions at
that width and twice it, as `1x, 2x` candidates; every other one `w` descriptors with `sizes`; SVG `<img>`
tags get the SVG's own size. Real builds, real encodes."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from PIL import Image, ImageDraw

from assetpipe.html.layout import author_width, by_density
from assetpipe.html.picture import Candidate
from assetpipe.html.svgsize import SvgSize, size_of

from .conftest import snapshot

PHOTO = "img/photo.jpg"  # 1000 x 750


def photo(width: int = 1000, height: int = 750) -> bytes:
    """A photo-like JPEG: gradients and shapes, which AVIF and WebP encode smaller than JPEG at every width."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for i in range(12):
        draw.ellipse((i * width // 14, i * height // 20, i * width // 14 + width // 5, i * height // 20 + height // 4),
                     fill=(40 + i * 17, 200 - i * 11, 90 + i * 9))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def make_site(root: Path, pages: dict[str, str], images: dict[str, bytes] | None = None) -> Path:
    for rel, body in pages.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"<!doctype html><html><head><title>t</title></head><body>\n{body}\n</body></html>\n")
    for rel, data in (images if images is not None else {PHOTO: photo()}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def build(cli: Callable[..., Result], site: Path, cache: Path) -> dict:
    result = cli("build", str(site), "--cache-dir", str(cache), "--no-compress", "-q")
    assert result.exit_code == 0, result.output
    return json.loads((site / ".assetpipe" / "manifest.json").read_text())["files"]


def widths(files: dict, image: str = PHOTO, fmt: str = "avif") -> list[int]:
    return sorted(v["width"] for v in files[image]["image"]["variants"] if v["format"] == fmt)


def srcset(html: str, kind: str) -> str:
    """The srcset of the first `<source type=image/KIND>` (or of the `<img>` for `img`)."""
    pattern = r'<img [^>]*?srcset="([^"]*)"' if kind == "img" else rf'<source type="image/{kind}" srcset="([^"]*)"'
    found = re.search(pattern, html)
    assert found is not None, html
    return found.group(1)


def pixel_width(site: Path, url: str) -> int:
    with Image.open(site / url.lstrip("/")) as image:
        return image.width


# --- the rule, pure -------------------------------------------------------------------------------------


def test_the_author_width_from_the_attribute_or_an_inline_style_in_px() -> None:
    assert author_width({"width": "300"}) == 300
    assert author_width({"width": " 300 "}) == 300
    assert author_width({"style": "border: 0; width: 250px"}) == 250
    assert author_width({"style": "WIDTH:250.5PX !important"}) == 251
    assert author_width({"width": "300", "style": "width: 200px"}) == 200  # CSS wins over the attribute
    assert author_width({"style": "width: 200px; width: 40%"}) is None  # the last declaration counts
    for style in ("width: 50%", "width: 20em", "width: 3rem", "width: 40vw", "width: calc(100% - 2px)",
                  "width: auto", "width: var(--w)"):
        assert author_width({"width": "300", "style": style}) is None, style  # the layout decides
    assert author_width({"style": "max-width: 300px"}) is None  # max-width alone is not a width
    assert author_width({"style": "max-width: 300px", "width": "300"}) == 300
    assert author_width({"style": "/* width: 9px */ height: 10px"}) is None
    for value in ("50%", "auto", "12.5", "", "0", "-3"):
        assert author_width({"width": value}) is None, value
    assert author_width({"width": "300", "sizes": "50vw"}) is None  # the author chose `w` descriptors


def test_1x_and_2x_are_the_smallest_candidates_wide_enough_never_an_upscale() -> None:
    cands = [Candidate(f"a.{w}w.avif", w) for w in (300, 320, 600, 640, 1000)]
    assert [(c.width, d) for c, d in by_density(cands, 300)] == [(300, "1x"), (600, "2x")]
    assert [(c.width, d) for c, d in by_density(cands, 600)] == [(600, "1x"), (1000, "2x")]  # capped at the source
    assert [(c.width, d) for c, d in by_density(cands, 1000)] == [(1000, "1x")]
    assert [(c.width, d) for c, d in by_density(cands, 1400)] == [(1000, "1x")]


# --- builds ---------------------------------------------------------------------------------------------


def test_a_width_attribute_gets_1x_and_2x_renditions_at_that_width_and_twice_it(cli, tmp_path) -> None:
    site = make_site(tmp_path / "dist", {"index.html": f'<img src="/{PHOTO}" alt="p" width="300">'})
    files = build(cli, site, tmp_path / "cache")
    html = (site / "index.html").read_text()
    for fmt, ext in (("avif", "avif"), ("webp", "webp"), ("img", "jpg")):
        value = srcset(html, fmt)
        candidates = [c.strip().split(" ") for c in value.split(",")]
        assert [d for _, d in candidates] == ["1x", "2x"], value
        assert [pixel_width(site, url) for url, _ in candidates] == [300, 600]
        assert all(url.endswith(f".{w}w.{ext}") for (url, _), w in zip(candidates, (300, 600), strict=True))
    assert "sizes=" not in html  # x descriptors need none
    assert 'width="300" srcset=' in html and 'height="225"' in html  # the aspect-ratio height
    # shown only at 300 px: 300, 600 and the own width, not the configured 320/640
    assert widths(files) == widths(files, fmt="jpeg") == [300, 600, 1000]
    variant = next(v for v in files[PHOTO]["image"]["variants"] if v["width"] == 600 and v["format"] == "avif")
    assert re.fullmatch(r"img/photo\.[0-9a-f]{8}\.600w\.avif", variant["file"]) and variant["height"] == 450


def test_inline_style_px_counts_and_other_units_do_not(cli, tmp_path) -> None:
    site = make_site(tmp_path / "dist", {
        "a.html": f'<img src="/{PHOTO}" alt="" style="width: 250px">',
        "b.html": f'<img src="/{PHOTO}" alt="" width="300" style="width: 50%">',
        "c.html": f'<img src="/{PHOTO}" alt="" style="max-width: 400px">',
        "d.html": f'<img src="/{PHOTO}" alt="" width="20em">',
    })
    files = build(cli, site, tmp_path / "cache")
    a = (site / "a.html").read_text()
    assert srcset(a, "avif").endswith(".500w.avif 2x") and "sizes=" not in a
    assert 'style="width: 250px" srcset=' in a and 'width="250" height="188"' in a  # 187.5 rounded half up
    for page in ("b.html", "c.html", "d.html"):
        html = (site / page).read_text()
        assert re.fullmatch(r"(\S+ \d+w, )*\S+ 1000w", srcset(html, "avif")), page
        assert 'sizes="100vw"' in html, page
    assert widths(files) == [250, 320, 500, 640, 1000]  # 250/500 for a.html, the configured ones for the others


def test_2x_is_capped_at_the_source_and_equal_to_it(cli, tmp_path) -> None:
    site = make_site(tmp_path / "dist", {"a.html": f'<img src="/{PHOTO}" alt="" width="600">',
                                         "b.html": f'<img src="/{PHOTO}" alt="" width="500">'})
    files = build(cli, site, tmp_path / "cache")
    a, b = ((site / p).read_text() for p in ("a.html", "b.html"))
    assert re.fullmatch(r"\S+\.600w\.avif 1x, \S+\.1000w\.avif 2x", srcset(a, "avif"))  # 1200 capped at 1000
    assert re.fullmatch(r"\S+\.500w\.avif 1x, \S+\.1000w\.avif 2x", srcset(b, "avif"))  # 2x is the source
    assert pixel_width(site, srcset(a, "img").split(", ")[1].split(" ")[0]) == 1000
    assert widths(files) == [500, 600, 1000]  # never 1200


def test_an_image_no_wider_than_its_author_width_gets_w_descriptors(cli, tmp_path) -> None:
    """Shown at its own width or wider (often the intrinsic size written against layout shift, shrunk by
    CSS on a phone), there is no 2x to give: `w` descriptors and `sizes`, never an upscale."""
    site = make_site(tmp_path / "dist", {"a.html": f'<img src="/{PHOTO}" alt="" width="1200">',
                                         "b.html": f'<img src="/{PHOTO}" alt="" width="1000" height="750">'})
    files = build(cli, site, tmp_path / "cache")
    for page in ("a.html", "b.html"):
        html = (site / page).read_text()
        assert srcset(html, "avif").endswith(".1000w.avif 1000w") and 'sizes="100vw"' in html, page
    assert widths(files) == [320, 640, 1000]
    assert 'width="1200" srcset' in (site / "a.html").read_text()
    assert 'height="900"' in (site / "a.html").read_text()


def test_the_union_across_pages_and_each_page_its_own_candidates(cli, tmp_path) -> None:
    site = make_site(tmp_path / "dist", {"a.html": f'<img src="/{PHOTO}" alt="" width="300">',
                                         "b.html": f'<img src="/{PHOTO}" alt="">',
                                         "c.html": f'<p><img src="/{PHOTO}" alt="" width="512"></p>'})
    files = build(cli, site, tmp_path / "cache")
    assert widths(files) == [300, 320, 512, 600, 640, 1000]
    b = (site / "b.html").read_text()
    # a page without a width: the configured widths only, not those made for another page's 1x/2x
    assert re.fullmatch(r"\S+\.320w\.avif 320w, \S+\.640w\.avif 640w, \S+\.1000w\.avif 1000w", srcset(b, "avif"))
    assert re.fullmatch(r"\S+\.512w\.avif 1x, \S+\.1000w\.avif 2x", srcset((site / "c.html").read_text(), "avif"))
    # a page stops showing it at 300 px: those renditions go, the others stay as they were
    (site / "a.html").write_text((site / "a.html").read_text().replace('width="300"', 'width="512"'))
    before = snapshot(site)
    files = build(cli, site, tmp_path / "cache")
    assert widths(files) == [320, 512, 640, 1000]
    after = snapshot(site)
    assert {k for k in before if k not in after} == {
        v for v in before if re.search(r"\.(300|600)w\.", v)}


def test_the_authors_srcset_and_sizes_are_theirs(cli, tmp_path) -> None:
    pages = {
        "a.html": f'<img src="/{PHOTO}" srcset="/{PHOTO} 1x" alt="" width="300">',
        "b.html": f'<img src="/{PHOTO}" srcset="/{PHOTO} 1000w, /{PHOTO} 2x" alt="" width="300">',
        "c.html": f'<img src="/{PHOTO}" sizes="50vw" alt="" width="300">',
    }
    site = make_site(tmp_path / "dist", pages)
    build(cli, site, tmp_path / "cache")
    for page in ("a.html", "b.html"):
        assert pages[page] in (site / page).read_text()  # never replaced
    c = (site / "c.html").read_text()
    assert 'sizes="50vw"' in c and re.search(r"\.1000w\.avif 1000w", srcset(c, "avif"))  # their sizes: w


def test_a_second_build_changes_nothing_and_incremental_equals_clean(cli, tmp_path) -> None:
    pages = {"a.html": f'<img src="/{PHOTO}" alt="" width="300">', "b.html": f'<img src="/{PHOTO}" alt="">'}
    site = make_site(tmp_path / "dist", pages)
    build(cli, site, tmp_path / "cache")
    first = snapshot(site)
    build(cli, site, tmp_path / "cache")
    assert snapshot(site) == first
    # incremental: the author's page changes to another width, built over the earlier output and cache
    (site / "a.html").write_text((site / "a.html").read_text().replace("width=\"300\"", "width=\"400\""))
    build(cli, site, tmp_path / "cache")
    clean = make_site(tmp_path / "clean", {**pages, "a.html": pages["a.html"].replace("300", "400")})
    build(cli, clean, tmp_path / "fresh-cache")
    assert snapshot(site) == snapshot(clean)
    assert "400w.avif 1x" in (site / "a.html").read_text()


def test_a_width_already_encoded_is_a_cache_hit(cli, tmp_path) -> None:
    """2 x 320 is the configured 640: one cache key, one name, encoded once, on disk or from the cache."""
    site = make_site(tmp_path / "dist", {"b.html": f'<img src="/{PHOTO}" alt="">'})
    build(cli, site, tmp_path / "cache")
    names = set(snapshot(site))
    (site / "b.html").write_text((site / "b.html").read_text().replace('alt=""', 'alt="" width="320"'))
    result = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--no-compress", "--json")
    assert json.loads(result.stdout)["encoded"] == 0
    assert re.fullmatch(r"\S+\.320w\.avif 1x, \S+\.640w\.avif 2x", srcset((site / "b.html").read_text(), "avif"))
    clean = make_site(tmp_path / "clean", {"b.html": f'<img src="/{PHOTO}" alt="" width="320">'})
    result = cli("build", str(clean), "--cache-dir", str(tmp_path / "cache"), "--no-compress", "--json")
    assert json.loads(result.stdout)["encoded"] == 0
    assert {k for k in snapshot(clean) if "w." in k} <= names


# --- SVG ------------------------------------------------------------------------------------------------


def test_svg_size_from_its_attributes_or_viewbox() -> None:
    assert size_of(b'<svg xmlns="http://www.w3.org/2000/svg" width="24" height="12px"/>') == SvgSize(24, 12, True)
    assert size_of(b'<?xml version="1.0"?>\n<!-- c -->\n<!DOCTYPE svg [ <!ENTITY a "b>c"> ]>\n'
                   b'<svg viewBox="0 0 300 150"><g/></svg>') == SvgSize(300, 150, False)  # a ratio only
    assert size_of(b'<svg width="200" viewBox="0,0,300,150"/>') == SvgSize(200, 100, True)
    assert size_of(b'<svg height="75" viewBox="-5 -5 300 150"/>') == SvgSize(150, 75, True)
    assert size_of(b'\xef\xbb\xbf<svg:svg xmlns:svg="x" width="10.5" height="3e1">') == SvgSize(11, 30, True)
    for broken in (b'<svg width="100%" viewBox="0 0 10 10"/>', b'<svg width="1em" height="1em" viewBox="0 0 2 2">',
                   b'<svg width="200"/>', b"not svg", b"", b'<svg viewBox="0 0 0 10"/>', b"<html><svg>",
                   b'<svg width="&w;" height="2">', b"<svg width='3' height='4'", b"<!-- never closed <svg>"):
        assert size_of(broken) is None, broken


def test_svg_img_tags_get_width_and_height_and_nothing_else(cli, tmp_path) -> None:
    svgs = {"icons/a.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="48" height="24"><path d="M0 0"/></svg>',
            "icons/b.svg": b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 150"><path d="M0 0"/></svg>',
            "icons/c.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="50%"><path d="M0 0"/></svg>',
            "icons/d.svg": b"<svg broken"}
    body = ('<img src="icons/a.svg" alt="a">\n<img src="icons/b.svg" alt="b" class=x>\n'
            '<img src="icons/b.svg" alt="c" width="100">\n<img src="icons/b.svg" alt="d" height=30 />\n'
            '<img src="icons/a.svg" alt="e" width="10" height="10">\n<img src="icons/c.svg" alt="f">\n'
            '<img src="icons/d.svg" alt="g">\n<img src="icons/a.svg" alt="h" width="50%">\n'
            '<img src="icons/a.svg" alt="i" style="width: 96px">\n<img src="icons/a.svg" alt="j" style="width: 2em">')
    site = make_site(tmp_path / "dist", {"index.html": body}, svgs)
    build(cli, site, tmp_path / "cache")
    html = (site / "index.html").read_text()
    expected = ('<img src="icons/a.svg" alt="a" width="48" height="24">\n'
                '<img src="icons/b.svg" alt="b" class=x>\n'  # a viewBox alone: as wide as its container
                '<img src="icons/b.svg" alt="c" width="100" height="50">\n'
                '<img src="icons/b.svg" alt="d" height=30 width="60" />\n'
                '<img src="icons/a.svg" alt="e" width="10" height="10">\n<img src="icons/c.svg" alt="f">\n'
                '<img src="icons/d.svg" alt="g">\n<img src="icons/a.svg" alt="h" width="50%">\n'
                '<img src="icons/a.svg" alt="i" style="width: 96px" width="96" height="48">\n'
                '<img src="icons/a.svg" alt="j" style="width: 2em">')
    assert expected in html
    for rel, data in svgs.items():
        assert (site / rel).read_bytes() == data  # never changed
    first = snapshot(site)
    build(cli, site, tmp_path / "cache")
    assert snapshot(site) == first


def test_a_preload_follows_the_pictures_1x_2x() -> None:
    from assetpipe.html.picture import PictureSpec
    from assetpipe.html.rewrite import rewrite

    def cands(ext: str) -> tuple[Candidate, ...]:
        return tuple(Candidate(f"img/photo.abcdef12.{w}w.{ext}", w) for w in (300, 320, 600, 640, 1000))

    spec = PictureSpec(PHOTO, 1000, 750, (("image/avif", cands("avif")),), "image/jpeg", cands("jpg"), (300, 600))
    page = (f'<link rel="preload" as="image" href="/{PHOTO}"><img src="/{PHOTO}" alt="" width="300">'
            f'<img src="/{PHOTO}" alt="">').encode()
    html = rewrite(page, "index.html", {PHOTO: spec}).html.decode()
    assert ('<link rel="preload" as="image" href="/img/photo.jpg" imagesrcset="/img/photo.abcdef12.300w.avif 1x, '
            '/img/photo.abcdef12.600w.avif 2x" type="image/avif" data-assetpipe-preload="">') in html
    # the second <img>, without a width: `w` over the configured widths, not the 300/600 made for the first
    assert ('srcset="/img/photo.abcdef12.320w.avif 320w, /img/photo.abcdef12.640w.avif 640w, '
            '/img/photo.abcdef12.1000w.avif 1000w" sizes="100vw"') in html
    assert rewrite(html.encode(), "index.html", {PHOTO: spec}).html.decode() == html
