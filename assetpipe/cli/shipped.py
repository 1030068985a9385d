"""`assetpipe config NAME`: print one of the files that ship with assetpipe, byte for byte.

They live in the repository's `config/` and go into the wheel as package data (`assetpipe/shipped` is a
link to `config/`, so there is one copy): a user who installed the package gets the same files the tests
serve with nginx, with `assetpipe config nginx-server > /etc/nginx/snippets/assetpipe-server.conf`.
"""

from __future__ import annotations

import sys
from importlib import resources

import click

from .options import EXIT_USAGE

# name -> (path under assetpipe/shipped, what it is)
SHIPPED: dict[str, tuple[str, str]] = {
    "nginx-http": ("nginx/assetpipe-http.conf", "nginx, in http {}: the Accept maps and Cache-Control by URL"),
    "nginx-server": ("nginx/assetpipe-server.conf",
                     "nginx, in server {}: precompressed sidecars, image sidecars by Accept, headers"),
    "caddy": ("Caddyfile", "Caddy 2: a site block doing the same"),
    "toml": ("assetpipe.toml", "every config key with its default and the reason for it"),
    "schema": ("manifest.schema.json", "the JSON Schema of DIR/.assetpipe/manifest.json"),
}


def read(name: str) -> bytes:
    """The bytes of a shipped file, as installed."""
    return resources.files("assetpipe").joinpath("shipped", *SHIPPED[name][0].split("/")).read_bytes()


_NAMES = "\b\nNAME is one of:\n" + "\n".join(f"  {name:<13} {what}" for name, (_, what) in SHIPPED.items())


@click.command("config", short_help="Print the nginx or Caddy snippet, the default config or the schema.",
               epilog=_NAMES)
@click.argument("name", type=click.Choice(list(SHIPPED)), metavar="NAME")
def config_command(name: str) -> None:
    """Print a file that ships with assetpipe (NAME below): the nginx and Caddy snippets, the default
    config, the manifest schema."""
    try:
        data = read(name)
    except OSError as exc:
        click.echo(f"error: {SHIPPED[name][0]}: not installed with assetpipe ({exc.strerror or exc}); "
                   "reinstall it", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(data, nl=False)  # bytes: written as they are
