"""Performance budgets: config entries (and Lighthouse's budget.json) -> rules -> levels against a SizeDiff.

A `[budgets]` key says what is measured: `total`, `initial` (Vite's entry chunks and their static
imports), a type (`js`, `css`, `html`, `image`, `font`, `other`), `count` (number of files), `growth`
(the total's growth), or else a glob, which limits each matching file. Limits in bytes are absolute;
limits in % are growth versus the base and breach only when the growth also exceeds `min_bytes`. Every
size is the headline metric (`diff.metric`, brotli by default). Evaluation is pure; reading budget.json
is the one effect here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import Budget
from ..globs import compile_glob
from ..model import ConfigError, Notice
from ..units import UNITS
from .model import CATEGORIES, BudgetResult, BudgetRule, FileChange, SizeDiff

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
    problems: list[str] = []
    results: list[BudgetResult] = []
    for rule in rules:
        per_file = rule.selector.startswith("glob:")
        result = _per_file(rule, diff, problems) if per_file else _group(rule, diff, problems)
        if result is not None:
            results.append(result)
    if problems:
        raise ConfigError(problems)
    return tuple(results)


def _group(rule: BudgetRule, diff: SizeDiff, problems: list[str]) -> BudgetResult | None:
    name = rule.selector.removeprefix("type:")
    total = diff.total(name)
    if total.head is None:
        problems.append(f"budgets.{rule.name}: {diff.head.label} has no Vite manifest (.vite/manifest.json), "
                        "so its initial JS is unknown")
        return None
    if rule.measure == "count":
        return _level(rule, total.head_files, None)
    if not rule.growth:
        return _level(rule, total.head.of(diff.metric), None)
    if total.base is None:
        return BudgetResult(rule, "skipped", 0.0, rule.error if rule.error is not None else rule.warn)
    delta = total.head.of(diff.metric) - total.base.of(diff.metric)
    return _growth(rule, delta, total.base.of(diff.metric), None)


def _per_file(rule: BudgetRule, diff: SizeDiff, problems: list[str]) -> BudgetResult | None:
    glob = compile_glob(rule.selector.removeprefix("glob:"))
    matched = [c for c in diff.files if c.head is not None and glob.fullmatch(c.head.path)]
    if not matched:
        problems.append(f"budgets.{rule.name}: matches no file in {diff.head.label}"
                        + _hint(rule.name))
        return None
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


def _hint(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, ["total", "initial", "growth", "count", *CATEGORIES], n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


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
