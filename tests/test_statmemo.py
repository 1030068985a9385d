"""The scan's stat memo: a warm build reads no unchanged file, and never misses a change (racy rule)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import brotli
import pytest

from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.cache.statmemo import RACY_NS, Entry, Found, StatMemo, trusted
from assetpipe.config import Config

from .conftest import snapshot
from .test_watch import Quiet


def built(site: Path, cache: Path, memo: StatMemo) -> set[str]:
    """Build `site` with `memo` (a watcher's: kept by the caller across builds); the files the build read
    (hashed: the scan's read, which the memo spares a file it vouches for)."""
    from assetpipe.build import scan

    read: set[str] = set()
    real = scan._read
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan, "_read", lambda path: read.add(os.path.relpath(path, site)) or real(path))
        result = build(BuildRequest(site, Config(), cache, jobs=2, scan_memo=memo), Quiet())
    assert result.exit_code == 0
    assert memo.entries() == {}  # what it recorded is in the cache: read back a row at a time when asked
    return read


def test_a_warm_build_reads_nothing_unchanged_and_a_change_is_never_missed(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    mirror = tmp_path / "mirror"
    shutil.copytree(site, mirror, symlinks=True)
    first = StatMemo()
    assert "index.html" in built(site, cache, first)  # an empty cache: every file is read
    time.sleep(RACY_NS / 1e9 + 0.2)  # every file older than the racy window
    second = built(site, cache, StatMemo())  # read again: recorded while young, so not trusted
    # but not a sidecar the first build wrote: the memo has what its writer put there (statmemo.vouched)
    assert "index.html" in second and "assets/about-A9tvyagY.js.br" not in second
    assert built(site, cache, StatMemo()) == set()  # a new build, the memo from the cache: nothing read
    # Same size, new bytes, the old mtime put back: only the ctime tells, and it does.
    chunk = site / "assets" / "about-A9tvyagY.js"
    old = chunk.stat()
    data = chunk.read_bytes()
    changed = data[:-3] + (b"/*/" if data[-3:] != b"/*/" else b"/**")
    for root in (site, mirror):
        (root / chunk.relative_to(site)).write_bytes(changed)
        os.utime(root / chunk.relative_to(site), ns=(old.st_atime_ns, old.st_mtime_ns))
    assert chunk.stat().st_mtime_ns == old.st_mtime_ns and chunk.stat().st_size == old.st_size
    assert "assets/about-A9tvyagY.js" in built(site, cache, StatMemo())
    assert brotli.decompress((site / "assets/about-A9tvyagY.js.br").read_bytes()) == changed
    clean = tmp_path / "clean"
    shutil.copytree(mirror, clean, symlinks=True)
    build(BuildRequest(clean, Config(), tmp_path / "clean-cache", jobs=2), Quiet())
    assert snapshot(site) == snapshot(clean)


def test_an_entry_recorded_within_the_racy_window_is_not_trusted() -> None:
    found = Found(3, "0" * 64, "sha384-x", b"abc")
    checked = time.time_ns()
    for ctime, trust in ((checked - RACY_NS - 1, True), (checked - RACY_NS, False), (checked - 1, False),
                         (checked + 10**9, False)):
        stamp = (3, checked - 5 * RACY_NS, ctime, 11, 22)
        entry = Entry(stamp, checked, found)
        assert trusted(entry, stamp) is trust, ctime - checked
        assert not trusted(entry, (*stamp[:4], 23))  # another device: another file
    memo = StatMemo()
    memo.record("a.txt", (3, 0, checked - 5 * RACY_NS, 1, 1), checked, found)
    assert memo.lookup("a.txt", (3, 0, checked - 5 * RACY_NS, 1, 1)) == found
    assert memo.lookup("a.txt", (4, 0, checked - 5 * RACY_NS, 1, 1)) is None  # another size
    assert memo.lookup("a.txt", (3, 0, checked - 5 * RACY_NS, 2, 1)) is None  # another inode


def test_a_builds_own_memo_reads_the_cache_a_row_at_a_time_and_holds_only_what_it_recorded(site: Path,
                                                                                           tmp_path: Path) -> None:
    """A build without a watcher's memo attaches one to the cache (Cache.attach_stats): nothing is loaded
    up front, an unchanged file is not read, a changed one is, and a vanished file's row goes."""
    from assetpipe.build.scan import scan
    from assetpipe.cache.store import Cache

    root = os.path.realpath(site)

    def scanned() -> tuple[set[str], int]:
        cache, memo = Cache(tmp_path / "cache"), StatMemo()
        cache.attach_stats(root, memo)
        assert memo.entries() == {}  # nothing loaded up front
        started = time.time_ns()
        scan(site, {}, memo=memo)
        read = {rel for rel, entry in memo.entries().items() if entry.checked_ns >= started}
        cache.save_stats(root, memo)
        assert memo.entries() == {}  # saved: read from the cache again when asked
        rows = _rows(tmp_path / "cache", root)
        cache.close()
        return read, rows

    time.sleep(RACY_NS / 1e9 + 0.2)
    first, rows = scanned()
    assert "index.html" in first and rows == len(first)
    assert scanned() == (set(), rows)  # nothing read
    (site / "index.html").write_text("<p>changed</p>")
    (site / "robots.txt").unlink()
    assert scanned() == ({"index.html"}, rows - 1)


def _rows(cache: Path, root: str) -> int:
    import sqlite3

    from assetpipe.cache.store import DB_NAME

    with sqlite3.connect(cache / DB_NAME) as db:
        return db.execute("SELECT count(*) FROM stat_memo WHERE root = ?", (root,)).fetchone()[0]


def test_a_builds_memo_stores_what_it_records_a_batch_at_a_time_and_a_dry_run_stores_nothing(
        site: Path, tmp_path: Path, monkeypatch) -> None:
    """A build that reads every file (the first one, or after a `vite build` replaced them all) would
    otherwise hold one entry per file until the scan ends: a million entries at a million files. Past
    SPILL_AT waiting entries the memo hands them to the cache; the build still records every file once,
    and the next build reads none of them. `--dry-run` writes nothing, the cache included."""
    from assetpipe.cache import statmemo
    from assetpipe.cache.store import Cache

    monkeypatch.setattr(statmemo, "SPILL_AT", 5)
    for n in range(23):
        (site / "assets" / f"extra{n:02}.txt").write_text(f"extra file {n}\n" * 40)
    root = os.path.realpath(site)
    files = sum(1 for p in site.rglob("*") if p.is_file())
    time.sleep(RACY_NS / 1e9 + 0.2)  # every file older than the racy window: its entry is trusted later

    dry = build(BuildRequest(site, Config(), tmp_path / "cache", jobs=2, dry_run=True), Quiet())
    assert dry.exit_code == 0 and not (tmp_path / "cache").exists()

    seen: list[int] = []
    cache, memo = Cache(tmp_path / "cache"), StatMemo()
    cache.attach_stats(root, memo)
    recorded = memo.record

    def record(*args: object) -> None:
        recorded(*args)
        seen.append(len(memo.entries()))

    monkeypatch.setattr(memo, "record", record)
    from assetpipe.build.scan import scan

    scan(site, {}, memo=memo)
    assert len(seen) == files and max(seen) < 5  # never more than a batch waiting
    assert _rows(tmp_path / "cache", root) == files - len(memo.entries())  # the batches are stored already
    cache.save_stats(root, memo)
    assert _rows(tmp_path / "cache", root) == files
    cache.close()
    assert built(site, tmp_path / "cache", StatMemo()) == set()  # a watcher's memo, attached: nothing read


def test_a_memo_attached_again_keeps_what_it_has_not_saved(site: Path, tmp_path: Path) -> None:
    """`assetpipe watch` keeps one memo for its life and attaches it to each run's cache, and to its own
    connection between runs: a path it forgot there (an event named it) stays unknown when the next run
    attaches it, although the cache still holds its row, until that run saves; what it recorded and has
    not saved is kept too, and the rest is read from the cache again, never held."""
    from assetpipe.build.scan import _read
    from assetpipe.cache.statmemo import stamp_of
    from assetpipe.cache.store import Cache

    root = os.path.realpath(site)
    for _ in range(2):  # the second reads what the first wrote within the racy window
        time.sleep(RACY_NS / 1e9 + 0.2)
        built(site, tmp_path / "cache", StatMemo())
    assert built(site, tmp_path / "cache", StatMemo()) == set()  # every file's row in the cache, trusted
    forgotten, racy = "robots.txt", "assets/about-A9tvyagY.js"
    stamp = stamp_of(os.stat(site / racy))
    memo = StatMemo()
    between = Cache(tmp_path / "cache")  # the watcher's own connection
    between.attach_stats(root, memo, save=False)
    assert memo.lookup(forgotten, stamp_of(os.stat(site / forgotten))) == _read(str(site / forgotten))
    assert memo.entries() == {}  # read from the cache, not held
    memo.forget(forgotten)
    memo.record(racy, stamp, stamp[2], _read(str(site / racy)))  # as if recorded racy: not trusted
    run = Cache(tmp_path / "cache")  # the next run's
    run.attach_stats(root, memo)
    assert memo.lookup(forgotten, stamp_of(os.stat(site / forgotten))) is None  # forgotten: read again
    assert set(memo.entries()) == {racy} and memo.lookup(racy, stamp) is None
    rows = _rows(tmp_path / "cache", root)
    run.save_stats(root, memo)
    assert memo.entries() == {} and _rows(tmp_path / "cache", root) == rows - 1  # the forgotten row went
    between.attach_stats(root, memo, save=False)
    assert memo.lookup(forgotten, stamp_of(os.stat(site / forgotten))) is None
    between.close()
    run.close()
    assert built(site, tmp_path / "cache", memo) == {forgotten, racy}  # the two the memo cannot vouch for


def _files(site: Path) -> list[Path]:
    return [p for p in site.rglob("*") if p.is_file() and ".assetpipe" not in p.parts]
