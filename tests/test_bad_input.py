"""Bad input: one line naming the file and the reason, everything else processed, the right exit code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.config import Config
from assetpipe.model import Failure, Notice

from .conftest import REPO, snapshot


def manifest_of(root: Path) -> dict:
    return json.loads((root / ".assetpipe" / "manifest.json").read_text())


def test_missing_folder_and_file_given_as_folder(cli, tmp_path) -> None:
    result = cli("build", str(tmp_path / "nope"))
    assert (result.exit_code, result.stderr) == (2, f"error: {tmp_path / 'nope'}: no such folder\n")
    (tmp_path / "file").write_text("x")
    result = cli("build", str(tmp_path / "file"))
    assert (result.exit_code, result.stderr) == (2, f"error: {tmp_path / 'file'}: not a folder\n")


def test_default_folder_is_dist(cli, site) -> None:
    result = cli("build", "--cache-dir", "c")  # cwd is the folder holding dist/
    assert result.exit_code == 0, result.stderr
    assert (site / ".assetpipe" / "manifest.json").is_file()


def test_broken_link_fails_that_file_only(cli, site, cache_dir) -> None:
    (site / "broken.js").symlink_to(site / "missing.js")
    (site / "loop.css").symlink_to(site / "loop.css")
    before = snapshot(site)
    result = cli("build", str(site), "--cache-dir", str(cache_dir))
    assert result.exit_code == 1
    assert "error: broken.js: broken symbolic link\n" in result.stderr
    assert "error: loop.css: broken symbolic link\n" in result.stderr
    assert (site / "index.html.br").is_file()
    failures = manifest_of(site)["failures"]
    assert failures == [{"file": "broken.js", "reason": "broken symbolic link"},
                        {"file": "loop.css", "reason": "broken symbolic link"}]
    after = snapshot(site)  # every source as it was, but the pages (their <img> tags became <picture>s)
    assert {k: after[k] for k in before if not k.endswith(".html")} == {k: v for k, v in before.items()
                                                                        if not k.endswith(".html")}


def test_links_out_of_the_folder_are_not_followed(cli, site, cache_dir, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the build folder " * 50)
    (site / "secret.txt").symlink_to(secret)
    (site / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    result = cli("build", str(site), "--cache-dir", str(cache_dir))
    assert result.exit_code == 0
    assert "warning: secret.txt: symbolic link to a file outside the folder; skipped" in result.stderr
    assert "warning: elsewhere: symbolic link to a folder; not followed" in result.stderr
    assert not (site / "secret.txt.br").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "dist", "secret.txt"]


def test_link_to_a_file_inside_is_processed(cli, site, cache_dir) -> None:
    (site / "alias.json").symlink_to("data/products.json")
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    assert (site / "alias.json.br").is_file() and (site / "alias.json").is_symlink()


def test_fifo_is_skipped_not_read(cli, site, cache_dir) -> None:
    os.mkfifo(site / "pipe.txt")
    result = cli("build", str(site), "--cache-dir", str(cache_dir))
    assert result.exit_code == 0
    assert "warning: pipe.txt: not a regular file; skipped" in result.stderr


def test_unreadable_file(cli, site, cache_dir) -> None:
    """Root reads files whatever their mode, so as root the build runs with that override dropped
    (setpriv), as a user's build would: the test never skips."""
    locked = site / "data" / "stores.json"
    locked.chmod(0)
    try:
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            assert setpriv is not None, "setpriv (util-linux) drops root's override of file modes"
            done = subprocess.run([setpriv, "--bounding-set", "-dac_override,-dac_read_search", sys.executable, "-m",
                                   "assetpipe", "build", str(site), "--cache-dir", str(cache_dir)], text=True,
                                  capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
            code, stderr = done.returncode, done.stderr
        else:
            result = cli("build", str(site), "--cache-dir", str(cache_dir))
            code, stderr = result.exit_code, result.stderr
    finally:
        locked.chmod(0o644)
    assert code == 1, stderr
    assert "error: data/stores.json: cannot read: Permission denied" in stderr


def test_file_vanishing_mid_build(site, cache_dir) -> None:
    """A file deleted after the scan, before it is compressed: a failure line, the rest still built."""
    victim = site / "data" / "products.json"

    class DeleteWhenWorkStarts:
        def __init__(self) -> None:
            self.failures: list[Failure] = []

        def start(self, total: int, label: str) -> None:
            if label == "compressing":  # after the scan and the image stage, before any compression
                victim.unlink()

        def advance(self, output: str, outcome: str) -> None: ...

        def failure(self, failure: Failure) -> None:
            self.failures.append(failure)

        def notice(self, notice: Notice) -> None: ...

        def done(self) -> None: ...

    observer = DeleteWhenWorkStarts()
    result = build(BuildRequest(site, Config(), cache_dir, jobs=2), observer)
    assert result.exit_code == 1
    assert observer.failures == [Failure("data/products.json", "vanished during the build")]
    manifest = manifest_of(site)
    assert "data/products.json" not in manifest["files"]
    assert manifest["failures"] == [{"file": "data/products.json", "reason": "vanished during the build"}]
    assert (site / "data/stores.json.br").is_file()
    assert not (site / "data/products.json.br").exists()


def test_odd_names_work(cli, site, cache_dir) -> None:
    names = ["with space.css", "ünï \u2013 cödé.js", "hash#tag.json", "what?.txt"]
    for name in names:
        (site / name).write_text("body { color: rebeccapurple; }\n" * 40)
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    files = manifest_of(site)["files"]
    for name in names:
        assert files[name]["encodings"]["br"]["file"] == name + ".br"
        assert (site / (name + ".br")).is_file()


def test_content_decides_what_a_file_is(cli, site, cache_dir) -> None:
    png = next((site / "assets").glob("astronaut-*.png")).read_bytes()
    (site / "assets" / "looks-like-text.js").write_bytes(png)
    result = cli("build", str(site), "--cache-dir", str(cache_dir))
    assert result.exit_code == 0
    entry = manifest_of(site)["files"]["assets/looks-like-text.js"]
    assert entry["type"] == "image/png" and not {"br", "gzip"} & set(entry.get("encodings", {}))
    assert entry["image"]["format"] == "png"
    assert (site / "assets/looks-like-text.js.avif").is_file()  # named by its path, typed by content
    assert "warning: assets/looks-like-text.js: is a PNG named .js; treated as PNG" in result.stderr


def test_empty_file_is_listed_without_sidecars(cli, site, cache_dir) -> None:
    (site / "empty.js").write_bytes(b"")
    assert cli("build", str(site), "--cache-dir", str(cache_dir)).exit_code == 0
    entry = manifest_of(site)["files"]["empty.js"]
    assert entry["size"] == 0 and "encodings" not in entry


def _animated_gif() -> bytes:
    from io import BytesIO

    from PIL import Image

    frames = [Image.new("RGB", (40, 30), (i * 40, 100, 200 - i * 30)) for i in range(6)]
    for frame in frames:
        for x in range(40):
            frame.putpixel((x, (x * 7) % 30), (255 - x, x, 0))
    buffer = BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=[50, 60, 70, 80, 90, 100],
                   loop=0)
    return buffer.getvalue()


def test_gifs_cut_mid_frame_fail_one_by_one(cli, tmp_path, cache_dir) -> None:
    """Pillow's GIF reader raises IndexError from `n_frames` for a file cut mid-frame (issue 22, item 2):
    each such file is one error line, and every other file is still processed."""
    gif = _animated_gif()
    site = tmp_path / "gifs"
    site.mkdir()
    cuts = range(len(gif) // 5, len(gif), 37)
    for cut in cuts:
        (site / f"cut{cut:05}.gif").write_bytes(gif[:cut])
    (site / "whole.gif").write_bytes(gif)
    (site / "app.js").write_text("export const answer = () => 42;\n" * 40)
    result = cli("build", str(site), "--cache-dir", str(cache_dir))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    failed = {line.split(": ")[1] for line in result.stderr.splitlines() if line.startswith("error: ")}
    assert len(failed) >= len(cuts) // 2 and "whole.gif" not in failed, result.stderr
    manifest = manifest_of(site)
    assert {f["file"] for f in manifest["failures"]} == failed
    assert (site / "app.js.br").is_file() and manifest["files"]["whole.gif"]["image"]["animated"]
    for cut in cuts:  # each cut file is an error line or a valid output, never a traceback
        name = f"cut{cut:05}.gif"
        assert name in failed or manifest["files"][name].get("image"), name
