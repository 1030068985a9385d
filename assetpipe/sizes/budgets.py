"""Performance budgets: config entries (and Lighthouse's budget.json) -> rules -> levels against a SizeDiff.

A `[budgets]` key says what is measured: `total`, `initial` (Vite's entry chunks and their static
imports), a type (`js`, `css`, `html`, `image`, `font`, `other`), `count` (number of files), `growth`
(the total's growth), or else a glob, which limits each matching file. Limits in bytes are absolute;
limits in % are growth versus the base and breach only when the growth also exceeds `min_bytes`. Every
size is the headline metric (`diff.metric`, brotli by default). Evaluation is pure; reading budget.json
is the one effect here.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ..config import Budget
from ..globs import compile_glob
from ..model import ConfigError, Notice
from ..units import UNITS
from .model import CATEGORIES, BudgetResult, BudgetRule, FileChange, SizeDiff, Sizes

_ORDER = {"ok": 0, "skipped": 0, "warn": 1, "error": 2}
# Lighthouse resource types -> assetpipe's types (https://web.dev/articles/use-lighthouse-for-performance-budgets).
_LIGHTHOUSE_TYPES = {"script": "js", "stylesheet": "css", "document": "html", "image": "image", "font": "font",
                     "other": "other", "total": "total"}


def rules_from_config(budgets: tuple[Budget, ...]) -> tuple[BudgetRule, ...]:
    rules: list[BudgetRule] = []
    for b in budgets:
        growth = any(limit is not None and limit.percent for limit in (b.warn, b.error))
        value = lambda limit: limit.value if limit is not None else None  # noqa: E731
        rules.append(BudgetRule(b.name, _selector(b.name), "count" if b.name == "count" else "size", growth,
                                value(b.warn), value(b.error), b.min_bytes.value if b.min_bytes else 0.0))
    return tuple(rules)


def _selector(name: str) -> str:
    if name in ("total", "growth", "count"):
        return "total"
    if name == "initial":
        return "initial"
    if name in CATEGORIES:
        return f"type:{name}"
    return f"glob:{name}"


def read_lighthouse(path: Path) -> tuple[tuple[BudgetRule, ...], tuple[Notice, ...]]:
    """Lighthouse's budget.json: `resourceSizes` (KiB) and `resourceCounts` as error-level budgets."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}"]) from None
    except ValueError as exc:
        raise ConfigError([f"{path}: not valid JSON: {exc}"]) from None
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise ConfigError([f"{path}: expected a Lighthouse budget: a list of {{\"resourceSizes\": [...]}}"])
    rules: list[BudgetRule] = []
    notices: list[Notice] = []
    problems: list[str] = []
    for n, entry in enumerate(data):
        if entry.get("path", "/*") not in ("/*", "/", "*"):
            notices.append(Notice(str(path), f"[{n}].path {entry['path']!r}: a build has no pages; applied to all"))
        if entry.get("timings"):
            notices.append(Notice(str(path), f"[{n}].timings: not measured by a build; ignored"))
        for field, measure in (("resourceSizes", "size"), ("resourceCounts", "count")):
            for item in entry.get(field) or []:
                kind, budget = item.get("resourceType"), item.get("budget")
                where = f"{path}: [{n}].{field}.{kind}"
                if kind not in _LIGHTHOUSE_TYPES:
                    notices.append(Notice(str(path), f"[{n}].{field}: {kind!r} is not measured by a build; ignored"))
                    continue
                if isinstance(budget, bool) or not isinstance(budget, int | float) or budget < 0:
                    problems.append(f"{where}: budget must be a number, got {budget!r}")
                    continue
                mapped = _LIGHTHOUSE_TYPES[kind]
                limit = budget * UNITS["KiB"] if measure == "size" else budget
                selector = "total" if mapped == "total" else f"type:{mapped}"
                rules.append(BudgetRule(f"budget.json {field[8:].lower()} {kind}", selector, measure, False,
                                        None, float(limit)))
    if problems:
        raise ConfigError(problems)
    return tuple(rules), tuple(notices)


def evaluate(rules: tuple[BudgetRule, ...], diff: SizeDiff) -> tuple[BudgetResult, ...]:
    """Each rule's level; ConfigError when a glob matches no file or `initial` cannot be known."""
    globs = any(rule.selector.startswith("glob:") for rule in rules)  # only globs look at the paths
    head = [c.head.path for c in diff.files if c.head is not None] if globs else []
    if problems := unmatched(rules, head, diff.head.initial is not None, diff.head.label):
        raise ConfigError(problems)
    return tuple(_per_file(rule, diff) if rule.selector.startswith("glob:") else _group(rule, diff) for rule in rules)


def unmatched(rules: tuple[BudgetRule, ...], paths: Collection[str], initial_known: bool, label: str) -> list[str]:
    """What no build of these files can measure, one line per rule: a glob that matches none of `paths`
    (with the closest name that would: `total`, `assets/*.js`), `initial` without Vite's manifest.
    Pure: `build` asks it of the folder before writing anything, `diff` of HEAD."""
    problems: list[str] = []
    globs = [rule for rule in rules if rule.selector.startswith("glob:")]
    matched = _matched({rule.selector.removeprefix("glob:") for rule in globs}, paths)
    for rule in rules:
        if rule.selector == "initial" and not initial_known:
            problems.append(f"budgets.{rule.name}: {label} has no Vite manifest (.vite/manifest.json), "
                            "so its initial JS is unknown")
        elif rule.selector.startswith("glob:") and not matched[rule.selector.removeprefix("glob:")]:
            problems.append(f"budgets.{rule.name}: matches no file in {label}" + _hint(rule.name, paths))
    return problems


def _matched(patterns: set[str], paths: Collection[str]) -> dict[str, bool]:
    found = dict.fromkeys(patterns, False)
    compiled = {pattern: compile_glob(pattern) for pattern in patterns}
    for path in paths:
        for pattern, glob in compiled.items():
            if not found[pattern] and glob.fullmatch(path):
                found[pattern] = True
    return found


def _group(rule: BudgetRule, diff: SizeDiff) -> BudgetResult:
    total = diff.total(rule.selector.removeprefix("type:"))
    head = total.head or Sizes()  # known: `unmatched` has refused `initial` without Vite's manifest
    if rule.measure == "count":
        return _level(rule, total.head_files, None)
    if not rule.growth:
        return _level(rule, head.of(diff.metric), None)
    if total.base is None:
        return BudgetResult(rule, "skipped", 0.0, rule.error if rule.error is not None else rule.warn)
    delta = head.of(diff.metric) - total.base.of(diff.metric)
    return _growth(rule, delta, total.base.of(diff.metric), None)


def _per_file(rule: BudgetRule, diff: SizeDiff) -> BudgetResult:
    glob = compile_glob(rule.selector.removeprefix("glob:"))
    matched = [c for c in diff.files if c.head is not None and glob.fullmatch(c.head.path)]
    if not rule.growth:
        worst = max(matched, key=lambda c: (FileChange.size(c.head, diff.metric), c.key))
        return _level(rule, FileChange.size(worst.head, diff.metric), worst.head.path if worst.head else None)
    compared = [c for c in matched if c.base is not None]
    if diff.base is None or not compared:
        return BudgetResult(rule, "skipped", 0.0, rule.error if rule.error is not None else rule.warn)
    results = [_growth(rule, c.delta(diff.metric), FileChange.size(c.base, diff.metric),
                       c.head.path if c.head else None) for c in compared]
    return max(results, key=lambda r: (_ORDER[r.level], r.actual, r.file or ""))


def _level(rule: BudgetRule, actual: float, file: str | None) -> BudgetResult:
    if rule.error is not None and actual > rule.error:
        return BudgetResult(rule, "error", actual, rule.error, file)
    if rule.warn is not None and actual > rule.warn:
        return BudgetResult(rule, "warn", actual, rule.warn, file)
    return BudgetResult(rule, "ok", actual, rule.error if rule.error is not None else rule.warn, file)


def _growth(rule: BudgetRule, delta: int, base: int, file: str | None) -> BudgetResult:
    percent = 100.0 * delta / base if base else (0.0 if delta <= 0 else float("inf"))
    over_floor = delta > rule.min_bytes
    for level, limit in (("error", rule.error), ("warn", rule.warn)):
        if limit is not None and over_floor and percent > limit:
            return BudgetResult(rule, level, percent, limit, file, delta)
    return BudgetResult(rule, "ok", percent, rule.error if rule.error is not None else rule.warn, file, delta)


def _hint(name: str, paths: Collection[str]) -> str:
    """"; did you mean `total`?" for a misspelt measure, "`assets/*.js`?" for a glob one folder name or
    one extension away from files that are there; else nothing."""
    close = difflib.get_close_matches(name, ["total", "initial", "growth", "count", *CATEGORIES], n=1, cutoff=0.6)
    close = close or difflib.get_close_matches(name, _globs_like(name, paths), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _globs_like(pattern: str, paths: Collection[str]) -> list[str]:
    """Globs that match some of `paths` and differ from `pattern` in its folder (`asset/*.js` ->
    `assets/*.js`) or in its extension (`assets/*.jsx` -> `assets/*.js`)."""
    folder, _, name = pattern.rpartition("/")
    names: dict[str, list[str]] = {}
    for path in paths:
        parent, _, base = path.rpartition("/")
        names.setdefault(parent, []).append(base)
    name_glob, folder_glob = compile_glob(name), compile_glob(folder)
    found = {f"{parent}/{name}" if parent else name for parent, bases in names.items()
             if any(name_glob.fullmatch(base) for base in bases)}
    stem, dot, _ = name.rpartition(".")
    for parent, bases in names.items():
        if not dot or not folder_glob.fullmatch(parent):
            continue
        for base in bases:
            candidate = f"{stem}.{base.rpartition('.')[2]}"
            if "." in base and compile_glob(candidate).fullmatch(base):
                found.add(f"{folder}/{candidate}" if folder else candidate)
    return sorted(found)


def as_json(result: BudgetResult) -> dict[str, Any]:
    """One budget line of the JSON report (SPEC §3: name, limit, actual, level; the rest is added)."""
    rule = result.rule
    unit = "%" if rule.growth else "files" if rule.measure == "count" else "bytes"
    actual: float | None = result.actual
    if actual is not None and unit == "%":
        actual = None if actual == float("inf") else round(actual, 2)
    document: dict[str, Any] = {
        "name": rule.name, "limit": _number(result.limit), "actual": _number(actual), "level": result.level,
        "unit": unit, "selector": rule.selector, "warn": _number(rule.warn), "error": _number(rule.error),
    }
    if rule.growth:
        document["min_bytes"] = _number(rule.min_bytes)
        document["delta_bytes"] = result.delta_bytes
    if result.file is not None:
        document["file"] = result.file
    return document


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 2)
