"""`assetpipe diff` in flat memory: check.size_report with both sides in a DiffStore on disk.

Each side that is a manifest in the build's layout streams into the store a line at a time (the sizes
its sidecars lack computed a batch at a time, as measure does for the whole); any other side (a folder
without a manifest, a manifest pretty-printed or edited by hand) is measured whole, with measure's
errors, and then stored. The matching and the order are the store's; the report's `diff.files` and each
side's `files` are read back from it a row at a time, as the writers ask. The report is equal to
size_report's, field by field, and so is every format written from it; when the store cannot hold the
files exactly (diffstore.Unstorable), the report is size_report's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ..build.wire import ignored
from ..config import Config
from ..model import Failure, Notice, UsageError
from . import manifestlines
from .budgets import evaluate
from .check import SizeRequest, budget_rules, size_report
from .diff import DEFAULT_HASH_PATTERN
from .diffstore import DiffStore, Unstorable
from .measure import _compute, entry_file, failures_of, initial_js, manifest_of, measure
from .model import BudgetRule, Measured, MeasuredFile, SizeDiff, SizeReport

BATCH = 512  # files whose missing sidecar sizes are computed together (on `jobs` threads)
# Manifests smaller than this together (about 40,000 files) are compared in memory: under 100 MB there,
# and the store's writes and reads back would cost more than half again the time of a 10,000-file diff.
SMALL = 16 * 2**20


@contextmanager
def stored_report(request: SizeRequest, *, small: int = SMALL) -> Iterator[SizeReport]:
    """size_report(request), its files on disk while the block runs (the store is deleted after it); in
    memory, as size_report, when the manifests are smaller than `small` bytes together or a side is a
    folder without one (measured in memory anyway). `small` 0: always the store (the tests compare both)."""
    if small and _small(request, small):
        yield size_report(request)
        return
    config = request.config
    rules, found = budget_rules(config, request.cwd)
    if not request.head.exists():
        raise UsageError(f"{request.head}: no such file or folder")
    store = DiffStore(config.diff.hash_pattern or DEFAULT_HASH_PATTERN)
    try:
        report = _report(store, request, rules, list(found))
    except Unstorable:
        store.close()
        yield size_report(request)
        return
    except BaseException:
        store.close()
        raise
    try:
        yield report
    finally:
        store.close()


def _small(request: SizeRequest, small: int) -> bool:
    total = 0
    for path in (request.base, request.head):
        if path is None or not path.exists():
            continue  # no baseline; a missing HEAD is size_report's error either way
        located = manifest_of(path)
        if located is None:
            return True
        try:
            total += located[0].stat().st_size
        except OSError:
            return True  # size_report says what is wrong with it
    return total < small


def _report(store: DiffStore, request: SizeRequest, rules: tuple[BudgetRule, ...],
            notices: list[Notice]) -> SizeReport:
    config = request.config
    base: Measured | None = None
    if request.base is not None:
        if request.base.exists():
            base = _side(store, 0, request.base, config, request.jobs)
        else:
            notices.append(Notice(str(request.base), "no baseline there; showing this build's sizes only"))
    head = _side(store, 1, request.head, config, request.jobs)
    metric = config.diff.metric
    crowded = store.match(metric)
    totals = store.totals(None if base is None else base.initial is not None, head.initial is not None)
    diff = SizeDiff(metric, base, head, store.changes(metric, config.diff.min_change), totals, crowded)
    results = evaluate(rules, diff)
    return SizeReport(diff, results, (*notices, *head.notices, *diff.notices))


def _side(store: DiffStore, side: int, path: Path, config: Config, jobs: int) -> Measured:
    """One side into the store: streamed when it is a manifest in the build's layout, else measured whole."""
    located = manifest_of(path)
    if located is not None:
        file, root, label = located
        try:
            failures = failures_of(manifestlines.failures(file))
            initial = initial_js(root) if root is not None else None
            store.add(side, _lines(file, root, label, config, jobs, failures), initial)
            return Measured(label, store.files(side), initial, tuple(failures), (), root)
        except (manifestlines.NotLines, OSError, UnicodeDecodeError, UsageError):  # the whole read says what
            store.forget(side)
    measured = measure(path, config, jobs=jobs)
    store.add(side, measured.files, measured.initial)
    return replace(measured, files=store.files(side))


def _lines(file: Path, root: Path | None, label: str, config: Config, jobs: int,
           failures: list[Failure]) -> Iterator[MeasuredFile]:
    """measure._from_manifest's files, a manifest line at a time, in its order."""
    batch: list[MeasuredFile] = []
    todo: list[tuple[int, str, str]] = []
    for rel, entry in manifestlines.entries(file):
        if ignored(rel, config):
            continue
        found, missing = entry_file(rel, entry, label, root is not None)
        todo.extend((len(batch), rel, codec) for codec in missing)
        batch.append(found)
        if len(batch) >= BATCH:
            yield from _compute(batch, todo, root, config.compress, jobs, failures) if todo and root else batch
            batch, todo = [], []
    yield from _compute(batch, todo, root, config.compress, jobs, failures) if todo and root else batch
