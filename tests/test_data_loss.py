"""Nothing the user made is ever lost (issue 25): `--out` trees built in place, copies and moves of built
trees, the removal net, the cache kept out of the site, and project source folders refused.

Every test here failed before the fix: an `--out` tree's ledger claimed the copies of the user's files
as assetpipe's outputs, so building that tree in place (or a `cp -a` of it) deleted the whole site.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from assetpipe.build.pipeline import BuildRequest
from assetpipe.cli import main
from assetpipe.config import Config
from assetpipe.watch.watcher import Watcher

from .conftest import DEMO, snapshot
from .test_watch import Quiet

State = {".assetpipe/manifest.json", ".assetpipe/outputs.json"}
DOOMED = ("assets/", "docs/", "icons/", "data/")  # the demo's folders whose sources a test deletes


def user_files(root: Path) -> dict[str, str]:
    """The demo's own files (what the user's build made) as found under `root`."""
    found = snapshot(root)
    return {rel: found.get(rel, "missing") for rel in snapshot(DEMO)}


def test_an_out_tree_built_in_place_keeps_every_file(cli: Callable[..., Result], tmp_path: Path) -> None:
    """The issue's own sequence: `build src --out out`, then `build out`, on the bundled demo."""
    src = tmp_path / "src"
    shutil.copytree(DEMO, src)
    assert cli("build", str(src), "--out", str(tmp_path / "out")).exit_code == 0
    before = snapshot(tmp_path / "out")
    result = cli("build", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["removed"] == 0 and outcome["encoded"] == 0
    after = snapshot(tmp_path / "out")
    assert {rel: h for rel, h in after.items() if rel not in State} == {
        rel: h for rel, h in before.items() if rel not in State}
    # the tree is the user's now: its ledger no longer claims the copies, only the derived outputs
    ledger = json.loads((tmp_path / "out" / ".assetpipe" / "outputs.json").read_text())["outputs"]
    assert "index.html" not in ledger and "assets/hero.jpg" not in ledger
    assert "index.html.br" in ledger


def test_a_copy_of_an_out_tree_and_a_moved_one_keep_every_file(cli: Callable[..., Result], tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(DEMO, src)
    assert cli("build", str(src), "--out", str(tmp_path / "out")).exit_code == 0
    expected = snapshot(tmp_path / "out")
    subprocess.run(["cp", "-a", str(tmp_path / "out"), str(tmp_path / "copy")], check=True)
    (tmp_path / "out").rename(tmp_path / "moved")
    for tree in ("copy", "moved"):
        result = cli("build", str(tmp_path / tree), "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["removed"] == 0
        found = snapshot(tmp_path / tree)
        assert {rel: found.get(rel) for rel in expected if rel not in State} == {
            rel: h for rel, h in expected.items() if rel not in State}


def test_out_twice_into_one_folder_keeps_it_and_follows_the_source(cli: Callable[..., Result],
                                                                   tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(DEMO, src)
    assert cli("build", str(src), "--out", str(out)).exit_code == 0
    first = snapshot(out)
    result = cli("build", str(src), "--out", str(out), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["removed"] == 0
    assert snapshot(out) == first
    assert snapshot(src) == snapshot(DEMO)  # --out never touches DIR
    # a source that left DIR leaves the mirror with its outputs; the other files stay
    (src / "robots.txt").unlink()
    result = cli("build", str(src), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert not (out / "robots.txt").exists() and not (out / "robots.txt.br").exists()
    assert {rel: h for rel, h in snapshot(out).items() if rel in first and rel not in State} == {
        rel: h for rel, h in first.items() if not rel.startswith("robots.txt") and rel not in State}


def test_a_copy_of_an_in_place_build_keeps_everything(cli: Callable[..., Result], site: Path, tmp_path: Path) -> None:
    assert cli("build", str(site)).exit_code == 0
    built = snapshot(site)
    subprocess.run(["cp", "-a", str(site), str(tmp_path / "copy")], check=True)
    result = cli("build", str(tmp_path / "copy"), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["removed"] == 0
    assert snapshot(tmp_path / "copy") == built


def _build_then_delete_sources(cli: Callable[..., Result], site: Path) -> list[str]:
    """Build in place, then delete the sources of most outputs but keep those outputs (as a lost or
    foreign ledger would present them); the outputs that are now orphans (named after a deleted source)."""
    assert cli("build", str(site)).exit_code == 0
    owned = json.loads((site / ".assetpipe" / "outputs.json").read_text())["outputs"]
    doomed = [rel for rel in snapshot(site) if rel.startswith(DOOMED) and rel not in owned]
    for rel in doomed:
        (site / rel).unlink()
    stems = [d + "." for d in doomed] + [d.rsplit(".", 1)[0] + "." for d in doomed]
    return sorted(rel for rel in owned if (site / rel).exists() and rel.startswith(tuple(stems)))


def test_the_removal_net_stops_a_build_before_it_removes_anything(cli: Callable[..., Result], site: Path) -> None:
    _build_then_delete_sources(cli, site)
    before = snapshot(site)
    result = cli("build", str(site))
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "would remove" in errors[0] and "--allow-delete" in errors[0], result.stderr
    assert snapshot(site) == before  # nothing written, nothing removed, not even the state


def test_dry_run_lists_every_removal_and_exits_2_over_the_net(cli: Callable[..., Result], site: Path) -> None:
    orphans = _build_then_delete_sources(cli, site)
    result = cli("build", str(site), "--dry-run")
    assert result.exit_code == 2
    removed = {line.split(maxsplit=1)[1] for line in result.stdout.splitlines() if line.startswith("remove ")}
    assert len(orphans) > 10 and set(orphans) <= removed
    assert "would remove" in result.stderr


@pytest.mark.parametrize("how", ["flag", "config"])
def test_allow_delete_goes_ahead(cli: Callable[..., Result], site: Path, tmp_path: Path, how: str) -> None:
    orphans_before = _build_then_delete_sources(cli, site)
    args = ["build", str(site), "--json"]
    if how == "flag":
        args.append("--allow-delete")
    else:
        (tmp_path / "assetpipe.toml").write_text("[build]\nallow_delete = true\n")
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["removed"] > 10
    left = snapshot(site)
    assert all(rel in left for rel in snapshot(DEMO) if not rel.startswith(DOOMED))
    assert len([rel for rel in orphans_before if rel in left]) < len(orphans_before)


def test_small_edits_stay_under_the_net(cli: Callable[..., Result], site: Path) -> None:
    """A deleted page takes its two sidecars with it without asking (ten files at most need no flag)."""
    assert cli("build", str(site)).exit_code == 0
    (site / "about.html").unlink()
    result = cli("build", str(site), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["removed"] == 2
    assert not (site / "about.html.br").exists()


def test_a_build_run_from_inside_dir_keeps_its_cache_out_of_the_site(site: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home), "XDG_CACHE_HOME": "", "PATH": "/usr/bin:/bin"}
    run = _entry(site, env)
    first = run("build", ".")
    assert first.returncode == 0, first.stderr
    assert not (site / ".assetpipe-cache").exists()
    assert (home / ".cache" / "assetpipe").is_dir()
    second = run("build", ".", "--headers", "netlify")
    assert second.returncode == 0 and "error" not in second.stderr, second.stderr
    assert "encoded" in second.stderr and ", 0 encoded" in second.stderr  # the user's cache served it
    assert (site / "_headers").is_file()


def test_an_explicit_cache_inside_dir_is_refused(cli: Callable[..., Result], site: Path) -> None:
    before = snapshot(site)
    for args in (["--cache-dir", str(site / "cache")], ["--out", str(site.parent / "out"), "--cache-dir",
                                                         str(site.parent / "out" / "c")]):
        result = cli("build", str(site), *args)
        assert result.exit_code == 2
        assert "inside" in result.stderr and "deployed with the site" in result.stderr
        assert snapshot(site) == before and not (site.parent / "out").exists()


def _entry(cwd: Path, env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if k not in ("ASSETPIPE_CACHE_DIR", "XDG_CACHE_HOME")}
        full.update({k: v for k, v in env.items() if v})
        full["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        return subprocess.run([sys.executable, "-m", "assetpipe", *args], cwd=cwd, env=full, text=True,
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=120)

    return run


@pytest.mark.parametrize(("files", "hint"), [
    ({"package.json": "{}", "node_modules/react/index.js": "x"}, "dist/"),
    ({"package.json": "{}", "vite.config.ts": "export default { build: { outDir: 'public_html' } }"},
     "public_html/"),
    ({"mkdocs.yml": "site_name: x\nsite_dir: built\n"}, "built/"),
    ({"conf.py": "project = 'x'\nextensions = []\n"}, "_build/html/"),
    ({"astro.config.mjs": "export default {}"}, "dist/"),
    ({"next.config.js": "module.exports = {}"}, "out/"),
    ({"svelte.config.js": "export default {}"}, "build/"),
])
def test_a_project_source_folder_is_refused_with_a_hint(cli: Callable[..., Result], tmp_path: Path,
                                                        files: dict[str, str], hint: str) -> None:
    project = tmp_path / "project"
    for rel, text in {**files, "index.html": "<p>source</p>", "src/main.js": "console.log(1);\n" * 50}.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    before = snapshot(project)
    result = cli("build", str(project))
    assert result.exit_code == 2
    assert "looks like a project's sources" in result.stderr and f"did you mean {hint}" in result.stderr.replace(
        str(project) + "/", ""), result.stderr
    assert snapshot(project) == before
    forced = cli("build", str(project), "--force")
    assert forced.exit_code == 0, forced.output
    assert (project / "src" / "main.js.gz").exists()


def test_a_git_folder_alone_is_a_deploy_folder_and_git_is_never_touched(cli: Callable[..., Result],
                                                                        site: Path) -> None:
    (site / ".git" / "objects").mkdir(parents=True)
    (site / ".git" / "HEAD").write_text("ref: refs/heads/gh-pages\n" * 20)
    (site / ".git" / "config").write_text("[core]\n" * 40)
    git = snapshot(site / ".git")
    assert cli("build", str(site)).exit_code == 0
    assert snapshot(site / ".git") == git
    assert "index.html.br" in snapshot(site)


# --- every sequence of operations a test can enumerate -------------------------------------------------

# A tiny site (one page, one image, script, style, font), so that hundreds of sequences run in seconds
# with the real encoders: what the user's build made, and must find again after every sequence.
_OPS = ("build", "out", "cp", "mv", "watch", "upload")


def _tiny_site(root: Path) -> None:
    (root / "img").mkdir(parents=True)
    image = Image.new("RGB", (48, 32), (200, 80, 40))
    for x in range(48):
        image.putpixel((x, x % 32), (x * 5, 255 - x * 5, 90))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    (root / "img" / "dot.png").write_bytes(buffer.getvalue())
    (root / "index.html").write_text("<!doctype html><html><head><title>t</title><link rel=stylesheet "
                                     "href=app.css></head><body><h1>Tiny</h1>"
                                     "<img src=\"img/dot.png\" alt=\"dot\"><script src=app.js></script>"
                                     "</body></html>\n" + "<!-- padding -->\n" * 40)
    (root / "app.js").write_text("export function greet(name) { return 'hello ' + name; }\n" * 30)
    (root / "app.css").write_text("body { margin: 0; font-family: system-ui, sans-serif; }\n" * 30)
    (root / "font.woff2").write_bytes(bytes(range(256)) * 8)


def _sequences() -> list[tuple[str, ...]]:
    return [seq for n in (1, 2, 3) for seq in itertools.product(_OPS, repeat=n)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """The tiny site, its files' bytes, and its pages' bytes after one build (the rewrite is idempotent,
    so a page may hold either); the shared cache is warmed so each sequence encodes nothing."""
    base = tmp_path_factory.mktemp("tiny")
    _tiny_site(base / "site")
    original = {p.relative_to(base / "site").as_posix(): p.read_bytes() for p in (base / "site").rglob("*")
                if p.is_file()}
    shutil.copytree(base / "site", base / "built")
    _main(["build", str(base / "built"), "--cache-dir", str(base / "cache")], base)
    built = {rel: (base / "built" / rel).read_bytes() for rel in original if rel.endswith(".html")}
    return base, original, built


def _main(args: list[str], cwd: Path) -> Result:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args, catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.mark.slow
@pytest.mark.parametrize("sequence", _sequences(), ids="-".join)
def test_no_sequence_loses_a_user_file(tiny: tuple[Path, dict[str, bytes], dict[str, bytes]], tmp_path: Path,
                                       sequence: tuple[str, ...]) -> None:
    """`build`, `build --out`, `cp -a`, `mv`, `watch` and `upload --dry-run` in every order up to three
    steps, each step on the tree the last one left: every tree still in play holds every file the
    user's build made, with its bytes (a page may hold its idempotent <picture> rewrite instead)."""
    base, original, built = tiny
    cache = str(base / "cache")
    current = tmp_path / "t0"
    shutil.copytree(base / "site", current)
    trees = [current]
    for step, op in enumerate(sequence, start=1):
        new = tmp_path / f"t{step}"
        if op == "build":
            result = _main(["build", str(current), "--cache-dir", cache], tmp_path)
            assert result.exit_code == 0, result.output
        elif op == "out":  # into the tree's own --out folder; a second `out` step rebuilds into the same one
            out = tmp_path / f"{current.name}.out"
            result = _main(["build", str(current), "--out", str(out), "--cache-dir", cache], tmp_path)
            assert result.exit_code == 0, result.output
            if out not in trees:
                trees.append(out)
            current = out
        elif op == "cp":
            subprocess.run(["cp", "-a", str(current), str(new)], check=True)
            trees.append(new)
            current = new
        elif op == "mv":
            current.rename(new)
            trees[trees.index(current)] = new
            current = new
        elif op == "watch":
            watcher = Watcher(BuildRequest(current, Config(), Path(cache), jobs=2), Quiet(), lambda line: None,
                              quiet=0.05, settle=0.02)
            try:
                assert watcher.start().exit_code == 0
            finally:
                watcher.stop()
                watcher.close()
        elif op == "upload":
            result = _main(["upload", str(current), "--dry-run"], tmp_path)
            assert result.exit_code in (0, 2), result.output  # 2: never built, so no manifest
        for tree in trees:
            for rel, data in original.items():
                found = (tree / rel).read_bytes()
                assert found == data or found == built.get(rel), f"{'-'.join(sequence)}: {tree.name}/{rel} changed"


@pytest.mark.parametrize("how", ["in place", "--out"])
def test_a_state_folder_that_links_outside_is_refused(cli: Callable[..., Result], site: Path, tmp_path: Path,
                                                      how: str) -> None:
    """Nothing is written through `.assetpipe` when it is a link to a folder outside (issue 22, item 3)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = site if how == "in place" else tmp_path / "out"
    target.mkdir(exist_ok=True)
    (target / ".assetpipe").symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(site)
    result = cli("build", str(site), *(["--out", str(target)] if how == "--out" else []))
    assert result.exit_code == 2
    assert "symbolic link" in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(elsewhere.iterdir()) == []
    assert snapshot(site) == before


def test_what_reads_an_out_trees_ledger_sees_every_file(cli: Callable[..., Result], tmp_path: Path) -> None:
    """An --out tree's ledger also records the copies (issue 17, item 6): `diff` of the folder, `upload`
    and a build in place all count them as the site's files, exactly as for a tree built in place."""
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(DEMO, src)
    assert cli("build", str(src), "--out", str(out)).exit_code == 0
    compared = cli("diff", str(out / ".assetpipe" / "manifest.json"), str(out), "--format", "json")
    assert compared.exit_code == 0, compared.output
    statuses = {f["key"]: f["status"] for f in json.loads(compared.stdout)["files"]}
    assert "index.html" in statuses and set(statuses.values()) == {"unchanged"}
    planned = cli("upload", str(out), "--dry-run", "--json")
    assert planned.exit_code == 0, planned.output
    keys = {item["file"] for phase in json.loads(planned.stdout)["phases"] for item in phase}
    assert {"index.html", "assets/hero-gYV4LCM5.jpg", "index.html.br"} <= keys
