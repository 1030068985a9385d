"""`assetpipe watch`: `build`'s pipeline flags (the others refused, with the reason), then the Watcher
until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import click

from .. import config
from ..model import AssetpipeError
from ..report import TerminalObserver
from .options import EXIT_OK, EXIT_USAGE, _cache_dir, _default_jobs, _load_config, _pipeline_options

# `build`'s flags that have no meaning for `watch`: each is refused with the reason (exit 2), not
# with click's bare "no such option".
_NOT_FOR_WATCH = {
    "--out": "watch optimises DIR in place; for a finished copy run `assetpipe build DIR --out OUTDIR`",
    "--dry-run": "watch exists to write; to see what a build would do run `assetpipe build DIR --dry-run`",
    "--json": "watch reports one line per run on stderr; for a machine-readable result run "
              "`assetpipe build DIR --json`",
    "--report": "run `assetpipe build DIR --report FILE` or `assetpipe diff` when you want the report",
    "--check-budgets": "budgets are judged by `assetpipe diff`, or once by `assetpipe build DIR --check-budgets`",
    "--base": "budgets against a base are judged by `assetpipe diff BASE DIR`, or `assetpipe build DIR --base BASE`",
    "--headers": "write the headers file with `assetpipe build DIR --headers FORMAT`",
    "--upload": "upload a finished build with `assetpipe upload DIR`, not on every save",
    "--executor": "watch runs on this machine's cores (a save changes a few files); a whole build runs on Dask "
                  "with `assetpipe build DIR --executor dask://HOST:PORT`",
    "--workers-dir": "it goes with --executor, which watch does not take; see `assetpipe build DIR --help`",
}


def _refuse_for_watch(ctx: click.Context, param: click.Parameter, value: object) -> None:
    if value not in (None, False):
        flag = param.opts[0]
        raise click.UsageError(f"{flag} does not apply to `assetpipe watch`: {_NOT_FOR_WATCH[flag]}.", ctx)


def _not_for_watch(command: Callable[..., None]) -> Callable[..., None]:
    for flag in reversed(_NOT_FOR_WATCH):
        is_flag = flag in ("--dry-run", "--json", "--check-budgets", "--upload")
        command = click.option(flag, is_flag=is_flag, type=None if is_flag else str, hidden=True,
                               expose_value=False, callback=_refuse_for_watch)(command)
    return command


@click.command("watch")
@click.argument("directory", required=False, type=click.Path(path_type=Path), default=Path("dist"))
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default: ./assetpipe.toml, else [tool.assetpipe] in ./pyproject.toml).")
@_pipeline_options
@click.option("--minify", "minify_all", is_flag=True,
              help="Minify HTML, CSS, JS, SVG and JSON, as if every [minify] type were true.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the line of each run.")
@_not_for_watch
def watch_command(directory: Path, config_path: Path | None, jobs: int | None, cache_dir: str | None,
                  no_compress: bool, no_images: bool, allow_delete: bool | None, force: bool, minify_all: bool,
                  quiet: bool) -> None:
    """Build DIRECTORY (default ./dist) in place, then again after every change, until Ctrl-C."""
    from ..build.pipeline import BuildRequest
    from ..watch.watcher import Watcher  # here, so that the other commands do not pay for importing watchdog

    observer = TerminalObserver(quiet=quiet)
    loaded = _load_config(config_path, observer)
    if loaded.config.build.executor != "local":
        observer.console.print(f"note: [build] executor = {loaded.config.build.executor!r} is for `assetpipe build`; "
                               "watch runs on this machine's cores", markup=False, highlight=False)
    request = BuildRequest(
        source=directory,
        config=config.with_all_minified(loaded.config) if minify_all else loaded.config,
        cache_dir=_cache_dir(cache_dir, directory),
        jobs=jobs or _default_jobs(),
        compress=not no_compress,
        images=not no_images,
        allow_delete=loaded.config.build.allow_delete if allow_delete is None else allow_delete,
        force=force,
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
