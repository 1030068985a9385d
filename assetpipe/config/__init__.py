"""Configuration: every key, its default and the reason for it, in one place; loading and validation.

Takes `--config PATH`, else `./assetpipe.toml`, else `[tool.assetpipe]` in `./pyproject.toml`, and
returns a frozen `Config` (the defaults when there is no file), or raises ConfigError listing every
problem at once as `file: key: message`. `sections` declares the keys (and `describe()`s them for the
docs' table and `config/assetpipe.toml`), `checks` holds the value checks, `loading` reads and
validates a file. Every stage reads its own section; the names below are the public ones.
"""

from .loading import LoadedConfig, load, parse
from .sections import (
    Budget,
    BuildConfig,
    CacheConfig,
    CompressConfig,
    Config,
    DiffConfig,
    HtmlConfig,
    ImagesConfig,
    KeyDoc,
    MinifyConfig,
    Quality,
    UploadConfig,
    UploadRule,
    WatchConfig,
    describe,
    toml_value,
    with_all_minified,
)

__all__ = [
    "Budget",
    "BuildConfig",
    "CacheConfig",
    "CompressConfig",
    "Config",
    "DiffConfig",
    "HtmlConfig",
    "ImagesConfig",
    "KeyDoc",
    "LoadedConfig",
    "MinifyConfig",
    "Quality",
    "UploadConfig",
    "UploadRule",
    "WatchConfig",
    "describe",
    "load",
    "parse",
    "toml_value",
    "with_all_minified",
]
