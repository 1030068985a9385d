"""Shared fixtures: a fresh copy of the bundled demo site, and the CLI run the way users run it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

from assetpipe.cache.statmemo import RACY_NS
from assetpipe.cli import main
from assetpipe.model import BuildResult, Failure, Notice

if TYPE_CHECKING:
    from assetpipe.watch.watcher import Watcher

# A suite started in the background by a shell without job control inherits SIGINT ignored, and Python then
# leaves it so: the Ctrl-C tests (which send SIGINT to a build, in this process or a child) need it delivered.
# A handler, unlike SIG_IGN, is reset to the default in every child the tests start.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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


# A Vite build whose names test the hash rule (issue 24): words that look like hashes in icons/, Vite's
# chunks (listed in its manifest, one with no digit at all), a source map, a file no manifest lists whose
# name does look hashed, and a page with a hash-like name.
HASH_TREE: dict[str, str] = {
    "index.html": '<!doctype html><script type="module" src="/assets/index-B7PI925R.js"></script>\n',
    "icons/arrow-90deg-up.svg": '<svg xmlns="http://www.w3.org/2000/svg"><path d="M1 1"/></svg>\n',
    "icons/grid-1x2-fill.svg": '<svg xmlns="http://www.w3.org/2000/svg"><path d="M2 2"/></svg>\n',
    "icons/x-circle.svg": '<svg xmlns="http://www.w3.org/2000/svg"><path d="M3 3"/></svg>\n',
    "assets/index-B7PI925R.js": "import './main-qvvkftmj.css';console.log('index')\n",
    "assets/index-B7PI925R.js.map": '{"version":3,"sources":["src/main.tsx"],"mappings":""}\n',
    "assets/main-qvvkftmj.css": "body{margin:0}\n",
    "assets/vendor-Xk4mQp2Z.js": "export const vendor = 1\n",
    "static/lib-Ab3dE5f9.js": "export const lib = 2\n",
    "static/app.3f9a1c2e.js": "export const app = 3\n",
    "report-20240101.txt": "not a hash: a date\n",
    "page-Ab3dE5f9.html": "<!doctype html><p>a page is its address</p>\n",
    ".vite/manifest.json": json.dumps({
        "index.html": {"file": "assets/index-B7PI925R.js", "src": "index.html", "isEntry": True,
                       "imports": ["_vendor-Xk4mQp2Z.js"], "css": ["assets/main-qvvkftmj.css"]},
        "_vendor-Xk4mQp2Z.js": {"file": "assets/vendor-Xk4mQp2Z.js", "name": "vendor"}}, indent=2) + "\n",
}


# which of them are immutable, and why: Vite's manifest lists them, or the name alone looks hashed (reported)
HASH_TREE_IMMUTABLE = {"assets/index-B7PI925R.js": "vite", "assets/main-qvvkftmj.css": "vite",
                       "assets/vendor-Xk4mQp2Z.js": "vite", "static/lib-Ab3dE5f9.js": "name",
                       "static/app.3f9a1c2e.js": "name"}


def make_hash_tree(root: Path) -> Path:
    for rel, text in HASH_TREE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


S3_BUCKET = "team-cache"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's real S3 server on 127.0.0.1 for a test module, with bucket S3_BUCKET, and the AWS environment
    (test credentials, AWS_ENDPOINT_URL) that s3fs and boto3 read set for that module."""
    from moto import server as server_module

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        env.setenv("AWS_ENDPOINT_URL", endpoint)  # how s3fs (botocore) finds an S3-compatible store
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=S3_BUCKET)
        try:
            yield endpoint
        finally:
            server.stop()


class Quiet:
    """An Observer that keeps the warnings it is told about, for builds run in-process."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def start(self, total: int, label: str) -> None: ...

    def advance(self, output: str, outcome: str) -> None: ...

    def failure(self, failure: Failure) -> None: ...

    def notice(self, notice: Notice) -> None:
        self.notices.append(notice)

    def done(self) -> None: ...


def note_routes(watcher: Watcher) -> list[str]:
    """The routes (full, delta, noop) of the runs a Watcher makes from now on, as they come."""
    routes: list[str] = []
    built = watcher._build

    def noted(changed: tuple[str, ...] = ()) -> BuildResult:
        result = built(changed)
        routes.append(result.route)
        return result

    watcher._build = noted  # type: ignore[method-assign]
    return routes


def build_hydrated(site: Path, cache: Path, hydrated: str | None = None) -> None:
    """`assetpipe build SITE` (quiet), with `html.hydrated` set when given; it must succeed."""
    args = ["build", str(site), "--cache-dir", str(cache), "-q"]
    if hydrated is not None:
        config = cache.parent / f"assetpipe-{hydrated}.toml"
        config.write_text(f'[html]\nhydrated = "{hydrated}"\n')
        args += ["--config", str(config)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr


@contextlib.contextmanager
def dask_scheduler(environment: dict[str, str] | None = None) -> Iterator[str]:
    """A Dask LocalCluster as the executor tests use one (two worker processes of one thread and 24 MP
    each, their environment the caller's plus `environment`), as `--executor dask://HOST:PORT` names it."""
    import distributed

    with pytest.MonkeyPatch.context() as patch:
        for name, value in (environment or {}).items():
            patch.setenv(name, value)
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                           resources={"MP": 24.0}, silence_logs=logging.CRITICAL)
    try:
        yield cluster.scheduler_address.replace("tcp://", "dask://")
    finally:
        cluster.close()


def in_batches(root: Path, first: Callable[[Path, Path], None], then: Callable[[Path, Path], None],
               size: int = 12) -> Callable[[], tuple[Path, Path]]:
    """Hands out (site, cache) pairs made `size` at a time under `root`: `first(site, cache)` for each, one
    wait for the racy window (statmemo.RACY_NS), then `then(site, cache)` for each. Tests that need a folder
    recorded by a build after that wait each take one, and a batch shares the wait (2.2 s a test before)."""
    ready: list[tuple[Path, Path]] = []
    made = 0

    def take() -> tuple[Path, Path]:
        nonlocal made
        if not ready:
            batch = [(root / str(n) / "dist", root / str(n) / "cache") for n in range(made, made + size)]
            made += size
            for site, cache in batch:
                first(site, cache)
            time.sleep(RACY_NS / 1e9 + 0.2)
            for site, cache in batch:
                then(site, cache)
            ready.extend(reversed(batch))
        return ready.pop()

    return take
