"""The manifest contract (SPEC §2.4): shape, schema, logical names, immutability, POSIX keys."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from assetpipe.build import ledger, manifest
from assetpipe.model import Minified
from assetpipe.naming import content_hash

from .conftest import HASH_TREE_IMMUTABLE, REPO, make_hash_tree

SCHEMA = json.loads((REPO / "config" / "manifest.schema.json").read_text())


@pytest.fixture
def built(cli, site, cache_dir):
    (site / "docs" / "nested").mkdir()
    (site / "docs" / "nested" / "deep.css").write_text("a { color: red }\n" * 30)
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    return site, json.loads((site / ".assetpipe" / "manifest.json").read_text())


def test_real_output_validates_against_the_shipped_schema(built) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(built[1])


def test_schema_rejects_what_the_contract_forbids() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    good = {"schema": 1, "files": {"a.js": {"size": 1, "sha256": "0" * 64, "type": "text/javascript",
                                            "immutable": False}}, "failures": []}
    assert validator.is_valid(good)
    for bad_key in ("/abs.js", "../up.js", "a\\b.js"):
        assert not validator.is_valid({**good, "files": {bad_key: good["files"]["a.js"]}}), bad_key
    assert not validator.is_valid({**good, "generated_at": "2026-11-24"})


def test_hashes_types_and_posix_keys(built) -> None:
    site, manifest = built
    assert manifest["schema"] == 1
    assert list(manifest["files"]) == sorted(manifest["files"])
    for rel, entry in manifest["files"].items():
        data = (site / rel).read_bytes()
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["integrity"] == "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    files = manifest["files"]
    assert "docs/nested/deep.css" in files
    assert not any(key.startswith(".assetpipe") or key.endswith((".br", ".gz")) for key in files)
    types = {rel: files[rel]["type"] for rel in ("index.html", "assets/index-2vZXRZ4C.js", "assets/index-AVh2cVPR.css",
                                                  "assets/index-2vZXRZ4C.js.map", "fonts/inter-latin-400-normal.woff2",
                                                  "site.webmanifest", "assets/logo-pPmQi5N6.svg")}
    assert types == {"index.html": "text/html", "assets/index-2vZXRZ4C.js": "text/javascript",
                     "assets/index-AVh2cVPR.css": "text/css", "assets/index-2vZXRZ4C.js.map": "application/json",
                     "fonts/inter-latin-400-normal.woff2": "font/woff2",
                     "site.webmanifest": "application/manifest+json",
                     "assets/logo-pPmQi5N6.svg": "image/svg+xml"}


def test_logical_names_come_from_vites_manifest(built) -> None:
    _, manifest = built
    vite = json.loads((REPO / "fixtures/site/.vite/manifest.json").read_text())
    expected = {chunk["file"]: key for key, chunk in vite.items() if not key.startswith("_")}
    found = {rel: e["logical"] for rel, e in manifest["files"].items() if "logical" in e}
    assert found == expected
    assert found["assets/index-2vZXRZ4C.js"] == "index.html"


def test_immutable_means_a_content_hash_in_the_name(built) -> None:
    _, manifest = built
    immutable = {rel for rel, e in manifest["files"].items() if e["immutable"]}
    vite = json.loads((REPO / "fixtures/site/.vite/manifest.json").read_text())
    listed = {f for chunk in vite.values() for f in [chunk["file"], *chunk.get("css", []), *chunk.get("assets", [])]}
    assert immutable == listed  # the demo's hashed files are all Vite's
    assert "assets/astronaut-K5G3V5PE.png" in immutable  # Vite lists it; no small letter: not hashed by name
    assert not immutable & {"index.html", "robots.txt", "favicon.ico", "fonts/inter-latin-400-normal.woff2",
                            "icons/arrow-right.svg", "data/products.json", "assets/index-2vZXRZ4C.js.map"}


@pytest.mark.parametrize(("name", "strict", "lenient"), [
    ("assets/index-B7PI925R.js", None, "B7PI925R"),  # no small letter: hashed only where Vite's manifest says so
    ("assets/index-Bx7PI9qR.js", "Bx7PI9qR", "Bx7PI9qR"),
    ("index-Bx7PI9qR.js.map", "Bx7PI9qR", "Bx7PI9qR"),
    ("main.3f9a1c2e.js", "3f9a1c2e", "3f9a1c2e"),
    ("main.0123456789abcdef0123.js", "0123456789abcdef0123", "0123456789abcdef0123"),
    ("hero.3f9a1c2e.640w.avif", "3f9a1c2e", "3f9a1c2e"),
    ("EChartsPanel-DuvKirZd.js", None, "DuvKirZd"),
    ("icons/arrow-90deg-up.svg", None, "90deg-up"),  # words that fit the shape, with a digit
    ("icons/grid-1x2-fill.svg", None, "1x2-fill"),
    ("report-20240101.pdf", None, "20240101"),  # a date: hex digits, no letter
    ("a-deadbeef.js", None, None),
    ("use-selector.js", None, None),
    ("logo-Homepage.svg", None, None),
    ("inter-latin-400-normal.woff2", None, None),
    ("x-my-icons.svg", None, None),
])
def test_content_hash_detection(name: str, strict: str | None, lenient: str | None) -> None:
    assert content_hash(name) == strict
    assert content_hash(name, bundler_named=True) == lenient


def immutable_files(site: Path) -> set[str]:
    manifest = json.loads((site / ".assetpipe" / "manifest.json").read_text())
    return {rel for rel, entry in manifest["files"].items() if entry["immutable"]}


def test_vites_manifest_decides_and_a_name_alone_is_reported(cli, tmp_path: Path) -> None:
    site = make_hash_tree(tmp_path / "dist")
    result = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--json")
    assert result.exit_code == 0, result.stderr
    assert immutable_files(site) == set(HASH_TREE_IMMUTABLE)
    by_name = sorted(rel for rel, why in HASH_TREE_IMMUTABLE.items() if why == "name")
    assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [
        f"warning: {rel}: cached for a year on its name alone ({content_hash(rel)} looks like a content hash); "
        "if it is one, list it in [cache] immutable; if not, rename it or set [cache] by_name = false"
        for rel in by_name]
    assert [w["file"] for w in json.loads(result.stdout)["warnings"]] == by_name


@pytest.mark.parametrize(("cache_table", "expected"), [
    ('immutable = ["static/**"]', set(HASH_TREE_IMMUTABLE)),
    ("by_name = false", {rel for rel, why in HASH_TREE_IMMUTABLE.items() if why == "vite"}),
    ('immutable = ["static/lib-*.js", "icons/**", "**/*.map", "*.html"]',
     {*HASH_TREE_IMMUTABLE, "icons/arrow-90deg-up.svg", "icons/grid-1x2-fill.svg", "icons/x-circle.svg",
      "assets/index-B7PI925R.js.map"}),
])
def test_cache_config_declares_hashed_files(cli, tmp_path: Path, cache_table: str, expected: set[str]) -> None:
    site = make_hash_tree(tmp_path / "dist")
    (tmp_path / "assetpipe.toml").write_text(f"[cache]\n{cache_table}\n")
    result = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"))
    assert result.exit_code == 0, result.stderr
    assert immutable_files(site) == expected  # never a page, whatever a glob says
    warned = {line.split(":")[1].strip() for line in result.stderr.splitlines() if line.startswith("warning:")}
    assert warned == ({"static/app.3f9a1c2e.js"} if "static/lib-" in cache_table else set())


def test_failures_are_sorted_and_files_without_sidecars_have_no_encodings(built) -> None:
    _, manifest = built
    assert manifest["failures"] == []
    assert "encodings" not in manifest["files"]["fonts/inter-latin-400-normal.woff2"]
    assert set(manifest["files"]["assets/hero-gYV4LCM5.jpg"]["encodings"]) == {"avif", "webp"}


def test_the_ledger_written_line_by_line_is_what_the_json_encoder_gives() -> None:
    records = {"a/caf\u00e9 \"q\"\\x.js.br": ledger.Record("k1", "a" * 64, 12),
               "z.gz": ledger.Record("k2", "b" * 64, 0),
               "tab\there\U0001f600.svg.br": ledger.Record("k3", "c" * 64, 7)}
    minified = {"m.js": Minified("m.js", 10, "d" * 64, 5, "e" * 64, "k4")}
    generic = manifest.json_lines({
        "minified": {"m.js": {"key": "k4", "original_sha256": "d" * 64, "original_size": 10, "sha256": "e" * 64,
                              "size": 5}},
        "outputs": {rel: {"key": r.key, "sha256": r.sha256, "size": r.size} for rel, r in records.items()},
        "schema": ledger.LEDGER_SCHEMA})
    written = ledger.encode(records, minified)
    assert written == generic
    assert json.loads(written)["outputs"]["tab\there\U0001f600.svg.br"]["key"] == "k3"


def _previous_json_lines(document: dict, rows: dict | None = None) -> bytes:
    """The writer before streaming (assetpipe 0.x, issue 19), verbatim: what the streamed one must equal."""
    encode = json.JSONEncoder(sort_keys=True).encode
    parts: list[str] = []
    for name in sorted(document):
        value = document[name]
        if rows is not None and name in rows:
            lines = rows[name]
        elif isinstance(value, dict) and value:
            lines = [f"    {encode(key)}: {encode(value[key])}" for key in sorted(value)]
        else:
            parts.append(f"  {encode(name)}: {encode(value)}")
            continue
        parts.append(f"  {encode(name)}: {{\n" + ",\n".join(lines) + "\n  }" if lines else f"  {encode(name)}: {{}}")
    return ("{\n" + ",\n".join(parts) + "\n}\n").encode("utf-8")


@pytest.mark.parametrize("document", [
    {}, {"schema": 1}, {"files": {}, "failures": [], "schema": 1},
    {"files": {"b/x.js": {"size": 1, "é": [1, 2]}, "a-b.js": {"size": 2}, "a/b.js": {"size": 3}},
     "failures": [{"file": "z", "reason": "r"}], "schema": 1},
    {"minified": {"m": {"k": 1}}, "optimized": {}, "outputs": {"o\U0001f600": {"key": "q\"\\"}}, "schema": 1},
])
def test_the_streamed_writer_gives_the_previous_writers_bytes(document: dict) -> None:
    assert manifest.json_lines(document) == _previous_json_lines(document)
    assert "".join(manifest.json_pieces(document)).encode() == _previous_json_lines(document)


def test_the_streamed_manifest_is_the_built_one_byte_for_byte(built) -> None:
    """The manifest a build writes (streamed, in key order) is the document's own dump; the walk's order
    (`a/b` before `a-b`) is not key order, so the stream sorts."""
    from assetpipe.build.scan import scan
    from assetpipe.model import Encoding, Failure

    site, _ = built
    (site / "docs" / "nested-x.css").write_text("b { color: blue }\n")
    inventory = scan(site, ledger.load(site))
    sources = inventory.sources
    assert [s.rel for s in sources] != sorted(s.rel for s in sources)  # the walk's order differs
    encodings = {s.rel: {"br": Encoding(s.rel + ".br", 3), "gzip": Encoding(s.rel + ".gz", 4)} for s in sources[::3]}
    images = {sources[1].rel: {"width": 10, "height": 5, "variants": [{"file": "x.avif", "size": 1}]}}
    failures = (Failure("z.jpg", "truncated image"), Failure("a.jpg", "not an image"))
    minified = {sources[2].rel: Minified(sources[2].rel, 10, "d" * 64, 5, "e" * 64, "k")}
    vite = manifest.read_vite(site, sources)
    whole = _previous_json_lines(manifest.build(sources, encodings, failures, vite, minified=minified, images=images))
    assert "".join(manifest.stream(sources, encodings, failures, vite, minified, images)).encode() == whole


def test_the_ledger_is_the_previous_versions_bytes_so_its_trees_stay_recognised(cli, site, cache_dir) -> None:
    """The ledger's format did not change with streaming (issue 19): a tree built by the previous version
    holds the very bytes this one writes, and its outputs stay assetpipe's (replaced, not refused)."""
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    path = site / ".assetpipe" / "outputs.json"
    written = path.read_bytes()
    document = json.loads(written)
    rows = {"outputs": [f"    {json.dumps(rel)}: {json.dumps(entry, sort_keys=True)}"
                        for rel, entry in sorted(document["outputs"].items())]}
    previous = _previous_json_lines(document, rows)
    assert written == previous
    path.write_bytes(previous)
    (site / "data" / "products.json").write_text('{"products": ["changed"]}\n' * 30)
    result = cli("build", str(site), "--cache-dir", str(cache_dir), "--json")
    assert result.exit_code == 0 and "left alone" not in result.stderr
    assert json.loads(result.stdout)["written"] >= 2
    assert json.loads(path.read_text())["outputs"]["data/products.json.br"]["size"] == (
        site / "data" / "products.json.br").stat().st_size
