"""Hostile input (issue 22, docs/reliability.md): a few hundred mutated images, each an error line or a
valid output and never a traceback; and hostile trees (links out, loops, FIFOs, sockets, names with
newlines and invalid UTF-8) that never lead to a write outside the folder being built.

The images are made here with Pillow, then damaged the ways a broken upload or an attacker damages them:
cut short, bits flipped, a header that lies about the size, and dimensions far beyond images.max_pixels.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from .conftest import REPO, snapshot

FORMATS = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "avif": "AVIF"}


def _picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, size)
    width, height = size
    image.putdata([((x * 9) % 256, (y * 13) % 256, ((x ^ y) * 5) % 256) + ((255,) if mode == "RGBA" else ())
                   for y in range(height) for x in range(width)])
    return image


def _originals() -> dict[str, bytes]:
    """One small real image per format (an animated GIF and WebP among them) and an SVG."""
    made: dict[str, bytes] = {}
    for ext, fmt in FORMATS.items():
        buffer = io.BytesIO()
        image = _picture((48, 32), "RGBA" if ext == "png" else "RGB")
        if ext in ("gif", "webp"):
            frames = [image.rotate(angle) for angle in (0, 90, 180)]
            frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=80, loop=0)
        else:
            image.save(buffer, fmt, **({"quality": 70} if ext in ("jpg", "webp", "avif") else {}))
        made[ext] = buffer.getvalue()
    made["svg"] = (b'<svg xmlns="http://www.w3.org/2000/svg" width="48" height="32" viewBox="0 0 48 32">'
                   + b'<rect width="10" height="10" fill="#c33"/>' * 20 + b"</svg>")
    return made


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header (with a correct CRC) declares `width` x `height` over a few bytes of pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data  # noqa: E731
                                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b"")


def _mutants(originals: dict[str, bytes], rng: random.Random) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for ext, data in originals.items():
        files[f"whole.{ext}"] = data
        for n, cut in enumerate(sorted(rng.sample(range(1, len(data)), 20))):
            files[f"cut{n:02}.{ext}"] = data[:cut]
        for n in range(28):
            flipped = bytearray(data)
            for _ in range(rng.randint(1, 6)):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            files[f"flip{n:02}.{ext}"] = bytes(flipped)
        for n in range(4):  # a header that lies: bytes in the first 64 (where sizes live) set to extremes
            lying = bytearray(data)
            for _ in range(3):
                lying[rng.randrange(min(64, len(lying)))] = rng.choice((0x00, 0xFF, 0x7F))
            files[f"lie{n:02}.{ext}"] = bytes(lying)
    files["huge.png"] = _png_declaring(60_000, 60_000)  # 3.6 gigapixels declared: over images.max_pixels
    files["wide.png"] = _png_declaring(2**31 - 1, 1)
    files["zero.png"] = _png_declaring(0, 0)
    files["empty.jpg"] = b""
    files["text.png"] = b"not an image at all\n" * 10
    files["lie-svg.svg"] = b'<svg xmlns="http://www.w3.org/2000/svg" width="999999999" height="-1"><rect/></svg>'
    return files


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ASSETPIPE_CACHE_DIR"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "assetpipe", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=600)


def test_mutated_images_are_each_an_error_line_or_a_valid_output(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    files = _mutants(_originals(), random.Random(22))
    for name, data in files.items():
        (site / "img" / name).write_bytes(data)
    page = "".join(f'<img src="img/{name}" alt="">\n' for name in sorted(files))
    (site / "index.html").write_text(f"<!doctype html><title>fuzz</title><body>\n{page}</body>\n")
    result = _run("build", str(site), "--cache-dir", str(tmp_path / "cache"), "-j", "2", cwd=tmp_path)
    assert "Traceback" not in result.stderr and result.returncode in (0, 1), result.stderr[-3000:]
    manifest = json.loads((site / ".assetpipe" / "manifest.json").read_text())
    failed = {f["file"]: f["reason"] for f in manifest["failures"]}
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == len(failed)  # one line per failed file
    for reason in failed.values():
        assert reason and "\n" not in reason and "Traceback" not in reason
    images = 0
    for name in files:
        rel = f"img/{name}"
        if rel in failed:
            continue
        entry = manifest["files"][rel]
        for variant in (entry.get("image") or {}).get("variants", []):
            with Image.open(site / variant["file"]) as opened:  # a valid output decodes whole
                opened.load()
                assert opened.size == (variant["width"], variant["height"]), variant["file"]
            images += 1
    assert len(files) >= 300 and len(failed) >= 100 and images >= 50, (len(files), len(failed), images)
    for name in ("huge.png", "wide.png", "text.png", "empty.jpg"):
        assert f"img/{name}" in failed, name
    assert "over images.max_pixels" in failed["img/huge.png"]
    assert "whole.svg" in result.stderr or "img/whole.svg" in manifest["files"]
    assert (site / "img" / "whole.svg").read_bytes() == files["whole.svg"]  # SVG is never changed


def _hostile_tree(site: Path, outside: Path) -> None:
    (outside / "secret.txt").write_text("a file outside the build folder\n" * 40)
    (outside / "folder").mkdir()
    (outside / "folder" / "inside.js").write_text("console.log('outside');\n" * 40)
    site.mkdir()
    (site / "app.js").write_text("export const a = 1;\n" * 60)
    (site / "link-out.txt").symlink_to(outside / "secret.txt")
    (site / "dir-out").symlink_to(outside / "folder", target_is_directory=True)
    (site / "relative-out.js").symlink_to("../outside/folder/inside.js")
    (site / "loop").symlink_to("loop")
    (site / "a").symlink_to("b")
    (site / "b").symlink_to("a")
    (site / "self").symlink_to(".", target_is_directory=True)
    (site / "broken.css").symlink_to("missing.css")
    os.mkfifo(site / "pipe.js")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(site / "sock.js"))
    sock.close()
    (site / "new\nline.js").write_text("export const n = 'newline in the name';\n" * 40)
    os.makedirs(os.fsencode(site) + b"/bad\xff\xfename", exist_ok=True)
    with open(os.fsencode(site) + b"/bad\xff\xfename/x\xe9.js", "wb") as handle:
        handle.write(b"export const latin1 = 'x';\n" * 40)
    (site / "..hidden..js").write_text("export const dots = 1;\n" * 40)
    (site / "-dash.js").write_text("export const dash = 1;\n" * 40)
    # an output name held by a link to outside: the writer must never write through it
    (site / "app.js.br").symlink_to(outside / "secret.txt")


@pytest.mark.parametrize("mode", ["in place", "--out", "watch first run"])
def test_a_hostile_tree_never_leads_to_a_write_outside(tmp_path: Path, mode: str) -> None:
    outside, site = tmp_path / "outside", tmp_path / "site"
    outside.mkdir()
    _hostile_tree(site, outside)
    cache = tmp_path / "cache"
    before = snapshot(outside)
    stamps = {p: p.stat().st_mtime_ns for p in outside.rglob("*")}
    if mode == "watch first run":
        from assetpipe.build.pipeline import BuildRequest
        from assetpipe.config import Config
        from assetpipe.watch.watcher import Watcher

        from .test_watch import Quiet
        watcher = Watcher(BuildRequest(site, Config(), cache, jobs=2), Quiet(), lambda line: None, quiet=0.05,
                          settle=0.02)
        try:
            result_code = watcher.start().exit_code
        finally:
            watcher.stop()
            watcher.close()
        assert result_code == 1  # the broken links
    else:
        args = ["build", str(site), "--cache-dir", str(cache)]
        if mode == "--out":
            args += ["--out", str(tmp_path / "out")]
        result = _run(*args, cwd=tmp_path)
        assert "Traceback" not in result.stderr and result.returncode == 1, result.stderr
        assert "error: broken.css: broken symbolic link" in result.stderr
        assert "warning: link-out.txt: symbolic link to a file outside the folder; skipped" in result.stderr
    assert snapshot(outside) == before
    assert {p: p.stat().st_mtime_ns for p in outside.rglob("*")} == stamps
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["outside", "site", "cache", *(["out"] if mode == "--out" else [])])
    target = tmp_path / "out" if mode == "--out" else site
    assert (target / "new\nline.js.br").is_file()
    assert os.path.isfile(os.fsencode(target) + b"/bad\xff\xfename/x\xe9.js.gz")
    assert not any(p.is_symlink() and os.path.realpath(p).startswith(str(outside)) and p.name.endswith(".gz")
                   for p in target.rglob("*"))
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
