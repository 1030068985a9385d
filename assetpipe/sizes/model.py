"""The nouns of the size report (SPEC §3): what `measure` reads, `diff` compares, `budgets` judges and
the reports render. Frozen, so no stage can change what an earlier one decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..model import Failure, Notice

METRICS = ("raw", "gzip", "brotli")
# The groups totals are given for, in the order reports show them.
CATEGORIES = ("js", "css", "html", "image", "font", "other")


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class Sizes:
    """One file's (or a group's) bytes as stored and as sent Brotli- or gzip-encoded."""

    raw: int = 0
    gzip: int = 0
    brotli: int = 0

    def of(self, metric: str) -> int:
        return int(getattr(self, metric))

    def __add__(self, other: Sizes) -> Sizes:
        return Sizes(self.raw + other.raw, self.gzip + other.gzip, self.brotli + other.brotli)

    def __sub__(self, other: Sizes) -> Sizes:
        return Sizes(self.raw - other.raw, self.gzip - other.gzip, self.brotli - other.brotli)


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class ImageVariant:
    file: str
    format: str
    width: int
    height: int
    size: int


@dataclass(frozen=True)
class ImageInfo:
    """The manifest's `image` object (SPEC §2.4), when the image stage wrote one."""

    width: int
    height: int
    format: str
    variants: tuple[ImageVariant, ...] = ()


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class MeasuredFile:
    path: str  # POSIX, relative to the build folder
    category: str  # one of CATEGORIES
    media_type: str
    sha256: str
    sizes: Sizes
    logical: str | None = None  # the key Vite's manifest gives it
    image: ImageInfo | None = None


@dataclass(frozen=True)
class Measured:
    """One side of a comparison: a build's files with their sizes."""

    label: str  # the path the user gave, for messages and reports
    files: Sequence[MeasuredFile]  # sorted by path; ignored files left out (a tuple, or rows on disk: ondisk)
    initial: frozenset[str] | None  # the initial JS (entries + static imports); None without Vite's manifest
    failures: tuple[Failure, ...] = ()
    notices: tuple[Notice, ...] = ()
    root: Path | None = None  # where the files themselves are, when they are at hand


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class FileChange:
    key: str  # the identity both sides were matched on
    name: str  # the path with its content hash shown as `*`, for people
    status: str  # "added", "removed", "changed", "unchanged"
    base: MeasuredFile | None
    head: MeasuredFile | None

    def delta(self, metric: str) -> int:
        return self.size(self.head, metric) - self.size(self.base, metric)

    def percent(self, metric: str) -> float | None:
        """Growth in % of the base; None for an added file (never "+100 %")."""
        if self.base is None or self.base.sizes.of(metric) == 0:
            return None
        return 100.0 * self.delta(metric) / self.base.sizes.of(metric)

    @staticmethod
    def size(side: MeasuredFile | None, metric: str) -> int:
        return side.sizes.of(metric) if side is not None else 0


@dataclass(frozen=True)
class Total:
    """A group's sum on each side: everything, the initial JS, or one category."""

    name: str  # "total", "initial", or a category
    base: Sizes | None  # None without a baseline (or, for "initial", without its Vite manifest)
    head: Sizes | None
    base_files: int = 0
    head_files: int = 0

    def delta(self, metric: str) -> int | None:
        if self.base is None or self.head is None:
            return None
        return self.head.of(metric) - self.base.of(metric)

    def percent(self, metric: str) -> float | None:
        delta = self.delta(metric)
        if delta is None or self.base is None or self.base.of(metric) == 0:
            return None
        return 100.0 * delta / self.base.of(metric)


@dataclass(frozen=True)
class SizeDiff:
    metric: str  # the headline metric: "brotli" unless configured
    base: Measured | None  # None: no baseline
    head: Measured
    files: Sequence[FileChange]  # by |Δ| of the metric, largest first, then by name and key (a tuple, or rows
    # on disk: ondisk)
    totals: tuple[Total, ...]  # "total", "initial", then CATEGORIES
    notices: tuple[Notice, ...] = ()

    def total(self, name: str) -> Total:
        return next(t for t in self.totals if t.name == name)


@dataclass(frozen=True)
class BudgetRule:
    """One budget: what it measures, how, and its two limits."""

    name: str  # as the user wrote it (a `[budgets]` key, or "budget.json script")
    selector: str  # "total", "initial", "type:js", or "glob:assets/*.js"
    measure: str  # "size" or "count"
    growth: bool  # limits are % of growth versus the base, with a byte floor
    warn: float | None  # bytes, files or %
    error: float | None
    min_bytes: float = 0.0  # growth only: smaller growth never breaches


@dataclass(frozen=True)
class BudgetResult:
    rule: BudgetRule
    level: str  # "ok", "warn", "error", or "skipped" (growth without a baseline)
    actual: float  # bytes, files, or % of growth
    limit: float | None  # the limit that decided the level (the error limit when ok)
    file: str | None = None  # per-file budgets: the file that came closest to (or went over) the limit
    delta_bytes: int | None = None  # growth budgets: the growth in bytes


@dataclass(frozen=True)
class SizeReport:
    """Everything `assetpipe diff` (or `build` with budgets) found; the CLI renders it and picks the exit code."""

    diff: SizeDiff
    budgets: tuple[BudgetResult, ...]
    notices: tuple[Notice, ...] = ()

    @property
    def result(self) -> str:
        levels = {b.level for b in self.budgets}
        return "fail" if "error" in levels else "warn" if "warn" in levels else "pass"

    @property
    def failures(self) -> tuple[Failure, ...]:
        return self.diff.head.failures
