"""The image encodes run in worker processes: a per-image time limit, and Ctrl-C stops them at once."""

from __future__ import annotations

import io
import multiprocessing
import random
import signal
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from assetpipe.build import ledger
from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.config import Config, ImagesConfig
from assetpipe.images.encodepool import EncodePool
from assetpipe.model import Failure, Notice

from .conftest import snapshot


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def noise(width: int, height: int) -> Image.Image:
    """Random pixels: the slowest thing to encode (several seconds of AVIF and WebP at 6 MP)."""
    return Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))


def slow_site(root: Path) -> Path:
    site = root / "dist"
    site.mkdir()
    (site / "big.jpg").write_bytes(jpeg(noise(3000, 2000)))
    for name, colour in (("a.jpg", (200, 40, 40)), ("b.jpg", (40, 200, 40))):
        (site / name).write_bytes(jpeg(Image.new("RGB", (48, 32), colour)))
    (site / "index.html").write_text('<!doctype html><title>t</title><img src="big.jpg" alt="big">\n'
                                     '<img src="a.jpg" alt="a"><img src="b.jpg" alt="b">\n')
    return site


def encode_workers() -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.name == "assetpipe-encode"]


def no_temp_files(site: Path) -> bool:
    return not [p for p in site.rglob("*") if p.name.endswith(ledger.TEMP_SUFFIX)]


def test_an_image_over_its_time_limit_fails_alone(cli, tmp_path) -> None:
    site = slow_site(tmp_path)
    big = (site / "big.jpg").read_bytes()
    (tmp_path / "assetpipe.toml").write_text("[images]\ntimeout = 1.0\n")
    result = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "-j", "2")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: big.jpg: took longer than images.timeout (1 s); stopped"]
    assert (site / "big.jpg").read_bytes() == big
    assert sorted(p.name for p in site.glob("big*")) == ["big.jpg"]  # no variant, no sidecar
    for name in ("a", "b"):
        assert len(list(site.glob(f"{name}.*w.avif"))) == 1 and (site / f"{name}.jpg.avif").exists()
    html = (site / "index.html").read_text()
    assert '<img src="big.jpg" alt="big">' in html  # untouched
    assert '<picture data-assetpipe="a.jpg">' in html and '<picture data-assetpipe="b.jpg">' in html
    assert no_temp_files(site) and not encode_workers()


class _InterruptDuringImages:
    """Sends SIGINT to the main thread, as Ctrl-C does, half a second into the image stage."""

    def __init__(self) -> None:
        self.sent = 0.0
        self.failures: list[Failure] = []

    def start(self, total: int, label: str) -> None:
        if label == "encoding images":
            main = threading.main_thread().ident
            assert main is not None

            def interrupt() -> None:
                self.sent = time.monotonic()
                signal.pthread_kill(main, signal.SIGINT)

            threading.Timer(0.5, interrupt).start()

    def advance(self, output: str, outcome: str) -> None: ...

    def failure(self, failure: Failure) -> None:
        self.failures.append(failure)

    def notice(self, notice: Notice) -> None: ...

    def done(self) -> None: ...


def test_ctrl_c_stops_a_running_encode_at_once(tmp_path) -> None:
    site = slow_site(tmp_path)
    before = snapshot(site)
    observer = _InterruptDuringImages()
    request = BuildRequest(site, Config(images=ImagesConfig(timeout=600.0)), tmp_path / "cache", jobs=2)
    with pytest.raises(KeyboardInterrupt):
        build(request, observer)
    stopped = time.monotonic()
    assert observer.sent and stopped - observer.sent < 1.0  # the 6 MP noise takes seconds to encode
    assert not encode_workers()
    assert no_temp_files(site)
    assert {k: v for k, v in snapshot(site).items() if k in before} == before  # the user's files as they were


def cores_given(argument: str, cores: int) -> tuple[str, int]:
    time.sleep(0.2)  # long enough that a task admitted beside another really runs beside it
    return argument, cores


def test_a_task_with_the_machine_to_itself_is_given_every_core() -> None:
    """What the pool tells each task: all its workers' cores when the task runs alone by its cost or is
    the last and nothing runs beside it; one core when others run or wait beside it."""
    with EncodePool(cores_given, 2, 60, budget=10) as pool:
        for key, cost in (("exclusive", 10), ("first small", 1), ("second small", 1)):
            pool.submit(key, key, cost)
        assert dict(pool.results()) == {"exclusive": ("exclusive", 2), "first small": ("first small", 1),
                                        "second small": ("second small", 1)}
        pool.submit("the only one", "the only one", 1)  # a later run (assetpipe watch) with one image
        assert dict(pool.results()) == {"the only one": ("the only one", 2)}
    with EncodePool(cores_given, 1, 60, budget=10) as pool:  # --jobs 1: never more than one
        pool.submit("exclusive", "exclusive", 10)
        assert dict(pool.results()) == {"exclusive": ("exclusive", 1)}
