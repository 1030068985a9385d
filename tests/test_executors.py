"""The executors (SPEC §5b): the same plan run on a real Dask cluster gives the local build's bytes.

One LocalCluster (2 worker processes, one thread each, an `MP` resource each) serves the module; the
builds reach it as a remote scheduler (`--executor dask://127.0.0.1:PORT`), so the client ships each
task's input bytes, or (`--workers-dir`) the workers read the folder themselves. Its workers carry the
test-only fault of executors/testhooks.py, armed by a file only the worker-death test creates.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assetpipe.build import ledger
from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.cli import main
from assetpipe.config import Config
from assetpipe.executors.testhooks import ARM_VARIABLE, STALL_VARIABLE
from assetpipe.model import Failure, Notice

from .conftest import DEMO, dask_scheduler, snapshot

distributed = pytest.importorskip("distributed")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def arm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("arm")


@pytest.fixture(scope="module")
def scheduler(arm_dir: Path) -> Iterator[str]:
    """The module's cluster; its workers' environment names the arm file of the worker-death test."""
    with dask_scheduler({ARM_VARIABLE: str(arm_dir / "arm"), STALL_VARIABLE: str(arm_dir / "stall")}) as address:
        yield address


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The demo site (four photos, pages, scripts, styles) built by the local executor."""
    root = tmp_path_factory.mktemp("local")
    shutil.copytree(DEMO, root / "dist")
    result = run("build", str(root / "dist"), "--cache-dir", str(root / "cache"), "-q")
    assert result.exit_code == 0, result.output
    return snapshot(root / "dist")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(DEMO, tmp_path / "dist")
    return tmp_path / "dist"


def built_json(result: Result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_remote_cluster_builds_the_same_bytes_from_shipped_inputs(
        scheduler: str, reference: dict[str, str], site: Path, tmp_path: Path) -> None:
    document = built_json(run("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--executor", scheduler,
                              "--json"))
    assert document["encoded"] > 0 and document["failures"] == []
    assert snapshot(site) == reference  # the manifest among them


def test_workers_that_read_the_folder_themselves_build_the_same_bytes(
        scheduler: str, reference: dict[str, str], site: Path, tmp_path: Path) -> None:
    result = run("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--executor", scheduler,
                 "--workers-dir", str(site), "-q")
    assert result.exit_code == 0, result.output
    assert snapshot(site) == reference


def test_a_worker_killed_mid_task_is_replaced_and_the_build_is_the_same(
        scheduler: str, reference: dict[str, str], site: Path, tmp_path: Path, arm_dir: Path) -> None:
    (arm_dir / "arm").write_bytes(b"")
    result = run("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--executor", scheduler, "-q")
    assert (arm_dir / "arm.fired").exists()  # a worker did die in the middle of a task
    (arm_dir / "arm.fired").unlink()
    assert result.exit_code == 0, result.output
    assert snapshot(site) == reference


def test_an_image_past_images_timeout_fails_alone_and_the_build_goes_on(
        scheduler: str, reference: dict[str, str], site: Path, tmp_path: Path, arm_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first image task stalls (testhooks: two minutes, as a stuck encoder would); images.timeout is 5 s.
    The build stops waiting for it, names it, builds everything else, and a rebuild is the clean build."""
    (tmp_path / "assetpipe.toml").write_text("[images]\ntimeout = 5\n")
    monkeypatch.chdir(tmp_path)
    (arm_dir / "stall").write_bytes(b"")
    result = run("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--executor", scheduler, "--json")
    assert (arm_dir / "stall.fired").exists()  # a task did stall
    (arm_dir / "stall.fired").unlink()
    assert result.exit_code == 1, result.output
    failures = json.loads(result.stdout)["failures"]
    assert len(failures) == 1, failures
    assert failures[0]["reason"] == "took longer than images.timeout (5 s) on a Dask worker; stopped waiting"
    assert failures[0]["file"] in {rel for rel in reference if rel.endswith((".jpg", ".png"))}
    assert "Traceback" not in result.output
    again = run("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--executor", scheduler, "-q")
    assert again.exit_code == 0, again.output
    assert snapshot(site) == reference


def test_a_worker_with_other_encoders_stops_the_build_before_it_writes(
        scheduler: str, site: Path, tmp_path: Path) -> None:
    # the workers' environment gets another pyoxipng distribution ahead of the real one (the version a
    # cache key reads), as on a worker image built at another time; Pillow and the rest are untouched
    other = tmp_path / "other-site-packages" / "pyoxipng-0.0.1.dist-info"
    other.mkdir(parents=True)
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: pyoxipng\nVersion: 0.0.1\n")
    client = distributed.Client(scheduler.replace("dask://", "tcp://"))
    code = f"import sys; sys.path.insert(0, {str(other.parent)!r})"
    undo = f"import sys; sys.path.remove({str(other.parent)!r})"
    before = snapshot(site)
    try:
        client.run(exec, code, {})
        result = run("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--executor", scheduler)
    finally:
        client.run(exec, undo, {})
        client.close()
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "has other encoders (pyoxipng" in lines[0] and "0.0.1 there" in lines[0], lines
    assert snapshot(site) == before
    assert not (tmp_path / "cache").exists()


def test_a_scheduler_that_does_not_answer_is_one_line_and_exit_2(site: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    before = snapshot(site)
    result = run("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--executor", f"dask://127.0.0.1:{port}")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"no Dask scheduler answers at tcp://127.0.0.1:{port}" in lines[0], lines
    assert snapshot(site) == before and not (tmp_path / "cache").exists()


def test_dask_local_from_the_config_builds_the_same_bytes(
        reference: dict[str, str], site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "assetpipe.toml").write_text('[build]\nexecutor = "dask-local:2"\n')
    monkeypatch.chdir(tmp_path)
    result = run("build", str(site), "--cache-dir", str(tmp_path / "cache"), "-q")
    assert result.exit_code == 0, result.output
    assert snapshot(site) == reference


def test_a_wrong_executor_in_the_config_is_a_config_error(site: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "assetpipe.toml").write_text('[build]\nexecutor = "dask:/host:8786"\n')
    monkeypatch.chdir(tmp_path)
    result = run("build", str(site))
    assert result.exit_code == 2
    assert "assetpipe.toml: build.executor: expected \"local\", \"dask://HOST:PORT\"" in result.stderr


def test_dask_asked_for_but_not_installed_is_one_line_and_exit_2(site: Path, tmp_path: Path) -> None:
    # a child interpreter in which `import distributed` fails, as where assetpipe[dask] is not installed
    code = "import sys; sys.modules['distributed'] = None; from assetpipe.cli import main; main()"
    before = snapshot(site)
    done = subprocess.run([sys.executable, "-c", code, "build", str(site), "--cache-dir", str(tmp_path / "cache"),
                           "--executor", "dask-local:2"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == ["error: --executor dask-local:2: needs dask and distributed, which are not installed; "
                     "pip install 'assetpipe[dask]'"], lines
    assert snapshot(site) == before


class _InterruptAtTheFirstImage:
    """Ctrl-C (SIGINT to the main thread) as the first image's result comes back: more are running."""

    def __init__(self) -> None:
        self.sent = False

    def start(self, total: int, label: str) -> None: ...

    def advance(self, output: str, outcome: str) -> None:
        if not self.sent:
            self.sent = True
            main = threading.main_thread().ident
            assert main is not None
            signal.pthread_kill(main, signal.SIGINT)
            time.sleep(1)  # the signal is handled here, in the main thread

    def failure(self, failure: Failure) -> None: ...

    def notice(self, notice: Notice) -> None: ...

    def done(self) -> None: ...


def test_ctrl_c_cancels_every_task_on_the_cluster(scheduler: str, site: Path, tmp_path: Path) -> None:
    request = BuildRequest(site, Config(), tmp_path / "cache", jobs=2, executor=scheduler)
    observer = _InterruptAtTheFirstImage()
    with pytest.raises(KeyboardInterrupt):
        build(request, observer)
    assert observer.sent
    client = distributed.Client(scheduler.replace("dask://", "tcp://"))
    try:
        deadline = time.monotonic() + 30
        while any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(client.processing().values())  # nothing of the build runs on after it
        assert not [key for key in client.who_has() if str(key).startswith("assetpipe-")]  # nor is kept
    finally:
        client.close()
    assert not [p for p in site.rglob("*") if p.name.endswith(ledger.TEMP_SUFFIX)]  # no partial file
