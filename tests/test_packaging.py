"""The package as users get it: a wheel built by the oldest setuptools that pyproject.toml accepts.

The wheel is built once for the module, from a copy of the sources (an in-tree build would leave
build/ and *.egg-info behind), in a fresh venv holding exactly the lowest setuptools release the
`[build-system] requires` line allows, as pip would pick it for a user whose newer setuptools is
not at hand.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO, run_entry_point

SOURCES = ("pyproject.toml", "README.md", "assetpipe", "config")


def lowest_setuptools() -> str:
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    (spec,) = [r for r in requires if re.match(r"setuptools\b", r)]
    match = re.fullmatch(r"setuptools\s*>=\s*(\d+)(?:\.\d+)*", spec)
    assert match, f"expected setuptools>=N in [build-system] requires, got {spec!r}"
    return match[1]


@pytest.fixture(scope="module")
def oldest_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """pip's output, and the folder the wheel went to."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "src"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(path, source / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    # `wheel` too: setuptools before 70.1 builds wheels only with it installed
    subprocess.run([*pip, "install", f"setuptools=={lowest_setuptools()}.*", "wheel"], check=True,
                   capture_output=True, timeout=300)
    done = subprocess.run([*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(root / "wheel")],
                          capture_output=True, text=True, timeout=300)
    return done, root / "wheel"


def test_the_oldest_setuptools_the_project_accepts_builds_its_wheel(oldest_build) -> None:
    done, folder = oldest_build
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list(folder.glob("assetpipe-*.whl"))) == 1


def test_the_wheel_ships_config_byte_for_byte(oldest_build) -> None:
    """The serving snippets, the default config and the manifest schema are package data, the very files of
    config/ (tests/test_serving.py serves with them, as `assetpipe config` prints them)."""
    done, folder = oldest_build
    assert done.returncode == 0, done.stderr
    (wheel,) = folder.glob("assetpipe-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name.removeprefix("assetpipe/shipped/"): archive.read(name) for name in archive.namelist()
                   if name.startswith("assetpipe/shipped/")}
    config = REPO / "config"
    assert shipped == {p.relative_to(config).as_posix(): p.read_bytes() for p in sorted(config.rglob("*"))
                       if p.is_file()}
    assert {"nginx/assetpipe-http.conf", "nginx/assetpipe-server.conf", "Caddyfile", "assetpipe.toml",
            "manifest.schema.json"} <= shipped.keys()


@pytest.mark.parametrize(("name", "path"), [("nginx-http", "nginx/assetpipe-http.conf"),
                                            ("nginx-server", "nginx/assetpipe-server.conf"),
                                            ("caddy", "Caddyfile"), ("toml", "assetpipe.toml"),
                                            ("schema", "manifest.schema.json")])
def test_assetpipe_config_prints_each_shipped_file(tmp_path: Path, name: str, path: str) -> None:
    done = subprocess.run([sys.executable, "-m", "assetpipe", "config", name], cwd=tmp_path, capture_output=True,
                          timeout=60)
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout == (REPO / "config" / path).read_bytes()
    help_text = run_entry_point("config", "--help", cwd=tmp_path).stdout
    assert re.search(rf"^ +{re.escape(name)} +\S", help_text, re.M)


def test_assetpipe_config_names_an_unknown_file_and_exits_2(tmp_path: Path) -> None:
    done = run_entry_point("config", "nginx.conf", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "'nginx.conf' is not one of 'nginx-http', 'nginx-server', 'caddy', 'toml', 'schema'" in done.stderr
    listed = run_entry_point("--help", cwd=tmp_path).stdout
    assert re.search(r"^  config +Print the nginx or Caddy snippet", listed, re.M)
