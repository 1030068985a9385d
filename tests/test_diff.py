"""`assetpipe diff`: identity across content hashes, sizes, totals, the three output formats, exit codes."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from assetpipe.config import Config
from assetpipe.sizes.comment import MARKER
from assetpipe.sizes.diff import DEFAULT_HASH_PATTERN, strip_hash
from assetpipe.sizes.measure import measure
from assetpipe.units import human

from .conftest import DEMO, REPO, snapshot

SIZES = REPO / "tests" / "fixtures" / "sizes"
RENAMED, COLLIDE = SIZES / "renamed", SIZES / "collide"


def as_json(result) -> dict:
    assert result.exit_code in (0, 1, 3), result.stderr
    return json.loads(result.stdout)


def by_key(document: dict) -> dict[str, dict]:
    return {f["key"]: f for f in document["files"]}


@pytest.mark.parametrize(("name", "stripped"), [
    ("index-2vZXRZ4C.js", "index-*.js"),  # Vite/Rollup
    ("EChartsPanel-DuvKirZd.js", "EChartsPanel-*.js"),  # no digit, capitals inside
    ("coffee-A-I1hS5R.jpg", "coffee-*.jpg"),  # a `-` inside the hash
    ("index-2vZXRZ4C.js.map", "index-*.js.map"),
    ("main.3f9a1c2e.js", "main.*.js"),  # webpack, 8 hex
    ("main.0123456789abcdef0123.js", "main.*.js"),  # webpack, 20 hex
    ("hero.3f9a1c2e.640w.avif", "hero.*.640w.avif"),  # assetpipe's own variants
    ("use-selector.js", "use-selector.js"),  # a word, not a hash
    ("logo-Homepage.svg", "logo-Homepage.svg"),
    ("app.deadbeef.js", "app.deadbeef.js"),  # hex without a digit: a word
])
def test_hash_stripping(name: str, stripped: str) -> None:
    assert strip_hash(f"assets/{name}", re.compile(DEFAULT_HASH_PATTERN)) == f"assets/{stripped}"


def test_a_renamed_hashed_chunk_is_changed_not_removed_and_added(cli) -> None:
    result = cli("diff", str(RENAMED / "base"), str(RENAMED / "head"), "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""
    files = by_key(json.loads(result.stdout))
    app = files["assets/app-*.js"]
    assert app["status"] == "changed" and app["name"] == "assets/app-*.js"
    assert app["base"]["path"] == "assets/app-Ab12Cd34.js" and app["head"]["path"] == "assets/app-Zz98Yy76.js"
    assert app["delta"]["raw"] == 92 and app["delta"]["bytes"] == app["delta"]["brotli"] > 0
    assert files["assets/use-selector.js"]["status"] == "unchanged"
    assert files["assets/use-selectors.js"]["status"] == "removed"  # a name like it is another file
    assert files["assets/use-selectors.js"]["delta"]["percent"] == -100.0


def test_colliding_keys_are_kept_apart_by_full_path_with_a_warning(cli) -> None:
    result = cli("diff", str(COLLIDE / "base"), str(COLLIDE / "head"), "--format", "json")
    assert result.exit_code == 0
    assert result.stderr == ("warning: assets/index-*.js: 2 files in head share this name "
                             "(assets/index-Qw12Er34.js, assets/index-Ty56Ui78.js); compared by full path\n")
    files = by_key(json.loads(result.stdout))
    assert {k: f["status"] for k, f in files.items()} == {
        "assets/index-Ab12Cd34.js": "removed", "assets/index-Qw12Er34.js": "added", "assets/index-Ty56Ui78.js": "added"}


def test_a_missing_baseline_is_not_an_error(cli, tmp_path) -> None:
    result = cli("diff", str(tmp_path / "no-such-base.json"), str(RENAMED / "head"), "--format", "json")
    assert result.exit_code == 0
    missing = tmp_path / "no-such-base.json"
    assert result.stderr == f"warning: {missing}: no baseline there; showing this build's sizes only\n"
    document = json.loads(result.stdout)
    assert document["base"] is None and document["result"] == "pass"
    assert document["totals"]["total"]["base"] is None and document["totals"]["total"]["delta"] is None
    assert {f["status"] for f in document["files"]} == {"added"}
    assert all(f["delta"]["percent"] is None for f in document["files"])  # never "+100 %"
    text = cli("diff", str(tmp_path / "nope"), str(RENAMED / "head"))
    assert text.exit_code == 0 and "no baseline" in text.stdout.splitlines()[0]


def test_vite_names_match_chunks_and_give_the_initial_js(cli, site, tmp_path) -> None:
    base = tmp_path / "base"
    shutil.copytree(site, base)
    # HEAD: the entry chunk grows and gets a new hash; Vite's manifest says so.
    old, new = site / "assets" / "index-2vZXRZ4C.js", site / "assets" / "index-Q9xY7wVb.js"
    new.write_bytes(old.read_bytes().replace(b"//# sourceMappingURL=index-2vZXRZ4C.js.map", b"")
                    + b"console.log('" + bytes(range(48, 123)) * 20 + b"');\n")
    old.unlink()
    vite = site / ".vite" / "manifest.json"
    vite.write_text(vite.read_text().replace("assets/index-2vZXRZ4C.js", "assets/index-Q9xY7wVb.js"))
    document = as_json(cli("diff", str(base), str(site), "--format", "json"))
    entry = by_key(document)["vite:index.html"]
    assert entry["status"] == "changed" and entry["logical"] == "index.html" and entry["name"] == "assets/index-*.js"
    assert by_key(document)["index.html"]["status"] == "unchanged"  # the page keeps its own key
    assert document["files"][0]["key"] == "vite:index.html"  # the largest |Δ| first
    initial = document["totals"]["initial"]
    assert initial["head"]["files"] == 3  # index and about entries + their static import, the vendor chunk
    assert initial["delta"]["brotli"] == entry["delta"]["brotli"] > 0
    totals = document["totals"]
    assert set(totals) == {"total", "initial", "js", "css", "html", "image", "font", "other"}
    assert sum(totals[t]["head"]["brotli"] for t in ("js", "css", "html", "image", "font", "other")) == \
        totals["total"]["head"]["brotli"]
    assert not any(f["key"].endswith(".map") or f["key"].startswith(".vite/") for f in document["files"])


def test_sizes_from_sidecars_equal_sizes_computed_without_a_manifest(cli, site, tmp_path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(site, plain)
    before = snapshot(plain)
    # --no-images: the <picture> rewrite would change the pages, and this compares unchanged files
    assert cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "-q", "--no-images").exit_code == 0
    manifest = json.loads((site / ".assetpipe" / "manifest.json").read_text())
    built = {f.path: f for f in measure(site, Config()).files}
    computed = {f.path: f for f in measure(plain, Config(), jobs=2).files}
    assert snapshot(plain) == before  # measuring a folder writes nothing into it
    assert built.keys() == computed.keys()
    with_sidecars = [rel for rel in built if manifest["files"][rel].get("encodings")]
    assert len(with_sidecars) > 15
    for rel in built:
        assert built[rel].sizes == computed[rel].sizes, rel
    for rel in with_sidecars:
        encodings = manifest["files"][rel]["encodings"]
        for metric, codec in (("brotli", "br"), ("gzip", "gzip")):
            if codec in encodings:
                assert built[rel].sizes.of(metric) == encodings[codec]["size"], rel
    jpg = built["assets/hero-gYV4LCM5.jpg"].sizes
    assert jpg.raw == jpg.gzip == jpg.brotli  # never precompressed: sent as it is
    # A manifest file works as well as its folder.
    same = measure(site / ".assetpipe" / "manifest.json", Config())
    assert {f.path: f.sizes for f in same.files} == {p: f.sizes for p, f in built.items()}
    assert same.initial == measure(site, Config()).initial


def test_build_and_diff_agree_on_what_goes_over_the_wire(cli, site, tmp_path) -> None:
    """One definition (build/wire.py): per file, what a Brotli- and AVIF-accepting browser downloads:
    a text file's .br, an image's same-URL .avif (else .webp), else the original; maps and .vite/ never."""
    built = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--json")
    assert built.exit_code == 0, built.stderr
    said = re.search(r"([\d.]+ [kM]?B) -> ([\d.]+ [kM]?B) over the wire", built.stderr)
    document = as_json(cli("diff", str(tmp_path / "none"), str(site), "--format", "json"))
    total = document["totals"]["total"]["head"]
    assert said is not None and said.groups() == (human(total["raw"]), human(total["brotli"]))
    assert json.loads(built.stdout)["bytes"]["over_the_wire"] == total["brotli"]
    assert json.loads(built.stdout)["bytes"]["original"] == total["raw"]
    manifest = json.loads((site / ".assetpipe" / "manifest.json").read_text())["files"]
    files = {f["head"]["path"]: f["head"] for f in document["files"]}
    images = [rel for rel, entry in manifest.items() if "avif" in entry.get("encodings", {})]
    assert len(images) >= 3
    for rel in images:  # the AVIF sidecar, which the servers try first, in both compressed columns
        avif = manifest[rel]["encodings"]["avif"]["size"]
        assert files[rel]["brotli"] == files[rel]["gzip"] == avif < files[rel]["raw"], rel
    script = next(rel for rel, entry in manifest.items() if rel.endswith(".js") and "br" in entry["encodings"])
    assert files[script]["brotli"] == manifest[script]["encodings"]["br"]["size"]
    assert not [rel for rel in files if rel.endswith(".map") or rel.startswith(".vite/")]


def test_terminal_table(cli) -> None:
    result = cli("diff", str(RENAMED / "base"), str(RENAMED / "head"))
    assert result.exit_code == 0
    assert result.stdout == (
        "size (brotli): 118 B -> 129 B (+11 B, +9.3 %)\n"
        "\n"
        "file                     base  head      Δ      Δ %\n"
        "assets/app-*.js          52 B  96 B  +44 B  +84.6 %\n"
        "assets/use-selectors.js  33 B     —  -33 B  removed\n"
        "1 unchanged\n"
        "\n"
        "group   base   head      Δ     Δ %  files\n"
        "total  118 B  129 B  +11 B  +9.3 %      2\n"
        "js     118 B  129 B  +11 B  +9.3 %      2\n"
        "\n"
        "result: pass\n")


def test_markdown_for_a_pull_request(cli, tmp_path) -> None:
    result = cli("diff", str(RENAMED / "base"), str(RENAMED / "head"), "--format", "markdown")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == MARKER == "<!-- assetpipe:size-report -->"
    assert lines[1] == "### Bundle size"
    assert lines[3] == "**118 B → 129 B** (+11 B, +9.3 %; brotli)"
    rows = [line for line in lines if line.startswith("| `")]
    assert rows[:2] == ["| `assets/app-*.js` | 52 B | 96 B | +44 B | +84.6 % | ▲ |",
                        "| `assets/use-selectors.js` | 33 B | — | -33 B | removed | 🗑️ |"]
    details = lines.index("<details><summary>1 unchanged</summary>")
    assert lines[details + 4] == "| `assets/use-selector.js` | 33 B |" and lines[details + 6] == "</details>"
    # `diff.max_rows` caps the listed changes; the rest are counted and summed.
    (tmp_path / "assetpipe.toml").write_text("[diff]\nmax_rows = 1\n")
    capped = cli("diff", str(RENAMED / "base"), str(RENAMED / "head"), "--format", "markdown").stdout
    assert "| _+1 more changed files_ | 33 B | 0 B | -33 B | | |" in capped
    assert "`assets/use-selectors.js` | 33 B | —" not in capped


def test_json_is_the_spec_shape_and_deterministic(cli) -> None:
    args = ("diff", str(RENAMED / "base"), str(RENAMED / "head"), "--format", "json")
    first, second = cli(*args), cli(*args)
    assert first.stdout == second.stdout
    document = json.loads(first.stdout)
    assert {"schema", "totals", "files", "budgets", "result"} <= document.keys()
    assert document["schema"] == 1 and document["result"] == "pass" and document["budgets"] == []
    assert document["metric"] == "brotli"
    for entry in document["files"]:
        assert {"key", "status", "base", "head", "delta"} <= entry.keys()
    assert [f["key"] for f in document["files"]] == [
        "assets/app-*.js", "assets/use-selectors.js", "assets/use-selector.js"]  # by |Δ|, largest first


def test_the_headline_metric_is_configurable(cli, tmp_path) -> None:
    (tmp_path / "assetpipe.toml").write_text('[diff]\nmetric = "raw"\n')
    document = as_json(cli("diff", str(RENAMED / "base"), str(RENAMED / "head"), "--format", "json"))
    assert document["metric"] == "raw"
    assert by_key(document)["assets/app-*.js"]["delta"]["bytes"] == 92


def test_a_custom_hash_pattern(cli, tmp_path) -> None:
    (tmp_path / "assetpipe.toml").write_text("[diff]\nhash_pattern = '(?<=-)[A-Za-z0-9]{8}(?=\\.)'\n")
    document = as_json(cli("diff", str(RENAMED / "base"), str(RENAMED / "head"), "--format", "json"))
    assert by_key(document)["assets/app-*.js"]["status"] == "changed"
    (tmp_path / "assetpipe.toml").write_text("[diff]\nhash_pattern = '(unclosed'\n")
    result = cli("diff", str(RENAMED / "base"), str(RENAMED / "head"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: assetpipe.toml: diff.hash_pattern: not a valid regular expression: ")


def test_unreadable_input_is_a_usage_error(cli, tmp_path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = cli("diff", str(broken), str(RENAMED / "head"))
    assert result.exit_code == 2 and result.stdout == ""
    assert re.fullmatch(rf"error: {re.escape(str(broken))}: not valid JSON: .*\n", result.stderr)
    other = tmp_path / "other.json"
    other.write_text('{"schema": 2, "files": {}}')
    result = cli("diff", str(other), str(RENAMED / "head"))
    assert result.exit_code == 2 and result.stderr == f"error: {other}: not an assetpipe manifest (schema 1)\n"
    result = cli("diff", str(RENAMED / "base"), str(tmp_path / "dist"))
    assert result.exit_code == 2 and result.stderr == f"error: {tmp_path / 'dist'}: no such file or folder\n"


def test_vites_manifest_given_for_ours_gets_the_right_path(cli, site, tmp_path) -> None:
    """The first thing a Vite user tries is the manifest Vite wrote: the error names the one to give."""
    vite = site / ".vite" / "manifest.json"
    unbuilt = cli("diff", str(vite), str(site))
    assert unbuilt.exit_code == 2 and unbuilt.stdout == ""
    assert unbuilt.stderr == (f"error: {vite}: not an assetpipe manifest (schema 1): it is Vite's; give the built "
                              f"folder {site}, or {site / '.assetpipe' / 'manifest.json'} once "
                              "`assetpipe build` has written it\n")
    assert cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "-q", "--no-images").exit_code == 0
    built = cli("diff", str(vite), str(site))
    assert built.exit_code == 2
    assert built.stderr == (f"error: {vite}: not an assetpipe manifest (schema 1): it is Vite's; did you mean "
                            f"{site / '.assetpipe' / 'manifest.json'}?\n")


def test_help_points_to_the_docs_not_the_spec(cli) -> None:
    for command in ((), ("build",), ("watch",), ("diff",), ("upload",)):
        text = cli(*command, "--help").stdout
        assert "SPEC" not in text, command
    assert "docs/diff.md" in cli("diff", "--help").stdout


def test_head_defaults_to_dist_and_failed_files_give_exit_1(cli, tmp_path) -> None:
    shutil.copytree(RENAMED / "head", tmp_path / "dist")
    (tmp_path / "dist" / "gone.js").symlink_to("nowhere.js")
    result = cli("diff", str(RENAMED / "base"))
    assert result.exit_code == 1
    assert result.stderr == "error: gone.js: broken symbolic link\n"
    assert result.stdout.startswith("size (brotli): 118 B -> 129 B")


def test_a_manifest_with_image_variants(cli) -> None:
    """SPEC §2.4's `image` object (the image stage's output) is read, and the fixture is a valid manifest."""
    import jsonschema

    manifest = SIZES / "image-manifest.json"
    schema = json.loads((REPO / "config" / "manifest.schema.json").read_text())
    jsonschema.validate(json.loads(manifest.read_text()), schema)
    measured = {f.path: f for f in measure(manifest, Config()).files}
    hero = measured["img/hero.jpg"]
    assert hero.category == "image" and hero.sizes.raw == hero.sizes.brotli == 912334
    assert (hero.image.width, hero.image.height) == (1600, 1200)
    assert [(v.format, v.size) for v in hero.image.variants] == [("avif", 20480), ("jpeg", 51200), ("webp", 30720)]
    assert measured["assets/app-Ab12Cd34.js"].sizes.brotli == 4100  # from the sidecar; no files at hand
    assert DEMO.is_dir()


def _previous_to_json(report) -> str:
    """`--format json` before it was streamed (issue 19), verbatim: what the streamed output must equal."""
    from assetpipe.sizes.budgets import as_json as budget_json
    from assetpipe.sizes.formats import _file_json, _total_json

    diff = report.diff
    document = {
        "schema": 1, "metric": diff.metric, "units": "bytes",
        "base": {"source": diff.base.label} if diff.base is not None else None,
        "head": {"source": diff.head.label},
        "totals": {t.name: _total_json(t, diff.metric) for t in diff.totals},
        "files": [_file_json(c, diff.metric) for c in diff.files],
        "budgets": [budget_json(b) for b in report.budgets],
        "result": report.result,
        "warnings": [{"file": n.file, "message": n.message} for n in report.notices],
        "failures": [{"file": f.file, "reason": f.reason} for f in report.failures],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _large_pair(tmp_path, count: int) -> tuple:
    """Two manifests in the build's layout: `count` files, a third changed, some added and removed, names
    with quotes, `"files": []` and non-ASCII text, a Vite name, a failure."""
    from assetpipe.build import manifest as writer

    def side(shift: int) -> dict:
        files = {}
        for i in range(count):
            if (i + shift) % 17 == 0:
                continue  # removed on one side, added on the other
            script = i % 5 == 0
            token = "Ab12Cd34" if shift else "Zz98Yy76"
            rel = f"d{i % 7}/f\u00e9{i:05d}-{token}.js" if script else f"d{i % 7}/p{i}.css"
            size = 1000 + i + (shift * i if i % 3 == 0 else 0)
            files[rel] = {"size": size, "sha256": f"{size:064x}", "type": "text/javascript" if script else "text/css",
                          "immutable": False, "encodings": {"br": {"file": rel + ".br", "size": size // 3},
                                                             "gzip": {"file": rel + ".gz", "size": size // 2}}}
        files['q"uote/"files": [].css'] = {"size": 10 + shift, "sha256": "", "type": "text/css", "immutable": False}
        files["assets/index-2vZXRZ4C.js"] = {"size": 500, "sha256": "e" * 64, "type": "text/javascript",
                                              "immutable": True, "logical": "src/main.tsx"}
        return {"schema": 1, "files": files, "failures": [{"file": "z.jpg", "reason": "truncated \u00e9"}]}

    base, head = tmp_path / "base.json", tmp_path / "head.json"
    base.write_bytes(writer.dumps(side(0)))
    head.write_bytes(writer.dumps(side(1)))
    return base, head


def test_json_output_streamed_and_manifests_read_by_line_are_as_before(tmp_path) -> None:
    from assetpipe.sizes import measure as measuring
    from assetpipe.sizes.check import SizeRequest, size_report
    from assetpipe.sizes.formats import json_pieces

    base, head = _large_pair(tmp_path, 3000)
    report = size_report(SizeRequest(base, head, Config()))
    assert len(report.diff.files) > 3000 and {c.status for c in report.diff.files} == {"added", "removed", "changed",
                                                                                          "unchanged"}
    assert "".join(json_pieces(report)) == _previous_to_json(report)
    # the same manifests pretty-printed (a hand-edited file): read whole, measured the same
    for path in (base, head):
        pretty = tmp_path / f"pretty-{path.name}"
        pretty.write_text(json.dumps(json.loads(path.read_text()), indent=2))
        assert measure(pretty, Config()).files == measure(path, Config()).files
        assert list(measuring.manifestlines.entries(path))  # the build's layout is read by line


def test_a_manifest_out_of_the_builds_layout_gives_the_same_errors(cli, tmp_path) -> None:
    from assetpipe.build import manifest as writer

    wrong_schema = tmp_path / "wrong.json"
    wrong_schema.write_bytes(writer.dumps({"schema": 2, "files": {"a.js": {"size": 1}}, "failures": []}))
    no_size = tmp_path / "nosize.json"
    no_size.write_bytes(writer.dumps({"schema": 1, "files": {"a.js": {"size": 1}, "b.js": {}}, "failures": []}))
    out_of_order = tmp_path / "order.json"
    out_of_order.write_text('{\n  "failures": [],\n  "files": {\n    "b.js": {"size": 2},\n    "a.js": {"size": 1}\n'
                            '  },\n  "schema": 1\n}\n')
    result = cli("diff", str(wrong_schema), str(wrong_schema), "--format", "json")
    assert result.exit_code == 2 and "not an assetpipe manifest (schema 1)" in result.stderr
    result = cli("diff", str(no_size), str(no_size), "--format", "json")
    assert result.exit_code == 2 and "files.b.js: not a manifest entry (no size)" in result.stderr
    files = as_json(cli("diff", str(out_of_order), str(out_of_order), "--format", "json"))["files"]
    assert sorted(f["key"] for f in files) == ["a.js", "b.js"]


def test_without_brotli_the_gzip_sidecar_is_what_goes_over_the_wire(cli, site, tmp_path) -> None:
    """`compress.formats` without Brotli: the snippets fall through to gzip, and so does the count (it said
    no text file was any smaller). diff's columns are the two servers' as before (its Brotli one computed
    where there is no .br)."""
    (tmp_path / "assetpipe.toml").write_text('[compress]\nformats = ["gzip", "zstd"]\n')
    built = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--no-images", "--json")
    assert built.exit_code == 0, built.stderr
    manifest = json.loads((site / ".assetpipe" / "manifest.json").read_text())["files"]
    gzipped = {rel: e for rel, e in manifest.items() if "gzip" in e.get("encodings", {})}
    assert gzipped and not [rel for rel, e in manifest.items() if "br" in e.get("encodings", {})]
    saved = sum(e["size"] - e["encodings"]["gzip"]["size"] for rel, e in gzipped.items()
                if not rel.endswith(".map") and not rel.startswith(".vite/"))
    document = json.loads(built.stdout)["bytes"]
    assert saved > 0 and document["original"] - document["over_the_wire"] == saved
    head = as_json(cli("diff", str(tmp_path / "none"), str(site), "--format", "json"))["totals"]["total"]["head"]
    assert head["gzip"] == document["over_the_wire"]  # diff's Brotli column is what Brotli would send: computed
    assert head["brotli"] < head["gzip"]
