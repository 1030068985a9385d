"""The opt-in minify stage (issue 6): what is minified and what is left alone, in place and with --out,
cached and incremental; and that minified files behave the same: JS run in node, HTML rendered and SVG
rasterised in headless Chromium, before and after."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import brotli
import jsonschema
import pytest

from assetpipe.minify import minifier as minify

from .conftest import REPO, snapshot

FIXTURES = REPO / "fixtures" / "minify"
SCHEMA = json.loads((REPO / "config" / "manifest.schema.json").read_text())
NODE = shutil.which("node") or shutil.which("nodejs")
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def mixed(site: Path) -> Path:
    """The demo site plus hand-written unminified files of every type and every way of being left alone."""
    shutil.copytree(FIXTURES, site / "extra")
    return site


def manifest_of(root: Path) -> dict:
    return json.loads((root / ".assetpipe" / "manifest.json").read_text())


def build(cli, root: Path, cache: Path, *args: str, images: bool = False) -> dict:
    """A build; without the image stage unless asked, so the pages minified are the demo's own."""
    result = cli("build", str(root), "--cache-dir", str(cache), "--json", *args, *(() if images else ("--no-images",)))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    report["stderr"] = result.stderr
    return report


# --- what is minified, what is left alone ---------------------------------------------------------


def test_off_by_default(cli, mixed, cache_dir) -> None:
    before = snapshot(mixed)
    report = build(cli, mixed, cache_dir)
    assert report["minified"] == {"files": 0, "minifier_runs": 0, "saved": 0}
    after = snapshot(mixed)
    assert {rel: after[rel] for rel in before} == before
    assert not any("minified" in e for e in manifest_of(mixed)["files"].values())


def test_minify_flag_minifies_every_type_and_records_the_originals(cli, mixed, cache_dir) -> None:
    originals = {rel: (mixed / rel).read_bytes() for rel in snapshot(mixed)}
    report = build(cli, mixed, cache_dir, "--minify")
    files = manifest_of(mixed)["files"]
    jsonschema.Draft202012Validator(SCHEMA).validate(manifest_of(mixed))
    minified = {rel for rel, e in files.items() if "minified" in e}
    expected = {"index.html", "about.html", "extra/page.html", "extra/semantics.js", "extra/module.mjs",
                "extra/arity.js", "extra/names.js", "extra/shapes.svg", "extra/numbers.json", "data/products.json"}
    assert expected <= minified
    for rel in minified:
        entry, original, now = files[rel], originals[rel], (mixed / rel).read_bytes()
        assert entry["minified"] == {"original_size": len(original),
                                     "original_sha256": hashlib.sha256(original).hexdigest()}
        assert entry["size"] == len(now) < len(original)
        assert entry["sha256"] == hashlib.sha256(now).hexdigest()
        for codec, encoding in entry.get("encodings", {}).items():  # sidecars are of the minified bytes
            data = (mixed / encoding["file"]).read_bytes()
            assert (brotli.decompress(data) if codec == "br" else gzip.decompress(data)) == now
    assert report["minified"]["files"] == len(minified)
    assert report["minified"]["saved"] == sum(files[r]["minified"]["original_size"] - files[r]["size"]
                                              for r in minified)
    # Left exactly as they were: already minified (Vite's chunks and CSS), a source map reference,
    # syntax the minifier rejects, eval, source maps, other types.
    for rel in ("assets/index-2vZXRZ4C.js", "assets/vendor-w039_3iX.js", "assets/index-AVh2cVPR.css",
                "assets/index-2vZXRZ4C.js.map", "extra/with-map.js", "extra/broken.js", "extra/uses-eval.js",
                "robots.txt", "site.webmanifest"):
        assert (mixed / rel).read_bytes() == originals[rel], rel
        assert "minified" not in files[rel], rel
    assert f"{len(minified)} minified (saved" in report["stderr"]


def test_files_left_alone_are_reported_once_each(cli, mixed, cache_dir) -> None:
    report = build(cli, mixed, cache_dir, "--minify")
    warnings = {w["file"]: w["message"] for w in report["warnings"]}
    assert warnings["extra/with-map.js"] == ("has a source map reference; not minified "
                                             "(the minifier cannot update the map)")
    assert warnings["extra/broken.js"].startswith("not minified, left as it was: unexpected > in expression")
    assert warnings["extra/uses-eval.js"].startswith("uses eval or with")
    assert "assets/index-2vZXRZ4C.js" not in warnings  # already minified: quietly left alone
    assert report["exit_code"] == 0
    assert "warning: extra/broken.js: not minified, left as it was" in report["stderr"]


def test_per_type_config(cli, mixed, cache_dir, tmp_path) -> None:
    (tmp_path / "assetpipe.toml").write_text("[minify]\nhtml = true\nsvg = true\n")
    build(cli, mixed, cache_dir)
    minified = {rel for rel, e in manifest_of(mixed)["files"].items() if "minified" in e}
    assert {"index.html", "about.html", "extra/page.html", "extra/shapes.svg"} <= minified
    assert all(rel.endswith((".html", ".svg")) for rel in minified)


def test_unknown_minify_key_is_a_config_error(cli, site, tmp_path) -> None:
    (tmp_path / "assetpipe.toml").write_text("[minify]\nhtlm = true\n")
    result = cli("build", str(site), "--no-images")
    assert result.exit_code == 2
    assert result.stderr == "error: assetpipe.toml: minify.htlm: unknown key; did you mean `html`?\n"


def test_detection_rules() -> None:
    assert minify.looks_minified("a/jquery.min.js", b"var a = 1;\n" * 50)
    assert minify.looks_minified("chunk.js", b"x" * 5000 + b"\n")
    assert not minify.looks_minified("app.js", b"function f() {\n  return 1;\n}\n" * 40)
    assert minify.type_of("a.js.map", "application/json") is None
    assert minify.type_of("a.json", "application/json") == "json"
    assert minify.skip_reason("css", "a.css", b"a {\n  color: red;\n}\n/*# sourceMappingURL=a.css.map */\n")
    assert minify.skip_reason("html", "a.html", b"<p>\n with (care)\n</p>\n") is None
    assert minify.skip_reason("html", "a.html", b"<script>\nwith (o) { x }\n</script>\n")


def test_non_utf8_and_bom() -> None:
    with pytest.raises(minify.MinifyFailed, match="not UTF-8"):
        minify.minify_bytes("css", b"a { content: '\xe9' }\n")
    assert minify.minify_bytes("css", b"\xef\xbb\xbfa {\n  color: #ff0000;\n}\n") == b"\xef\xbb\xbfa{color:red}"


# --- cache, ledger, incremental -----------------------------------------------------------------


def test_warm_rebuild_minifies_nothing_and_changes_nothing(cli, mixed, cache_dir) -> None:
    build(cli, mixed, cache_dir, "--minify")
    contents = snapshot(mixed)
    report = build(cli, mixed, cache_dir, "--minify")
    assert report["minified"]["minifier_runs"] == 0
    assert report["encoded"] == 0 and report["written"] == 0 and report["removed"] == 0
    assert snapshot(mixed) == contents
    # Turning minification off later keeps the record: the files are still the minified forms.
    report = build(cli, mixed, cache_dir)
    assert report["written"] == 0 and snapshot(mixed) == contents


def test_incremental_equals_clean_and_a_rebuilt_file_is_a_fresh_original(cli, mixed, cache_dir, tmp_path) -> None:
    pristine = tmp_path / "pristine"
    shutil.copytree(mixed, pristine)
    build(cli, mixed, cache_dir, "--minify")
    # A new `vite build`: index.html is back as its unminified original, about.html changed.
    shutil.copy2(pristine / "index.html", mixed / "index.html")
    changed = (pristine / "about.html").read_text().replace("</body>", "<p>\n  new   paragraph\n</p>\n</body>")
    (mixed / "about.html").write_text(changed)
    report = build(cli, mixed, cache_dir, "--minify")
    assert report["minified"]["minifier_runs"] == 1  # about.html; index.html comes from the cache
    clean = tmp_path / "clean"
    shutil.copytree(pristine, clean)
    (clean / "about.html").write_text(changed)
    build(cli, clean, tmp_path / "clean-cache", "--minify")
    assert snapshot(mixed) == snapshot(clean)
    entry = manifest_of(mixed)["files"]["index.html"]
    assert entry["minified"]["original_size"] == (pristine / "index.html").stat().st_size


def test_wiped_dist_with_the_cache_minifies_nothing(cli, mixed, cache_dir, tmp_path) -> None:
    pristine = tmp_path / "pristine"
    shutil.copytree(mixed, pristine)
    build(cli, mixed, cache_dir, "--minify")
    clean = snapshot(mixed)
    shutil.rmtree(mixed)
    shutil.copytree(pristine, mixed)
    report = build(cli, mixed, cache_dir, "--minify")
    assert report["minified"]["minifier_runs"] == 0 and report["encoded"] == 0
    assert snapshot(mixed) == clean


def test_out_minifies_the_copy_and_never_the_folder(cli, mixed, cache_dir, tmp_path) -> None:
    before = snapshot(mixed)
    out = tmp_path / "out"
    build(cli, mixed, cache_dir, "--minify", "--out", str(out))
    assert snapshot(mixed) == before
    in_place = tmp_path / "in-place"
    shutil.copytree(mixed, in_place)
    build(cli, in_place, cache_dir, "--minify")
    got, want = snapshot(out), snapshot(in_place)
    got.pop(".assetpipe/outputs.json"), want.pop(".assetpipe/outputs.json")
    assert got == want
    report = build(cli, mixed, cache_dir, "--minify", "--out", str(out))
    assert report["written"] == 0 and report["minified"]["minifier_runs"] == 0


def test_dry_run_lists_the_minify_work_and_writes_nothing(cli, mixed, cache_dir) -> None:
    before = snapshot(mixed)
    result = cli("build", str(mixed), "--cache-dir", str(cache_dir), "--minify", "--dry-run", "--no-images")
    assert result.exit_code == 0
    assert "minify  extra/page.html" in result.stdout.splitlines()
    assert snapshot(mixed) == before


def test_a_killed_build_after_a_rewrite_still_knows_the_minified_file(cli, mixed, cache_dir, tmp_path) -> None:
    """The journal records the rewrite before it happens: a build killed after it does not minify twice."""
    reference = tmp_path / "reference"
    shutil.copytree(mixed, reference)
    build(cli, reference, tmp_path / "c0", "--minify")
    build(cli, mixed, cache_dir, "--minify")
    (mixed / ".assetpipe" / "outputs.json").unlink()  # killed before the ledger was written ...
    journal = "".join(json.dumps({"minified": {k: v for k, v in m.items()}, "rel": rel}) + "\n"
                      for rel, m in json.loads((reference / ".assetpipe/outputs.json").read_text())["minified"].items())
    (mixed / ".assetpipe" / "journal.jsonl").write_text(journal)  # ... with the journal's lines
    build(cli, mixed, cache_dir, "--minify")
    files = manifest_of(mixed)["files"]
    assert files["index.html"]["minified"]["original_size"] == (REPO / "fixtures/site/index.html").stat().st_size


# --- semantics: the minified files behave as the originals -------------------------------------


def minified_copy(name: str, tmp_path: Path) -> tuple[Path, Path]:
    """The fixture as it is and as assetpipe minifies it, in two folders."""
    kind = minify.type_of(name, {"js": "text/javascript", "mjs": "text/javascript", "html": "text/html",
                                 "svg": "image/svg+xml"}[name.rsplit(".", 1)[1]])
    assert kind is not None
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir(exist_ok=True), after.mkdir(exist_ok=True)
    data = (FIXTURES / name).read_bytes()
    (before / name).write_bytes(data)
    out = minify.minify_bytes(kind, data)
    assert len(out) < len(data)
    (after / name).write_bytes(out)
    return before / name, after / name


def run_node(path: Path) -> str:
    return subprocess.run([NODE, str(path)], capture_output=True, text=True, check=True, timeout=30).stdout


@pytest.mark.skipif(NODE is None, reason="node is not installed (.ci/run installs Debian's nodejs)")
@pytest.mark.parametrize("name", ["semantics.js", "module.mjs"])
def test_js_runs_the_same_in_node(name, tmp_path) -> None:
    before, after = minified_copy(name, tmp_path)
    expected = run_node(before)
    assert expected.strip().startswith("{")
    assert run_node(after) == expected


@pytest.mark.skipif(NODE is None, reason="node is not installed (.ci/run installs Debian's nodejs)")
def test_known_limit_unused_parameters_change_function_length(tmp_path) -> None:
    """Documented in the README: the JS minifier drops unused trailing parameters (as UglifyJS once did)."""
    before, after = minified_copy("arity.js", tmp_path)
    assert json.loads(run_node(before)) == {"length": 4}
    assert json.loads(run_node(after)) == {"length": 0}


@pytest.mark.skipif(NODE is None, reason="node is not installed (.ci/run installs Debian's nodejs)")
def test_known_limit_local_names_change_function_name(tmp_path) -> None:
    """Documented in the README: local functions and classes are renamed, so their `name` changes; the
    names a script puts in the global scope are kept."""
    before, after = minified_copy("names.js", tmp_path)
    original, minified = json.loads(run_node(before)), json.loads(run_node(after))
    assert original == {"global": "makeParts", "local": ["localHelper", "LocalShape", "localArrow"]}
    assert minified["global"] == "makeParts"
    assert len(minified["local"]) == 3 and not set(minified["local"]) & set(original["local"])


@pytest.fixture(scope="module")
def chromium():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium and chromedriver are not installed (.ci/run installs Debian's)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--force-device-scale-factor=1", "--hide-scrollbars", "--window-size=400,300"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def rendered_text(driver, page: Path) -> dict:
    driver.get(page.as_uri())
    return driver.execute_script(
        "return {text: document.body.innerText, title: document.title,"
        " border: getComputedStyle(document.querySelector('input')).borderTopColor,"
        " value: document.querySelector('input').value, textarea: document.querySelector('textarea').value}")


def test_html_renders_the_same_text_in_chromium(chromium, tmp_path) -> None:
    before, after = minified_copy("page.html", tmp_path)
    expected = rendered_text(chromium, before)
    assert "computed by script 42" in expected["text"] and "not shown" not in expected["text"]
    assert expected["border"] == "rgb(0, 0, 255)"
    assert rendered_text(chromium, after) == expected


def test_demo_site_pages_render_the_same_text(chromium, cli, site, cache_dir, tmp_path) -> None:
    pristine = tmp_path / "pristine"
    shutil.copytree(site, pristine)
    build(cli, site, cache_dir, "--minify")
    for page in ("index.html", "about.html"):
        assert (site / page).read_bytes() != (pristine / page).read_bytes()
        chromium.get((pristine / page).as_uri())
        expected = chromium.execute_script("return [document.title, document.body.innerText]")
        chromium.get((site / page).as_uri())
        assert chromium.execute_script("return [document.title, document.body.innerText]") == expected


def rasterise(driver, svg: bytes, width: int, height: int) -> bytes:
    """The SVG drawn by Chromium as an <img> at a fixed size, as a PNG screenshot."""
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    page = (f"<!doctype html><body style='margin:0;background:#fff'>"
            f"<img id=i src='{uri}' width={width} height={height} style='display:block'>")
    driver.get("data:text/html;base64," + base64.b64encode(page.encode()).decode())
    driver.execute_script("return document.getElementById('i').decode()")
    return driver.find_element("id", "i").screenshot_as_png


@pytest.mark.parametrize("svg", ["fixtures/minify/shapes.svg", "fixtures/site/assets/logo-pPmQi5N6.svg",
                                 "fixtures/site/icons/cart3.svg", "fixtures/site/icons/github.svg"])
def test_svg_decodes_to_the_same_pixels(chromium, svg) -> None:
    original = (REPO / svg).read_bytes()
    out = minify.minify_bytes("svg", original)
    assert len(out) < len(original)
    blank = rasterise(chromium, b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>', 120, 80)
    assert rasterise(chromium, original, 120, 80) != blank
    for width, height in ((120, 80), (360, 240)):
        assert rasterise(chromium, out, width, height) == rasterise(chromium, original, width, height), (svg, width)


def test_minified_pages_with_pictures_settle_and_equal_a_clean_build(cli, site, cache_dir, tmp_path) -> None:
    """Images, the <picture> rewrite and HTML minification together: the second build does nothing, and a
    build after a change equals a clean build of the changed tree."""
    pristine = tmp_path / "pristine"
    shutil.copytree(site, pristine)
    build(cli, site, cache_dir, "--minify", images=True)
    assert b"<picture data-assetpipe" in (site / "index.html").read_bytes()
    first = snapshot(site)
    warm = build(cli, site, cache_dir, "--minify", images=True)
    assert warm["minified"]["minifier_runs"] == 0 and warm["written"] == 0 and warm["encoded"] == 0
    assert snapshot(site) == first
    clean = tmp_path / "clean"
    shutil.copytree(pristine, clean)
    build(cli, clean, tmp_path / "c2", "--minify", images=True)
    assert snapshot(clean) == first
