"""Reliability (issue 22, docs/reliability.md): a build killed at each of its writes, renames and journal
steps, then built again, ends byte-identical to a clean build with no stale or torn file.

The kills are deterministic: strace stops the build with SIGKILL on the Nth call of a system call, for
every N the build makes, so every crash point of the writer is reached, not just the ones a random timer
happens to hit. Each trial runs the real console entry point in a child process.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brotli
import pytest

from assetpipe.cache.statmemo import RACY_NS

from .conftest import DEMO, REPO, snapshot

STRACE = shutil.which("strace")
needs_strace = pytest.mark.skipif(STRACE is None, reason="needs strace (.ci/run installs it)")

# The calls through which a build changes the folder: file contents and journal lines (write), putting a
# file in place (rename; renameat/renameat2 where the C library uses those) and removals (unlink).
FAMILIES = {"write": ("write",), "rename": ("rename", "renameat", "renameat2"), "unlink": ("unlink", "unlinkat")}
_CALL = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)\(")


def _text_site(root: Path, version: int) -> None:
    """A small site of text files; `version` 2 changes one script, adds a page and deletes a style."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, 4):
        body = "".join(f"export const v{i}_{n} = (a) => a * {n} + {i};\n" for n in range(60))
        if version == 2 and i == 2:
            body += "export const added = () => 'a new line that changes the compressed bytes';\n" * 5
        (root / f"f{i}.js").write_text(body)
    (root / "index.html").write_text("<!doctype html><title>x</title>" + "<p>paragraph of text</p>\n" * 80)
    (root / "icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg">' + '<path d="M0 0h1"/>' * 60 + "</svg>")
    style = root / "style.css"
    if version == 1:
        style.write_text("body { margin: 0 }\n" * 100)
    elif style.exists():
        style.unlink()
    if version == 2:
        (root / "about.html").write_text("<!doctype html><title>about</title>" + "<p>about us</p>\n" * 60)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ASSETPIPE_CACHE_DIR"}
    env["PYTHONPATH"] = str(REPO)
    return env


def _build(site: Path, cache: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, sys.executable, "-m", "assetpipe", "build", str(site), "--cache-dir", str(cache),
                           "--no-images"], env=_env(), text=True, capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=120)


def _calls(site: Path, cache: Path, log: Path) -> Counter[str]:
    """How often an uninterrupted build makes each call (on a copy, so the real site is untouched)."""
    trial = site.parent / f"{site.name}-count"
    shutil.rmtree(trial, ignore_errors=True)
    shutil.copytree(site, trial, symlinks=True)
    names = ",".join(n for family in FAMILIES.values() for n in family)
    result = _build(trial, cache, STRACE, "-f", "--seccomp-bpf", "-qq", "-o", str(log), "-e", f"trace={names}")
    assert result.returncode == 0, result.stderr
    counted: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        match = _CALL.match(line)
        if match and "resumed>" not in line:
            counted[match[1]] += 1
    shutil.rmtree(trial)
    return counted


def _no_torn_files(site: Path, versions: dict[str, set[bytes]]) -> None:
    """Every sidecar in place decompresses whole to a version its source had; no half-written file."""
    for path in site.rglob("*"):
        if path.suffix in (".br", ".gz") and path.is_file():
            data = path.read_bytes()
            plain = brotli.decompress(data) if path.suffix == ".br" else gzip.decompress(data)
            source = path.relative_to(site).as_posix()[: -len(path.suffix)]
            assert plain in versions.get(source, set()), f"{path.name}: not a whole earlier or new version"


def _clean(site: Path, tmp_path: Path) -> dict[str, str]:
    clean = tmp_path / "clean"
    shutil.rmtree(clean, ignore_errors=True)
    shutil.copytree(site, clean)
    shutil.rmtree(clean / ".assetpipe", ignore_errors=True)
    for path in list(clean.rglob("*")):
        if path.suffix in (".br", ".gz") or path.name.endswith(".assetpipe-tmp"):
            path.unlink()
    result = _build(clean, tmp_path / "clean-cache")
    assert result.returncode == 0, result.stderr
    return snapshot(clean)


@pytest.mark.slow
@needs_strace
@pytest.mark.parametrize("scenario", ["cold build", "rebuild"])
def test_a_kill_at_every_write_rename_and_journal_step_recovers_byte_identical(tmp_path: Path,
                                                                               scenario: str) -> None:
    template, cache = tmp_path / "template", tmp_path / "cache"
    _text_site(template, 1)
    versions: dict[str, set[bytes]] = {}
    if scenario == "rebuild":
        assert _build(template, cache).returncode == 0
        for path in template.iterdir():
            if path.is_file():
                versions.setdefault(path.name, set()).add(path.read_bytes())
        _text_site(template, 2)
    for path in template.iterdir():
        if path.is_file() and not path.name.endswith((".br", ".gz")):
            versions.setdefault(path.name, set()).add(path.read_bytes())
    counted = _calls(template, cache, tmp_path / "count.log")
    expected = _clean(template, tmp_path)

    def trial(name: str, when: int) -> None:
        # Each crash point on its own copies of the site and of the cache, so the points are independent
        # and two run at once (a build under strace is mostly waiting on the tracer).
        site, own_cache = tmp_path / f"site-{name}-{when}", tmp_path / f"cache-{name}-{when}"
        shutil.copytree(template, site, symlinks=True)
        shutil.copytree(cache, own_cache)
        killed = _build(site, own_cache, STRACE, "-f", "-qq", "-o", os.devnull, "-e", f"trace={name}",
                        "-e", f"inject={name}:signal=KILL:when={when}")
        point = f"{scenario}: kill at {name} #{when}"
        assert killed.returncode != 0 or when > counted[name] - 1, point  # the kill landed
        _no_torn_files(site, versions)
        again = _build(site, own_cache)
        assert again.returncode == 0, f"{point}: {again.stderr}"
        assert "warning" not in again.stderr and "error" not in again.stderr, f"{point}: {again.stderr}"
        assert snapshot(site) == expected, point
        shutil.rmtree(site)
        shutil.rmtree(own_cache)

    points = [(name, when) for names in FAMILIES.values() for name in names for when in range(1, counted[name] + 1)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for done in [pool.submit(trial, name, when) for name, when in points]:
            done.result()  # the first point that failed raises its own assertion
    trials = len(points)
    assert trials >= 20 and counted["write"] and any(counted[n] for n in FAMILIES["rename"])
    print(f"{scenario}: {trials} crash points, each recovered byte-identical ({dict(counted)})")


# --- a damaged cache is a miss, never a failure or wrong bytes -----------------------------------------


def _cli_build(site: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assetpipe", "build", str(site), "--cache-dir", str(cache)],
                          env=_env(), text=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=300)


@pytest.fixture(scope="module")
def demo_clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """The demo site built clean, and the cache that build left (to be damaged, on copies)."""
    root = tmp_path_factory.mktemp("cache-damage")
    shutil.copytree(DEMO, root / "site")
    result = _cli_build(root / "site", root / "cache")
    assert result.returncode == 0, result.stderr
    return snapshot(root / "site"), root / "cache"


def test_every_damaged_cache_entry_is_encoded_again_and_stored_anew(demo_clean, tmp_path: Path) -> None:
    expected, good = demo_clean
    cache = tmp_path / "cache"
    shutil.copytree(good, cache)
    with sqlite3.connect(cache / "cache-v1.sqlite3") as db:  # one bit of every payload flipped
        rows = db.execute("SELECT key, payload FROM blobs").fetchall()
        db.executemany("UPDATE blobs SET payload = ? WHERE key = ?",
                       [(bytes([payload[0] ^ 1]) + payload[1:], key) for key, payload in rows])
    assert len(rows) > 50
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    result = _cli_build(site, cache)
    assert result.returncode == 0 and "error" not in result.stderr, result.stderr
    assert f"{len(rows)} encoded" in result.stderr or "0 cache hits" in result.stderr, result.stderr
    assert snapshot(site) == expected
    with sqlite3.connect(cache / "cache-v1.sqlite3") as db:  # stored anew: whole again
        assert all(hashlib.sha256(p).digest() == d for d, p in db.execute("SELECT digest, payload FROM blobs"))


@pytest.mark.parametrize("seed", range(6))
def test_random_bit_flips_in_the_cache_file_never_fail_a_build(demo_clean, tmp_path: Path, seed: int) -> None:
    expected, good = demo_clean
    cache = tmp_path / "cache"
    shutil.copytree(good, cache)
    path = cache / "cache-v1.sqlite3"
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    for _ in range(24):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    site = tmp_path / "site"
    shutil.copytree(DEMO, site)
    result = _cli_build(site, cache)
    assert result.returncode == 0 and "error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert snapshot(site) == expected


def test_an_altered_stat_memo_row_is_dropped_and_the_file_read_again(tmp_path: Path) -> None:
    """A stat memo row whose sha256/sha384 were changed on disk would put a wrong hash and SRI in the
    manifest if trusted: its own digest no longer matches, so the file is read again."""
    site, cache = tmp_path / "site", tmp_path / "cache"
    _text_site(site, 1)
    assert _build(site, cache).returncode == 0
    time.sleep(RACY_NS / 1e9 + 0.2)  # every file old enough for the memo to trust it
    assert _build(site, cache).returncode == 0  # recorded now, while old: trusted from here on
    manifest = (site / ".assetpipe" / "manifest.json").read_bytes()
    with sqlite3.connect(cache / "cache-v1.sqlite3") as db:
        changed = db.execute("UPDATE stat_memo SET sha256 = ?, sha384 = ? WHERE rel = 'f1.js'",
                             ("0" * 64, "sha384-" + "A" * 64)).rowcount
    assert changed == 1
    assert _build(site, cache).returncode == 0
    assert (site / ".assetpipe" / "manifest.json").read_bytes() == manifest
    entry = json.loads(manifest)["files"]["f1.js"]
    assert entry["sha256"] == hashlib.sha256((site / "f1.js").read_bytes()).hexdigest()


# --- a full disk: one line, no torn file, byte-identical after space is freed ----------------------------


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def _words_site(root: Path, files: int) -> None:
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 8))) for _ in range(400)]
    root.mkdir()
    for i in range(files):
        (root / f"f{i:02}.js").write_text(" ".join(rng.choice(words) for _ in range(2500)))


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs (CI runs as root)")
@pytest.mark.parametrize(("out", "size"), [(False, "256k"), (False, "352k"), (False, "392k"), (False, "400k"),
                                           (True, "256k")])
def test_a_full_disk_stops_with_one_line_and_a_rebuild_after_freeing_space_is_clean(tmp_path: Path, out: bool,
                                                                                   size: str) -> None:
    """The space runs out at a sidecar (256k, 352k), near or at the state files (392k, 400k), with --out at a copy."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, size):
        pytest.skip("cannot mount a tmpfs here")
    try:
        source = (tmp_path / "source") if out else (disk / "site")
        _words_site(source, 12 if not out else 20)
        target = disk / "out" if out else source
        args = [str(source), *(["--out", str(target)] if out else [])]
        cache = tmp_path / "cache"
        full = subprocess.run([sys.executable, "-m", "assetpipe", "build", *args, "--cache-dir", str(cache)],
                              env=_env(), text=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
        assert full.returncode == 1, full.stderr
        lines = full.stderr.strip().splitlines()
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1 and "No space left on device" in errors[0] and str(disk) in errors[0], full.stderr
        assert "Traceback" not in full.stderr
        versions = {p.name: {p.read_bytes()} for p in source.iterdir() if p.is_file()}
        _no_torn_files(target, versions)
        subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
        again = subprocess.run([sys.executable, "-m", "assetpipe", "build", *args, "--cache-dir", str(cache)],
                               env=_env(), text=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
        assert again.returncode == 0 and "warning" not in again.stderr, again.stderr
        clean = tmp_path / "clean"
        shutil.copytree(source, clean, ignore=shutil.ignore_patterns("*.br", "*.gz", ".assetpipe"))
        if out:  # a clean --out build of the same source (an --out ledger also records the copies)
            done = subprocess.run([sys.executable, "-m", "assetpipe", "build", str(clean), "--out",
                                   str(tmp_path / "clean-out"), "--cache-dir", str(tmp_path / "clean-cache")],
                                  env=_env(), capture_output=True)
            assert done.returncode == 0
            clean = tmp_path / "clean-out"
        else:
            assert _build(clean, tmp_path / "clean-cache").returncode == 0
        assert snapshot(target) == snapshot(clean)
    finally:
        subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root's file-mode override dropped with setpriv (CI runs as root)")
def test_a_read_only_folder_fails_its_files_and_the_rest_go_on(tmp_path: Path) -> None:
    """Without root's override of file modes, a file in a 0555 folder is one line; the others are done."""
    site = tmp_path / "site"
    _text_site(site, 1)
    (site / "ro").mkdir()
    shutil.copy(site / "f1.js", site / "ro" / "x.js")
    (site / "ro").chmod(0o555)
    try:
        result = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sys.executable,
                                 "-m", "assetpipe", "build", str(site), "--cache-dir", str(tmp_path / "cache"),
                                 "--no-images"], env=_env(), text=True, capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=120)
    finally:
        (site / "ro").chmod(0o755)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: ro/x.js: cannot write sidecar: Permission denied"], result.stderr
    assert (site / "f1.js.br").is_file() and (site / "index.html.gz").is_file()
    assert not list((site / "ro").glob(".*assetpipe-tmp"))
