"""`assetpipe build`: flags -> BuildRequest (with the check of the budget names) -> the pipeline -> the
terminal (or --json) -> --check-budgets, --report, --headers and --upload when asked -> the exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from .. import config
from ..model import AssetpipeError, ConfigError, Inventory, WriteStopped
from ..report import TerminalObserver, plan_lines, result_json
from ..upload import headersfile
from .diff import _check_build_sizes
from .options import (
    EXIT_BUDGET,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    _cache_dir,
    _default_jobs,
    _load_config,
    _pipeline_options,
    _stop,
)
from .upload import _upload, _write_headers_file


@click.command("build")
@click.argument("directory", required=False, type=click.Path(path_type=Path), default=Path("dist"))
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config file (default: ./assetpipe.toml, else [tool.assetpipe] in ./pyproject.toml).")
@click.option("--out", type=click.Path(path_type=Path), help="Write a finished copy here; DIRECTORY is left untouched.")
@click.option("--dry-run", is_flag=True, help="Print the plan and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result on stdout.")
@_pipeline_options
@click.option("--minify", "minify_all", is_flag=True,
              help="Minify HTML, CSS, JS, SVG and JSON this run, as if every [minify] type were true.")
@click.option("--check-budgets", is_flag=True,
              help="Also judge [budgets] after the build, and exit 3 when one is at error level "
                   "(without it `assetpipe diff` does; docs/diff.md).")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write a self-contained HTML size report here.")
@click.option("--base", type=click.Path(path_type=Path),
              help="Baseline (a manifest or a built folder) for --report and --check-budgets' growth budgets.")
@click.option("--headers", "headers_format", type=click.Choice(headersfile.FORMATS), default=None,
              help="Also write DIR/_headers (Cache-Control by path) for Netlify or Cloudflare Pages; cloudflare "
                   "refuses a file over Cloudflare's 100 rules (exit 2), netlify warns.")
@click.option("--upload", "then_upload", is_flag=True,
              help="After a build with no failures (nor, with --check-budgets, a budget error), "
                   "run `assetpipe upload` on it.")
@click.option("--measure-lcp/--no-measure-lcp", "measure_lcp", default=None,
              help="Load each rewritten page in headless Chromium (phone and desktop viewports) and give its real "
                   "LCP image eager loading and fetchpriority=high, instead of the heuristic's guess; cached by "
                   "page (default: [html] measure_lcp; docs/build.md).")
@click.option("--chromium", "chromium", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The Chromium --measure-lcp runs (default: $ASSETPIPE_CHROMIUM, else chromium on PATH).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("-v", "--verbose", is_flag=True, help="More detail.")
def build_command(directory: Path, config_path: Path | None, out: Path | None, dry_run: bool, as_json: bool,
                  jobs: int | None, cache_dir: Path | None, no_compress: bool, no_images: bool,
                  allow_delete: bool | None, force: bool, minify_all: bool, check_budgets: bool,
                  report_path: Path | None, base: Path | None, headers_format: str | None, then_upload: bool,
                  measure_lcp: bool | None, chromium: Path | None, quiet: bool, verbose: bool) -> None:
    """Optimise DIRECTORY (default ./dist) in place, or into --out."""
    from ..build.pipeline import BuildRequest, build

    observer = TerminalObserver(quiet=quiet, verbose=verbose)
    loaded = _load_config(config_path, observer, as_json=as_json)
    try:
        check = _budget_check(loaded.config)
    except ConfigError as exc:
        _stop(observer, EXIT_USAGE, exc.problems, as_json=as_json)
    request = BuildRequest(
        source=directory,
        config=config.with_all_minified(loaded.config) if minify_all else loaded.config,
        cache_dir=_cache_dir(cache_dir, directory, out),
        out=out,
        jobs=jobs or _default_jobs(),
        dry_run=dry_run,
        compress=not no_compress,
        images=not no_images,
        allow_delete=loaded.config.build.allow_delete if allow_delete is None else allow_delete,
        force=force,
        check=check,
        measure_lcp=measure_lcp,
        chromium=str(chromium) if chromium is not None else None,
    )
    try:
        result = build(request, observer)
    except WriteStopped as exc:  # a full disk: what was written is whole, the rest was not written
        _stop(observer, EXIT_FAILED, [str(exc)], as_json=as_json)
    except ConfigError as exc:  # a budget this folder cannot have: nothing written
        _stop(observer, EXIT_USAGE, exc.problems, as_json=as_json)
    except AssetpipeError as exc:
        _stop(observer, EXIT_USAGE, [str(exc)], as_json=as_json)
    except KeyboardInterrupt:
        _stop(observer, 130, ["interrupted; every file written so far is complete"], as_json=as_json)
    if dry_run and not as_json:
        click.echo("\n".join(plan_lines(result.plan)))
    if as_json:
        click.echo(result_json(result))
    observer.summary(result)
    if result.refusal is not None:  # --dry-run: the real build would stop here
        observer.error(result.refusal)
        sys.exit(EXIT_USAGE)
    code = _check_build_sizes(result, loaded.config, base, report_path, check_budgets, jobs or _default_jobs(),
                              observer)
    if headers_format and not dry_run and code in (EXIT_OK, EXIT_FAILED, EXIT_BUDGET):
        code = max(code, _write_headers_file(result.target, loaded.config.upload, observer, headers_format))
    if then_upload and not dry_run:
        if code == EXIT_OK:
            code = _upload(result.target, loaded.config.upload, None, False, False, observer)
        else:
            observer.error("not uploading: the build did not succeed (see above)")
    sys.exit(code)


def _budget_check(cfg: config.Config) -> Callable[[Inventory], None] | None:
    """With budgets configured, the check that each can be measured on the folder, made before the build
    writes anything; ConfigError when a Lighthouse budget file cannot be read."""
    if not cfg.has_budgets:
        return None
    from ..sizes.check import budget_check

    return budget_check(cfg, Path.cwd())
