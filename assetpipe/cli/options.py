"""What the commands share: the exit codes, the defaults of `-j` and `--cache-dir`, the config loading
every command starts with, and the options `build` and `watch` both take."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from .. import config
from ..model import ConfigError
from ..report import TerminalObserver, error_json

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUDGET = 0, 1, 2, 3
DEFAULT_CACHE_DIR = ".assetpipe-cache"


def _default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _load_config(config_path: Path | None, observer: TerminalObserver, *, as_json: bool = False
                 ) -> config.LoadedConfig:
    """The config (--config, else ./assetpipe.toml, else ./pyproject.toml); every problem in it is an
    error line, and exit 2 (with `as_json`, also a JSON error document on stdout)."""
    try:
        return config.load(config_path, Path.cwd())
    except ConfigError as exc:
        _stop(observer, EXIT_USAGE, exc.problems, as_json=as_json)


def _stop(observer: TerminalObserver, code: int, errors: list[str], *, as_json: bool = False) -> NoReturn:
    """End a command that could not run: one error line each, the JSON error document with --json."""
    observer.done()
    for error in errors:
        observer.error(error)
    if as_json:
        click.echo(error_json(code, errors))
    sys.exit(code)


def _cache_dir(option: str | Path | None, *folders: Path | None) -> Path:
    """--cache-dir, else $ASSETPIPE_CACHE_DIR, else ./.assetpipe-cache; when the working directory is
    inside the folder being built, the user's cache folder instead, so the cache is never deployed. An
    explicit folder inside it is refused by the build (exit 2). A URL (a shared cache) is not a folder:
    then the next of these that is one."""
    from ..build.safety import default_cache_dir

    for explicit in (option, os.environ.get("ASSETPIPE_CACHE_DIR")):
        if explicit and not _is_url(str(explicit)):
            return Path(explicit)
    return default_cache_dir(Path.cwd(), [f for f in folders if f is not None], os.environ)


def _shared_cache(option: str | Path | None) -> str | None:
    """The shared cache's URL (SPEC §5b): --cache-dir, else $ASSETPIPE_CACHE_DIR, when it is a URL."""
    explicit = option or os.environ.get("ASSETPIPE_CACHE_DIR")
    return str(explicit) if explicit and _is_url(str(explicit)) else None


def _is_url(text: str) -> bool:
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.replace("+", "").replace("-", "").isalnum()


def _pipeline_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options `build` and `watch` share: workers, cache folder, the stages to skip, the safety nets."""
    options = [
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help="Parallel workers (default: all cores)."),
        click.option("--cache-dir", type=str, default=None, metavar="PATH|URL",
                     help=f"Cache folder (default: $ASSETPIPE_CACHE_DIR, else ./{DEFAULT_CACHE_DIR}, or "
                          "~/.cache/assetpipe when run from inside DIR); never inside DIR. A URL "
                          "(s3://bucket/prefix, file:///path: fsspec's) is a cache shared between machines, in "
                          "front of which the local folder stays (docs/scale.md)."),
        click.option("--no-compress", is_flag=True, help="Skip precompression (and remove sidecars assetpipe wrote)."),
        click.option("--no-images", is_flag=True, help="Skip the responsive-image stage."),
        click.option("--allow-delete", is_flag=True, default=None,
                     help="Go ahead when a build would remove more than 10 %% of the folder's files (outputs of "
                          "sources that are gone); default: stop before writing anything, exit 2."),
        click.option("--force", is_flag=True,
                     help="Build a folder even though it looks like a project's sources (package.json beside "
                          "node_modules/, vite.config.*, mkdocs.yml, ...) rather than its build output."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
