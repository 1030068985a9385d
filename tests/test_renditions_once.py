"""No rendition is stored twice (SPEC §2.1, issue 17 item 3): the own-width AVIF/WebP variant and the
same-URL sidecar (`x.jpg.avif`) are the same bytes. A content-hashed original's `srcset` names the sidecar;
an unhashed one's variant is a hard link to the sidecar, or, where the file system cannot link, the
`srcset` names the sidecar. Every case gives the same build twice and no file's bytes twice on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from .conftest import DEMO, REPO, snapshot

STRACE = shutil.which("strace")


def _site(root: Path, name: str) -> Path:
    """A page with one photo (the demo's coffee photo) under `name`."""
    root.mkdir()
    shutil.copy(DEMO / "assets" / "coffee-A-I1hS5R.jpg", root / name)
    (root / "index.html").write_text(f'<!doctype html><title>t</title><img src="{name}" alt="coffee">\n')
    return root


def _stored_twice(root: Path) -> list[list[str]]:
    """Groups of image files with equal bytes that are separate files (not links to one inode)."""
    by_digest: dict[str, dict[int, str]] = defaultdict(dict)
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".avif", ".webp", ".jpg"):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            by_digest[digest].setdefault(path.stat().st_ino, path.relative_to(root).as_posix())
    return [sorted(files.values()) for files in by_digest.values() if len(files) > 1]


def _srcsets(root: Path) -> list[str]:
    return re.findall(r'srcset="([^"]*)"', (root / "index.html").read_text())


def _image(root: Path, rel: str) -> dict:
    return json.loads((root / ".assetpipe" / "manifest.json").read_text())["files"][rel]


def _build_twice(cli: Callable[..., Result], root: Path, cache: Path) -> None:
    assert cli("build", str(root), "--cache-dir", str(cache)).exit_code == 0
    first = snapshot(root)
    again = cli("build", str(root), "--cache-dir", str(cache), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["written"] == 0
    assert snapshot(root) == first


def test_a_hashed_originals_srcset_names_its_sidecar(cli: Callable[..., Result], tmp_path: Path) -> None:
    root = _site(tmp_path / "site", "coffee-A-I1hS5R.jpg")
    _build_twice(cli, root, tmp_path / "cache")
    entry = _image(root, "coffee-A-I1hS5R.jpg")
    width = entry["image"]["width"]
    own = {v["format"]: v["file"] for v in entry["image"]["variants"] if v["width"] == width}
    assert own["avif"] == entry["encodings"]["avif"]["file"] == "coffee-A-I1hS5R.jpg.avif"
    assert own["webp"] == entry["encodings"]["webp"]["file"] == "coffee-A-I1hS5R.jpg.webp"
    assert not list(root.glob(f"coffee-A-I1hS5R.*.{width}w.avif"))
    assert any(f"coffee-A-I1hS5R.jpg.avif {width}w" in s for s in _srcsets(root))
    assert _stored_twice(root) == []


def test_an_unhashed_originals_variant_is_a_hard_link_to_its_sidecar(cli: Callable[..., Result],
                                                                     tmp_path: Path) -> None:
    root = _site(tmp_path / "site", "photo.jpg")
    _build_twice(cli, root, tmp_path / "cache")
    entry = _image(root, "photo.jpg")
    width = entry["image"]["width"]
    for fmt in ("avif", "webp"):
        variant = next(v["file"] for v in entry["image"]["variants"] if v["width"] == width and v["format"] == fmt)
        sidecar = entry["encodings"][fmt]["file"]
        assert variant != sidecar and variant.endswith(f".{width}w.{fmt}")  # both names listed
        assert os.path.samefile(root / variant, root / sidecar)
        assert any(f"{variant} {width}w" in s for s in _srcsets(root))  # the hashed name: cached for a year
    assert _stored_twice(root) == []


@pytest.mark.skipif(STRACE is None, reason="needs strace (.ci/run installs it)")
def test_without_hard_links_the_srcset_names_the_sidecar(tmp_path: Path) -> None:
    """A file system that cannot link (every link() fails with EXDEV, injected by strace): the variant
    is not written and the srcset names the sidecar, which is then stored once."""
    root = _site(tmp_path / "site", "photo.jpg")
    env = {k: v for k, v in os.environ.items() if k != "ASSETPIPE_CACHE_DIR"}
    env["PYTHONPATH"] = str(REPO)
    for _ in range(2):
        done = subprocess.run([STRACE, "-f", "--seccomp-bpf", "-qq", "-o", os.devnull, "-e", "trace=link,linkat", "-e",
                               "inject=link,linkat:error=EXDEV", sys.executable, "-m", "assetpipe", "build",
                               str(root), "--cache-dir", str(tmp_path / "cache")], env=env, text=True,
                              capture_output=True, timeout=300)
        assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    entry = _image(root, "photo.jpg")
    width = entry["image"]["width"]
    own = {v["format"]: v["file"] for v in entry["image"]["variants"] if v["width"] == width}
    assert own["avif"] == "photo.jpg.avif" and own["webp"] == "photo.jpg.webp"
    assert not list(root.glob(f"photo.*.{width}w.avif"))
    assert any(f"photo.jpg.avif {width}w" in s for s in _srcsets(root))
    assert _stored_twice(root) == []
