"""`assetpipe build --headers netlify|cloudflare`: DIR/_headers, read back the way each platform reads it.

The reader here is this file's own, from the platforms' documentation and sources: Cloudflare Pages
(workers-sdk's rules engine) matches a path with `*` as any run of characters and the rest as written;
Netlify (netlify/build's headers-parser) ignores case, lets a trailing slash be absent, makes the slash
before a whole-segment `*` optional and leaves `.` in a segment with a `*` unescaped. Both apply every
matching rule and join a header set twice with a comma. So, read either way, every file of the upload plan
must match exactly one rule, with the plan's Cache-Control; a page's pretty URL (`/about`) one rule with
the page's value, or none (the platform's default revalidates it); a sidecar none, or one with its
original's value.
"""

from __future__ import annotations

import fnmatch
import json
import random
import re
import string
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from assetpipe.naming import content_hash

from .conftest import HASH_TREE, make_hash_tree

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"


# --- reading _headers as the platforms do -----------------------------------------------------------


def parse(text: str) -> list[tuple[str, dict[str, str]]]:
    rules: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("/"):
            rules.append((line.strip(), {}))
        else:
            name, _, value = line.strip().partition(":")
            rules[-1][1][name.strip().lower()] = value.strip()
    return rules


def cloudflare_matches(pattern: str, path: str) -> bool:
    return fnmatch.fnmatchcase(path, pattern)  # `*` crosses slashes in fnmatch too; our paths have no `?` or `[`


def netlify_matches(pattern: str, path: str) -> bool:
    regex = ""
    for part in (p for p in pattern.split("/") if p):
        if part == "*":
            regex += "/?(.*)"
        elif "*" in part:
            regex += "/" + part.replace("*", "(.*)")
        else:
            regex += "/" + re.escape(part)
    return re.match(f"^{regex or '/'}/?$", path, re.IGNORECASE) is not None


PLATFORMS = {"cloudflare": cloudflare_matches, "netlify": netlify_matches}


def expected(site: Path, cli) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """From the upload plan: file URL -> Cache-Control, pretty URL -> the page's, sidecar URL -> its original's."""
    plan = json.loads(cli("upload", str(site), "--dry-run", "--json").stdout)
    files: dict[str, str] = {}
    pretty: dict[str, str] = {}
    sidecars: dict[str, str] = {}
    for item in (i for phase in plan["phases"] for i in phase):
        url = "/" + quote(item["file"])
        original = item["file"].rsplit(".", 1)[0]
        same_url = item["content_type"].startswith("image/") and any(
            i["file"] == original for phase in plan["phases"] for i in phase)  # hero.jpg.avif
        if item["content_encoding"] or same_url:
            sidecars[url] = item["cache_control"]
            continue
        files[url] = item["cache_control"]
        if item["file"].endswith(".html"):
            page = url.removesuffix("index.html") if url.endswith("/index.html") else url.removesuffix(".html")
            pretty[page] = item["cache_control"]
    return files, {u: v for u, v in pretty.items() if u not in files}, sidecars


def check(text: str, files: dict[str, str], pretty: dict[str, str], sidecars: dict[str, str]) -> None:
    rules = parse(text)
    for platform, matches in PLATFORMS.items():
        for urls, needed in ((files, True), (pretty, False), (sidecars, False)):
            for url, value in urls.items():
                hits = [headers.get("cache-control") for pattern, headers in rules if matches(pattern, url)]
                assert hits == [value] or (not needed and hits == []), (platform, url, value, hits)


def built(cli, site: Path, tmp_path: Path, *args: str):
    return cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), *args)


# --- the demo site, and the tree whose names test the hash rule ---------------------------------------


@pytest.mark.parametrize("form", ["netlify", "cloudflare"])
def test_every_file_gets_its_plan_value_and_nothing_else(cli, tmp_path: Path, site: Path, form: str) -> None:
    hashes = make_hash_tree(tmp_path / "hashes")
    for root in (site, hashes):
        result = built(cli, root, tmp_path, "--headers", form)
        assert result.exit_code == 0, result.stderr
        text = (root / "_headers").read_text()
        assert text.startswith(f"# Written by `assetpipe build --headers {form}`")
        check(text, *expected(root, cli))
    rules = parse((hashes / "_headers").read_text())
    reaching = {url: [p for p, _ in rules if cloudflare_matches(p, url)] for url in
                ("/icons/arrow-90deg-up.svg", "/icons/grid-1x2-fill.svg", "/icons/x-circle.svg")}
    assert len({tuple(found) for found in reaching.values()}) == 1  # one rule for the icons, words or not
    assert len(rules) <= 10 and len(parse((site / "_headers").read_text())) <= 20
    assert set(HASH_TREE) - {".vite/manifest.json"} <= {url[1:] for url in expected(hashes, cli)[0]}


def test_a_folder_and_a_file_named_alike(cli, tmp_path: Path) -> None:
    """Netlify reads `/icons/*` as `/icons` followed by anything: `/icons-sprite-Ab3dE5f9.svg` too. A page
    `about.html` (also at `/about`) beside a folder `about/`; a file `team` beside `team.html`, whose pretty
    URL it is."""
    site = tmp_path / "dist"
    for rel in ("icons/a.svg", "icons/b.svg", "icons/c.svg", "icons-sprite-Ab3dE5f9.svg", "about.html",
                "about/team.html", "about/data.json", "about/more.json", "index.html", "team", "team.html"):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(f"<!-- {rel} -->\n")
    for form in ("netlify", "cloudflare"):
        assert built(cli, site, tmp_path, "--headers", form).exit_code == 0
        check((site / "_headers").read_text(), *expected(site, cli))


def test_the_file_is_assetpipes_own_and_a_users_is_never_overwritten(cli, tmp_path: Path, site: Path) -> None:
    args = ("--headers", "netlify")
    assert built(cli, site, tmp_path, *args).exit_code == 0
    text = (site / "_headers").read_text()
    assert built(cli, site, tmp_path, *args).exit_code == 0 and (site / "_headers").read_text() == text
    plan = json.loads(cli("upload", str(site), "--dry-run", "--json").stdout)
    assert "_headers" not in [i["file"] for p in plan["phases"] for i in p]
    assert not any(".br" in p or ".gz" in p or p.startswith("/.vite") for p, _ in parse(text))
    (site / "_headers").write_text("/*\n  X-Mine: 1\n")
    result = built(cli, site, tmp_path, *args)
    assert result.exit_code == 2 and "_headers: exists and was not written by assetpipe" in result.stderr
    assert (site / "_headers").read_text() == "/*\n  X-Mine: 1\n"


# --- size: thousands of files, and a tree that cannot fit ---------------------------------------------


def write_big_site(root: Path) -> int:
    """A Vite-like build of 3,000-odd files: hashed chunks and fonts that Vite's manifest lists, their
    source maps, 2,400 unhashed icons among which 3 look hashed, public images (with their variants),
    pages at pretty URLs, data files. Returns how many files were written."""
    rng = random.Random(24)
    vite: dict[str, dict[str, object]] = {}
    files: dict[str, bytes] = {}
    for i in range(300):
        token = "".join(rng.choice(string.ascii_letters + string.digits + "_-") for _ in range(8))
        name = f"assets/{rng.choice(['chunk', 'Panel', 'vendor'])}{i}-{token}"
        files[f"{name}.js"] = f"export const v{i} = {i}\n//# sourceMappingURL={name[7:]}.js.map\n".encode()
        files[f"{name}.js.map"] = b'{"version":3,"mappings":""}\n'
        vite[f"src/c{i}.ts"] = {"file": f"{name}.js"}
    for i in range(100):
        files[f"assets/font{i}-{i:02d}AbCdEf.woff2"] = bytes(range(64)) * 4
        vite[f"src/f{i}.woff2"] = {"file": f"assets/font{i}-{i:02d}AbCdEf.woff2"}
    words = ["arrow", "grid", "circle", "square", "chevron", "bell", "cart", "person", "star", "heart", "box", "x"]
    for i in range(2400):
        files[f"icons/{rng.choice(words)}-{rng.choice(words)}-{i}.svg"] = f'<svg id="i{i}"/>\n'.encode()
    for name in ("arrow-90deg-up", "grid-1x2-fill", "icon-Ab3dE5f9"):
        files[f"icons/{name}.svg"] = f'<svg id="{name}"/>\n'.encode()
    for i in range(150):
        files[f"docs/guide/page{i}.html"] = f"<!doctype html><title>{i}</title>\n".encode()
        files[f"data/set{i}.json"] = f'{{"n": {i}}}\n'.encode()
    files["index.html"] = b"<!doctype html><title>home</title>\n"
    files["about.html"] = b"<!doctype html><title>about</title>\n"
    files[".vite/manifest.json"] = json.dumps(vite).encode()
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "photos").mkdir()
    for i in range(3):
        Image.new("RGB", (48, 32), (40 * i, 90, 160)).save(root / "photos" / f"shot{i}.png")
    return len(files) + 3


def test_thousands_of_files_fit_cloudflare_pages(cli, tmp_path: Path) -> None:
    """Issue 24: the corpus site's _headers had 2,253 rules (6,761 lines), one per icon, where Cloudflare
    Pages reads 100."""
    site = tmp_path / "dist"
    assert write_big_site(site) > 3000
    result = built(cli, site, tmp_path, "--headers", "cloudflare", "--no-compress")
    assert result.exit_code == 0, result.stderr
    text = (site / "_headers").read_text()
    rules = parse(text)
    assert len(rules) <= 40 and len(text.splitlines()) <= 3 + 3 * 40
    assert max(map(len, text.splitlines())) <= 2000
    check(text, *expected(site, cli))
    patterns = dict(rules)
    assert patterns["/assets/*.js"] == patterns["/assets/*.woff2"] == {"cache-control": IMMUTABLE}
    assert patterns["/assets/*.map"] == patterns["/data/*"] == {"cache-control": SHORT}
    assert patterns["/docs/guide/*"] == {"cache-control": "no-cache"}  # the pages and their pretty URLs
    assert patterns["/icons/icon-Ab3dE5f9.svg"] == {"cache-control": IMMUTABLE}  # hashed by its name alone


def tangled(root: Path, count: int) -> None:
    """Files whose Cache-Control no pattern can group: random names, half of them hashed by name."""
    rng = random.Random(5)
    letters = string.ascii_lowercase
    made = 0
    while made < count:
        token = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(8))
        word = "".join(rng.choice(letters) for _ in range(8))
        stem = "".join(rng.choice(letters) for _ in range(6))
        if content_hash(f"x-{token}.txt"):
            (root / "f").mkdir(parents=True, exist_ok=True)
            (root / "f" / f"{stem}-{token}.txt").write_text(token)
            (root / "f" / f"{stem[::-1]}-{word}.txt").write_text(word)
            made += 2


def test_a_tree_that_cannot_fit_cloudflare_is_refused_and_netlify_warned(cli, tmp_path: Path) -> None:
    site = tmp_path / "dist"
    tangled(site, 300)
    result = built(cli, site, tmp_path, "--headers", "cloudflare", "--no-compress")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if "_headers" in line]
    assert re.fullmatch(r"warning: _headers: \d{3} rules, and Cloudflare Pages reads at most 100 \(the most under "
                        r"/f/: \d{3}\); .+", lines[0])
    assert lines[1:] == ["error: _headers: not written: Cloudflare Pages would not read it whole (see above)"]
    assert not (site / "_headers").exists()
    assert json.loads((site / ".assetpipe" / "manifest.json").read_text())["files"]  # the build itself is done
    result = built(cli, site, tmp_path, "--headers", "netlify", "--no-compress")
    assert result.exit_code == 0
    assert [line for line in result.stderr.splitlines() if "_headers" in line] == lines[:1]
    text = (site / "_headers").read_text()
    assert len(parse(text)) > 100
    check(text, *expected(site, cli))


# --- the merge itself, on many generated trees -------------------------------------------------------


def generated_values(seed: int) -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    """URLs as a build has them (folders, extensions, pages and pretty URLs, same-named files and folders,
    names differing in case) with values that agree in patches."""
    rng = random.Random(seed)
    folders = ["", "assets/", "icons/", "icons/sub/", "Icons2/", "docs/", "docs/a/", "img/"]
    stems = ["a", "ab", "abc", "icons", "docs", "main", "Main", "x-1", "x-2", "page", "img", "index"]
    exts = [".js", ".css", ".svg", ".SVG", ".map", ".js.map", ".html", ".png", ".woff2", ""]
    values: dict[str, str] = {}
    for _ in range(rng.randrange(5, 120)):
        rel = rng.choice(folders) + rng.choice(stems) + rng.choice(["", f"-{rng.randrange(30)}"]) + rng.choice(exts)
        if rel and not rel.endswith("/"):
            values["/" + quote(rel)] = "no-cache" if rel.endswith(".html") else rng.choice([IMMUTABLE, SHORT, SHORT])
    lowered: set[str] = set()
    for url in sorted(values):  # one spelling per name without case: Netlify cannot tell two apart
        if url.lower() in lowered:
            del values[url]
        lowered.add(url.lower())
    pretty = {url.removesuffix("index.html") if url.endswith("/index.html") else url.removesuffix(".html"): v
              for url, v in values.items() if url.endswith(".html")}
    pretty = {u: v for u, v in pretty.items() if u.lower() not in lowered}
    sidecars = {url + ".br": v for url, v in values.items() if rng.random() < 0.3}
    return {**values, **pretty}, sidecars, frozenset(pretty)


@pytest.mark.parametrize("seed", range(150))
def test_merged_rules_never_give_a_url_another_value(seed: int) -> None:
    from assetpipe.upload import headerrules

    values, sidecars, pretty = generated_values(seed)
    rules = headerrules.merge(values, sidecars, pretty)
    text = "".join(f"{rule.pattern}\n  Cache-Control: {rule.value}\n\n" for rule in rules)
    check(text, {u: v for u, v in values.items() if u not in pretty}, {u: values[u] for u in pretty}, sidecars)
    assert all(rule.pattern.count("*") <= 1 for rule in rules)
    assert not any(re.fullmatch(r"/[^/]*\*", rule.pattern) for rule in rules)  # no top-level `/d*`
