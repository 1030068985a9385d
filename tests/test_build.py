"""`assetpipe build` end to end on the demo site: sidecars, skips, determinism, cache, --out, --dry-run."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import sqlite3
from pathlib import Path

import brotli
from PIL import Image

from assetpipe.build import ledger
from assetpipe.build.writer import Writer
from assetpipe.cache.store import DB_NAME, Cache
from assetpipe.config import Config

from .conftest import DEMO, snapshot

NEVER_COMPRESSED = (".jpg", ".png", ".woff", ".woff2")


def manifest_of(root: Path) -> dict:
    return json.loads((root / ".assetpipe" / "manifest.json").read_text())


def test_sidecars_decompress_to_the_originals_and_obey_the_ratio(cli, site, cache_dir) -> None:
    before = snapshot(site)
    result = cli("build", str(site), "--cache-dir", str(cache_dir))
    assert result.exit_code == 0, result.stderr
    files = manifest_of(site)["files"]
    checked = 0
    for rel, entry in files.items():
        original = (site / rel).read_bytes()
        for codec, encoding in entry.get("encodings", {}).items():
            data = (site / encoding["file"]).read_bytes()
            assert len(data) == encoding["size"]
            if codec in ("avif", "webp"):  # same-URL image sidecars: smaller, and the same picture
                assert len(data) < len(original)
                assert Image.open(io.BytesIO(data)).size == Image.open(io.BytesIO(original)).size
                continue
            assert len(data) <= 0.95 * len(original)
            assert (brotli.decompress(data) if codec == "br" else gzip.decompress(data)) == original
            checked += 1
    assert checked >= 30
    # Every source file is byte-identical afterwards, but the pages (their <img> tags became <picture>s).
    after = snapshot(site)
    assert {rel: after[rel] for rel in before if not rel.endswith(".html")} == {
        rel: digest for rel, digest in before.items() if not rel.endswith(".html")}


def test_what_is_never_precompressed(cli, site, cache_dir) -> None:
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    files = manifest_of(site)["files"]
    for rel, entry in files.items():
        if rel.endswith(NEVER_COMPRESSED) or rel.endswith(".map"):
            assert not {"br", "gzip"} & set(entry.get("encodings", {})), rel
    assert "encodings" not in files["assets/empty-ish.txt"]  # 3 bytes: nothing to gain
    assert not list(site.rglob("*.map.br")) and not list(site.rglob("*.jpg.gz"))
    for rel in ("index.html", "assets/logo-pPmQi5N6.svg", "data/products.json", "site.webmanifest"):
        assert set(files[rel]["encodings"]) == {"br", "gzip"}, rel


def test_source_maps_only_on_request(cli, site, cache_dir, tmp_path) -> None:
    (tmp_path / "assetpipe.toml").write_text("[compress]\nsource_maps = true\n")
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    entry = manifest_of(site)["files"]["assets/index-2vZXRZ4C.js.map"]
    assert set(entry["encodings"]) == {"br", "gzip"}


def test_zstd_and_zopfli_when_configured(cli, site, cache_dir, tmp_path) -> None:
    (tmp_path / "assetpipe.toml").write_text('[compress]\nformats = ["br", "gzip", "zstd"]\ngzip = "zopfli"\n')
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    entry = manifest_of(site)["files"]["data/products.json"]
    assert entry["encodings"]["zstd"]["file"] == "data/products.json.zst"
    assert (site / "data/products.json.zst").read_bytes()[:4] == b"\x28\xb5\x2f\xfd"


def test_two_builds_of_two_copies_are_byte_identical(cli, site, tmp_path) -> None:
    other = tmp_path / "other"
    shutil.copytree(site, other)
    assert cli("build", str(site), "--cache-dir", str(tmp_path / "c1"), "-j", "1").exit_code == 0
    assert cli("build", str(other), "--cache-dir", str(tmp_path / "c2"), "-j", "2").exit_code == 0
    assert snapshot(site) == snapshot(other)


def test_warm_build_does_no_work_and_changes_nothing(cli, site, cache_dir) -> None:
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    before = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}
    contents = snapshot(site)
    result = cli("build", str(site), "--cache-dir", str(cache_dir), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["encoded"] == 0 and report["written"] == 0 and report["removed"] == 0
    assert snapshot(site) == contents
    changed = [p for p in site.rglob("*") if p.is_file() and p.stat().st_mtime_ns != before.get(p)]
    # Not even the manifest and the ledger are rewritten: rsync, CI caches and make-style deploys see no
    # change after a no-op build (issue 17, item 1).
    assert changed == []
    assert (site / ".assetpipe" / "manifest.json") in before and (site / ".assetpipe" / "outputs.json") in before


def test_wiped_dist_with_the_cache_encodes_nothing_and_equals_a_clean_build(cli, site, cache_dir, tmp_path) -> None:
    pristine = tmp_path / "pristine"
    shutil.copytree(site, pristine)
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    clean = snapshot(site)
    shutil.rmtree(site)
    shutil.copytree(pristine, site)  # what `vite build` with emptyOutDir leaves
    result = cli("build", str(site), "--cache-dir", str(cache_dir), "--json")
    report = json.loads(result.stdout)
    assert report["encoded"] == 0
    assert report["cache_hits"] > 30
    assert snapshot(site) == clean


def test_one_changed_file_encodes_only_its_sidecars(cli, site, cache_dir) -> None:
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    chunk = site / "assets" / "about-A9tvyagY.js"
    chunk.write_bytes(chunk.read_bytes() + b"\n// changed\n")
    report = json.loads(cli("build", str(site), "--cache-dir", str(cache_dir), "--json").stdout)
    assert report["encoded"] == 2 and report["written"] == 2
    assert brotli.decompress((site / "assets/about-A9tvyagY.js.br").read_bytes()) == chunk.read_bytes()


def test_changing_a_setting_reencodes_only_what_it_changes(cli, site, cache_dir, tmp_path) -> None:
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    (tmp_path / "assetpipe.toml").write_text('[compress]\ngzip = "zopfli"\n')
    report = json.loads(cli("build", str(site), "--cache-dir", str(cache_dir), "--json").stdout)
    gz_sources = [r for r, e in manifest_of(site)["files"].items() if "gzip" in e.get("encodings", {})]
    assert 0 < report["encoded"] <= len(gz_sources) + 3  # gzip outputs only (+ the few that missed the ratio)
    assert report["up_to_date"] >= len(gz_sources)  # every .br kept as it was


def test_deleted_source_takes_its_sidecars_with_it(cli, site, cache_dir) -> None:
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    (site / "data" / "stores.json").unlink()
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    assert not (site / "data/stores.json.br").exists() and not (site / "data/stores.json.gz").exists()
    assert "data/stores.json" not in manifest_of(site)["files"]


def test_no_compress_removes_only_assetpipes_sidecars(cli, site, cache_dir) -> None:
    user_made = site / "robots.txt.gz"
    user_made.write_bytes(b"not really gzip, but the user's file")
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    assert cli("build", str(site), "--cache-dir", str(cache_dir), "--no-compress").exit_code == 0
    assert not list(site.rglob("*.br"))
    assert [p.name for p in site.rglob("*.gz")] == ["robots.txt.gz"]


def test_a_sidecar_the_user_made_is_reported_and_left_alone(cli, site, cache_dir) -> None:
    theirs = site / "index.html.br"
    theirs.write_bytes(b"hand-made")
    result = cli("build", str(site), "--cache-dir", str(cache_dir))
    assert result.exit_code == 0
    assert "warning: index.html.br: exists and was not written by assetpipe; left alone" in result.stderr
    assert theirs.read_bytes() == b"hand-made"
    entry = manifest_of(site)["files"]["index.html"]
    assert set(entry["encodings"]) == {"gzip"}
    assert manifest_of(site)["files"]["index.html.br"]["type"] == "application/x-brotli"


def test_a_sidecar_edited_by_hand_becomes_the_users(cli, site, cache_dir) -> None:
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    edited = site / "robots.txt.br"
    if not edited.exists():  # robots.txt may be too small to compress; use a sure one
        edited = site / "index.html.br"
    edited.write_bytes(b"edited")
    result = cli("build", str(site), "--cache-dir", str(cache_dir))
    assert edited.read_bytes() == b"edited"
    assert "exists and was not written by assetpipe" in result.stderr


def test_out_leaves_the_folder_untouched_and_equals_an_in_place_build(cli, site, cache_dir, tmp_path) -> None:
    before = snapshot(site)
    out = tmp_path / "out"
    assert cli("build", str(site), "--out", str(out), "--cache-dir", str(cache_dir)).exit_code == 0
    assert snapshot(site) == before
    in_place = tmp_path / "in-place"
    shutil.copytree(site, in_place)
    assert cli("build", str(in_place), "--cache-dir", str(cache_dir)).exit_code == 0
    ledger_file = ".assetpipe/outputs.json"
    got, want = snapshot(out), snapshot(in_place)
    got.pop(ledger_file), want.pop(ledger_file)
    assert got == want
    # A second --out run into the same folder is allowed (it is assetpipe's own) and follows changes.
    (site / "robots.txt").unlink()
    assert cli("build", str(site), "--out", str(out), "--cache-dir", str(cache_dir)).exit_code == 0
    assert not (out / "robots.txt").exists()


def test_out_refuses_a_folder_with_files_of_the_users(cli, site, cache_dir, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep-me.txt").write_text("mine")
    result = cli("build", str(site), "--out", str(out), "--cache-dir", str(cache_dir))
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: --out {out}: holds files assetpipe did not write (keep-me.txt); "
                                     "choose an empty or new folder")
    assert sorted(p.name for p in out.iterdir()) == ["keep-me.txt"]


def test_out_inside_the_folder_is_refused(cli, site, cache_dir) -> None:
    result = cli("build", str(site), "--out", str(site / "copy"), "--cache-dir", str(cache_dir))
    assert result.exit_code == 2
    assert "must not be inside" in result.stderr
    assert not (site / "copy").exists()


def test_dry_run_prints_the_plan_and_writes_nothing(cli, site, cache_dir) -> None:
    before = snapshot(site)
    result = cli("build", str(site), "--cache-dir", str(cache_dir), "--dry-run")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "encode  index.html.br" in lines and "encode  index.html.gz" in lines
    assert not any(line.endswith((".jpg.br", ".map.br")) for line in lines)
    assert snapshot(site) == before
    assert not cache_dir.exists()
    plan = json.loads(cli("build", str(site), "--cache-dir", str(cache_dir), "--dry-run", "--json").stdout)["plan"]
    assert {"action": "encode", "codec": "br", "file": "index.html.br", "source": "index.html"} in plan["outputs"]
    assert snapshot(site) == before


def test_dry_run_after_a_build_plans_no_work(cli, site, cache_dir) -> None:
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    lines = cli("build", str(site), "--cache-dir", str(cache_dir), "--dry-run").stdout.splitlines()
    assert lines and not [line for line in lines if line.startswith("encode")]
    assert sum(line.startswith("ok ") for line in lines) > 30


def test_an_interrupted_build_is_finished_by_the_next_one(cli, site, cache_dir, tmp_path) -> None:
    """A build killed after writing some outputs (journal written, ledger not): the next build knows them."""
    reference = tmp_path / "reference"
    shutil.copytree(site, reference)
    assert cli("build", str(reference), "--cache-dir", str(tmp_path / "c0")).exit_code == 0
    writer = Writer(site, ledger.load(site))
    writer.write("index.html.br", (reference / "index.html.br").read_bytes(), "stale-key")
    writer.close()  # killed here: no outputs.json, a journal, and a leftover temp file
    (site / "assets" / ".about-A9tvyagY.js.br.x1y2.assetpipe-tmp").write_bytes(b"partial")
    result = cli("build", str(site), "--cache-dir", str(cache_dir))
    assert result.exit_code == 0
    assert "warning" not in result.stderr
    assert snapshot(site) == snapshot(reference)


def test_default_cache_dir_is_in_the_working_directory_and_env_overrides(cli, site, tmp_path, monkeypatch) -> None:
    assert cli("build", str(site)).exit_code == 0
    assert (tmp_path / ".assetpipe-cache" / DB_NAME).is_file()
    monkeypatch.setenv("ASSETPIPE_CACHE_DIR", str(tmp_path / "env-cache"))
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /private/\nDisallow: /drafts/\n" * 4)
    assert CliRunnerless_build(site) == 0
    assert (tmp_path / "env-cache" / DB_NAME).is_file()


def CliRunnerless_build(site: Path) -> int:
    from click.testing import CliRunner

    from assetpipe.cli import main

    return CliRunner().invoke(main, ["build", str(site)], catch_exceptions=False).exit_code


def test_cache_entries_that_are_damaged_read_as_misses(tmp_path) -> None:
    cache = Cache(tmp_path / "c")
    assert not cache.has("ab" * 32) and not (tmp_path / "c").exists()  # reading creates nothing
    cache.put("ab" * 32, b"payload")
    cache.close()
    cache = Cache(tmp_path / "c")
    assert cache.has("ab" * 32) and cache.get("ab" * 32) == b"payload"
    cache.close()
    with sqlite3.connect(tmp_path / "c" / DB_NAME) as db:
        db.execute("UPDATE blobs SET payload = ? WHERE key = ?", (b"paylo", "ab" * 32))
    cache = Cache(tmp_path / "c")
    assert cache.get("ab" * 32) is None
    assert cache.get("cd" * 32) is None
    cache.close()


def test_a_cache_written_before_the_rowid_table_is_still_read(cli, site, cache_dir, tmp_path) -> None:
    """Caches written before 2026-12-07 hold their entries in `entries`, a WITHOUT ROWID table."""
    fresh = tmp_path / "fresh"
    shutil.copytree(site, fresh)
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    clean = snapshot(site)
    with sqlite3.connect(cache_dir / DB_NAME) as db:  # the old layout, every entry moved into it
        db.execute("CREATE TABLE entries (key TEXT PRIMARY KEY, digest BLOB NOT NULL, payload BLOB NOT NULL) "
                   "WITHOUT ROWID")
        db.execute("INSERT INTO entries SELECT key, digest, payload FROM blobs")
        moved = db.execute("SELECT count(*) FROM entries").fetchone()[0]
        db.execute("DROP TABLE blobs")
    assert moved > 30
    report = json.loads(cli("build", str(fresh), "--cache-dir", str(cache_dir), "--json").stdout)
    assert report["encoded"] == 0 and report["cache_hits"] == moved
    assert snapshot(fresh) == clean
    with sqlite3.connect(cache_dir / DB_NAME) as db:  # a damaged old entry reads as a miss, stored anew
        key = db.execute("SELECT key FROM entries ORDER BY key LIMIT 1").fetchone()[0]
        db.execute("UPDATE entries SET payload = x'00' WHERE key = ?", (key,))
    cache = Cache(cache_dir)
    assert cache.has(key) and cache.get(key) is None
    cache.put(key, b"again")
    assert cache.get(key) == b"again"
    cache.close()


def test_damaged_cache_entry_is_encoded_again(cli, site, cache_dir) -> None:
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    clean = snapshot(site)
    with sqlite3.connect(cache_dir / DB_NAME) as db:
        db.execute("UPDATE blobs SET payload = x'00'")
    shutil.rmtree(site / ".assetpipe")
    for path in site.rglob("*"):  # back to what the build started from
        if path.is_file() and not (DEMO / path.relative_to(site)).exists():
            path.unlink()
    report = json.loads(cli("build", str(site), "--cache-dir", str(cache_dir), "--json").stdout)
    assert report["cache_hits"] == 0 and report["encoded"] > 30
    assert snapshot(site) == clean


def test_config_defaults_used_without_any_file(site) -> None:
    assert Config().compress.formats == ("br", "gzip")
    assert os.path.isdir(site)


def test_outputs_get_the_mode_a_plain_open_gives(cli, site, cache_dir) -> None:
    mask = os.umask(0o022)
    try:
        assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    finally:
        os.umask(mask)
    for path in [site / "index.html.br", site / "index.html.gz", site / ".assetpipe" / "manifest.json"]:
        assert path.stat().st_mode & 0o777 == 0o644, path
    assert not list(site.rglob("*.assetpipe-tmp"))

