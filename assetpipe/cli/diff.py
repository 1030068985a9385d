"""Sizes on the command line: `assetpipe diff`, and the budgets and --report after `build`."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import config
from ..model import AssetpipeError, BuildResult, ConfigError
from ..report import TerminalObserver
from .options import EXIT_BUDGET, EXIT_FAILED, EXIT_OK, EXIT_USAGE, _default_jobs

if TYPE_CHECKING:
    from ..sizes.model import SizeReport


@click.command("diff")
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("head", required=False, type=click.Path(path_type=Path), default=Path("dist"))
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              help="text (a table), markdown (a PR comment) or json (its fields: docs/diff.md).")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a self-contained HTML report here.")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default: ./assetpipe.toml, else [tool.assetpipe] in ./pyproject.toml).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Threads for sizes the manifests lack (default: all cores).")
@click.option("-q", "--quiet", is_flag=True, help="No warnings on stderr.")
def diff_command(base: Path, head: Path, fmt: str, report_path: Path | None, config_path: Path | None,
                 jobs: int | None, quiet: bool) -> None:
    """Compare HEAD (default ./dist) with BASE: sizes, budgets, and an exit code for CI.

    BASE and HEAD are assetpipe manifests or built folders; a missing BASE is not an error.
    """
    from ..sizes import comment
    from ..sizes import formats as diffreport
    from ..sizes.check import SizeRequest
    from ..sizes.ondisk import stored_report

    observer = TerminalObserver(quiet=quiet)
    with ExitStack() as stack:  # the report's files are on disk (sizes/ondisk) until the output is written
        try:
            loaded = config.load(config_path, Path.cwd())
            request = SizeRequest(base, head, loaded.config, jobs or _default_jobs(), Path.cwd())
            report = stack.enter_context(stored_report(request))
            if report_path is not None:
                _write_html_report(report, report_path)
        except ConfigError as exc:
            for problem in exc.problems:
                observer.error(problem)
            sys.exit(EXIT_USAGE)
        except AssetpipeError as exc:
            observer.error(str(exc))
            sys.exit(EXIT_USAGE)
        for notice in report.notices:
            observer.notice(notice)
        for failure in report.failures:
            observer.failure(failure)
        if fmt == "json":
            for piece in diffreport.json_pieces(report):  # a row per file: never the whole text at once
                click.echo(piece, nl=False)
        elif fmt == "markdown":
            click.echo(comment.markdown(report, max_rows=loaded.config.diff.max_rows), nl=False)
        else:
            click.echo(diffreport.text(report), nl=False)
        code = _size_exit(report)
    sys.exit(code)


def _size_exit(report: SizeReport) -> int:
    """3 when a budget at error level is exceeded (it outranks file failures), 1 for failed files, else 0."""
    if report.result == "fail":
        return EXIT_BUDGET
    return EXIT_FAILED if report.failures else EXIT_OK


def _write_html_report(report: SizeReport, path: Path) -> None:
    from ..sizes.check import chunk_breakdowns, write_atomic
    from ..sizes.treemap import render

    chunks, notices = chunk_breakdowns(report.diff.head)
    write_atomic(path, render(report, chunks, notices))


def _check_build_sizes(result: BuildResult, cfg: config.Config, base: Path | None, report_path: Path | None,
                       check_budgets: bool, jobs: int, observer: TerminalObserver) -> int:
    """After `build`, when asked: judge the budgets (--check-budgets: a line each, exit 3 on an
    error-level breach) and write --report. Without --check-budgets the budgets are `diff`'s to judge."""
    if result.dry_run or not ((check_budgets and cfg.has_budgets) or report_path is not None):
        return result.exit_code
    from ..sizes import formats as diffreport
    from ..sizes.check import SizeRequest, size_report

    try:
        report = size_report(SizeRequest(base, result.target, cfg, jobs, Path.cwd()))
        if report_path is not None:
            _write_html_report(report, report_path)
    except ConfigError as exc:
        for problem in exc.problems:
            observer.error(problem)
        return EXIT_USAGE
    except AssetpipeError as exc:
        observer.error(str(exc))
        return EXIT_USAGE
    for notice in report.notices:
        observer.notice(notice)
    if not check_budgets:
        return result.exit_code
    for line in diffreport.budget_lines(report):
        if not observer.quiet or not line.startswith(("budget ok", "budget skipped")):
            observer.console.print(line, markup=False, highlight=False)
    return EXIT_BUDGET if report.result == "fail" else result.exit_code
