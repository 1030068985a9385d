"""`assetpipe diff` (and `build` with budgets or --report), start to finish: measure both sides, compare,
judge the budgets, and gather what the HTML report shows. A library function: it never prints, never
exits; a missing baseline is a notice, not an error.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..build.wire import ignored
from ..config import Config
from ..model import ConfigError, Inventory, Notice, UsageError
from .budgets import evaluate, read_lighthouse, rules_from_config, unmatched
from .diff import compare
from .measure import initial_js, measure, source_map_for
from .model import BudgetRule, Measured, SizeReport
from .sourcemaps import Breakdown, SourceMapError, breakdown


@dataclass(frozen=True)
class SizeRequest:
    base: Path | None  # None: no baseline asked for (build without --base)
    head: Path
    config: Config
    jobs: int = 1
    cwd: Path = Path(".")  # where a relative `diff.lighthouse_budget` is found


def size_report(request: SizeRequest) -> SizeReport:
    config = request.config
    rules, found = budget_rules(config, request.cwd)
    notices = list(found)
    if not request.head.exists():
        raise UsageError(f"{request.head}: no such file or folder")
    base: Measured | None = None
    if request.base is not None:
        if request.base.exists():
            base = measure(request.base, config, jobs=request.jobs)
        else:
            notices.append(Notice(str(request.base), "no baseline there; showing this build's sizes only"))
    head = measure(request.head, config, jobs=request.jobs)
    diff = compare(base, head, metric=config.diff.metric, hash_pattern=config.diff.hash_pattern,
                   min_change=config.diff.min_change)
    results = evaluate(rules, diff)
    return SizeReport(diff, results, (*notices, *head.notices, *diff.notices))


def budget_rules(config: Config, cwd: Path) -> tuple[tuple[BudgetRule, ...], tuple[Notice, ...]]:
    """`[budgets]` and Lighthouse's budget.json (`diff.lighthouse_budget`, relative to `cwd`) as rules."""
    rules = rules_from_config(config.budgets)
    if not config.diff.lighthouse_budget:
        return rules, ()
    extra, notices = read_lighthouse(_beside(cwd, Path(config.diff.lighthouse_budget)))
    return rules + extra, notices


def budget_check(config: Config, cwd: Path) -> Callable[[Inventory], None]:
    """`build`'s check of its budgets against the folder it is about to build, made before anything is
    written (BuildRequest.check): a budget that matches no file there, or `initial` without Vite's
    manifest, is a ConfigError, exactly as `diff` would find it afterwards (budgets.unmatched)."""
    rules, _ = budget_rules(config, cwd)

    def check(inventory: Inventory) -> None:
        paths = [s.rel for s in inventory.sources if not ignored(s.rel, config)]
        if problems := unmatched(rules, paths, initial_js(inventory.root) is not None, str(inventory.root)):
            raise ConfigError(problems)

    return check


def _beside(cwd: Path, path: Path) -> Path:
    """A relative path from the config is relative to the working directory; keep it short for messages."""
    return path if path.is_absolute() or cwd.resolve() == Path.cwd().resolve() else cwd / path


def chunk_breakdowns(head: Measured) -> tuple[tuple[Breakdown, ...], tuple[Notice, ...]]:
    """Each JS chunk of HEAD by source file and package, from its source map, when the files are at hand."""
    if head.root is None:
        return (), ()
    found: list[Breakdown] = []
    notices: list[Notice] = []
    for f in head.files:
        if f.category != "js":
            continue
        try:
            code = (head.root / f.path).read_bytes()
        except OSError:
            continue
        located = source_map_for(head.root, f.path, code)
        if located is None:
            continue
        map_path, blob = located
        try:
            found.append(breakdown(f.path, code, json.loads(blob), map_path))
        except (ValueError, SourceMapError) as exc:
            notices.append(Notice(map_path, f"source map not used: {exc}"))
    return tuple(found), tuple(notices)


def write_atomic(path: Path, text: str) -> None:
    """A report file, complete or not at all: a temp file beside it, then os.replace."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, 0o644)  # mkstemp's 0600 would hide the report from a web server or a colleague
        os.replace(temp, path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
