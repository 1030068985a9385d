"""The delta's comparison walk shared among forked processes (build/forkwalk.py) finds exactly what one
process finds, and a delta built that way is the full build's folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assetpipe.cache.statmemo import RACY_NS

from .conftest import snapshot

# Run in a fresh interpreter: the shared walk forks only a process without threads, and a test process may
# hold threads other tests left (observers, servers). Prints, for each change, both walks' findings and how
# many folders this process listed itself.
_PROBE = r"""
import json, sys
from pathlib import Path
from assetpipe.build import forkwalk, listing

root = Path(sys.argv[1])
listed = []
read_folder = listing.read_folder
def counted(rel, path, *more):
    listed.append(rel)  # in this process only: a forked worker counts in its own memory
    return read_folder(rel, path, *more)
listing.read_folder = counted
recorded = {rel: listing.digest(blob) for rel, blob in listing.walk(root)}
forkwalk.PARALLEL_FROM = 1
out = {}
for change in sys.argv[2:]:
    exec(change)
    one = forkwalk.compare(root, recorded, 1)
    listed.clear()
    shared = forkwalk.compare(root, recorded, 2)
    out[change] = {"one": [[r for r, _ in one.changed], one.seen, one.new], "same": one == shared,
                   "listed_here": len(listed)}
print(json.dumps({"folders": len(recorded), "changes": out}))
"""


def _tree(root: Path) -> Path:
    for a in range(4):
        for b in range(5):
            for c in range(3):
                folder = root / f"a{a}" / f"b{b}" / f"c{c}"
                folder.mkdir(parents=True)
                (folder / "app.js").write_text(f"export const v = {a}{b}{c};\n")
    (root / "index.html").write_text("<p>top</p>")
    return root


def test_the_walk_shared_among_processes_finds_what_one_process_finds(tmp_path: Path) -> None:
    root = _tree(tmp_path / "site")
    changes = [
        "pass",
        "(root / 'a2/b3/c1/app.js').write_text('changed, deep')",
        "(root / 'index.html').write_text('<p>changed at the top</p>')",
        "(root / 'a0/b0/new').mkdir(); (root / 'a0/b0/new/x.js').write_text('new')",
        "import shutil; shutil.rmtree(root / 'a3/b4/c2')",
        "(root / 'a1/b1/c1/app.js').unlink(); (root / 'a3/b0/c0/more.js').write_text('more')",
    ]
    run = subprocess.run([sys.executable, "-c", _PROBE, str(root), *changes], capture_output=True, text=True,
                         check=True)
    found = json.loads(run.stdout)
    total = found["folders"]
    assert total == 1 + 4 + 20 + 60
    by = found["changes"]
    for change, seen in by.items():
        assert seen["same"], change  # the shared walk's Comparison equals the one-process walk's
        assert 0 < seen["listed_here"] < total / 4, change  # the rest was listed by forked workers
    assert by["pass"]["one"] == [[], total, None]
    assert by[changes[1]]["one"] == [["a2/b3/c1"], total, None]
    assert by[changes[2]]["one"] == [["", "a2/b3/c1"], total, None]  # the changes add up: one record
    assert by[changes[3]]["one"] == [["", "a0/b0", "a2/b3/c1"], total, "a0/b0/new"]
    assert by[changes[4]]["one"] == [["", "a0/b0", "a2/b3/c1", "a3/b4"], total - 1, "a0/b0/new"]
    assert by[changes[5]]["one"] == [["", "a0/b0", "a1/b1/c1", "a2/b3/c1", "a3/b0/c0", "a3/b4"], total - 1,
                                     "a0/b0/new"]


_SLOW_PROBE = r"""
import os, sys, time
from pathlib import Path
from assetpipe.build import forkwalk, listing

root, mode = Path(sys.argv[1]), sys.argv[2]
recorded = {rel: listing.digest(blob) for rel, blob in listing.walk(root)}
(root / "a2/b3/c1/app.js").write_text("changed")
forkwalk.PARALLEL_FROM = 1
parent = os.getpid()
read_folder = listing.read_folder
def in_children(rel, path, *more):
    if os.getpid() != parent:
        if mode == "fail" and rel == "a1/b1":
            raise PermissionError(13, "Permission denied", path)
        time.sleep(0.4 if mode == "slow" and rel.startswith("a0/b0") else 0)  # one child busy, one done
    return read_folder(rel, path, *more)
listing.read_folder = in_children
print("walking", flush=True)
found = forkwalk.compare(root, recorded, 2)
print([rel for rel, _ in found.changed], found.seen, found.new, flush=True)
"""


def test_a_child_that_fails_leaves_the_walk_to_this_process_with_the_same_answer(tmp_path: Path) -> None:
    root = _tree(tmp_path / "site")
    run = subprocess.run([sys.executable, "-c", _SLOW_PROBE, str(root), "fail"], capture_output=True, text=True,
                         check=True, timeout=60)
    assert run.stdout.splitlines() == ["walking", "['a2/b3/c1'] 85 None"]


def test_ctrl_c_during_the_shared_walk_ends_it_and_leaves_no_process(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group: the children ignore it, and the walk's process ends them
    and waits for them before the KeyboardInterrupt goes on. (A process pool's workers took it in the
    middle of their queue's lock and the build hung at exit.)"""
    root = _tree(tmp_path / "site")
    probe = subprocess.Popen([sys.executable, "-c", _SLOW_PROBE, str(root), "slow"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert probe.stdout is not None and probe.stdout.readline() == "walking\n"
        time.sleep(0.8)  # one child is done (and a pool's worker would wait on its queue), one walks a0/b0
        os.killpg(probe.pid, signal.SIGINT)
        _out, err = probe.communicate(timeout=20)
    finally:
        if probe.poll() is None:
            os.killpg(probe.pid, signal.SIGKILL)
    assert probe.returncode != 0 and "KeyboardInterrupt" in err
    with pytest.raises(ProcessLookupError):
        os.killpg(probe.pid, 0)  # no child of the walk is left in the group


def _cli(*args: str) -> dict:
    run = subprocess.run([sys.executable, "-m", "assetpipe", "build", *args, "--no-images", "-q", "--json"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.slow
def test_a_delta_of_a_folder_of_many_folders_is_the_clean_builds_folder(tmp_path: Path) -> None:
    """Past PARALLEL_FROM folders (400) the CLI's delta walks on this machine's cores."""
    from assetpipe.build import forkwalk

    site = tmp_path / "site"
    for n in range(forkwalk.PARALLEL_FROM + 20):
        folder = site / f"p{n // 50}" / f"q{n}"
        folder.mkdir(parents=True)
        (folder / "main.js").write_text(f"export const page{n} = '{'text ' * 60}';\n")
    cache = str(tmp_path / "cache")
    _cli(str(site), "--cache-dir", cache)
    time.sleep(RACY_NS / 1e9 + 0.2)
    assert _cli(str(site), "--cache-dir", cache)["written"] == 0  # recorded: its stamps are old now
    (site / "p3/q170/main.js").write_text("export const changed = 'yes, changed';\n" * 20)
    (site / "p7/q399/main.js").unlink()
    result = _cli(str(site), "--cache-dir", cache)
    assert result["written"] == 2 and result["removed"] == 2
    clean = tmp_path / "clean"
    shutil.copytree(site, clean, ignore=shutil.ignore_patterns("*.br", "*.gz", ".assetpipe"))
    _cli(str(clean), "--cache-dir", str(tmp_path / "clean-cache"))
    assert snapshot(site) == snapshot(clean)
