"""The cheap no-op (build/noop.py): a folder unchanged since a build that changed nothing is not built again,
its report is given again; any change, anywhere the build reads, runs the full build.

The stat stamps are trusted only once a file's times are RACY_NS old (statmemo's rule), so these tests wait
that long after the files were made before the build that records."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from assetpipe.build import noop
from assetpipe.build.noop import DB_NAME, tree_digest
from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.cache.statmemo import RACY_NS
from assetpipe.config import Config
from assetpipe.model import BuildResult

from .conftest import DEMO, Quiet, in_batches, snapshot


def _build(site: Path, cache: Path, config: Config | None = None) -> BuildResult:
    return build(BuildRequest(site, config or Config(), cache, images=False, jobs=2), Quiet())


def _settled() -> None:
    time.sleep(RACY_NS / 1e9 + 0.2)


def _replayed(result: BuildResult) -> bool:
    """A replayed build planned nothing: the full build plans a job for every sidecar, fresh or not (a delta,
    build/delta.py, plans the changed files only: its route says which it was)."""
    return not result.plan.jobs and not result.plan.sources and result.route == "noop"


def _noop_rows(cache_dir: Path) -> int:
    """The no-op's records in the cache (its file is made only when a build records)."""
    if not (cache_dir / DB_NAME).is_file():
        return 0
    with closing(sqlite3.connect(f"file:{cache_dir / DB_NAME}?mode=ro", uri=True)) as db:
        return db.execute("SELECT count(*) FROM noop").fetchone()[0]


@pytest.fixture(scope="module")
def recorded_pool(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], tuple[Path, Path]]:
    """Recorded demo sites, each with its cache, made a batch at a time: one wait for the racy window serves
    the batch. Each is the demo site built, then built again once settled: that no-op build is recorded.
    (The first build's delta record would make the second a delta: its racy stamps looked at again, nothing
    to do.) The second build records the delta's record, which replays the folder from then on, and so no
    no-op record of its own (the test below): here the delta's record is dropped and the no-op's made, as a
    build whose delta cannot record (a warning, another executor) makes it."""

    def first(site: Path, cache_dir: Path) -> None:
        shutil.copytree(DEMO, site, symlinks=True)
        assert _build(site, cache_dir).exit_code == 0

    def then(site: Path, cache_dir: Path) -> None:
        (cache_dir / "delta-v1.sqlite3").unlink(missing_ok=True)
        request = BuildRequest(site, Config(), cache_dir, images=False, jobs=2)
        started_ns = time.time_ns()
        second = _build(site, cache_dir)
        assert not _replayed(second) and second.stats.written == 0
        (cache_dir / "delta-v1.sqlite3").unlink()
        noop.remember(request, noop.fingerprint(request) or "", second, started_ns)
        assert _noop_rows(cache_dir) == 1

    return in_batches(tmp_path_factory.mktemp("recorded"), first, then)


@pytest.fixture
def recorded(recorded_pool: Callable[[], tuple[Path, Path]], cache_dir: Path) -> Path:
    """A recorded demo site (recorded_pool's), its cache moved to `cache_dir` (the records are keyed by the
    site's real path, not the cache's)."""
    site, cache = recorded_pool()
    shutil.move(cache, cache_dir)
    return site


def test_the_delta_record_replays_an_unchanged_folder_so_no_second_walk_records_it(site: Path,
                                                                                 cache_dir: Path) -> None:
    """A full build that records the delta's record (tried first, with the same fingerprint) makes no no-op
    record: the folder is walked once after the build, not twice. An unchanged folder is then given again
    whatever runs the encodes (none is run: an unreachable scheduler is never asked)."""
    assert _build(site, cache_dir).exit_code == 0
    _settled()
    second = _build(site, cache_dir)
    assert (cache_dir / "delta-v1.sqlite3").is_file() and _noop_rows(cache_dir) == 0
    third = _build(site, cache_dir)
    assert _replayed(third)
    assert replace(third.stats, seconds=0) == replace(second.stats, seconds=0)
    request = BuildRequest(site, Config(), cache_dir, images=False, jobs=2, executor="dask://127.0.0.1:9")
    assert build(request, Quiet()).route == "noop"
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /changed\n")
    with pytest.raises(Exception) as raised:  # a change: the full build, which needs the scheduler
        build(request, Quiet())
    assert "127.0.0.1:9" in str(raised.value)


def test_a_build_of_an_unchanged_folder_is_the_recorded_one_given_again(recorded: Path, cache_dir: Path) -> None:
    before = snapshot(recorded)
    full = _build(recorded, cache_dir)  # replayed
    assert _replayed(full)
    assert snapshot(recorded) == before
    # the report is the full no-op build's, but for the time taken
    (cache_dir / DB_NAME).unlink()
    (cache_dir / "delta-v1.sqlite3").unlink(missing_ok=True)  # the delta's record replays an unchanged folder too
    again = _build(recorded, cache_dir)
    assert not _replayed(again)
    assert replace(full.stats, seconds=0) == replace(again.stats, seconds=0)
    assert full.notices == again.notices and full.exit_code == again.exit_code == 0


@pytest.mark.parametrize("change", ["same-size edit", "sidecar deleted", "sidecar edited", "file added",
                                    "manifest deleted", "ledger edited", "file deleted"])
def test_any_change_runs_the_full_build_and_gives_a_clean_builds_tree(recorded: Path, cache_dir: Path, tmp_path: Path,
                                                                      change: str) -> None:
    js = recorded / "assets" / "index-2vZXRZ4C.js"
    if change == "same-size edit":  # same size, mtime set back: the ctime and the digest still move
        st = js.stat()
        data = bytearray(js.read_bytes())
        data[-1] = ord("x") if data[-1] != ord("x") else ord("y")
        js.write_bytes(bytes(data))
        os.utime(js, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "sidecar deleted":
        Path(f"{js}.br").unlink()
    elif change == "sidecar edited":
        Path(f"{js}.gz").write_bytes(b"not gzip")
    elif change == "file added":
        (recorded / "assets" / "new.css").write_text("body { color: red }\n" * 50)
    elif change == "manifest deleted":
        (recorded / ".assetpipe" / "manifest.json").unlink()
    elif change == "ledger edited":
        ledger = recorded / ".assetpipe" / "outputs.json"
        document = json.loads(ledger.read_text())
        document["outputs"].pop(f"{js.relative_to(recorded)}.br")
        ledger.write_text(json.dumps(document))
    elif change == "file deleted":
        (recorded / "site.webmanifest").unlink()
    result = _build(recorded, cache_dir)
    assert not _replayed(result)
    clean = tmp_path / "clean"
    shutil.copytree(recorded, clean, symlinks=True)
    shutil.rmtree(clean / ".assetpipe")
    for path in list(clean.rglob("*")):
        if path.suffix in (".br", ".gz"):
            path.unlink()
    if change == "sidecar edited":  # a user's file now: left alone by both
        Path(f"{clean / js.relative_to(recorded)}.gz").write_bytes(b"not gzip")
    if change == "ledger edited":  # no longer recorded as assetpipe's: a user's file to both
        shutil.copy(f"{js}.br", f"{clean / js.relative_to(recorded)}.br")
    assert _build(clean, tmp_path / "clean-cache").exit_code == 0
    assert snapshot(recorded) == snapshot(clean)


def test_another_config_runs_the_full_build(recorded: Path, cache_dir: Path) -> None:
    config = Config()
    changed = replace(config, compress=replace(config.compress, min_ratio=0.5))
    result = _build(recorded, cache_dir, changed)
    assert not _replayed(result)
    assert result.stats.removed > 0  # fewer sidecars are worth keeping at 0.5


def test_a_build_that_wrote_forgets_the_record(recorded: Path, cache_dir: Path) -> None:
    (recorded / "data" / "products.json").write_text('{"products": []}\n' * 40)
    assert _build(recorded, cache_dir).stats.written > 0
    _settled()
    assert not _replayed(_build(recorded, cache_dir))  # recorded again here
    assert _replayed(_build(recorded, cache_dir))


def test_the_digest_covers_links_state_and_every_folder_but_vcs(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.js").write_text("x")
    (root / ".assetpipe").mkdir()
    (root / ".assetpipe" / "manifest.json").write_text("{}")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    outside = tmp_path / "outside.js"
    outside.write_text("o")
    (root / "link.js").symlink_to(outside)
    first = tree_digest(root)[0]
    (root / ".git" / "HEAD").write_text("ref2")
    assert tree_digest(root)[0] == first  # version control metadata is never read by a build
    state = root / ".assetpipe" / "manifest.json"
    changes = (lambda: outside.write_text("changed"), lambda: state.write_text("[]"),
               lambda: (root / "a" / "b").mkdir())
    for change in changes:
        change()
        now = tree_digest(root)[0]
        assert now != first
        first = now


def test_a_change_made_while_a_build_runs_is_never_recorded_as_seen(site: Path, cache_dir: Path) -> None:
    """A file changed after the scan read it, while the build still runs: the build's report describes the
    old bytes, so the record must not pair it with the new tree (the next build runs in full)."""
    from assetpipe.build import noop

    assert _build(site, cache_dir).exit_code == 0
    _settled()
    started_ns = time.time_ns()
    result = _build(site, cache_dir)  # a no-op: recorded, as the test below checks, unless a change came
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /changed\n")  # meanwhile, say
    _settled()  # a long build: the change is old by the time the build records
    fingerprint = noop.fingerprint(BuildRequest(site, Config(), cache_dir, images=False, jobs=2))
    assert fingerprint is not None
    noop.remember(BuildRequest(site, Config(), cache_dir, images=False, jobs=2), fingerprint, result, started_ns)
    following = _build(site, cache_dir)
    assert not _replayed(following)
    assert "robots.txt" in {s.rel for s in following.plan.sources}


def test_a_file_removed_while_a_build_runs_is_never_recorded_as_seen(site: Path, cache_dir: Path) -> None:
    from assetpipe.build import noop

    assert _build(site, cache_dir).exit_code == 0
    _settled()
    started_ns = time.time_ns()
    request = BuildRequest(site, Config(), cache_dir, images=False, jobs=2)
    result = _build(site, cache_dir)
    (site / "robots.txt").unlink()  # only its folder's times tell
    noop.remember(request, noop.fingerprint(request) or "", result, started_ns)
    assert not _replayed(_build(site, cache_dir))


def test_one_digest_serves_the_no_op_record_and_a_watchers_delta(site: Path, cache_dir: Path) -> None:
    """A build computes the fingerprint once for both records: a watcher's memo and events are not part of
    it (its runs use the delta's record), and a watcher's build is never replayed as a no-op."""
    from assetpipe.build import noop
    from assetpipe.cache.statmemo import StatMemo

    request = BuildRequest(site, Config(), cache_dir, images=False, jobs=2)
    watched = replace(request, scan_memo=StatMemo(), changed=("index.html",))
    assert noop.fingerprint(request) == noop.digest(watched) == noop.digest(request)
    assert noop.skippable(request) and not noop.skippable(watched)
    assert noop.fingerprint(watched) is None
    assert noop.digest(replace(request, compress=False)) != noop.digest(request)
    assert noop.fingerprint(replace(request, dry_run=True)) is None


def test_what_every_file_holds_after_a_build_is_given_only_when_asked_for(site: Path, cache_dir: Path) -> None:
    """`BuildResult.left` and `outputs` (a watcher compares its events with them) cost about 0.3 kB a file
    at the build's peak: a build gives them only when its request asks (`reports_left`, as a watcher's does)."""
    import hashlib

    from assetpipe.cache.statmemo import StatMemo

    request = BuildRequest(site, Config(), cache_dir, images=False, jobs=2)
    alone = build(request, Quiet())
    assert alone.route.startswith("full") and alone.left is None and alone.outputs == frozenset()
    asked = build(replace(request, scan_memo=StatMemo(), reports_left=True), Quiet())  # a full build too
    assert asked.route.startswith("full") and asked.left is not None
    files = {p.relative_to(site).as_posix(): p for p in site.rglob("*")
             if p.is_file() and ".assetpipe" not in p.relative_to(site).parts}
    assert dict(asked.left) == {rel: (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
                                for rel, p in files.items()}
    assert asked.outputs == {rel for rel in files if rel.endswith((".br", ".gz"))} and asked.outputs
