"""A SizeReport as a pull-request comment (markdown) that fits in one comment, whatever the site.

GitHub refuses a comment over 65,536 characters, and a real site has thousands of files, so every
section is capped at `diff.max_rows` rows and says what it left out: the changed files by |Δ| (largest
first; the rest as one row of counts and sums), the unchanged files folded into `<details>` (listed
when they fit, else by folder, as deep as keeps the folders within the cap, largest first), and the
budgets (in config order; breaches first once capped). Long names are shortened in the middle. Should
the whole still be over `LIMIT` (long names, a large `diff.max_rows`), every cap is halved until it
fits, and the comment says so. Deterministic: the same report gives the same text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ..units import human
from .formats import _pct, _size, _total_rows, actual_text, limit_text, percent, signed
from .model import BudgetResult, FileChange, SizeReport, Sizes, Total

MARKER = "<!-- assetpipe:size-report -->"
# GitHub's limit is 65,536 characters per comment; the sticky-comment action adds a marker of its own,
# and room to spare costs nothing.
LIMIT = 60_000
# A longer file or folder name is shortened in the middle: the folder and the extension stay readable.
NAME_CHARS = 100
_ICONS = {"added": "🆕", "removed": "🗑️", "grew": "▲", "shrank": "▼", "unchanged": ""}
_LEVEL_ICONS = {"ok": "✅", "warn": "⚠️", "error": "🚨", "skipped": "⏭️"}
_SEVERITY = {"error": 0, "warn": 1, "ok": 2, "skipped": 2}


def markdown(report: SizeReport, *, max_rows: int = 50, limit: int = LIMIT) -> str:
    """The comment, every section at most `max_rows` rows, the whole at most `limit` characters."""
    rows = max_rows
    while True:
        text = _render(report, rows, cut=rows < max_rows)
        if len(text) <= limit or rows == 0:
            return text
        rows //= 2


def _render(report: SizeReport, rows: int, *, cut: bool) -> str:
    diff, metric = report.diff, report.diff.metric
    status = {"pass": "", "warn": " ⚠️", "fail": " 🚨"}[report.result]
    out = [MARKER, f"### Bundle size{status}", "", _headline(diff.total("total"), metric), ""]
    if diff.base is None:
        present = sorted((c for c in diff.files if c.head), key=lambda c: (-FileChange.size(c.head, metric), c.key))
        out += ["| File | Size |", "|:--|--:|"]
        out += [f"| {_code(c)} | {_size(c.head, metric)} |" for c in present[:rows]]
        if hidden := present[rows:]:
            out.append(f"| _+{len(hidden)} more files_ | {human(_sum(hidden, metric, 'head'))} |")
    else:
        changed = [c for c in diff.files if c.status != "unchanged"]
        unchanged = [c for c in diff.files if c.status == "unchanged"]
        if changed:
            out += ["| File | Base | Head | Δ | Δ % | |", "|:--|--:|--:|--:|--:|:-:|"]
            out += [f"| {_code(c)} | {_size(c.base, metric)} | {_size(c.head, metric)} | {signed(c.delta(metric))} "
                    f"| {_pct(c, metric)} | {_ICONS[_direction(c, metric)]} |" for c in changed[:rows]]
            if hidden := changed[rows:]:
                base, head = _sum(hidden, metric, "base"), _sum(hidden, metric, "head")
                out.append(f"| _+{len(hidden)} more changed files_ | {human(base)} | {human(head)} "
                           f"| {signed(head - base)} | | |")
        else:
            out.append("No file changed size.")
        if unchanged:
            out += ["", *_unchanged(unchanged, rows, metric)]
    out += ["", "| Group | Base | Head | Δ | Δ % | Files |", "|:--|--:|--:|--:|--:|--:|"]
    out += ["| " + " | ".join(row) + " |" for row in _total_rows(diff.totals, metric)]
    if report.budgets:
        out += ["", "**Budgets**", "", "| Budget | Limit | Actual | Status |", "|:--|--:|--:|:--|", *_budgets(
            report.budgets, rows)]
    if cut:
        out += ["", f"<sub>Each list cut to {rows} rows to fit GitHub's comment size; "
                    "`assetpipe diff --format json` lists every file.</sub>"]
    out += ["", f"<sub>{metric} sizes, measured by assetpipe on the emitted files</sub>"]
    return "\n".join(out) + "\n"


def _headline(total: Total, metric: str) -> str:
    head = total.head or Sizes()
    if total.base is None:
        return f"**{human(head.of(metric))}** ({metric}, {total.head_files} files). No baseline to compare with."
    return (f"**{human(total.base.of(metric))} → {human(head.of(metric))}** ({signed(total.delta(metric) or 0)}, "
            f"{percent(total.percent(metric))}; {metric})")


def _unchanged(files: Sequence[FileChange], rows: int, metric: str) -> list[str]:
    """The unchanged files in `<details>`: each file when they fit in `rows`, else by folder."""
    if len(files) <= rows:
        return [f"<details><summary>{len(files)} unchanged</summary>", "", "| File | Size |", "|:--|--:|",
                *(f"| {_code(c)} | {_size(c.head, metric)} |" for c in files), "", "</details>"]
    groups = folders(files, rows, metric)
    out = [f"<details><summary>{len(files)} unchanged files ({human(_sum(files, metric, 'head'))}), "
           f"in {len(groups)} folders</summary>", "", "| Folder | Files | Size |", "|:--|--:|--:|"]
    out += [f"| `{_escape(_shorten(folder or '.'))}/` | {count} | {human(size)} |" for folder, count, size in
            groups[:rows]]
    if hidden := groups[rows:]:
        out.append(f"| _+{len(hidden)} more folders_ | {sum(g[1] for g in hidden)} "
                   f"| {human(sum(g[2] for g in hidden))} |")
    return [*out, "", "</details>"]


def folders(files: Sequence[FileChange], cap: int, metric: str) -> list[tuple[str, int, int]]:
    """(folder, files, bytes) by size, largest first: the files grouped by their folder cut to the
    deepest level at which there are at most `cap` folders (the top level when even that has more)."""
    parents = [(c.head or c.base).path.split("/")[:-1] for c in files]  # type: ignore[union-attr]
    depth = 1
    while depth < max(map(len, parents), default=0) and len({tuple(p[:depth + 1]) for p in parents}) <= cap:
        depth += 1
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for change, parent in zip(files, parents, strict=True):
        group = groups["/".join(parent[:depth])]
        group[0] += 1
        group[1] += FileChange.size(change.head, metric)
    return sorted(((folder, n, size) for folder, (n, size) in groups.items()), key=lambda g: (-g[2], g[0]))


def _budgets(budgets: Sequence[BudgetResult], rows: int) -> list[str]:
    shown = list(budgets)
    if len(shown) > rows:  # the breaches first, then the others, each in config order
        shown = sorted(shown, key=lambda b: _SEVERITY[b.level])
    out = []
    for b in shown[:rows]:
        where = f" (`{_escape(_shorten(b.file))}`)" if b.file and b.level in ("warn", "error") else ""
        out.append(f"| `{_escape(_shorten(b.rule.name))}` | {limit_text(b)} | {actual_text(b)}{where} "
                   f"| {_LEVEL_ICONS[b.level]} {b.level} |")
    if hidden := shown[rows:]:
        levels = defaultdict(int)
        for b in hidden:
            levels[b.level] += 1
        counts = ", ".join(f"{levels[level]} {level}" for level in ("error", "warn", "ok", "skipped") if levels[level])
        out.append(f"| _+{len(hidden)} more budgets_ | | | {counts} |")
    return out


def _direction(change: FileChange, metric: str) -> str:
    if change.status in ("added", "removed", "unchanged"):
        return change.status
    return "grew" if change.delta(metric) > 0 else "shrank"


def _sum(changes: Sequence[FileChange], metric: str, side: str) -> int:
    return sum(FileChange.size(getattr(c, side), metric) for c in changes)


def _code(change: FileChange) -> str:
    logical = (change.head or change.base).logical  # type: ignore[union-attr]
    name = f"`{_escape(_shorten(change.name))}`"
    return f"{name} ({_escape(_shorten(logical))})" if logical and logical != change.name else name


def _shorten(text: str) -> str:
    if len(text) <= NAME_CHARS:
        return text
    keep = (NAME_CHARS - 1) // 2
    return f"{text[:keep]}…{text[-keep:]}"


def _escape(text: str) -> str:
    """Safe in a table cell: no column break, no code span closed early, no tag, no line break."""
    return (text.replace("|", "\\|").replace("`", "'").replace("<", "&lt;")
            .replace("\r", " ").replace("\n", " "))
