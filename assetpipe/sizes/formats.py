"""A SizeReport as a terminal table or JSON (SPEC §3, a contract); the PR comment is `comment`.

Both are deterministic: rows by |Δ| of the headline metric, largest first, then by key; no
timestamps. Unchanged files are counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from ..units import human
from .budgets import as_json
from .model import BudgetResult, FileChange, MeasuredFile, SizeReport, Sizes, Total

_GROUP_NAMES = {"total": "total", "initial": "initial JS", "js": "js", "css": "css", "html": "html",
                "image": "image", "font": "font", "other": "other"}


# --- numbers as people read them -------------------------------------------------------------------


def signed(size: int) -> str:
    return ("+" if size > 0 else "-" if size < 0 else "±") + human(abs(size))


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:+.1f} %"


def limit_text(result: BudgetResult) -> str:
    rule, value = result.rule, result.limit
    if value is None:
        return "—"
    if rule.growth:
        return f"+{value:g} % and +{human(rule.min_bytes)}"
    return f"{value:g} files" if rule.measure == "count" else human(value)


def actual_text(result: BudgetResult) -> str:
    rule = result.rule
    if result.level == "skipped":
        return "no baseline"
    if rule.growth:
        grown = "new" if result.actual == float("inf") else f"{result.actual:+.1f} %"
        return f"{grown} ({signed(result.delta_bytes or 0)})"
    return f"{result.actual:g} files" if rule.measure == "count" else human(result.actual)


def _label(change: FileChange) -> str:
    logical = (change.head or change.base).logical  # type: ignore[union-attr]
    return f"{change.name} ({logical})" if logical and logical != change.name else change.name


def _size(side: MeasuredFile | None, metric: str) -> str:
    return human(side.sizes.of(metric)) if side is not None else "—"


def _pct(change: FileChange, metric: str) -> str:
    if change.status == "added":
        return "new"
    if change.status == "removed":
        return "removed"
    return percent(change.percent(metric))


# --- terminal --------------------------------------------------------------------------------------


def text(report: SizeReport) -> str:
    diff, metric = report.diff, report.diff.metric
    total = diff.total("total")
    lines = [_headline(total, metric, diff.base is not None), ""]
    if diff.base is None:
        present = sorted((c for c in diff.files if c.head), key=lambda c: (-FileChange.size(c.head, metric), c.key))
        lines += _table(["file", metric], [[_label(c), _size(c.head, metric)] for c in present], "lr")
    else:
        changed = [c for c in diff.files if c.status != "unchanged"]
        rows = [[_label(c), _size(c.base, metric), _size(c.head, metric), signed(c.delta(metric)),
                 _pct(c, metric)] for c in changed]
        if rows:
            lines += _table(["file", "base", "head", "Δ", "Δ %"], rows, "lrrrr")
        unchanged = len(diff.files) - len(changed)
        lines.append(f"{unchanged} unchanged" if rows else f"no file changed ({unchanged} unchanged)")
    lines += ["", *_table(["group", "base", "head", "Δ", "Δ %", "files"], _total_rows(diff.totals, metric), "lrrrrr")]
    if report.budgets:
        lines += ["", "budgets:"]
        lines += ["  " + row for row in _table_body(
            [[b.level, b.rule.name, actual_text(b), f"limit {limit_text(b)}", b.file or ""] for b in report.budgets],
            "llrll")]
    lines += ["", f"result: {report.result}"]
    return "\n".join(lines) + "\n"


def _headline(total: Total, metric: str, with_base: bool) -> str:
    head = total.head or Sizes()
    if not with_base or total.base is None:
        return f"size ({metric}): {human(head.of(metric))} in {total.head_files} files; no baseline"
    delta = total.delta(metric) or 0
    return (f"size ({metric}): {human(total.base.of(metric))} -> {human(head.of(metric))} "
            f"({signed(delta)}, {percent(total.percent(metric))})")


def _total_rows(totals: Sequence[Total], metric: str) -> list[list[str]]:
    rows = []
    for t in totals:
        if t.head is None and t.base is None:
            continue
        if t.name not in ("total", "initial") and not (t.head_files or t.base_files):
            continue
        base = human(t.base.of(metric)) if t.base is not None else "—"
        head = human(t.head.of(metric)) if t.head is not None else "—"
        delta = t.delta(metric)
        rows.append([_GROUP_NAMES[t.name], base, head, signed(delta) if delta is not None else "—",
                     percent(t.percent(metric)), str(t.head_files)])
    return rows


def _table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    return _table_body([header, *rows], align)


def _table_body(rows: list[list[str]], align: str) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [cell.ljust(w) if a == "l" else cell.rjust(w) for cell, w, a in zip(row, widths, align, strict=True)]
        out.append("  ".join(cells).rstrip())
    return out


# --- JSON (a contract) -----------------------------------------------------------------------------


def to_json(report: SizeReport) -> str:
    return "".join(json_pieces(report))


def json_pieces(report: SizeReport) -> Iterator[str]:
    """`--format json`, piece by piece: the document without its files is dumped whole, and its `files`,
    one row per file, are dumped one at a time into their place, indented as the whole dump would be."""
    diff = report.diff
    document: dict[str, Any] = {
        "schema": 1,
        "metric": diff.metric,
        "units": "bytes",
        "base": {"source": diff.base.label} if diff.base is not None else None,
        "head": {"source": diff.head.label},
        "totals": {t.name: _total_json(t, diff.metric) for t in diff.totals},
        "files": [],
        "budgets": [as_json(b) for b in report.budgets],
        "result": report.result,
        "warnings": [{"file": n.file, "message": n.message} for n in report.notices],
        "failures": [{"file": f.file, "reason": f.reason} for f in report.failures],
    }
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    before, after = text.split(_NO_FILES, 1)  # a quote inside a string is escaped: only the member matches
    if not diff.files:
        yield text
        return
    yield before + '\n  "files": [\n'
    for index, change in enumerate(diff.files):
        row = json.dumps(_file_json(change, diff.metric), indent=2, sort_keys=True, ensure_ascii=False)
        yield ("    " if not index else ",\n    ") + row.replace("\n", "\n    ")
    yield "\n  ]" + after


_NO_FILES = '\n  "files": []'


def _sizes(sizes: Sizes) -> dict[str, int]:
    return {"raw": sizes.raw, "gzip": sizes.gzip, "brotli": sizes.brotli}


def _side(side: MeasuredFile | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {"path": side.path, "type": side.category, **_sizes(side.sizes)}


def _file_json(change: FileChange, metric: str) -> dict[str, Any]:
    value = change.percent(metric)
    document: dict[str, Any] = {
        "key": change.key, "name": change.name, "status": change.status,
        "base": _side(change.base), "head": _side(change.head),
        "delta": {**{m: change.delta(m) for m in ("raw", "gzip", "brotli")}, "bytes": change.delta(metric),
                  "percent": None if value is None else round(value, 2)},
    }
    logical = (change.head or change.base).logical  # type: ignore[union-attr]
    if logical:
        document["logical"] = logical
    return document


def _total_json(total: Total, metric: str) -> dict[str, Any]:
    def side(sizes: Sizes | None, files: int) -> dict[str, int] | None:
        return None if sizes is None else {**_sizes(sizes), "files": files}

    delta: dict[str, Any] | None = None
    if total.base is not None and total.head is not None:
        value = total.percent(metric)
        delta = {**_sizes(total.head - total.base), "files": total.head_files - total.base_files,
                 "bytes": total.delta(metric), "percent": None if value is None else round(value, 2)}
    return {"base": side(total.base, total.base_files), "head": side(total.head, total.head_files), "delta": delta}


def budget_lines(report: SizeReport) -> list[str]:
    """`build` with budgets: one line per budget for stderr."""
    return [f"budget {b.level}: {b.rule.name}: {actual_text(b)}, limit {limit_text(b)}"
            + (f" ({b.file})" if b.file else "") for b in report.budgets]
