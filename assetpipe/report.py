"""What a person (stderr) and a program (--json on stdout) see of a build.

A progress bar on stderr for long work when stderr is a terminal, plain lines when it is not, one
line per failure and per warning, one summary line at the end. NO_COLOR is honoured (rich does).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .model import Action, BuildResult, Failure, Notice, Plan
from .units import human

# Progress is for long work: a stage with this many outputs shows it at once; a shorter one only once it
# has run for _SHOW_AFTER seconds (one image can take ten), so a quick build prints just its summary.
_LONG_WORK = 100
_SHOW_AFTER = 2.0
# Without a terminal (CI logs): a line when a stage starts to show, then one at most every
# _PLAIN_EVERY seconds while it runs, so a log is never silent for long and never floods.
_PLAIN_EVERY = 5.0
_TICK = 0.5


class TerminalObserver:
    """The Observer the CLI gives a build. A stage's progress shows on stderr once the stage is long:
    a bar on a terminal, plain lines otherwise; a ticker thread shows a stage whose first outputs are
    slow to come (images), so neither the terminal nor a CI log sits silent while work runs."""

    def __init__(self, stream: IO[str] | None = None, *, quiet: bool = False, verbose: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.verbose = verbose
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True)
        self._progress: Progress | None = None
        self._task: Any = None
        self._total = 0
        self._done = 0
        self._label = ""
        self._started = 0.0
        self._last_line = 0.0
        self._shown = False
        self._lock = threading.RLock()
        self._ticker: threading.Thread | None = None
        self._stop_ticker = threading.Event()

    # --- Observer ---------------------------------------------------------------------------

    def start(self, total: int, label: str) -> None:
        self.done()
        with self._lock:
            self._total, self._done, self._label = total, 0, label
            self._started = time.monotonic()
            self._shown = False
            if self.quiet or total == 0:
                return
            if total >= _LONG_WORK:
                self._show()
            self._stop_ticker.clear()
            self._ticker = threading.Thread(target=self._tick, name="assetpipe-progress", daemon=True)
            self._ticker.start()

    def advance(self, output: str, outcome: str) -> None:
        with self._lock:
            self._done += 1
            if self.verbose:
                self._line(f"{outcome:<7} {output}")
            if self._progress is not None:
                self._progress.advance(self._task)
            else:
                self._plain_tick(time.monotonic())

    def _tick(self) -> None:
        while not self._stop_ticker.wait(_TICK):
            with self._lock:
                now = time.monotonic()
                if not self._shown and now - self._started >= _SHOW_AFTER and self._done < self._total:
                    self._show()
                elif self._progress is None:
                    self._plain_tick(now)

    def _show(self) -> None:
        """Start showing the running stage: a bar on a terminal, a plain line otherwise."""
        self._shown = True
        if self.console.is_terminal:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self._label, total=self._total, completed=self._done)
        else:
            self._plain(f"{self._label} {self._done}/{self._total}")
            self._last_line = time.monotonic()

    def _plain_tick(self, now: float) -> None:
        if self._shown and self._done < self._total and now - self._last_line >= _PLAIN_EVERY:
            self._plain(f"{self._label} {self._done}/{self._total} ({now - self._started:.0f} s)")
            self._last_line = now

    def failure(self, failure: Failure) -> None:
        self._line(f"error: {failure.file}: {failure.reason}", style="red")

    def notice(self, notice: Notice) -> None:
        if not self.quiet:
            self._line(f"warning: {notice.file}: {notice.message}", style="yellow")

    def done(self) -> None:
        self._stop_ticker.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join()
        self._ticker = None
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    # --- lines ------------------------------------------------------------------------------

    def error(self, message: str) -> None:
        self._line(f"error: {message}", style="red")

    def summary(self, result: BuildResult) -> None:
        if self.verbose:
            for line in lcp_lines(result):
                self._line(line)
        if not self.quiet:
            self._line(summary_line(result))

    def _line(self, text: str, style: str | None = None) -> None:
        with self._lock:
            target = self._progress.console if self._progress is not None else self.console
            target.print(text, style=style, markup=False, highlight=False)

    def _plain(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)


def summary_line(result: BuildResult) -> str:
    s = result.stats
    if result.dry_run:
        counts = _plan_counts(result.plan)
        return (f"dry run: {s.files} files; would encode {counts['encode']}, take {counts['cached']} from the cache, "
                f"keep {counts['fresh']} up to date, copy {len(result.plan.copies)}, remove {len(result.plan.stale)}; "
                "nothing written")
    sidecars = sum(s.kept.values())
    by_codec = ", ".join(f"{codec} {n}" for codec, n in sorted(s.kept.items()))
    parts = [f"{s.files} files", f"{sidecars} sidecars" + (f" ({by_codec})" if by_codec else "")]
    if s.images:
        parts.append(f"{s.images} images -> {s.variants} image files")
    if s.raw_bytes:
        parts.append(f"{human(s.raw_bytes)} -> {human(s.wire_bytes)} over the wire "
                     f"(saved {human(s.raw_bytes - s.wire_bytes)})")
    if s.minified:
        parts.append(f"{s.minified} minified (saved {human(s.minify_saved)}, {s.minify_runs} minifier runs)")
    if s.optimized:
        parts.append(f"{s.optimized} originals optimised (saved {human(s.optimized_saved)})")
    parts.append(f"{s.encoded} encoded, {s.cache_hits} cache hits, {s.up_to_date} up to date")
    if s.removed:
        parts.append(f"{s.removed} removed")
    if result.lcp:
        parts.append(lcp_part(result))
    if result.failures:
        parts.append(f"{len(result.failures)} failed")
    return f"{result.target}: " + ", ".join(parts) + f" in {s.seconds:.1f} s"


def lcp_part(result: BuildResult) -> str:
    """--measure-lcp in the summary line: pages, how many loaded now, how many got their measured image."""
    pages = result.lcp
    loaded = sum(p.measured for p in pages)
    marked = sum(bool(p.marked) for p in pages)
    kept = len(pages) - marked
    return (f"LCP of {len(pages)} pages ({loaded} measured, {len(pages) - loaded} from the cache): "
            f"{marked} measured image{'s' if marked != 1 else ''} marked, heuristic kept on {kept}")


def lcp_lines(result: BuildResult) -> list[str]:
    """-v with --measure-lcp: one line per page, the image marked or why the heuristic was kept."""
    return [f"lcp     {p.page}: " + (f"marked {', '.join(p.marked)}" if p.marked else f"heuristic kept ({p.why})")
            + ("" if p.measured else " [cache]") for p in result.lcp]


def lcp_json(result: BuildResult) -> dict[str, Any]:
    """--measure-lcp in --json: the counts and, per page, what each viewport found and what was done."""
    pages = result.lcp
    return {
        "pages": len(pages),
        "measured": sum(p.measured for p in pages),
        "cached": sum(not p.measured for p in pages),
        "marked": sum(bool(p.marked) for p in pages),
        "heuristic": sum(not p.marked for p in pages),
        "results": [{"page": p.page, "measured": p.measured, "marked": list(p.marked), "heuristic_because": p.why,
                     "seen": [{"profile": s.profile, "element": s.element, "image": s.image, "nth": s.nth,
                               "url": s.url} for s in p.seen]} for p in pages],
    }


def _plan_counts(plan: Plan) -> dict[str, int]:
    counts = {a.value: 0 for a in Action}
    for job in plan.jobs:
        counts[job.action.value] += 1
    for action in plan.image_work:
        counts[action.value] += 1
    return counts


def plan_lines(plan: Plan) -> list[str]:
    """`--dry-run`: one line per output, in path order."""
    lines = [f"copy    {s.rel}" for s in plan.copies]
    verbs = {Action.ENCODE: "encode", Action.CACHED: "cached", Action.FRESH: "ok"}
    outputs = [(j.output, j.action) for j in plan.jobs] + list(plan.images)
    lines += [f"{verbs[action]:<7} {output}" for output, action in sorted(outputs)]
    lines += [f"remove  {o.rel}" for o in plan.stale]
    minify_verbs = {Action.ENCODE: "minify", Action.CACHED: "minify", Action.FRESH: "minified"}
    lines += [f"{minify_verbs[j.action]:<7} {j.source.rel}" for j in plan.minify]
    return lines


def result_json(result: BuildResult) -> str:
    """`--json`: the machine-readable result on stdout."""
    s = result.stats
    document: dict[str, Any] = {
        "schema": 1,
        "target": str(result.target),
        "dry_run": result.dry_run,
        "exit_code": result.exit_code,
        "files": s.files,
        "failures": [{"file": f.file, "reason": f.reason} for f in result.failures],
        "warnings": [{"file": n.file, "message": n.message} for n in result.notices],
    }
    if result.dry_run:
        plan = result.plan
        document["plan"] = {
            "outputs": [{"file": j.output, "source": j.source.rel, "codec": j.codec, "action": j.action.value}
                        for j in sorted(plan.jobs, key=lambda j: j.output)],
            "copies": [c.rel for c in plan.copies],
            "remove": [o.rel for o in plan.stale],
        }
        if plan.minify:
            document["plan"]["minify"] = [{"file": j.source.rel, "type": j.kind, "action": j.action.value}
                                          for j in plan.minify]
    else:
        document.update({
            "sidecars": dict(sorted(s.kept.items())),
            "images": s.images,
            "image_files": s.variants,
            "encoded": s.encoded,
            "cache_hits": s.cache_hits,
            "up_to_date": s.up_to_date,
            "written": s.written,
            "removed": s.removed,
            # `smallest`: the name over_the_wire had before both meant the same (build/wire.py)
            "bytes": {"original": s.raw_bytes, "over_the_wire": s.wire_bytes, "smallest": s.wire_bytes},
            "minified": {"files": s.minified, "minifier_runs": s.minify_runs, "saved": s.minify_saved},
            "optimized": {"files": s.optimized, "saved": s.optimized_saved},
            "seconds": round(s.seconds, 3),
        })
        if result.lcp:
            document["lcp"] = lcp_json(result)
    return json.dumps(document, indent=2, sort_keys=True)


def error_json(exit_code: int, errors: list[str]) -> str:
    """`--json` when the build could not run or stopped (exit 1, 2 or 130): the same `schema`, `exit_code`
    and the error lines, so a program reading stdout always gets a JSON document."""
    return json.dumps({"schema": 1, "exit_code": exit_code, "errors": errors}, indent=2, sort_keys=True)
