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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

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
        found = _Found.of(diff.files, rows, metric)
        if found.changed:
            out += ["| File | Base | Head | Δ | Δ % | |", "|:--|--:|--:|--:|--:|:-:|"]
            out += [f"| {_code(c)} | {_size(c.base, metric)} | {_size(c.head, metric)} | {signed(c.delta(metric))} "
                    f"| {_pct(c, metric)} | {_ICONS[_direction(c, metric)]} |" for c in found.changed]
            if hidden := found.changed_count - len(found.changed):
                base, head = found.hidden_base, found.hidden_head
                out.append(f"| _+{hidden} more changed files_ | {human(base)} | {human(head)} "
                           f"| {signed(head - base)} | | |")
        else:
            out.append("No file changed size.")
        if found.unchanged_count:
            unchanged = lambda: (c for c in diff.files if c.status == "unchanged")  # noqa: E731
            out += ["", *_unchanged(found, unchanged, rows, metric)]
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


@dataclass(slots=True)
class _Found:
    """One pass over the changes (a list, or rows read from disk: sizes/ondisk): the first `rows` changed
    and unchanged files, and the counts and sums of all, so that no list of every file is made."""

    changed: list[FileChange] = field(default_factory=list)  # the first `rows`
    changed_count: int = 0
    hidden_base: int = 0  # the metric's sums over the changed files after the first `rows`
    hidden_head: int = 0
    unchanged: list[FileChange] = field(default_factory=list)  # the first `rows`
    unchanged_count: int = 0
    unchanged_head: int = 0

    @classmethod
    def of(cls, files: Iterable[FileChange], rows: int, metric: str) -> _Found:
        found = cls()
        for c in files:
            if c.status == "unchanged":
                if found.unchanged_count < rows:
                    found.unchanged.append(c)
                found.unchanged_count += 1
                found.unchanged_head += FileChange.size(c.head, metric)
                continue
            if found.changed_count < rows:
                found.changed.append(c)
            else:
                found.hidden_base += FileChange.size(c.base, metric)
                found.hidden_head += FileChange.size(c.head, metric)
            found.changed_count += 1
        return found


def _unchanged(found: _Found, files: Callable[[], Iterable[FileChange]], rows: int, metric: str) -> list[str]:
    """The unchanged files in `<details>`: each file when they fit in `rows`, else by folder."""
    if found.unchanged_count <= rows:
        return [f"<details><summary>{found.unchanged_count} unchanged</summary>", "", "| File | Size |", "|:--|--:|",
                *(f"| {_code(c)} | {_size(c.head, metric)} |" for c in found.unchanged), "", "</details>"]
    groups = folders(files, rows, metric)
    out = [f"<details><summary>{found.unchanged_count} unchanged files ({human(found.unchanged_head)}), "
           f"in {len(groups)} folders</summary>", "", "| Folder | Files | Size |", "|:--|--:|--:|"]
    out += [f"| `{_escape(_shorten(folder or '.'))}/` | {count} | {human(size)} |" for folder, count, size in
            groups[:rows]]
    if hidden := groups[rows:]:
        out.append(f"| _+{len(hidden)} more folders_ | {sum(g[1] for g in hidden)} "
                   f"| {human(sum(g[2] for g in hidden))} |")
    return [*out, "", "</details>"]


def folders(files: Callable[[], Iterable[FileChange]], cap: int, metric: str) -> list[tuple[str, int, int]]:
    """(folder, files, bytes) by size, largest first: the files grouped by their folder cut to the
    deepest level at which there are at most `cap` folders (the top level when even that has more).
    Two passes over `files()`; what is kept between them is at most `cap` + 1 folders per level."""
    depth = _depth(((c.head or c.base).path for c in files()), cap)  # type: ignore[union-attr]
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for change in files():
        group = groups["/".join((change.head or change.base).path.split("/")[:-1][:depth])]  # type: ignore[union-attr]
        group[0] += 1
        group[1] += FileChange.size(change.head, metric)
    return sorted(((folder, n, size) for folder, (n, size) in groups.items()), key=lambda g: (-g[2], g[0]))


def _depth(paths: Iterable[str], cap: int) -> int:
    """The first level d from 1 at which the folders cut to d + 1 levels are more than `cap`, or the
    deepest level. Those folders are the distinct prefixes of d + 1 levels of the deeper folders and the
    distinct folders of at most d levels: each kind is counted up to `cap` + 1 per level."""
    prefixes: dict[int, set[tuple[str, ...]]] = defaultdict(set)  # length -> distinct prefixes of that length
    whole: dict[int, set[tuple[str, ...]]] = defaultdict(set)  # length -> distinct folders of that length
    deepest = 0
    for path in paths:
        parent = tuple(path.split("/")[:-1])
        deepest = max(deepest, len(parent))
        for length in range(2, len(parent) + 1):
            if len(prefixes[length]) <= cap:
                prefixes[length].add(parent[:length])
        if len(whole[len(parent)]) <= cap:
            whole[len(parent)].add(parent)
    depth = 1
    while depth < deepest and (len(prefixes[depth + 1]) + sum(len(whole[k]) for k in range(depth + 1))) <= cap:
        depth += 1
    return depth


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
