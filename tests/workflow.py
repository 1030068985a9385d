"""Run the steps of a GitHub Actions job the way a runner does, for the CI recipe in docs/diff.md.

What is GitHub's here: a step's `if:` (`success()` unless the expression names a status function;
`always()`, `success()`, `failure()`, `cancelled()`, `!`, `&&`, `||`, `==`, `!=`, `github.event_name`),
`run:` through `bash --noprofile --norc -eo pipefail`, `continue-on-error`, and a job that fails when a
step fails (after the `if: always()` steps have run). The `uses:` actions are the caller's stand-ins,
and a `run:` that needs what a test has not (npm, Vite, pip) is replaced by the caller, by its exact
text, so that every other step runs as the docs print it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Action = Callable[[Mapping[str, Any], Path], bool]  # (the step's `with:`, the workspace) -> success


def recipe(markdown: Path, marker: str) -> list[dict[str, Any]]:
    """The steps of the one job of the ```yaml block in `markdown` that contains `marker`."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", markdown.read_text(encoding="utf-8"), re.M | re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"{markdown}: {len(found)} yaml blocks with {marker!r}"
    jobs = yaml.safe_load(found[0])["jobs"]
    assert len(jobs) == 1
    return list(next(iter(jobs.values()))["steps"])


@dataclass
class Job:
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (step, "success" | "failure" | "skipped")
    failed: bool = False


def run(steps: list[dict[str, Any]], *, event: str, workspace: Path, actions: Mapping[str, Action],
        replace: Mapping[str, str], env: Mapping[str, str]) -> Job:
    unused = set(replace)
    job = Job()
    for step in steps:
        name = step.get("name") or step.get("uses") or step["run"]
        condition = str(step.get("if", "")).strip()
        condition = condition.removeprefix("${{").removesuffix("}}").strip() if condition else "success()"
        if not re.search(r"\b(success|failure|always|cancelled)\(", condition):
            condition = f"success() && ({condition})"
        if not _Expression(condition, {"github.event_name": event}, job.failed).value():
            job.outcomes.append((name, "skipped"))
            continue
        if "uses" in step:
            action = step["uses"].split("@")[0]
            assert action in actions, f"no stand-in for {action}"
            ok = actions[action](step.get("with") or {}, workspace)
        else:
            script = replace.get(step["run"], step["run"])
            unused.discard(step["run"])
            ok = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=workspace,
                                env=dict(env), timeout=300).returncode == 0
        job.outcomes.append((name, "success" if ok else "failure"))
        if not ok and not step.get("continue-on-error", False):
            job.failed = True
    assert not unused, f"replaced steps not in the recipe: {sorted(unused)}"
    return job


class _Expression:
    """GitHub's expression syntax, the part a step's `if:` in the recipe uses."""

    _TOKEN = re.compile(r"\s*(?:(\|\||&&|==|!=|!|\(|\)|,)|'((?:[^']|'')*)'|([A-Za-z_][\w.-]*))")

    def __init__(self, text: str, contexts: Mapping[str, str], failed: bool) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text.rstrip()):
            match = self._TOKEN.match(text, pos)
            assert match, f"cannot read {text!r} at {pos}"
            op, string, word = match.groups()
            self.tokens.append(("op", op) if op else ("str", string.replace("''", "'")) if string is not None
                               else ("word", word))
            pos = match.end()
        self.contexts, self.failed, self.pos = contexts, failed, 0

    def value(self) -> bool:
        result = self._or()
        assert self.pos == len(self.tokens), f"unexpected {self.tokens[self.pos:]}"
        return bool(result)

    def _next(self, *ops: str) -> bool:
        if self.pos < len(self.tokens) and self.tokens[self.pos] in [("op", op) for op in ops]:
            self.pos += 1
            return True
        return False

    def _or(self) -> Any:
        return self._chain("||", self._and, lambda left, right: left or right)

    def _and(self) -> Any:
        return self._chain("&&", self._not, lambda left, right: left and right)

    def _chain(self, op: str, operand: Callable[[], Any], combine: Callable[[Any, Any], Any]) -> Any:
        """`operand (op operand)*`, left to right; every operand is read, as GitHub parses them all."""
        left = operand()
        while self._next(op):
            left = combine(left, operand())
        return left

    def _not(self) -> Any:
        if self._next("!"):
            return not self._not()
        left = self._primary()
        if self._next("=="):
            return _same(left, self._primary())
        if self._next("!="):
            return not _same(left, self._primary())
        return left

    def _primary(self) -> Any:
        if self._next("("):
            inner = self._or()
            assert self._next(")"), "missing )"
            return inner
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if kind == "str":
            return text
        if self._next("("):
            assert self._next(")"), f"{text}() takes no arguments here"
            functions = {"success": not self.failed, "failure": self.failed, "always": True, "cancelled": False}
            assert text in functions, f"unknown function {text}()"
            return functions[text]
        if text in ("true", "false"):
            return text == "true"
        assert text in self.contexts, f"unknown context {text}"
        return self.contexts[text]


def _same(a: Any, b: Any) -> bool:
    return a.lower() == b.lower() if isinstance(a, str) and isinstance(b, str) else a == b
