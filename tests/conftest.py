"""Shared fixtures: a fresh copy of the bundled demo site, and the CLI run the way users run it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assetpipe.cli import main

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "fixtures" / "site"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A private copy of the demo site, as `vite build` would leave it in dist/."""
    dist = tmp_path / "dist"
    shutil.copytree(DEMO, dist, symlinks=True)
    return dist


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Invoke `assetpipe` in-process with the working directory at tmp_path (where configs are found)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSETPIPE_CACHE_DIR", raising=False)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


def run_entry_point(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a child process (stdin closed, stderr not a terminal)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("ASSETPIPE_CACHE_DIR", None)
    return subprocess.run([sys.executable, "-m", "assetpipe", *args], cwd=cwd, env=full_env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=120)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root (links as their target) -> sha256 of its bytes."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[path.relative_to(root).as_posix()] = "link:" + os.readlink(path)
        elif path.is_file():
            found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
