"""The command line: flags -> Config -> pipeline -> report -> exit code. The only place that exits.

Exit codes (SPEC §6, a contract): 0 success, 1 one or more files failed, 2 usage or config error,
3 a budget at error level was exceeded.

One module per command (`build`, `watch`, `diff`, `upload`, and `shipped` for `config`, which prints the
files that ship with assetpipe), and `options` for what they share. The size
report (sizes/: check, formats, treemap) and the upload targets are imported where they are used: a plain
`build` needs neither, and a warm build of an unchanged tree is mostly the interpreter starting. The
pipeline (images, html: Pillow, html5lib) likewise, so that `assetpipe diff` does not pay for it; and
watch/ (watchdog) only by `assetpipe watch`.
"""

from __future__ import annotations

import click

from .. import __version__
from .build import build_command
from .diff import diff_command
from .shipped import config_command
from .upload import upload_command
from .watch import watch_command


class _Group(click.Group):
    """Click's own usage errors exit 2, as SPEC §6 says; keep that for every command."""


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assetpipe")
def main() -> None:
    """Optimise a finished frontend build: precompression, a manifest, responsive images."""


main.add_command(build_command)
main.add_command(watch_command)
main.add_command(diff_command)
main.add_command(upload_command)
main.add_command(config_command)
