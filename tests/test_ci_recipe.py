"""The size-comment workflow of docs/diff.md, its steps taken from the docs' YAML block and run with
GitHub's step conditions (tests/workflow.py) on real builds of the demo site: main's push stores the
baseline; a pull request over a budget still gets its comment, and its job still fails."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import workflow
from .conftest import DEMO, REPO

DOCS = REPO / "docs" / "diff.md"
# The one step a test cannot run as printed: it stands for `vite build` and installing assetpipe.
VITE_BUILD = "npm ci && npx vite build && pip install assetpipe"


class Runner:
    """The stand-ins for the recipe's actions: artifacts kept in a folder, the comment recorded."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.comments: list[str] = []

    def actions(self) -> dict[str, workflow.Action]:
        nothing = lambda _with, _workspace: True  # noqa: E731
        return {"actions/checkout": nothing, "actions/setup-node": nothing, "actions/setup-python": nothing,
                "actions/cache": nothing,  # the workspace keeps .assetpipe-cache between the two runs
                "actions/upload-artifact": self.upload, "dawidd6/action-download-artifact": self.download,
                "marocchino/sticky-pull-request-comment": self.comment}

    def upload(self, given: Mapping[str, Any], workspace: Path) -> bool:
        """upload-artifact@v4: the files, relative to their least common ancestor (missing ones: a warning)."""
        paths = [workspace / line.strip() for line in str(given["path"]).splitlines() if line.strip()]
        present = [p for p in paths if p.is_file()]
        root = Path(os.path.commonpath([p.parent for p in present])) if present else workspace
        for path in present:
            target = self.store / given["name"] / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
        return True

    def download(self, given: Mapping[str, Any], workspace: Path) -> bool:
        source = self.store / given["name"]
        if not source.is_dir():
            return False  # no artifact from main yet
        shutil.copytree(source, workspace / given["path"], dirs_exist_ok=True)
        return True

    def comment(self, given: Mapping[str, Any], workspace: Path) -> bool:
        """sticky-pull-request-comment@v2 with `path`: fails on a missing or empty file."""
        path = workspace / given["path"]
        if not path.is_file() or not path.read_text(encoding="utf-8").strip():
            return False
        self.comments.append(path.read_text(encoding="utf-8"))
        return True


def _big_chunk() -> str:
    """A JS chunk of about 64 kB that Brotli cannot shrink below 20 kB (hex digests)."""
    rows = ",\n".join(f'  "{hashlib.sha256(str(i).encode()).hexdigest()}"' for i in range(1_000))
    return f"export const table = [\n{rows}\n];\n"


def test_the_recipe_posts_the_comment_when_a_budget_fails_and_the_job_fails(tmp_path) -> None:
    steps = workflow.recipe(DOCS, ".github/workflows/size.yml")
    workspace, main_site, pr_site = tmp_path / "repo", tmp_path / "main-dist", tmp_path / "pr-dist"
    workspace.mkdir()
    shutil.copytree(DEMO, main_site)
    shutil.copytree(DEMO, pr_site)
    (pr_site / "assets" / "table-Q2x7Lm9a.js").write_text(_big_chunk())
    (workspace / "assetpipe.toml").write_text('[budgets]\n"assets/*.js" = { warn = "15 kB", error = "20 kB" }\n')
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path),
           "LANG": "C.UTF-8"}
    runner = Runner(tmp_path / "artifacts")

    def job(event: str, site: Path) -> workflow.Job:
        shutil.rmtree(workspace / "dist", ignore_errors=True)  # each run checks out and builds afresh
        return workflow.run(steps, event=event, workspace=workspace, actions=runner.actions(),
                            replace={VITE_BUILD: f"cp -r '{site}' dist"}, env=env)

    main = job("push", main_site)
    assert not main.failed, main.outcomes
    assert (runner.store / "size-baseline" / ".assetpipe" / "manifest.json").is_file()
    assert (runner.store / "size-baseline" / ".vite" / "manifest.json").is_file()
    assert runner.comments == []

    pull = job("pull_request", pr_site)
    outcomes = dict(pull.outcomes)
    assert pull.failed  # the budget fails the job ...
    assert outcomes["assetpipe build dist --report size-report.html"] == "success"
    assert [o for step, o in pull.outcomes if step.startswith("assetpipe diff ")] == ["failure"]  # exit 3
    assert outcomes["marocchino/sticky-pull-request-comment@v2"] == "success"  # ... after the comment is posted
    assert len(runner.comments) == 1
    comment = runner.comments[0]
    assert comment.startswith("<!-- assetpipe:size-report -->\n### Bundle size 🚨\n")
    assert "| `assets/table-*.js` | — |" in comment  # the new chunk, against main's baseline
    assert "| `assets/*.js` | 20.0 kB |" in comment and "| 🚨 error |" in comment
    assert (runner.store / "size-report" / "size-report.html").is_file()


def test_the_runner_follows_githubs_step_conditions(tmp_path) -> None:
    """The rules the recipe test relies on, on steps whose outcome is known: a step without a status
    function runs only while all went well, `always()` and `!cancelled()` run after a failure,
    `continue-on-error` keeps a failure from failing the job, and a failure fails it at the end."""
    steps = [
        {"run": "true", "continue-on-error": True},
        {"run": "false", "continue-on-error": True},  # fails, but the job goes on as if it had not
        {"run": "touch ran-after-tolerated"},
        {"run": "false"},
        {"run": "touch skipped-plain"},
        {"if": "github.event_name == 'push'", "run": "touch skipped-event"},
        {"if": "${{ always() }}", "run": "touch ran-always"},
        {"if": "${{ !cancelled() && github.event_name == 'PUSH' }}", "run": "touch ran-not-cancelled"},
        {"if": "failure() || success()", "run": "touch ran-failure"},
        {"if": "success()", "run": "touch skipped-success"},
    ]
    job = workflow.run(steps, event="push", workspace=tmp_path, actions={}, replace={},
                       env={"PATH": os.environ["PATH"]})
    assert job.failed
    assert [o for _, o in job.outcomes] == ["success", "failure", "success", "failure", "skipped", "skipped",
                                            "success", "success", "success", "skipped"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ran-after-tolerated", "ran-always", "ran-failure",
                                                         "ran-not-cancelled"]
