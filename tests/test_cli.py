"""The CLI through its real entry point, as a user or a CI job runs it."""

from __future__ import annotations

import json
import os
import pty
import random
import re
import shutil
import signal
import subprocess
import sys
import time

from .conftest import run_entry_point, snapshot

SUMMARY = re.compile(r"^(?P<dir>\S+): (?P<files>\d+) files, (?P<sidecars>\d+) sidecars \(br \d+, gzip \d+\), "
                     r"(?P<images>\d+) images -> \d+ image files, "
                     r"[\d.]+ [kM]?B -> [\d.]+ [kM]?B over the wire \(saved [\d.]+ [kM]?B\), "
                     r"(?P<encoded>\d+) encoded, \d+ cache hits, \d+ up to date in [\d.]+ s$")


def test_python_dash_m_builds_and_prints_one_summary_line(site, tmp_path) -> None:
    proc = run_entry_point("build", "dist", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines  # small work: no progress lines, just the summary
    match = SUMMARY.match(lines[0])
    assert match and match["dir"] == "dist" and int(match["files"]) == 29 and int(match["encoded"]) > 30
    assert "\x1b[" not in proc.stderr  # not a terminal: no colour, no bar
    assert (tmp_path / ".assetpipe-cache").is_dir()


def test_json_result_on_stdout(site, tmp_path) -> None:
    proc = run_entry_point("build", "dist", "--json", "-q", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    result = json.loads(proc.stdout)
    assert result["schema"] == 1 and result["exit_code"] == 0 and result["files"] == 29
    assert result["written"] == sum(result["sidecars"].values()) + result["image_files"] + 2  # + the 2 pages
    assert result["images"] == 4 and result["image_files"] > 12  # the JS-only hero gets its sidecars alone
    assert result["encoded"] >= result["written"] and result["failures"] == []


def test_exit_code_1_when_a_file_fails(site, tmp_path) -> None:
    (site / "gone.js").symlink_to("nowhere.js")
    proc = run_entry_point("build", "dist", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "error: gone.js: broken symbolic link"
    assert re.search(r", 1 failed in [\d.]+ s$", proc.stderr.splitlines()[-1])


def test_usage_errors_exit_2(tmp_path) -> None:
    proc = run_entry_point("build", "dist", "--jobs", "0", cwd=tmp_path)
    assert proc.returncode == 2 and "--jobs" in proc.stderr
    proc = run_entry_point("build", "--no-such-flag", cwd=tmp_path)
    assert proc.returncode == 2


def test_version_and_help(tmp_path) -> None:
    proc = run_entry_point("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("assetpipe, version ")
    proc = run_entry_point("build", "--help", cwd=tmp_path)
    for flag in ("--config", "--out", "--dry-run", "--json", "--jobs", "--cache-dir", "--no-compress",
                 "--no-images", "--quiet", "--verbose"):
        assert flag in proc.stdout, flag


def test_console_script_is_installed(site, tmp_path) -> None:
    script = os.path.join(os.path.dirname(sys.executable), "assetpipe")
    proc = subprocess.run([script, "build", "dist", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == ""


def _run_in_terminal(args: list[str], cwd, env) -> str:
    """Run with stderr on a pseudo-terminal, as a person at a shell would; return what it printed."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(cwd)
        os.execve(sys.executable, [sys.executable, "-m", "assetpipe", *args], env)
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace")


def test_terminal_output_honours_no_color(site, tmp_path) -> None:
    (site / "broken.js").symlink_to("nowhere.js")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "ASSETPIPE_CACHE_DIR")}
    env["TERM"] = "xterm-256color"
    coloured = _run_in_terminal(["build", "dist"], tmp_path, env)
    assert "error: broken.js: broken symbolic link" in coloured
    assert "\x1b[" in coloured  # a terminal gets colour
    (tmp_path / ".assetpipe-cache").rename(tmp_path / "old-cache")
    plain = _run_in_terminal(["build", "dist", "--cache-dir", "c2"], tmp_path, {**env, "NO_COLOR": "1"})
    assert "error: broken.js: broken symbolic link" in plain
    assert not re.search(r"\x1b\[[0-9;]*3\dm", plain)  # no colour codes


def test_verbose_names_every_output_and_quiet_only_errors(site, tmp_path) -> None:
    proc = run_entry_point("build", "dist", "-v", "-j", "1", cwd=tmp_path)
    lines = proc.stderr.splitlines()
    assert "encode  index.html.br" in lines
    assert "dropped assets/empty-ish.txt.gz" in lines  # 3 bytes: compressed, larger, not written
    assert not (site / "assets/empty-ish.txt.gz").exists()
    (site / "gone.js").symlink_to("nowhere.js")
    proc = run_entry_point("build", "dist", "-q", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr == "error: gone.js: broken symbolic link\n"


def test_ctrl_c_leaves_no_partial_file_and_the_next_build_finishes(site, tmp_path) -> None:
    rng = random.Random(3)
    words = [f"token{n}" for n in range(5000)]
    for index in range(3):  # a second or two of Brotli work
        (site / f"big{index}.js").write_text(" ".join(rng.choice(words) for _ in range(60_000)))
    reference = tmp_path / "reference"
    shutil.copytree(site, reference)
    env = {k: v for k, v in os.environ.items() if k != "ASSETPIPE_CACHE_DIR"}
    child = subprocess.Popen([sys.executable, "-m", "assetpipe", "build", "dist", "--cache-dir", "c1"], cwd=tmp_path,
                             env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list((site).rglob("*.br")) and time.monotonic() < deadline:  # wait until it is writing
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "error: interrupted" in stderr
    assert not list(site.rglob("*.assetpipe-tmp"))
    proc = run_entry_point("build", "dist", "--cache-dir", "c1", cwd=tmp_path)
    assert proc.returncode == 0 and "warning" not in proc.stderr
    assert run_entry_point("build", "reference", "--cache-dir", "c1", cwd=tmp_path).returncode == 0
    assert snapshot(site) == snapshot(reference)


def test_json_is_printed_whenever_the_build_cannot_run(site, tmp_path) -> None:
    """`build MISSING --json` printed nothing on stdout (issue 24, item 10): a program reading it gets a
    JSON document with the exit code and the error lines, whatever stopped the build."""
    missing = run_entry_point("build", "missing", "--json", cwd=tmp_path)
    assert missing.returncode == 2
    assert json.loads(missing.stdout) == {"schema": 1, "exit_code": 2, "errors": ["missing: no such folder"]}
    assert missing.stderr == "error: missing: no such folder\n"
    (tmp_path / "assetpipe.toml").write_text("[compress]\nmin_ratio = 2\n")
    bad = run_entry_point("build", "dist", "--json", cwd=tmp_path)
    assert bad.returncode == 2
    document = json.loads(bad.stdout)
    assert document["exit_code"] == 2 and "compress.min_ratio" in document["errors"][0]
