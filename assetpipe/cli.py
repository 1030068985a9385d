"""The command line: flags -> Config -> pipeline -> report -> exit code. The only place that exits.

Exit codes (SPEC §6, a contract): 0 success, 1 one or more files failed, 2 usage or config error,
3 a budget at error level was exceeded.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import __version__, config
from .build import ledger
from .build.writer import Writer, WriteRefused
from .model import AssetpipeError, BuildResult, ConfigError
from .report import TerminalObserver, plan_lines, result_json
from .units import human
from .upload import headersfile
from .upload import plan as uploadplan

# The size report (sizes/: check, formats, treemap) and the upload are imported where they are used: a
# plain `build` needs neither, and a warm build of an unchanged tree is mostly the interpreter starting.
# The pipeline (images, markup: Pillow, html5lib) likewise, so that `assetpipe diff` does not pay for it.
if TYPE_CHECKING:
    from .sizes.model import SizeReport
    from .upload import targets as upload

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUDGET = 0, 1, 2, 3
DEFAULT_CACHE_DIR = ".assetpipe-cache"


def _default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Group(click.Group):
    """Click's own usage errors exit 2, as SPEC §6 says; keep that for every command."""


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assetpipe")
def main() -> None:
    """Optimise a finished frontend build: precompression, a manifest, responsive images."""


def _load_config(config_path: Path | None, observer: TerminalObserver) -> config.LoadedConfig:
    """The config (--config, else ./assetpipe.toml, else ./pyproject.toml); every problem in it is an
    error line, and exit 2."""
    try:
        return config.load(config_path, Path.cwd())
    except ConfigError as exc:
        for problem in exc.problems:
            observer.error(problem)
        sys.exit(EXIT_USAGE)


def _cache_dir(option: Path | None) -> Path:
    return option or Path(os.environ.get("ASSETPIPE_CACHE_DIR") or DEFAULT_CACHE_DIR)


def _pipeline_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options `build` and `watch` share: workers, cache folder, and the stages to skip."""
    options = [
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help="Parallel workers (default: all cores)."),
        click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
                     help=f"Cache folder (default: $ASSETPIPE_CACHE_DIR, else ./{DEFAULT_CACHE_DIR})."),
        click.option("--no-compress", is_flag=True, help="Skip precompression (and remove sidecars assetpipe wrote)."),
        click.option("--no-images", is_flag=True, help="Skip the responsive-image stage."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command("build")
@click.argument("directory", required=False, type=click.Path(path_type=Path), default=Path("dist"))
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default: ./assetpipe.toml, else [tool.assetpipe] in ./pyproject.toml).")
@click.option("--out", type=click.Path(path_type=Path), help="Write a finished copy here; DIRECTORY is left untouched.")
@click.option("--dry-run", is_flag=True, help="Print the plan and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result on stdout.")
@_pipeline_options
@click.option("--minify", "minify_all", is_flag=True,
              help="Minify HTML, CSS, JS, SVG and JSON this run, as if every [minify] type were true.")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a self-contained HTML size report here.")
@click.option("--base", type=click.Path(path_type=Path),
              help="Baseline (a manifest or a built folder) for --report and growth budgets.")
@click.option("--headers", "headers_format", type=click.Choice(headersfile.FORMATS), default=None,
              help="Also write DIR/_headers (Cache-Control by path) for Netlify or Cloudflare Pages.")
@click.option("--upload", "then_upload", is_flag=True,
              help="After a build with no failures (and no budget error), run `assetpipe upload` on it.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("-v", "--verbose", is_flag=True, help="More detail.")
def build_command(directory: Path, config_path: Path | None, out: Path | None, dry_run: bool, as_json: bool,
                  jobs: int | None, cache_dir: Path | None, no_compress: bool, no_images: bool, minify_all: bool,
                  report_path: Path | None, base: Path | None, headers_format: str | None, then_upload: bool,
                  quiet: bool, verbose: bool) -> None:
    """Optimise DIRECTORY (default ./dist) in place, or into --out."""
    from .build.pipeline import BuildRequest, build

    observer = TerminalObserver(quiet=quiet, verbose=verbose)
    loaded = _load_config(config_path, observer)
    request = BuildRequest(
        source=directory,
        config=config.with_all_minified(loaded.config) if minify_all else loaded.config,
        cache_dir=_cache_dir(cache_dir),
        out=out,
        jobs=jobs or _default_jobs(),
        dry_run=dry_run,
        compress=not no_compress,
        images=not no_images,
    )
    try:
        result = build(request, observer)
    except AssetpipeError as exc:
        observer.done()
        observer.error(str(exc))
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        observer.done()
        observer.error("interrupted; every file written so far is complete")
        sys.exit(130)
    if dry_run and not as_json:
        click.echo("\n".join(plan_lines(result.plan)))
    if as_json:
        click.echo(result_json(result))
    observer.summary(result)
    code = _check_build_sizes(result, loaded.config, base, report_path, jobs or _default_jobs(), observer)
    if headers_format and not dry_run and code in (EXIT_OK, EXIT_FAILED, EXIT_BUDGET):
        code = max(code, _write_headers_file(result.target, loaded.config.upload, observer))
    if then_upload and not dry_run:
        if code == EXIT_OK:
            code = _upload(result.target, loaded.config.upload, None, False, False, observer)
        else:
            observer.error("not uploading: the build did not succeed (see above)")
    sys.exit(code)


# --- `assetpipe watch` ---------------------------------------------------------------------------------


# `build`'s flags that have no meaning for `watch`: each is refused with the reason (exit 2), not
# with click's bare "no such option".
_NOT_FOR_WATCH = {
    "--out": "watch optimises DIR in place (SPEC 4); for a finished copy run `assetpipe build DIR --out OUTDIR`",
    "--dry-run": "watch exists to write; to see what a build would do run `assetpipe build DIR --dry-run`",
    "--json": "watch reports one line per run on stderr; for a machine-readable result run "
              "`assetpipe build DIR --json`",
    "--report": "run `assetpipe build DIR --report FILE` or `assetpipe diff` when you want the report",
    "--base": "budgets against a base are checked by `assetpipe build DIR --base BASE` or `assetpipe diff`",
    "--headers": "write the headers file with `assetpipe build DIR --headers FORMAT`",
    "--upload": "upload a finished build with `assetpipe upload DIR`, not on every save",
}


def _refuse_for_watch(ctx: click.Context, param: click.Parameter, value: object) -> None:
    if value not in (None, False):
        flag = param.opts[0]
        raise click.UsageError(f"{flag} does not apply to `assetpipe watch`: {_NOT_FOR_WATCH[flag]}.", ctx)


def _not_for_watch(command: Callable[..., None]) -> Callable[..., None]:
    for flag in reversed(_NOT_FOR_WATCH):
        is_flag = flag in ("--dry-run", "--json", "--upload")
        command = click.option(flag, is_flag=is_flag, type=None if is_flag else str, hidden=True,
                               expose_value=False, callback=_refuse_for_watch)(command)
    return command


@main.command("watch")
@click.argument("directory", required=False, type=click.Path(path_type=Path), default=Path("dist"))
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default: ./assetpipe.toml, else [tool.assetpipe] in ./pyproject.toml).")
@_pipeline_options
@click.option("--minify", "minify_all", is_flag=True,
              help="Minify HTML, CSS, JS, SVG and JSON, as if every [minify] type were true.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the line of each run.")
@_not_for_watch
def watch_command(directory: Path, config_path: Path | None, jobs: int | None, cache_dir: Path | None,
                  no_compress: bool, no_images: bool, minify_all: bool, quiet: bool) -> None:
    """Build DIRECTORY (default ./dist) in place, then again after every change, until Ctrl-C."""
    from .build.pipeline import BuildRequest
    from .watch.watcher import Watcher  # here, so that the other commands do not pay for importing watchdog

    observer = TerminalObserver(quiet=quiet)
    loaded = _load_config(config_path, observer)
    request = BuildRequest(
        source=directory,
        config=config.with_all_minified(loaded.config) if minify_all else loaded.config,
        cache_dir=_cache_dir(cache_dir),
        jobs=jobs or _default_jobs(),
        compress=not no_compress,
        images=not no_images,
    )

    def say(line: str) -> None:
        observer.console.print(line, markup=False, highlight=False)

    def on_interrupt(signum: int, frame: object) -> None:
        if stopping:  # a second Ctrl-C: at once (the first ends within a moment; if a file was being
            # written just then, its temp file is left for the next build to remove)
            sys.stderr.flush()
            os._exit(130)
        stopping.append(signum)
        raise KeyboardInterrupt

    stopping: list[int] = []
    signal.signal(signal.SIGINT, on_interrupt)
    interrupted = False
    watcher = Watcher(request, observer, say, quiet=loaded.config.watch.quiet_ms / 1000,
                      settle=loaded.config.watch.settle_ms / 1000)
    try:
        result = watcher.start()
        observer.summary(result)
        say(f"watching {directory} (Ctrl-C to stop)")
        watcher.loop()
    except AssetpipeError as exc:
        observer.done()
        observer.error(str(exc))
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        interrupted = True
        watcher.interrupt()  # returns once no file is half-written and none will be begun
        observer.done()
        say("stopped; every file written is complete")
    finally:
        watcher.close()
    if interrupted:  # a run's encoders may still be busy on their threads: nothing of theirs gets written now
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_OK)
    sys.exit(EXIT_OK)


# --- sizes: `assetpipe diff`, and budgets / --report after `build` ----------------------------------


@main.command("diff")
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("head", required=False, type=click.Path(path_type=Path), default=Path("dist"))
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              help="text (a table), markdown (a PR comment) or json (SPEC section 3).")
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
    from .sizes import formats as diffreport
    from .sizes.check import SizeRequest, size_report

    observer = TerminalObserver(quiet=quiet)
    try:
        loaded = config.load(config_path, Path.cwd())
        report = size_report(SizeRequest(base, head, loaded.config, jobs or _default_jobs(), Path.cwd()))
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
        click.echo(diffreport.to_json(report), nl=False)
    elif fmt == "markdown":
        click.echo(diffreport.markdown(report, max_rows=loaded.config.diff.max_rows), nl=False)
    else:
        click.echo(diffreport.text(report), nl=False)
    sys.exit(_size_exit(report))


def _size_exit(report: SizeReport) -> int:
    """3 when a budget at error level is exceeded (it outranks file failures), 1 for failed files, else 0."""
    if report.result == "fail":
        return EXIT_BUDGET
    return EXIT_FAILED if report.failures else EXIT_OK


def _write_html_report(report: SizeReport, path: Path) -> None:
    from .sizes.check import chunk_breakdowns, write_atomic
    from .sizes.treemap import render

    chunks, notices = chunk_breakdowns(report.diff.head)
    write_atomic(path, render(report, chunks, notices))


def _check_build_sizes(result: BuildResult, cfg: config.Config, base: Path | None, report_path: Path | None,
                       jobs: int, observer: TerminalObserver) -> int:
    """After `build`: check the budgets (exit 3 on an error-level breach) and write --report, when asked."""
    if result.dry_run or not (cfg.has_budgets or report_path is not None):
        return result.exit_code
    from .sizes import formats as diffreport
    from .sizes.check import SizeRequest, size_report

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
    for line in diffreport.budget_lines(report):
        if not observer.quiet or not line.startswith(("budget ok", "budget skipped")):
            observer.console.print(line, markup=False, highlight=False)
    return EXIT_BUDGET if report.result == "fail" else result.exit_code


# --- `assetpipe upload`, and `build --upload` / `--headers` -------------------------------------------


@main.command("upload")
@click.argument("directory", required=False, type=click.Path(path_type=Path), default=Path("dist"))
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default: ./assetpipe.toml, else [tool.assetpipe] in ./pyproject.toml).")
@click.option("--target", type=click.Choice(["command", "s3"]), default=None,
              help="Where to upload (default: upload.target from the config).")
@click.option("--dry-run", is_flag=True, help="Print the upload plan and send nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="With --dry-run, the plan as JSON (SPEC section 7); otherwise the result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("-v", "--verbose", is_flag=True, help="A line per file.")
def upload_command(directory: Path, config_path: Path | None, target: str | None, dry_run: bool, as_json: bool,
                   quiet: bool, verbose: bool) -> None:
    """Upload a built DIRECTORY (default ./dist): hashed assets, then other files, then HTML."""
    observer = TerminalObserver(quiet=quiet, verbose=verbose)
    loaded = _load_config(config_path, observer)
    sys.exit(_upload(directory, loaded.config.upload, target, dry_run, as_json, observer))


class _UploadReport:
    """The upload's progress and the command target's output, on stderr."""

    def __init__(self, observer: TerminalObserver) -> None:
        self.observer = observer

    def start(self, total: int, label: str) -> None:
        self.observer.start(total, label)

    def advance(self, output: str, outcome: str) -> None:
        self.observer.advance(output, outcome)

    def done(self) -> None:
        self.observer.done()

    def output(self, line: str) -> None:
        if not self.observer.quiet:
            self.observer.console.print(line, markup=False, highlight=False)


def _upload(directory: Path, cfg: config.UploadConfig, target: str | None, dry_run: bool, as_json: bool,
            observer: TerminalObserver) -> int:
    from .upload import targets as upload

    target = target or cfg.target
    try:
        plan = upload.read_plan(directory, cfg)
        if not dry_run:
            upload.check_target(cfg, target)
    except (ConfigError, uploadplan.PlanError) as exc:
        for problem in exc.problems:
            observer.error(problem)
        if isinstance(exc, uploadplan.PlanError):
            observer.error(f"{directory} changed since its manifest was written; run `assetpipe build {directory}` "
                           "again, then upload")
        return EXIT_USAGE
    except AssetpipeError as exc:
        observer.error(str(exc))
        return EXIT_USAGE
    if dry_run:
        click.echo(plan.dumps().rstrip("\n") if as_json else "\n".join(_plan_text(plan)))
        return EXIT_OK
    try:
        result = upload.run(directory, plan, cfg, target, _UploadReport(observer))
    except AssetpipeError as exc:
        observer.error(str(exc))
        return EXIT_USAGE
    for notice in result.notices:
        observer.notice(notice)
    for failure in result.failures:
        observer.failure(failure)
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
    if result.failures:
        missing = result.files - len(result.sent) - result.unchanged
        stopped = ("no HTML was uploaded" if result.phases_done < 3 else "every file was uploaded")
        observer.error(f"upload failed: {missing} of {result.files} files not stored, {stopped} and nothing was "
                       "deleted; run it again to send what is missing")
    elif not observer.quiet:
        observer.console.print(_upload_summary(result), markup=False, highlight=False)
    return result.exit_code


def _plan_text(plan: uploadplan.UploadPlan) -> list[str]:
    lines: list[str] = []
    for number, (title, phase) in enumerate(zip(uploadplan.PHASE_TITLES, plan.phases, strict=True), start=1):
        lines.append(f"phase {number}: {title} ({len(phase)} files, {human(sum(i.size for i in phase))})")
        for item in phase:
            encoding = f" [Content-Encoding: {item.content_encoding}]" if item.content_encoding else ""
            lines.append(f"  {item.key}  [{item.content_type}]{encoding}  [{item.cache_control}]  {human(item.size)}")
    total = sum(len(p) for p in plan.phases)
    lines.append(f"dry run: {total} files in {sum(1 for p in plan.phases if p)} phases; nothing sent")
    return lines


def _upload_summary(result: upload.UploadResult) -> str:
    if result.target == "command":
        return (f"upload: {result.files} files ({human(result.bytes_sent)}) handed to `{result.destination}` "
                f"in {result.seconds:.1f} s")
    return (f"upload: {result.files} files to {result.destination}: {len(result.sent)} sent "
            f"({human(result.bytes_sent)}), {result.unchanged} unchanged, {len(result.deleted)} deleted "
            f"in {result.seconds:.1f} s")


def _write_headers_file(target: Path, cfg: config.UploadConfig, observer: TerminalObserver) -> int:
    """`build --headers netlify`: DIR/_headers from the upload plan, written (and recorded) as assetpipe's."""
    from .upload import targets as upload

    try:
        plan = upload.read_plan(target, cfg)
        state = ledger.read(target)
        writer = Writer(target, state.outputs, state.minified, state.optimized)
        try:
            writer.write(headersfile.NAME, headersfile.render(plan), "headers:netlify")
            writer.finish()
        finally:
            writer.close()
    except WriteRefused as exc:
        observer.error(f"{exc} (merge its rules by hand, or remove it)")
        return EXIT_USAGE
    except (uploadplan.PlanError, AssetpipeError, OSError) as exc:
        observer.error(f"{headersfile.NAME}: not written: {exc}")
        return EXIT_USAGE
    return EXIT_OK
