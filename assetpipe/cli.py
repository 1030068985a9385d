"""The command line: flags -> Config -> pipeline -> report -> exit code. The only place that exits.

Exit codes (SPEC §6, a contract): 0 success, 1 one or more files failed, 2 usage or config error,
3 a budget at error level was exceeded.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import __version__, config
from .model import AssetpipeError, ConfigError
from .pipeline import BuildRequest, build
from .report import TerminalObserver, plan_lines, result_json

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


@main.command("build")
@click.argument("directory", required=False, type=click.Path(path_type=Path), default=Path("dist"))
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default: ./assetpipe.toml, else [tool.assetpipe] in ./pyproject.toml).")
@click.option("--out", type=click.Path(path_type=Path), help="Write a finished copy here; DIRECTORY is left untouched.")
@click.option("--dry-run", is_flag=True, help="Print the plan and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result on stdout.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Worker threads (default: all cores).")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
              help=f"Cache folder (default: $ASSETPIPE_CACHE_DIR, else ./{DEFAULT_CACHE_DIR}).")
@click.option("--no-compress", is_flag=True, help="Skip precompression (and remove sidecars assetpipe wrote).")
@click.option("--no-images", is_flag=True, help="Skip the responsive-image stage.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("-v", "--verbose", is_flag=True, help="More detail.")
def build_command(directory: Path, config_path: Path | None, out: Path | None, dry_run: bool, as_json: bool,
                  jobs: int | None, cache_dir: Path | None, no_compress: bool, no_images: bool, quiet: bool,
                  verbose: bool) -> None:
    """Optimise DIRECTORY (default ./dist) in place, or into --out."""
    observer = TerminalObserver(quiet=quiet, verbose=verbose)
    try:
        loaded = config.load(config_path, Path.cwd())
    except ConfigError as exc:
        for problem in exc.problems:
            observer.error(problem)
        sys.exit(EXIT_USAGE)
    request = BuildRequest(
        source=directory,
        config=loaded.config,
        cache_dir=cache_dir or Path(os.environ.get("ASSETPIPE_CACHE_DIR") or DEFAULT_CACHE_DIR),
        out=out,
        jobs=jobs or _default_jobs(),
        dry_run=dry_run,
        compress=not no_compress,
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
    sys.exit(result.exit_code)
