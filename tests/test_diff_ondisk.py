"""`diff` with its files on disk (sizes/ondisk, issue 19) gives what the in-memory compare gives: the same
report and the same bytes in every format (json, text, markdown at several caps, the HTML report, the
budget lines), on fixtures, the demo site, hand-made manifests and bench/scale's generated ones; and it
leaves no file behind, also when interrupted."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assetpipe import config
from assetpipe.build import manifest as writer
from assetpipe.sizes import ondisk
from assetpipe.sizes.check import SizeRequest, chunk_breakdowns, size_report
from assetpipe.sizes.comment import markdown
from assetpipe.sizes.diffstore import Changes, SideFiles
from assetpipe.sizes.formats import budget_lines, json_pieces, text
from assetpipe.sizes.treemap import render

from .conftest import REPO
from .test_diff import COLLIDE, RENAMED, SIZES, _large_pair

sys.path.insert(0, str(REPO / "bench" / "scale"))
from manifests import write as bench_manifest

BUDGETS = """[budgets]
"**/*.js" = { warn = "2 kB", error = "1 MB" }
"**/*-*.js" = { warn = "5%", error = "50%", min_bytes = "10 B" }
js = { error = "100 MB" }
total = { warn = "1 kB" }
count = { warn = 10 }
growth = { warn = "0.001%", min_bytes = "1 B" }
"""


def _outputs(report, max_rows: int) -> dict[str, str]:
    return {"json": "".join(json_pieces(report)), "text": text(report), "budgets": "\n".join(budget_lines(report)),
            **{f"markdown {rows}": markdown(report, max_rows=rows) for rows in (max_rows, 3, 0)},
            "html": render(report, *chunk_breakdowns(report.diff.head))}


def _compare(base: Path | None, head: Path, cwd: Path, *, stored: bool = True) -> dict[str, str]:
    """Both ways on the same inputs: every output byte-identical; the report equal field by field.
    `stored`: whether the on-disk store must have been used (else it must have handed over)."""
    loaded = config.load(None, cwd)
    request = SizeRequest(base, head, loaded.config, 2, cwd)
    memory = size_report(request)
    expected = _outputs(memory, loaded.config.diff.max_rows)
    with ondisk.stored_report(request, small=0) as report:  # the store, however small the inputs
        assert isinstance(report.diff.files, Changes) is stored
        assert isinstance(report.diff.head.files, SideFiles) is stored
        assert list(report.diff.files) == list(memory.diff.files)
        assert len(report.diff.files) == len(memory.diff.files)
        if memory.diff.files:  # read by position too, as a Sequence is
            assert (report.diff.files[0], report.diff.files[-1]) == (memory.diff.files[0], memory.diff.files[-1])
            assert list(report.diff.files[1:4]) == list(memory.diff.files[1:4])
        assert list(report.diff.head.files) == list(memory.diff.head.files)
        if base is not None and memory.diff.base is not None:
            assert list(report.diff.base.files) == list(memory.diff.base.files)  # type: ignore[union-attr]
        assert report.diff.totals == memory.diff.totals
        assert (report.notices, report.budgets, report.failures) == (memory.notices, memory.budgets, memory.failures)
        got = _outputs(report, loaded.config.diff.max_rows)
    for name, value in expected.items():
        assert got[name] == value, name
    return got


@pytest.mark.parametrize("pair", [RENAMED, COLLIDE])
def test_fixtures_give_the_same_bytes(pair: Path, tmp_path: Path) -> None:
    _compare(pair / "base", pair / "head", tmp_path)
    _compare(tmp_path / "no-base", pair / "head", tmp_path)  # no baseline
    _compare(None, pair / "head", tmp_path)


def test_a_vite_site_with_a_renamed_entry_chunk(site: Path, tmp_path: Path) -> None:
    base = tmp_path / "base"
    shutil.copytree(site, base)
    old, new = site / "assets" / "index-2vZXRZ4C.js", site / "assets" / "index-Q9xY7wVb.js"
    new.write_bytes(old.read_bytes() + b"console.log('" + b"grown " * 300 + b"');\n")
    old.unlink()
    vite = site / ".vite" / "manifest.json"
    vite.write_text(vite.read_text().replace("assets/index-2vZXRZ4C.js", "assets/index-Q9xY7wVb.js"))
    (tmp_path / "assetpipe.toml").write_text(BUDGETS + 'initial = { warn = "1 kB" }\n')
    got = _compare(base, site, tmp_path)
    assert '"key": "vite:index.html"' in got["json"] and '"status": "changed"' in got["json"]


def test_a_manifest_with_image_variants(tmp_path: Path) -> None:
    _compare(SIZES / "image-manifest.json", SIZES / "image-manifest.json", tmp_path)


def test_manifests_in_the_builds_layout(tmp_path: Path) -> None:
    base, head = _large_pair(tmp_path, 3000)
    (tmp_path / "assetpipe.toml").write_text(BUDGETS)
    got = _compare(base, head, tmp_path)
    assert "2 files in" not in got["json"] and "budget warn" in got["budgets"]


@pytest.mark.parametrize("metric", ["brotli", "raw"])
def test_bench_manifests_with_renames_additions_removals_and_hashed_names(metric: str, tmp_path: Path) -> None:
    bench_manifest(6000, tmp_path / "base.json", head=False)
    bench_manifest(6000, tmp_path / "head.json", head=True)
    (tmp_path / "assetpipe.toml").write_text(BUDGETS + f'[diff]\nmetric = "{metric}"\nmax_rows = 20\n')
    got = _compare(tmp_path / "base.json", tmp_path / "head.json", tmp_path)
    files = {f["key"]: f for f in json.loads(got["json"])["files"]}
    assert {f["status"] for f in files.values()} == {"added", "removed", "changed", "unchanged"}
    # hashed names whose hash changed with their content: matched by Vite's name, or by the stripped name
    assert files["vite:src/c803.ts"]["status"] == files["d000/s00/t00/c0000053-*.js"]["status"] == "changed"
    assert files["vite:src/c803.ts"]["base"]["path"] != files["vite:src/c803.ts"]["head"]["path"]


def test_sidecar_sizes_computed_a_batch_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest inside its built folder whose files lack sidecars: the sizes are computed from the bytes
    (and not for a file changed since), in batches smaller than the folder."""
    monkeypatch.setattr(ondisk, "BATCH", 3)
    sides = []
    for name, extra in (("base", ""), ("head", "grown " * 40)):
        root = tmp_path / name
        files = {}
        for i in range(11):
            rel = f"assets/m{i:02d}-Ab12Cd3{i % 10}.js"
            data = (f"export const v{i} = '{'x' * (i * 50)}';{extra if i % 2 else ''}\n").encode()
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
            digest = hashlib.sha256(data if i != 4 else b"other").hexdigest()  # m04 changed since
            files[rel] = {"size": len(data), "sha256": digest, "type": "text/javascript", "immutable": True}
        state = root / ".assetpipe" / "manifest.json"
        state.parent.mkdir()
        state.write_bytes(writer.dumps({"schema": 1, "files": files, "failures": []}))
        sides.append(state)
    got = _compare(sides[0], sides[1], tmp_path)
    assert '"status": "changed"' in got["json"]


def test_what_the_store_cannot_hold_is_compared_in_memory(tmp_path: Path) -> None:
    """A size that is not a plain int, or two files of one side left on one key after the crowded ones
    went to their paths: the in-memory compare, with its exact output."""
    odd = tmp_path / "odd.json"
    odd.write_bytes(writer.dumps({"schema": 1, "failures": [], "files": {
        "a.js": {"size": True, "sha256": "", "type": "text/javascript"}}}))
    _compare(odd, odd, tmp_path, stored=False)
    clash = tmp_path / "clash.json"
    clash.write_bytes(writer.dumps({"schema": 1, "failures": [], "files": {
        "vite:x.js": {"size": 10, "sha256": "", "type": "text/javascript", "logical": "m"},
        "b.js": {"size": 20, "sha256": "", "type": "text/javascript", "logical": "m"},
        "c.js": {"size": 30, "sha256": "", "type": "text/javascript", "logical": "x.js"}}}))
    _compare(clash, clash, tmp_path, stored=False)


def test_no_file_is_left_behind_when_interrupted(tmp_path: Path) -> None:
    """The store is a file in the temp folder while diff runs, unlinked from the start: nothing is there
    after an interrupted run, nor after one that finished."""
    bench_manifest(60_000, tmp_path / "base.json", head=False)  # past the store's 8 MiB page cache
    bench_manifest(60_000, tmp_path / "head.json", head=True)
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "SQLITE_TMPDIR": str(temp)}
    cmd = [sys.executable, "-m", "assetpipe", "diff", "base.json", "head.json", "--format", "json"]
    child = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = False
    deadline = time.monotonic() + 300
    while not seen and child.poll() is None and time.monotonic() < deadline:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{child.pid}/fd").iterdir()]
        except OSError:
            links = []
        seen = any(link.startswith(str(temp)) and link.endswith("(deleted)") for link in links)
        time.sleep(0.05)
    assert seen, "the store never went to disk in the temp folder"
    child.send_signal(signal.SIGINT)
    child.wait(timeout=120)
    assert child.returncode != 0 and "Traceback" not in child.stderr.read().decode()  # type: ignore[union-attr]
    assert list(temp.iterdir()) == []
    finished = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, timeout=600)
    assert finished.returncode == 0 and list(temp.iterdir()) == []


def _previous_folders(files, cap: int, metric: str) -> list[tuple[str, int, int]]:
    """comment.folders before it took two passes over rows on disk (issue 19), verbatim."""
    from collections import defaultdict

    from assetpipe.sizes.model import FileChange

    parents = [(c.head or c.base).path.split("/")[:-1] for c in files]
    depth = 1
    while depth < max(map(len, parents), default=0) and len({tuple(p[:depth + 1]) for p in parents}) <= cap:
        depth += 1
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for change, parent in zip(files, parents, strict=True):
        group = groups["/".join(parent[:depth])]
        group[0] += 1
        group[1] += FileChange.size(change.head, metric)
    return sorted(((folder, n, size) for folder, (n, size) in groups.items()), key=lambda g: (-g[2], g[0]))


def test_the_comments_folders_are_as_before() -> None:
    """Folders of uneven depth (files at the top, deep chains, many siblings), every cap from 0 to past
    the number of folders: the same rows as the previous one-list version."""
    import random

    from assetpipe.sizes.comment import folders
    from assetpipe.sizes.model import FileChange, MeasuredFile, Sizes

    rng = random.Random(7)
    for trial in range(40):
        files = []
        for i in range(rng.randrange(1, 120)):
            depth = rng.choice([0, 1, 1, 2, 3, 5])
            path = "/".join(f"{'abc'[rng.randrange(3)]}{rng.randrange(1 + trial % 4)}" for _ in range(depth))
            f = MeasuredFile(f"{path}/f{i}.js" if path else f"f{i}.js", "js", "text/javascript", "", Sizes(i, i, i))
            files.append(FileChange(f.path, f.path, "unchanged", f, f))
        for cap in range(0, 30):
            assert folders(files.__iter__, cap, "brotli") == _previous_folders(files, cap, "brotli"), (trial, cap)


def test_vite_names_learnt_from_either_side(tmp_path: Path) -> None:
    """A file without a Vite name takes the first one its hash-stripped name has, base before head."""
    def side(path: Path, files: dict[str, str | None]) -> Path:
        path.write_bytes(writer.dumps({"schema": 1, "failures": [], "files": {
            rel: {"size": 100 + len(rel) * i, "sha256": "", "type": "text/javascript",
                  **({"logical": logical} if logical else {})} for i, (rel, logical) in enumerate(files.items())}}))
        return path

    base = side(tmp_path / "base.json", {"assets/a-Ab12Cd34.js": "src/a.ts", "assets/h-Ab12Cd34.js": None})
    head = side(tmp_path / "head.json", {"assets/a-Qq11Ww22.js": None, "assets/a-Zz98Yy76.js": "src/b.ts",
                                         "assets/h-Zz98Yy76.js": "src/h.ts"})
    got = json.loads(_compare(base, head, tmp_path)["json"])
    assert {f["key"]: f["status"] for f in got["files"]} == {
        "vite:src/a.ts": "unchanged", "vite:src/b.ts": "added", "vite:src/h.ts": "changed"}


def test_small_manifests_are_compared_in_memory(tmp_path: Path) -> None:
    """Below ondisk.SMALL bytes of manifests (or with a folder side) the in-memory compare runs; above, the store."""
    base, head = _large_pair(tmp_path, 3000)
    request = SizeRequest(base, head, config.load(None, tmp_path).config, 1, tmp_path)
    with ondisk.stored_report(request) as report:
        assert isinstance(report.diff.files, tuple)
    with ondisk.stored_report(request, small=base.stat().st_size + head.stat().st_size) as report:
        assert isinstance(report.diff.files, Changes)
    with ondisk.stored_report(SizeRequest(RENAMED / "base", head, request.config), small=1) as report:
        assert isinstance(report.diff.files, tuple)  # a folder without a manifest: measured in memory
    with ondisk.stored_report(SizeRequest(RENAMED / "base", head, request.config), small=0) as report:
        assert isinstance(report.diff.files, Changes)  # unless the store is asked for
