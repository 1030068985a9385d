"""`assetpipe upload`, and `build --upload` and `build --headers`: the upload plan, printed (--dry-run) or
handed to the target, with its progress and result on the terminal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import config
from ..build import ledger
from ..build.writer import Writer, WriteRefused
from ..model import AssetpipeError, ConfigError, Notice
from ..report import TerminalObserver
from ..units import human
from ..upload import headersfile
from ..upload import plan as uploadplan
from .options import EXIT_OK, EXIT_USAGE, _load_config

if TYPE_CHECKING:
    from ..upload import targets as upload


@click.command("upload")
@click.argument("directory", required=False, type=click.Path(path_type=Path), default=Path("dist"))
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default: ./assetpipe.toml, else [tool.assetpipe] in ./pyproject.toml).")
@click.option("--target", type=click.Choice(["command", "s3"]), default=None,
              help="Where to upload (default: upload.target from the config).")
@click.option("--dry-run", is_flag=True, help="Print the upload plan and send nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="With --dry-run, the plan as JSON (its fields: docs/upload.md); otherwise the result as JSON.")
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
    from ..upload import targets as upload

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


def _write_headers_file(target: Path, cfg: config.UploadConfig, observer: TerminalObserver, form: str) -> int:
    """`build --headers netlify|cloudflare`: DIR/_headers from the upload plan, written (and recorded) as
    assetpipe's. Over Cloudflare Pages' limits: a warning for netlify; a warning, then exit 2 and nothing
    written, for cloudflare."""
    from ..upload import targets as upload

    try:
        headers = headersfile.build(upload.read_plan(target, cfg), form)
        problems = headers.over_limits()
        for problem in problems:
            observer.notice(Notice(headersfile.NAME, problem))
        if problems and form == "cloudflare":
            observer.error(f"{headersfile.NAME}: not written: Cloudflare Pages would not read it whole (see above)")
            return EXIT_USAGE
        state = ledger.read(target)
        writer = Writer(target, state.outputs, state.minified, state.optimized)
        try:
            writer.write(headersfile.NAME, headers.render(), f"headers:{form}")
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
