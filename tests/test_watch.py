"""`assetpipe watch`: the real watchdog observer on real temporary folders, with bounded waits.

Every wait polls for the expected outcome until a deadline; a test that fails says what it waited for.
Each site is tiny (two small photos, a page, a few text files), so a run takes milliseconds.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import brotli
import pytest
from PIL import Image

from assetpipe.build import ledger
from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.config import Config
from assetpipe.watch.watcher import Watcher

from .conftest import REPO, snapshot

DEADLINE = 10.0  # seconds: the longest any test waits for an outcome
QUIET = 0.1
SETTLE = 0.03


class Quiet:
    """An Observer that keeps the failures and warnings it is told about."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def start(self, total: int, label: str) -> None: ...

    def advance(self, output: str, outcome: str) -> None: ...

    def failure(self, failure) -> None:
        self.failures.append(f"error: {failure.file}: {failure.reason}")

    def notice(self, notice) -> None: ...

    def done(self) -> None: ...


def photo(colour: tuple[int, int, int], size: tuple[int, int] = (48, 32)) -> bytes:
    image = Image.new("RGB", size, colour)
    for x in range(size[0]):  # some detail, so every format has something to encode
        image.putpixel((x, x % size[1]), (x * 5 % 256, 90, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def js(n: int) -> bytes:
    return "".join(f"export function f{i}() {{ return {n} + {i} * 2; }} // version {n}\n" for i in range(60)).encode()


PAGE = b'<!doctype html>\n<html><head><title>t</title></head><body>\n<img src="img/%s" alt="a photo">\n</body></html>\n'

SOURCES: dict[str, bytes] = {
    "index.html": PAGE % b"one.jpg",
    "about.html": PAGE % b"two.jpg",
    "img/one.jpg": photo((200, 30, 30)),
    "img/two.jpg": photo((30, 200, 30)),
    "assets/app.js": js(1),
    "assets/style.css": b"".join(b".c%d { color: #%06x; margin: 0 auto; }\n" % (i, i * 999) for i in range(80)),
    "robots.txt": b"User-agent: *\nAllow: /\n" * 20,
}


class Site:
    """A watched folder and an unwatched mirror of its sources: every change goes to both."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "dist"
        self.mirror = tmp / "mirror"
        self.cache = tmp / "cache"
        for rel, data in SOURCES.items():
            self.write(rel, data)

    def write(self, rel: str, data: bytes) -> None:
        for root in (self.root, self.mirror):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)

    def delete(self, rel: str) -> None:
        for root in (self.root, self.mirror):
            (root / rel).unlink()

    def rename(self, rel: str, to: str) -> None:
        for root in (self.root, self.mirror):
            (root / to).parent.mkdir(parents=True, exist_ok=True)
            os.rename(root / rel, root / to)

    def clean_build(self) -> dict[str, str]:
        """What a clean `assetpipe build` of the same sources leaves (its own empty cache)."""
        clean = self.tmp / "clean"
        shutil.rmtree(clean, ignore_errors=True)
        shutil.copytree(self.mirror, clean)
        build(BuildRequest(clean, Config(), self.tmp / "clean-cache", jobs=2), Quiet())
        return snapshot(clean)

    def manifest(self) -> dict:
        return json.loads((self.root / ".assetpipe" / "manifest.json").read_text())


class Running:
    """A Watcher whose loop runs on a thread; `lines` are its run lines."""

    def __init__(self, site: Site, quiet: float = QUIET, settle: float = SETTLE) -> None:
        self.site = site
        self.lines: list[str] = []
        self.observer = Quiet()
        request = BuildRequest(site.root, Config(), site.cache, jobs=2)
        self.watcher = Watcher(request, self.observer, self.lines.append, quiet=quiet, settle=settle)
        self.first = self.watcher.start()
        self.thread = threading.Thread(target=self.watcher.loop, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.watcher.stop()
        self.thread.join(DEADLINE)
        self.watcher.close()
        assert not self.thread.is_alive()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


@pytest.fixture
def watching(site: Site) -> Iterator[Running]:
    running = Running(site)
    yield running
    running.stop()


def until(what: str, check: Callable[[], bool], deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if check():
                return
        except (OSError, ValueError, KeyError):
            pass  # a file mid-way: look again
        time.sleep(0.05)
    raise AssertionError(f"not within {deadline} s: {what}")


def settled(running: Running, site: Site) -> dict[str, str]:
    """Wait until the watched tree equals a clean build of the same sources; that snapshot."""
    expected = site.clean_build()
    until("the watched folder equals a clean build", lambda: snapshot(site.root) == expected)
    return expected


def variants(site: Site, rel: str) -> set[str]:
    return {v["file"] for v in site.manifest()["files"][rel]["image"]["variants"]}


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(ledger.TEMP_SUFFIX)]


def test_first_build_then_nothing_until_a_change(watching: Running, site: Site) -> None:
    assert watching.first.exit_code == 0
    time.sleep(QUIET * 5)  # the first build's own writes start no run
    assert watching.lines == []
    assert snapshot(site.root) == site.clean_build()


def test_a_changed_text_file_gets_new_sidecars(watching: Running, site: Site) -> None:
    site.write("assets/app.js", js(2))
    until("app.js.br holds the new version", lambda: brotli.decompress(
        (site.root / "assets/app.js.br").read_bytes()) == js(2))
    until("app.js.gz too", lambda: gzip.decompress((site.root / "assets/app.js.gz").read_bytes()) == js(2))
    until("one run line", lambda: len(watching.lines) == 1)
    assert " 1 changed (assets/app.js) · " in watching.lines[0]
    assert "2 encoded" in watching.lines[0]
    settled(watching, site)


def test_a_changed_image_gets_new_variants_and_its_page_rewritten(watching: Running, site: Site) -> None:
    old = variants(site, "img/one.jpg")
    assert all((site.root / v).exists() for v in old)
    site.write("img/one.jpg", photo((10, 10, 220)))
    until("new variants in the manifest", lambda: variants(site, "img/one.jpg").isdisjoint(old))
    new = variants(site, "img/one.jpg")
    page = (site.root / "index.html").read_text()
    assert all(v.split("/")[-1] in page for v in new if not v.endswith(".jpg"))
    assert not any(v.split("/")[-1] in page for v in old)
    assert not any((site.root / v).exists() for v in old)
    settled(watching, site)


def test_the_image_workers_are_kept_from_one_run_to_the_next(site: Site) -> None:
    running = Running(site)
    try:
        pool = running.watcher.request.encoders
        assert pool is not None
        workers = pool.pids()
        assert len(workers) == 2 and all(alive(pid) for pid in workers)  # started after the first build
        old = variants(site, "img/one.jpg")
        site.write("img/one.jpg", photo((200, 10, 20)))
        until("one run line", lambda: len(running.lines) == 1)
        assert "encoded" in running.lines[0] and variants(site, "img/one.jpg").isdisjoint(old)
        assert pool.pids() == workers and all(alive(pid) for pid in workers)  # no new interpreter waited for
        settled(running, site)
    finally:
        running.stop()
    until("the image workers ended with the watcher", lambda: not any(alive(pid) for pid in workers), 2)


def test_a_deleted_source_loses_its_outputs(watching: Running, site: Site) -> None:
    outputs = [site.root / "assets/app.js.br", site.root / "assets/app.js.gz"]
    assert all(p.exists() for p in outputs)
    two = variants(site, "img/two.jpg")
    site.delete("assets/app.js")
    site.delete("img/two.jpg")
    until("sidecars and variants gone", lambda: not any(p.exists() for p in outputs)
          and not any((site.root / v).exists() for v in two))
    until("the manifest lists neither", lambda: not {"assets/app.js", "img/two.jpg"} & set(site.manifest()["files"]))
    settled(watching, site)


def test_a_burst_of_writes_gives_one_or_two_runs(watching: Running, site: Site) -> None:
    for n in range(50):
        site.write("assets/app.js" if n % 2 else f"assets/chunk-{n}.js", js(n))
    settled(watching, site)
    time.sleep(QUIET * 4)
    assert 1 <= len(watching.lines) <= 2, watching.lines


def test_a_closed_write_waits_only_the_settle_period_a_deletion_the_quiet_one(site: Site) -> None:
    running = Running(site, quiet=1.5, settle=0.05)
    try:
        written = time.monotonic()
        site.write("assets/app.js", js(2))
        until("one run line", lambda: len(running.lines) == 1)
        assert time.monotonic() - written < 1.0  # well under the 1.5 s quiet period
        for n in range(40):  # each file written whole and closed, one after another
            site.write("assets/app.js" if n % 2 else f"assets/chunk-{n}.js", js(n))
        settled(running, site)
        time.sleep(0.3)
        assert len(running.lines) == 2, running.lines
        deleted = time.monotonic()  # a deletion: more may follow (a wipe), so the whole quiet period
        site.delete("robots.txt")
        until("a third run line", lambda: len(running.lines) == 3)
        assert time.monotonic() - deleted >= 1.4
    finally:
        running.stop()


def test_a_change_made_while_a_run_writes_is_not_missed(watching: Running, site: Site) -> None:
    """The folder is not watched during a run; what changed meanwhile is found right after it."""
    noise = Image.effect_noise((1600, 1200), 60).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=85)
    site.write("img/slow.jpg", out.getvalue())  # a run of a second or more: its variants
    time.sleep(QUIET + 0.4)
    assert watching.lines == [], "the run ended before the change: no test"
    site.write("assets/app.js", js(4))
    site.delete("robots.txt")
    until("the photo's run line", lambda: len(watching.lines) >= 1)
    settled(watching, site)
    assert "app.js" in " ".join(watching.lines[1:]), watching.lines


def test_an_empty_out_dir_rebuild_gives_few_runs_and_a_clean_result(watching: Running, site: Site) -> None:
    """What Vite's emptyOutDir does on every rebuild: every file in dist/ deleted, the site written again."""
    for _ in range(2):
        for child in site.root.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        for rel, data in SOURCES.items():
            (site.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (site.root / rel).write_bytes(data)
        settled(watching, site)
    time.sleep(QUIET * 4)
    assert 2 <= len(watching.lines) <= 4, watching.lines
    # Usually one line per wipe: "2 changed (about.html, index.html) + 25 of assetpipe's own files": only
    # the pages differ from what the last run left (their <picture> rewrite is gone), the other files came
    # back with the same bytes, and the outputs that went are assetpipe's.
    assert re.match(r"\d\d:\d\d:\d\d \d+ changed \(.+\) \+ \d+ of assetpipe's own files · ", watching.lines[0])
    assert all("encoded" not in line for line in watching.lines), watching.lines  # all from the cache


def test_edits_deletes_and_renames_end_equal_to_a_clean_build(watching: Running, site: Site) -> None:
    steps: list[Callable[[], None]] = [
        lambda: site.write("assets/app.js", js(3)),
        lambda: site.rename("assets/app.js", "assets/app-renamed.js"),
        lambda: site.write("img/three.jpg", photo((120, 120, 0))),
        lambda: site.write("about.html", PAGE % b"three.jpg"),
        lambda: site.rename("img/one.jpg", "img/uno.jpg"),
        lambda: site.delete("robots.txt"),
        lambda: site.rename("assets", "static"),
        lambda: site.write("img/two.jpg", photo((1, 2, 3))),
        lambda: site.write("static/style.css", b"body { margin: 0 }\n" * 50),
        lambda: site.delete("img/three.jpg"),
    ]
    for number, step in enumerate(steps):
        step()
        time.sleep(0.03 if number % 2 else QUIET * 3)  # some steps land in one run, some in their own
    expected = settled(watching, site)
    assert "static/app-renamed.js.br" in expected and "img/uno.jpg.avif" in expected
    assert not temp_files(site.root)


def test_a_broken_file_is_reported_and_its_next_good_save_processed(watching: Running, site: Site) -> None:
    good = photo((50, 60, 70))
    site.write("img/one.jpg", good[: len(good) // 3])
    until("an error line", lambda: len(watching.observer.failures) == 1)
    assert watching.observer.failures[0].startswith("error: img/one.jpg: ")
    until("its run line", lambda: len(watching.lines) == 1)
    assert "1 failed" in watching.lines[0]
    site.write("assets/app.js", js(9))  # another run: the same failure is not reported again
    until("a second run", lambda: len(watching.lines) == 2)
    assert len(watching.observer.failures) == 1
    site.write("img/one.jpg", good)
    until("variants of the good save", lambda: "image" in site.manifest()["files"]["img/one.jpg"])
    assert site.manifest()["failures"] == []
    settled(watching, site)
    assert len(watching.observer.failures) == 1


def test_the_folder_deleted_and_made_again_is_watched_again(watching: Running, site: Site) -> None:
    shutil.rmtree(site.root)
    until("the watcher says it is gone", lambda: any("gone" in line for line in watching.lines))
    for rel, data in SOURCES.items():
        (site.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (site.root / rel).write_bytes(data)
    settled(watching, site)
    site.write("assets/app.js", js(5))  # and the new folder's changes are seen
    settled(watching, site)


def test_own_outputs_and_temp_files_start_no_run(watching: Running, site: Site) -> None:
    (site.root / "assets" / f".app.js.br.1234{ledger.TEMP_SUFFIX}").write_bytes(b"x")
    (site.root / ".assetpipe" / "journal.jsonl").write_bytes(b"")
    os.utime(site.root / "assets/app.js.br")  # an output touched: its content is what the last run left
    time.sleep(QUIET * 5)
    assert watching.lines == []
    (site.root / "assets" / f".app.js.br.1234{ledger.TEMP_SUFFIX}").unlink()
    (site.root / ".assetpipe" / "journal.jsonl").unlink()


def test_the_watchers_memo_holds_nothing_between_runs(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stat memo the watcher keeps for its life is read from the cache a row at a time, as a build's
    own is (held whole, 600,000 files' entries were about 450 MB); a run still reads only what changed."""
    from assetpipe.build import scan
    from assetpipe.cache.statmemo import RACY_NS

    time.sleep(RACY_NS / 1e9 + 0.2)  # the sources older than the racy window: none is looked at again
    running = Running(site)
    try:
        memo = running.watcher.request.scan_memo
        assert memo is not None and memo.entries() == {}
        read: list[str] = []
        real = scan._read
        monkeypatch.setattr(scan, "_read", lambda path: read.append(path) or real(path))
        site.write("assets/app.js", js(7))
        until("a run line", lambda: len(running.lines) == 1)
        settled(running, site)
        assert [os.path.relpath(p, site.root) for p in read if p.startswith(f"{site.root}{os.sep}")] == [
            "assets/app.js"]
        assert memo.entries() == {}
    finally:
        running.stop()


def test_after_a_full_run_the_catching_up_walk_looks_only_at_files_changed_since_it_began(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full run is not watched while it writes; the walk after it compares every file with what the run left.
    A file whose times are older than the run's start (by more than the racy window) was not changed since:
    it is neither looked up in the stat memo nor hashed. What the run wrote, and what changed while it ran,
    is (test_a_change_made_while_a_run_writes_is_not_missed)."""
    from assetpipe.cache.statmemo import RACY_NS
    from assetpipe.watch import watcher as module

    time.sleep(RACY_NS / 1e9 + 0.2)
    looked: list[str] = []
    real = module._sha256_of
    monkeypatch.setattr(module, "_sha256_of", lambda path, *rest: looked.append(path) or real(path, *rest))
    started = time.time_ns()
    running = Running(site)
    try:
        rels = {os.path.relpath(path, site.root) for path in looked}
        assert rels and not rels & {rel for rel in SOURCES if not rel.endswith(".html")}  # no source as it was
        # only what the run wrote: the sidecars, the renditions, the pages given their <picture>
        assert all((site.root / rel).stat().st_ctime_ns >= started - RACY_NS for rel in rels), rels
        assert {"index.html", "about.html"} <= rels and any(rel.endswith(".br") for rel in rels)
        time.sleep(QUIET * 5)
        assert running.lines == []  # and nothing was taken for a change
    finally:
        running.stop()


def test_the_fingerprint_is_worked_out_once_for_the_watchers_life(site: Site,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """What decides a build's outputs besides the files (config, switches, the libraries' and assetpipe's
    versions) is fixed for a watcher's process: it is worked out when the watcher starts, not by each run
    (reading the installed libraries' metadata was 50-60 ms of a 0.3 s run). The runs still build on the
    record (deltas), with the fingerprint a `build` of the same folder works out."""
    from assetpipe.build import deltarun, noop
    from assetpipe.cache.statmemo import RACY_NS
    from assetpipe.model import BuildResult

    made: list[str] = []
    real = noop.digest
    monkeypatch.setattr(noop, "digest", lambda request: made.append(real(request)) or made[-1])
    routes: list[bool] = []  # for each of the watcher's runs: a delta?
    attempt = deltarun.attempt

    def recorded(request: BuildRequest, *rest: object) -> object:
        result = attempt(request, *rest)
        if request.source == site.root:
            routes.append(isinstance(result, BuildResult))
        return result

    monkeypatch.setattr(deltarun, "attempt", recorded)
    time.sleep(RACY_NS / 1e9 + 0.2)  # no source recorded racy: the runs are deltas at once
    running = Running(site)
    try:
        site.write("assets/app.js", js(8))
        until("a run line", lambda: len(running.lines) == 1)
        settled(running, site)
        assert len(made) == 2 and made[0] == made[1]  # the watcher's, and the clean build's in `settled`
        before = len(made)
        site.write("assets/app.js", js(9))
        until("a second run line", lambda: len(running.lines) == 2)
        assert len(made) == before
        assert routes == [False, True, True]  # the first run in full, then deltas on the record it made
    finally:
        running.stop()


def test_a_full_runs_result_is_let_go(site: Site) -> None:
    """Between runs the watcher holds what the last run left (packed: model.FileSums) and nothing else of
    it: a full run's result (its plan, a job for every sidecar: 60 MB at 200,000 files) is not kept alive
    by the thread that ran it, nor the sums as the build gave them."""
    import gc
    import weakref

    watcher = Watcher(BuildRequest(site.root, Config(), site.cache, jobs=2), Quiet(), [].append, quiet=QUIET,
                      settle=SETTLE)
    try:
        first = watcher.start()
        assert first.left is not None and dict(first.left)["assets/app.js"] == (
            (site.root / "assets/app.js").stat().st_size,
            hashlib.sha256((site.root / "assets/app.js").read_bytes()).hexdigest())
        plan, left = weakref.ref(first.plan), weakref.ref(first.left)
        del first
        gc.collect()
        assert plan() is None and left() is None
    finally:
        watcher.stop()
        watcher.close()


def test_assetpipes_state_deleted_is_written_again(watching: Running, site: Site) -> None:
    shutil.rmtree(site.root / ".assetpipe")
    until("a run", lambda: len(watching.lines) == 1)
    assert watching.lines[0].split(" ", 1)[1].startswith("3 of assetpipe's own files changed · ")
    until("the manifest is back", lambda: "assets/app.js" in site.manifest()["files"])


def watch_process(site: Site, cwd: Path) -> tuple[subprocess.Popen[str], list[str], threading.Thread]:
    """`assetpipe watch` on the site in a process of its own (so that it gets a real SIGINT), and its
    stderr lines as they come."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("ASSETPIPE_CACHE_DIR", None)
    child = subprocess.Popen([sys.executable, "-m", "assetpipe", "watch", str(site.root), "--cache-dir",
                              str(site.cache)], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(child.stderr), daemon=True)
    reader.start()
    return child, lines, reader


def stopped_cleanly(child: subprocess.Popen[str], reader: threading.Thread, lines: list[str], site: Site) -> None:
    """Ctrl-C the watcher: it ends within a second, exit 0, saying so, and leaves no temp file."""
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    code = child.wait(timeout=10)
    took = time.monotonic() - sent
    reader.join(5)
    assert code == 0, "".join(lines)
    assert took < 1.0, took
    assert lines[-1].startswith("stopped")
    assert not temp_files(site.root)


def test_ctrl_c_exits_0_within_a_second_leaving_no_temp_file(site: Site, tmp_path: Path) -> None:
    child, lines, reader = watch_process(site, tmp_path)
    try:
        until("watching", lambda: any(line.startswith("watching ") for line in lines), 30)
        site.write("assets/app.js", js(7))
        until("a run", lambda: any(" changed (assets/app.js) " in line for line in lines))
        site.write("img/two.jpg", photo((9, 9, 9)))  # interrupted during its quiet period or its run
        time.sleep(QUIET * 1.5)
        stopped_cleanly(child, reader, lines, site)
    finally:
        if child.poll() is None:
            child.kill()


def big_photo() -> bytes:
    """A 12-megapixel noisy photo: its variants take seconds to encode."""
    noise = Image.effect_noise((4000, 3000), 60).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=85)
    return out.getvalue()


def test_ctrl_c_during_a_long_encode_exits_0_within_a_second(site: Site, tmp_path: Path) -> None:
    child, lines, reader = watch_process(site, tmp_path)
    try:
        until("watching", lambda: any(line.startswith("watching ") for line in lines), 30)
        site.write("img/big.jpg", big_photo())
        time.sleep(1.5)  # the run has begun encoding its variants, which takes several seconds
        assert not any("big.jpg" in line for line in lines), "the encode ended before Ctrl-C: no test"
        workers = children_of(child.pid)
        assert workers, "no image worker process is running: no test"
        stopped_cleanly(child, reader, lines, site)
    finally:
        if child.poll() is None:
            child.kill()
    until("the image workers ended with the watcher", lambda: not any(alive(pid) for pid in workers), 2)


def children_of(parent: int) -> list[int]:
    """The live processes whose parent is `parent` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Still running (a zombie, dead but not yet reaped by init, does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("args", [("--out", "elsewhere"), ("--dry-run",), ("--json",), ("--report", "r.html"),
                                  ("--check-budgets",), ("--base", "base.json"), ("--headers", "netlify"),
                                  ("--upload",), ("--executor", "dask-local:2"), ("--workers-dir", "s3://b/dist")])
def test_builds_flags_that_do_not_apply_to_watch_are_refused_with_the_reason(cli, site: Site, args) -> None:
    before = snapshot(site.root)
    result = cli("watch", str(site.root), *args, "--cache-dir", str(site.cache))
    assert result.exit_code == 2
    assert f"{args[0]} does not apply to `assetpipe watch`: " in result.output
    assert "assetpipe build DIR" in result.output or "assetpipe upload" in result.output
    assert snapshot(site.root) == before and not site.cache.exists()
