"""The delta build (build/delta.py, deltarun.py): when only a few plain text files changed since the recorded
build, only those are built, and the folder (sidecars, manifest, ledger) and the counts are exactly what the
full build gives on the same change, and what a clean build gives; every other change takes the full build.

Stamps are trusted only once RACY_NS old (statmemo's rule), so the build that records runs after a wait."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from assetpipe.build import listing
from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.cache.statmemo import RACY_NS
from assetpipe.config import Config
from assetpipe.config.loading import parse
from assetpipe.model import BuildResult, UsageError

from .conftest import REPO, Quiet, in_batches, note_routes, snapshot


def _script(i: int, extra: str = "") -> str:
    return "".join(f"export const v{i}_{n} = (a) => a * {n} + {i};\n" for n in range(30 * i)) + extra


def _make(root: Path) -> Path:
    """Text files in three folders and the top (some too small for a sidecar worth keeping), and a page."""
    for folder in ("a", "b", "c/d"):
        (root / folder).mkdir(parents=True)
        for i in (1, 2, 3):
            (root / folder / f"f{i}.js").write_text(_script(i))
            (root / folder / f"s{i}.css").write_text("body { margin: 0 }\n" * 30 * i)
        (root / folder / "tiny.json").write_text('{"a": 1}')
    (root / "icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg">' + '<path d="M0 0h1"/>' * 40 + "</svg>")
    (root / "index.html").write_text("<!doctype html><title>x</title>" + "<p>paragraph</p>\n" * 40)
    (root / ".vite").mkdir()  # a/f1.js is Vite's main.js: its entry names it
    (root / ".vite/manifest.json").write_text('{"main.js": {"file": "a/f1.js", "isEntry": true}}')
    return root


def _build(site: Path, cache: Path, config: Config | None = None, images: bool = False,
           **switches: object) -> BuildResult:
    return build(BuildRequest(site, config or Config(), cache, images=images, jobs=2, **switches), Quiet())


def _recorded(root: Path, cache: Path, images: bool = False) -> Path:
    site = _make(root)
    assert _build(site, cache, images=images).exit_code == 0
    time.sleep(RACY_NS / 1e9 + 0.2)
    second = _build(site, cache, images=images)  # the first build's stamps were racy: each file looked at again
    assert second.route == "delta" and second.stats.written == 0
    assert (cache / listing.DB_NAME).is_file()
    return site


Recorded = Callable[[], tuple[Path, Path]]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Hands out recorded sites (without images), each with its own cache: `_recorded`'s, made a batch at a
    time so that one wait for the racy window serves the batch, not one wait a test. The record is keyed by
    the folder's real path, so each site is recorded where the test finds it."""

    def first(site: Path, cache: Path) -> None:
        assert _build(_make(site), cache).exit_code == 0

    def then(site: Path, cache: Path) -> None:
        second = _build(site, cache)
        assert second.route == "delta" and second.stats.written == 0
        assert (cache / listing.DB_NAME).is_file()

    return in_batches(tmp_path_factory.mktemp("recorded"), first, then)


def _sources(site: Path, into: Path) -> Path:
    """A copy of the folder's sources only: what a clean build starts from."""
    shutil.copytree(site, into, ignore=shutil.ignore_patterns("*.br", "*.gz", "*.zst", ".assetpipe"))
    return into


def _counts(result: BuildResult) -> object:
    return replace(result.stats, seconds=0)


def _edit(site: Path) -> None:
    (site / "a/f2.js").write_text(_script(2, "export const edited = 'yes, edited: a new line';\n" * 3))


def _add(site: Path) -> None:
    (site / "b/new.js").write_text(_script(4))


def _remove(site: Path) -> None:
    (site / "c/d/s3.css").unlink()


def _several(site: Path) -> None:
    _edit(site)
    _add(site)
    _remove(site)
    (site / "c/d/f1.js").write_text(_script(1, "// and a comment\n" * 20))
    (site / "a/f1.js").write_text(_script(1, "// Vite's main.js, changed\n" * 20))
    (site / "icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg">' + '<path d="M1 1h2"/>' * 50 + "</svg>")
    (site / "b/tiny.json").write_text('{"b": 2}')


def _touch(site: Path) -> None:
    os.utime(site / "a/f1.js")


def _page(site: Path) -> None:
    (site / "index.html").write_text("<!doctype html><title>y</title><p>changed</p>\n" * 40)


@pytest.mark.parametrize("change", [_edit, _add, _remove, _several, _touch, _page],
                         ids=["one changed", "one added", "one removed", "several in different folders", "touched",
                              "a page, no page rewritten (--no-images)"])
def test_a_delta_gives_the_full_builds_folder_and_counts(tmp_path: Path, recorded: Recorded, change: Callable[[Path],
                                                         None]) -> None:
    site, cache = recorded()
    full, full_cache = tmp_path / "full", tmp_path / "full-cache"
    shutil.copytree(site, full)
    shutil.copytree(cache, full_cache)
    (full_cache / listing.DB_NAME).unlink()  # the same folder and cache, built the full way
    change(site)
    change(full)
    delta = _build(site, cache)
    assert delta.route == "delta", delta.route
    whole = _build(full, full_cache)
    assert whole.route.startswith("full")
    assert snapshot(site) == snapshot(full)
    assert _counts(delta) == _counts(whole)
    clean = _sources(site, tmp_path / "clean")
    assert _build(clean, tmp_path / "clean-cache").exit_code == 0
    assert snapshot(site) == snapshot(clean)
    # and the record it left is good for the next one
    (site / "c/d/f2.js").write_text(_script(2, "// next\n" * 9))
    (clean / "c/d/f2.js").write_text(_script(2, "// next\n" * 9))
    assert _build(site, cache).route == "delta"
    _build(clean, tmp_path / "clean-cache")
    assert snapshot(site) == snapshot(clean)


def test_an_unchanged_folder_after_a_delta_gives_the_counts_a_full_build_gives(tmp_path: Path,
                                                                               recorded: Recorded) -> None:
    site, cache = recorded()
    _several(site)
    assert _build(site, cache).route == "delta"
    time.sleep(RACY_NS / 1e9 + 0.2)
    again = _build(site, cache)  # the racy entries looked at again
    assert again.route == "delta" and again.stats.written == 0
    unchanged = _build(site, cache)
    assert unchanged.route == "noop"
    (cache / listing.DB_NAME).unlink()
    (cache / "noop-v1.sqlite3").unlink(missing_ok=True)
    whole = _build(site, cache)
    assert whole.route.startswith("full") and _counts(whole) == _counts(unchanged) == _counts(again)


def _image(site: Path) -> None:
    (site / "a/pixel.png").write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"))


def _sidecar_edited(site: Path) -> None:
    (site / "a/f3.js.gz").write_bytes(gzip.compress(b"not what assetpipe wrote"))


def _sidecar_deleted(site: Path) -> None:
    (site / "b/f3.js.br").unlink()


def _manifest_deleted(site: Path) -> None:
    (site / ".assetpipe/manifest.json").unlink()


def _vite(site: Path) -> None:
    (site / ".vite/manifest.json").write_text('{"main.js": {"file": "a/f2.js", "isEntry": true}}')


def _named_like_a_sidecar(site: Path) -> None:
    (site / "a/extra.js.gz").write_bytes(b"a user's file")


def _users_file_where_a_sidecar_goes(site: Path) -> None:
    (site / "b/new.js").write_text(_script(5))
    (site / "b/new.js.br").write_bytes(b"a user's file")


def _new_folder(site: Path) -> None:
    (site / "e").mkdir()
    (site / "e/f.js").write_text(_script(2))


def _journal(site: Path) -> None:
    (site / ".assetpipe/journal.jsonl").write_text("")
    _edit(site)


def _hashed_name(site: Path) -> None:
    (site / "a/chunk-Bx81KqZw.js").write_text(_script(3))


@pytest.mark.parametrize(("change", "why"), [
    (_image, "a/pixel.png: image/png"),
    (_sidecar_edited, "a/f3.js.gz: an output of assetpipe's, changed by hand"),
    (_sidecar_deleted, "b/f3.js.br: an output of assetpipe's, removed"),
    (_manifest_deleted, ".assetpipe/ changed"), (_vite, ".vite/manifest.json: Vite's manifest"),
    (_named_like_a_sidecar, "a/extra.js.gz: named like a sidecar"),
    (_users_file_where_a_sidecar_goes, "b/new.js.br: a file of the user's where a sidecar goes"),
    (_new_folder, "e: a new folder"), (_journal, ".assetpipe/ changed"),
    (_hashed_name, "judged immutable by its name")], ids=lambda v: getattr(v, "__name__", "")[1:])
def test_any_other_change_takes_the_full_build(tmp_path: Path, recorded: Recorded, change: Callable[[Path], None],
                                               why: str) -> None:
    site, cache = recorded()
    change(site)
    result = _build(site, cache)
    assert result.route.startswith("full (delta: ") and why in result.route, result.route


@pytest.mark.parametrize("settings", [{}, {"html": {"rewrite": False}}], ids=["rewritten", "not rewritten"])
def test_an_edited_page_is_a_delta_whose_folder_is_the_full_builds(tmp_path: Path, recorded: Recorded,
                                                                   settings: dict) -> None:
    """With images on and html.rewrite (the defaults) the delta rewrites the edited page as the full build
    would (build/deltapages.py); with html.rewrite = false nothing reads it, and it is plain text."""
    config = parse(settings, "test")
    site, cache = recorded()
    assert _build(site, cache, config, images=True).route.startswith("full")  # its own record
    time.sleep(RACY_NS / 1e9 + 0.2)
    assert _build(site, cache, config, images=True).route == "noop"  # recorded
    full = tmp_path / "full"
    shutil.copytree(site, full)
    _page(site)
    _page(full)
    assert _build(site, cache, config, images=True).route == "delta"
    assert _build(full, tmp_path / "full-cache", config, images=True).route.startswith("full")
    assert snapshot(site) == snapshot(full)


def test_removals_the_net_decides_on_take_the_full_build(tmp_path: Path, recorded: Recorded) -> None:
    site, cache = recorded()
    for folder in ("a", "b", "c/d"):
        for i in (1, 2, 3):
            (site / folder / f"f{i}.js").unlink()
    before = snapshot(site)
    with pytest.raises(UsageError, match="would remove 18"):  # the full build's net: nothing written
        _build(site, cache)
    assert snapshot(site) == before
    # --allow-delete is not part of the record's fingerprint: the same record serves, and the delta
    # removes the 18 sidecars itself; the folder is a clean build's
    allowed = _build(site, cache, allow_delete=True)
    assert allowed.route == "delta" and allowed.stats.removed == 18, allowed.route
    clean = _sources(site, tmp_path / "clean")
    assert _build(clean, tmp_path / "clean-cache").exit_code == 0
    assert snapshot(site) == snapshot(clean)


def test_a_record_made_without_allow_delete_is_replayed_with_it(tmp_path: Path, recorded: Recorded) -> None:
    """A watcher's first run is built without --allow-delete and its later runs with it; a user may pass it
    on one build and not the next. Neither changes what an unchanged folder's build does."""
    site, cache = recorded()
    assert _build(site, cache, allow_delete=True).route == "noop"
    assert _build(site, cache).route == "noop"


@pytest.mark.parametrize("what", ["config", "minify", "budgets", "out", "dry-run"])
def test_a_build_asked_differently_takes_the_full_build(tmp_path: Path, recorded: Recorded, what: str) -> None:
    site, cache = recorded()
    _edit(site)
    config, switches = Config(), {}
    if what == "config":
        config = parse({"compress": {"min_ratio": 0.5}}, "test")
    elif what == "minify":
        config = parse({"minify": {"js": True}}, "test")
    elif what == "budgets":
        switches = {"check": lambda inventory: None}
    elif what == "out":
        switches = {"out": tmp_path / "out"}
    else:
        switches = {"dry_run": True}
    result = _build(site, cache, config, **switches)
    assert not result.route.startswith(("delta", "noop")), result.route


@pytest.mark.slow
def test_a_delta_killed_at_any_put_in_place_leaves_no_record_to_trust(tmp_path: Path, recorded: Recorded) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("needs strace (.ci/run installs it)")
    env = {k: v for k, v in os.environ.items() if k != "ASSETPIPE_CACHE_DIR"} | {"PYTHONPATH": str(REPO)}
    for nth in (1, 2, 3, 4):  # the sidecars .br and .gz, the manifest, the ledger
        root = tmp_path / str(nth)
        site, cache = recorded()
        _edit(site)
        killed = subprocess.run([strace, "-f", "-qq", "-o", os.devnull, "-e",
                                 f"inject=rename,renameat,renameat2:signal=SIGKILL:when={nth}",
                                 sys.executable, "-m", "assetpipe", "build", str(site), "--cache-dir",
                                 str(cache), "--no-images"], env=env, capture_output=True, timeout=120)
        assert killed.returncode != 0
        after = _build(site, cache)
        assert after.route.startswith("full"), after.route
        assert after.exit_code == 0
        clean = _sources(site, root / "clean")
        _build(clean, root / "clean-cache")
        assert snapshot(site) == snapshot(clean)


@pytest.mark.parametrize("seed", range(40))
def test_a_spliced_ledger_is_the_ledger_written_whole(tmp_path: Path, seed: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows replaced, removed and inserted anywhere (first, last, several at one place, names JSON escapes),
    in a file larger than the blocks it is read in (found by bisection, then read on): the bytes the full
    build's writer gives, and `changes` says whether they differ from the file's."""
    import random

    from assetpipe.build import ledger, splice

    rng = random.Random(seed)
    monkeypatch.setattr(splice, "_BLOCK", rng.choice((200, 4096, 1 << 20)))  # blocks ending anywhere in a row
    names = ["a", "b/é.js", 'q"uote.js', "z/\\back.css", "m\u2028.json", "0.js", "~.svg"]
    names += [f"{rng.choice('abcxyz')}/{rng.randrange(10**6)}.js" for _ in range(rng.choice((1, 5, 3000)))]

    def record(name: str) -> ledger.Record:
        return ledger.Record(f"k{rng.random()}", f"{rng.getrandbits(256):064x}", rng.randrange(10**6))

    before = {name: record(name) for name in rng.sample(names, max(1, len(names) // 2))}
    path = tmp_path / "outputs.json"
    path.write_bytes(ledger.encode(before))
    changes: dict[str, str | None] = {}
    after = dict(before)
    for name in rng.sample(names, rng.randrange(1, min(len(names), 12))):
        if name in after and rng.random() < 0.4:
            del after[name]
            changes[name] = None
        else:
            after[name] = record(name)
            changes[name] = ledger.row(name, after[name])
    if seed % 5 == 0:  # rows given again as they are: nothing to write
        changes = {name: ledger.row(name, before[name]) for name in rng.sample(sorted(before), min(3, len(before)))}
        after = dict(before)
    if not after:
        return
    layout = splice.locate(path, splice.LEDGER, set(changes))
    assert b"".join(splice.pieces(layout, changes)) == ledger.encode(after)
    assert splice.changes(layout, changes) == (after != before)


def test_watch_builds_a_changed_script_as_a_delta_from_its_events(tmp_path: Path) -> None:
    from assetpipe.watch.watcher import Watcher

    site, cache = _make(tmp_path / "dist"), tmp_path / "cache"
    lines: list[str] = []
    watcher = Watcher(BuildRequest(site, Config(), cache, images=False, jobs=2), Quiet(), lines.append,
                      quiet=0.3, settle=0.1)
    routes = note_routes(watcher)
    assert watcher.start().route.startswith("full")
    import threading

    thread = threading.Thread(target=watcher.loop, daemon=True)
    thread.start()
    try:
        clean = tmp_path / "clean"
        for n in range(4):  # start's run recorded the folder: every run after it is a delta
            time.sleep(RACY_NS / 1e9 + 0.2)
            (site / "b/f3.js").write_text(_script(3, f"// edit {n}\n" * 10))
            deadline = time.monotonic() + 60
            while len(lines) < n + 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(lines) == n + 1, lines
        assert routes[1:] == ["delta"] * 4, routes
        time.sleep(1)
        assert len(lines) == 4, lines  # the delta's own writes started no run
        shutil.rmtree(clean, ignore_errors=True)
        _sources(site, clean)
        _build(clean, tmp_path / "clean-cache")
        assert snapshot(site) == snapshot(clean)
    finally:
        watcher.stop()
        thread.join(30)
        watcher.close()


def test_a_page_built_at_once_after_its_edit_does_not_stop_the_next_delta(tmp_path: Path) -> None:
    """A page edited and built within RACY_NS: the build records its stamp as racy, so the next build looks
    at it again. It still holds the bytes the manifest lists, so that is nothing to do: a script changed
    next is a delta (it was a second full build), and the folder is a clean build's. (Images on: pages are
    rewritten; a folder added with the page makes the build a full one.)"""
    site = _recorded(tmp_path / "dist", tmp_path / "cache", images=True)
    (site / "index.html").write_text("<!doctype html><title>y</title>" + "<p>another paragraph</p>\n" * 40)
    _new_folder(site)
    assert _build(site, tmp_path / "cache", images=True).route.startswith("full (delta: e: a new folder")
    _edit(site)  # at once: the page's stamp was recorded racy
    assert _build(site, tmp_path / "cache", images=True).route == "delta"
    clean = _build(_sources(site, tmp_path / "clean"), tmp_path / "clean-cache", images=True)
    assert clean.exit_code == 0
    assert snapshot(site) == snapshot(tmp_path / "clean")


@pytest.mark.parametrize("route", ["delta", "full"])
def test_a_file_that_shrank_loses_its_earlier_sidecars(tmp_path: Path, recorded: Recorded, route: str) -> None:
    """A script whose sidecars were worth keeping becomes a few bytes, where neither is: its earlier .br and
    .gz go, in a delta and in a full build, as a clean build never has them. They stayed (and a server
    sending `.gz` as it is served the old script) when the new bytes' sidecar was dropped under a new key:
    only a sidecar of the same bytes, kept before the ratio rule changed, was removed."""
    site, cache = recorded()
    assert (site / "a/f3.js.gz").exists() and (site / "a/f3.js.br").exists()
    if route == "full":
        (cache / listing.DB_NAME).unlink()
        (cache / "noop-v1.sqlite3").unlink(missing_ok=True)
    (site / "a/f3.js").write_text("export const x = 3;\n")
    result = _build(site, cache)
    assert result.route.startswith(route), result.route
    assert result.stats.removed == 2
    assert not (site / "a/f3.js.gz").exists() and not (site / "a/f3.js.br").exists()
    clean = _sources(site, tmp_path / "clean")
    assert _build(clean, tmp_path / "clean-cache").exit_code == 0
    assert snapshot(site) == snapshot(clean)


def _zeroed(site: Path, cache: Path) -> list[str]:
    """The files the record holds with racy (zeroed) times: the ones the next build hashes again."""
    record = listing.Record(cache, site, create=False)
    try:
        return sorted(f"{rel}/{name}" if rel else name for rel in record.digests()
                      for name, stamp in listing.entries(record.listing(rel)).items()
                      if stamp[0] != listing.DIR and stamp[2] == 0)
    finally:
        record.close()


def test_the_build_after_one_that_wrote_many_outputs_is_not_a_full_build(tmp_path: Path) -> None:
    """A framework writes 1,100 scripts and the build runs at once, writing 2,200 sidecars. Every file the
    build put in place is recorded with the stamp its writer saw right after (writer.Stamps), not as racy;
    the scripts, written just before, are racy, and the next build only hashes them again (more than a
    delta's changes, but the same size and inode). It was a full build ("more than 1000 files changed").
    Then nothing is left to hash, and a script's edit is a delta whose folder is a clean build's."""
    site, cache = tmp_path / "dist", tmp_path / "cache"
    for i in range(1100):
        folder = site / f"p{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{i:04d}.js").write_text(_script(1, f"export const n{i} = {i};\n"))
    cold = _build(site, cache)
    assert cold.exit_code == 0 and cold.stats.written == 2200
    assert _zeroed(site, cache) == sorted(p.relative_to(site).as_posix() for p in site.rglob("*.js"))
    time.sleep(RACY_NS / 1e9 + 0.2)
    settled = _build(site, cache)
    assert settled.route == "delta" and (settled.stats.written, settled.stats.encoded) == (0, 0)
    assert _zeroed(site, cache) == []
    assert _build(site, cache).route == "noop"
    (site / "p03/m0345.js").write_text(_script(2))
    assert _build(site, cache).route == "delta"
    clean = _sources(site, tmp_path / "clean")
    assert _build(clean, tmp_path / "clean-cache").exit_code == 0
    assert snapshot(site) == snapshot(clean)

def test_a_build_with_images_records_what_it_wrote_and_linked_as_it_left_it(tmp_path: Path) -> None:
    """The demo site with images: renditions written, some linked to another name (a second link moves the
    first name's ctime), pages rewritten in place. None is recorded racy, and the next build finds nothing
    to do."""
    site, cache = tmp_path / "site", tmp_path / "cache"
    shutil.copytree(REPO / "fixtures" / "site", site)
    time.sleep(RACY_NS / 1e9 + 0.2)
    cold = _build(site, cache, images=True)
    assert cold.exit_code == 0 and cold.stats.variants > 0
    assert any(path.stat().st_nlink > 1 for path in site.rglob("*") if path.is_file())  # links made
    assert _zeroed(site, cache) == []
    assert _build(site, cache, images=True).route == "noop"


def test_an_output_changed_in_place_during_the_build_is_not_trusted(tmp_path: Path) -> None:
    """Trusting what the writer put in place holds only while a file shows the ctime the writer saw right
    after: a sidecar overwritten in place with as many bytes (same inode, same size) after it was written,
    while the build goes on, is recorded racy; the next build hashes it and finds it changed, where it would
    otherwise find nothing to do. Then a sidecar overwritten so after the build is seen too."""

    class Meddling(Quiet):
        def advance(self, output: str, outcome: str) -> None:
            if output == "a/f3.js.br":
                time.sleep(0.05)  # past the file system's clock tick (the risk the racy rule leaves: within one)
                with (site / output).open("r+b") as handle:
                    handle.write(b"\0" * (site / output).stat().st_size)

    site, cache = _make(tmp_path / "dist"), tmp_path / "cache"
    time.sleep(RACY_NS / 1e9 + 0.2)
    assert build(BuildRequest(site, Config(), cache, images=False, jobs=2), Meddling()).exit_code == 0
    assert _zeroed(site, cache) == ["a/f3.js.br"]
    why = "full (delta: a/f3.js.br: an output of assetpipe's, changed by hand)"
    assert _build(site, cache).route == why
    time.sleep(RACY_NS / 1e9 + 0.2)
    (site / "a/f3.js.br").unlink()  # the full build kept the user's bytes; a build puts the sidecar back
    assert _build(site, cache).stats.written == 1
    assert _zeroed(site, cache) == []
    time.sleep(0.05)
    sidecar = site / "a/f3.js.br"
    with sidecar.open("r+b") as handle:
        handle.write(b"\0" * sidecar.stat().st_size)
    assert _build(site, cache).route == why


def test_a_full_build_after_one_that_wrote_the_sidecars_reads_none_of_them(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The stat memo learns each output the writer put in place, with the stamp it saw right after
    (statmemo.vouched): the next full build's scan reads none of the sidecars (it read all of them: at
    200,000 files the first full build after a cold build took 56 s where it took 40 after one that had
    read them), but for one overwritten in place since, which it reads and leaves alone as the user's."""
    from assetpipe.build import scan

    site, cache = _make(tmp_path / "dist"), tmp_path / "cache"
    time.sleep(RACY_NS / 1e9 + 0.2)
    assert _build(site, cache).stats.written == 40
    time.sleep(0.05)  # past the file system's clock tick
    sidecar = site / "a/f3.js.br"
    with sidecar.open("r+b") as handle:
        handle.write(b"\0" * sidecar.stat().st_size)
    read: list[str] = []
    real = scan._read
    monkeypatch.setattr(scan, "_read", lambda path: read.append(os.path.relpath(path, site)) or real(path))
    (cache / listing.DB_NAME).unlink()  # the full build
    result = _build(site, cache)
    assert result.route == "full (delta: no record)"
    assert sorted(rel for rel in read if rel.endswith((".br", ".gz"))) == ["a/f3.js.br"]
    assert sidecar.read_bytes() == b"\0" * sidecar.stat().st_size


def test_a_delta_does_not_read_a_file_the_stat_memo_vouches_for(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The sources a build recorded racy are hashed again by the next build, unless the stat memo, read from
    the cache as a full build's scan reads it, vouches for one (on a large folder: a file the scan reached
    more than RACY_NS after the build began). Here the memo is given a trusted row for one such file."""
    from assetpipe.build import scan
    from assetpipe.cache.statmemo import StatMemo, stamp_of
    from assetpipe.cache.store import Cache

    site, cache = _make(tmp_path / "dist"), tmp_path / "cache"
    assert _build(site, cache).route.startswith("full")  # every source written just before: recorded racy
    time.sleep(RACY_NS / 1e9 + 0.2)
    vouched = site / "b/f1.js"
    store, memo = Cache(cache), StatMemo()
    store.attach_stats(os.path.realpath(site), memo)
    memo.record("b/f1.js", stamp_of(os.stat(vouched)), time.time_ns(), scan._read(str(vouched)))
    store.save_stats(os.path.realpath(site), memo)
    store.close()
    read: list[str] = []
    real = scan._read
    monkeypatch.setattr(scan, "_read", lambda path: read.append(os.path.relpath(path, site)) or real(path))
    again = _build(site, cache)
    assert again.route == "delta" and again.stats.written == 0
    assert "a/f1.js" in read and "b/f2.js" in read  # the racy ones, hashed
    assert "b/f1.js" not in read  # but the one the memo vouches for


def test_a_full_build_after_a_delta_reads_nothing_the_delta_read_or_wrote(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The delta teaches the stat memo what it read (the changed script, hashed as the scan would) and what
    its writer put in place (the script's new sidecars), so the full build after it reads none of them: it
    read the script and both sidecars again."""
    from assetpipe.build import scan

    site, cache = _make(tmp_path / "dist"), tmp_path / "cache"
    time.sleep(RACY_NS / 1e9 + 0.2)
    assert _build(site, cache).route.startswith("full")
    _edit(site)
    time.sleep(RACY_NS / 1e9 + 0.2)  # the edit older than the racy window when the delta reads it
    read: list[str] = []
    real = scan._read
    monkeypatch.setattr(scan, "_read", lambda path: read.append(os.path.relpath(path, site)) or real(path))
    delta = _build(site, cache)
    assert delta.route == "delta" and delta.stats.written == 2
    assert read == ["a/f2.js"]
    read.clear()
    (cache / listing.DB_NAME).unlink()  # the full build
    full = _build(site, cache)
    assert full.route == "full (delta: no record)" and full.stats.written == 0
    assert read == []
    clean = _sources(site, tmp_path / "clean")
    assert _build(clean, tmp_path / "clean-cache").exit_code == 0
    assert snapshot(site) == snapshot(clean)
