"""Configuration: every key, its default and the reason for it, in one place; loading and validation.

The README's table and `config/assetpipe.toml` are checked against `describe()` by a test, so the
three never disagree. Validation looks at the whole file and reports every problem at once as
`file: key: message`, with a suggestion where a key looks misspelt.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .model import ConfigError
from .units import Limit, parse_limit

Check = Callable[[Any], Any]  # returns the normalised value or raises ValueError with the fix


def _setting(default: Any, reason: str, check: Check) -> Any:
    return field(default=default, metadata={"reason": reason, "check": check})


# --- value checks: each returns the normalised value or raises ValueError(message) ---------------


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _integer(low: int, high: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low:_} and {high:_}, got {value:_}")
        return value

    return check


def _number(low: float, high: float) -> Check:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {value!r}")
        if not low < value <= high:
            raise ValueError(f"must be greater than {low:g} and at most {high:g}, got {value!r}")
        return float(value)

    return check


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {_quoted(choices)}, got {value!r}{_did_you_mean(value, choices)}")
        return str(value)

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _regex(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a regular expression, got {value!r}")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


def _byte_count(value: Any) -> int:
    try:
        limit = parse_limit(value)
    except ValueError:
        limit = None
    if limit is None or limit.percent:
        raise ValueError(f"expected a size such as 1 or \"1 kB\", got {value!r}")
    return int(limit.value)


def _colour(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", value):
        raise ValueError(f"expected a colour such as \"#ffffff\", got {value!r}")
    return value.lower()


def _list_of(item: Check, *, allow_empty: bool) -> Check:
    def check(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {value!r}")
        if not value and not allow_empty:
            raise ValueError("must not be empty")
        items = tuple(item(v) for v in value)
        if len(set(items)) != len(items):
            raise ValueError(f"lists {_first_duplicate(items)!r} twice")
        return items

    return check


def _first_duplicate(items: tuple[Any, ...]) -> Any:
    seen: set[Any] = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


def _quoted(choices: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f'"{c}"' for c in choices)


def _did_you_mean(value: Any, choices: Any) -> str:
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


# --- the settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quality:
    avif: int = _setting(
        60, "AVIF q60 keeps most of AVIF's size gain at the quality of WebP q80 (Pillow's own q75 wastes it)",
        _integer(1, 100))
    webp: int = _setting(80, "WebP q80 is what eleventy-img, sharp and Next.js converge on", _integer(1, 100))
    jpeg: int = _setting(
        80, "JPEG q80 progressive: the anchors' common default, visually lossless for photos", _integer(1, 100))


@dataclass(frozen=True)
class ImagesConfig:
    widths: tuple[int, ...] = _setting(
        (320, 640, 1280, 1920),
        "phone, small tablet, laptop and full-HD widths; the image's own width is always added, never upscaled",
        _list_of(_integer(1, 65_535), allow_empty=False))
    formats: tuple[str, ...] = _setting(
        ("avif", "webp"), "AVIF first (smallest), WebP for browsers without AVIF; the fallback is separate",
        _list_of(_one_of("avif", "webp"), allow_empty=True))
    fallback: str = _setting(
        "source", "the source's own format works everywhere the original did",
        _one_of("source", "jpeg", "png", "webp"))
    background: str = _setting(
        "#ffffff", "used only when alpha must be flattened (a forced JPEG fallback): white, never black",
        _colour)
    sizes: str = _setting(
        "100vw", "what a browser assumes without layout information: the image spans the viewport", _text)
    max_pixels: int = _setting(
        100_000_000, "refuses decompression bombs before decoding; 100 MP is above any real photo",
        _integer(1, 2**40))
    timeout: float = _setting(
        300.0, "seconds per image: a stuck or pathological encode stops there; a 24 MP photo takes about 15 s "
               "here, a 100 MP one about a minute",
        _number(0.0, 86_400.0))
    negotiate: bool = _setting(
        True, "same-URL .avif/.webp sidecars reach images that only JavaScript names (Vite/React apps)",
        _boolean)
    optimize_originals: bool = _setting(
        False,
        "replacing a file the user's build made is opt-in (lossless PNG, smaller JPEG); needs assetpipe[originals]",
        _boolean)
    avif_speed: int = _setting(
        7, "libaom speed 7: a cold build of the corpus photos in 0.72x the time of speed 6 for AVIF files 4 % "
           "larger and a little worse; 6 for the smallest files; 4 and below take 3-7x the time of 6",
        _integer(0, 10))
    webp_method: int = _setting(
        4, "libwebp method 6 takes 2.5x the time (36x with alpha) for 3-4 % smaller files", _integer(0, 6))
    webp_alpha_quality: int = _setting(
        100, "transparency edges stay exact; a lossy alpha plane saves little and frays them", _integer(0, 100))
    subsampling: str = _setting(
        "4:2:0", 'JPEG and AVIF chroma: 4:2:0 is what every anchor uses for photos; "4:4:4" keeps sharp colour '
                 "edges (text, line art) for larger files; greyscale AVIF stays 4:0:0",
        _one_of("4:2:0", "4:4:4"))
    quality: Quality = field(default_factory=Quality, metadata={"section": True})


@dataclass(frozen=True)
class CompressConfig:
    formats: tuple[str, ...] = _setting(
        ("br", "gzip"),
        "Brotli for every current browser, gzip for the rest; zstd is opt-in (browsers send it over HTTPS only)",
        _list_of(_one_of("br", "gzip", "zstd"), allow_empty=True))
    min_ratio: float = _setting(
        0.95, "a sidecar under 5 % smaller is not worth a request's decompression (whitenoise's rule)",
        _number(0.0, 1.0))
    source_maps: bool = _setting(
        False, "browsers fetch .map files only with devtools open; they are most of a build's bytes",
        _boolean)
    gzip: str = _setting(
        "zlib", "zlib level 9 is fast; zopfli is about 5 % smaller and 50-100x slower",
        _one_of("zlib", "zopfli"))


@dataclass(frozen=True)
class HtmlConfig:
    rewrite: bool = _setting(
        True, "the <picture> rewrite is the point of responsive images; false leaves HTML byte-identical",
        _boolean)


@dataclass(frozen=True)
class MinifyConfig:
    html: bool = _setting(
        False, "rewrites a file the user's build made (Vite does not minify HTML); opt-in, per type or --minify",
        _boolean)
    css: bool = _setting(
        False, "opt-in: Vite already minifies its CSS; this is for CSS copied through public/ or other generators",
        _boolean)
    js: bool = _setting(
        False, "opt-in: Vite already minifies its JS; files with a source map reference are never touched",
        _boolean)
    svg: bool = _setting(
        False, "opt-in: SVGs are rasterised by browsers, so even a lossless rewrite is checked by tests, not trusted",
        _boolean)
    json: bool = _setting(
        False, "opt-in: only whitespace goes (numbers are kept as written); source maps are never touched",
        _boolean)

    def types(self) -> tuple[str, ...]:
        """The types to minify, in the config's order."""
        return tuple(name for name in ("html", "css", "js", "svg", "json") if getattr(self, name))


@dataclass(frozen=True)
class UploadRule:
    """One `upload.rules` entry: headers for the files whose path matches `glob` (and their sidecars)."""

    glob: str
    cache_control: str | None = None
    content_type: str | None = None


_RULE_KEYS = ("glob", "cache_control", "content_type")


def _upload_rules(value: Any) -> tuple[UploadRule, ...]:
    if not isinstance(value, list):
        raise ValueError(f'expected a list such as [{{ glob = "sw.js", cache_control = "no-cache" }}], got {value!r}')
    rules: list[UploadRule] = []
    for entry in value:
        if not isinstance(entry, dict):
            raise ValueError(f'expected a table such as {{ glob = "sw.js", cache_control = "no-cache" }}, '
                             f'got {entry!r}')
        for key in entry:
            if key not in _RULE_KEYS:
                raise ValueError(f"unknown key `{key}` in a rule{_did_you_mean(key, _RULE_KEYS)}")
        if not isinstance(entry.get("glob"), str) or not entry["glob"]:
            raise ValueError(f"every rule needs a `glob`, got {entry!r}")
        if len(entry) == 1:
            raise ValueError(f"rule {entry['glob']!r} sets nothing: give cache_control, content_type or both")
        for key in ("cache_control", "content_type"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                raise ValueError(f"{key} of rule {entry['glob']!r} must be a non-empty string, got {entry[key]!r}")
        rules.append(UploadRule(entry["glob"], entry.get("cache_control"), entry.get("content_type")))
    return tuple(rules)


@dataclass(frozen=True)
class UploadConfig:
    target: str = _setting("command", "a program of your own needs no credentials in assetpipe",
                           _one_of("command", "s3"))
    command: str = _setting("", "the program that gets the upload plan as JSON on stdin; none by default",
                            _text)
    bucket: str = _setting("", "the s3 bucket; none by default", _text)
    prefix: str = _setting("", "key prefix inside the bucket; empty uploads to its root", _text)
    endpoint_url: str = _setting("", "empty means AWS itself; set it for any other S3-compatible store", _text)
    region: str = _setting("", "empty takes the region from the usual AWS environment", _text)
    max_deletes: int = _setting(
        256, "caps pruning so a wrong prefix cannot empty a bucket (s3deploy's and hugo deploy's cap)",
        _integer(0, 1_000_000))
    prune: bool = _setting(False, "deleting live objects is opt-in", _boolean)
    prune_grace_hours: int = _setting(
        168, "a tab opened before a deploy lazy-loads that deploy's chunks for days; prune only older objects",
        _integer(0, 1_000_000))
    workers: int = _setting(
        10, "parallel requests to the store (s3deploy's and hugo deploy's default); bounded, to be throttled less",
        _integer(1, 256))
    command_per_phase: bool = _setting(
        False, "one call gets the whole ordered plan; true runs the command once per phase ($ASSETPIPE_PHASE)",
        _boolean)
    exclude: tuple[str, ...] = _setting(
        (".vite/**",), "Vite's manifest is build metadata, not for browsers; assetpipe's own is never uploaded",
        _list_of(_text, allow_empty=True))
    rules: tuple[UploadRule, ...] = _setting(
        (), "header overrides by glob, first match wins: { glob, cache_control, content_type }; sidecars follow",
        _upload_rules)


@dataclass(frozen=True)
class DiffConfig:
    metric: str = _setting(
        "brotli", "what a precompressing server sends every current browser (size-limit's default too)",
        _one_of("brotli", "gzip", "raw"))
    hash_pattern: str = _setting(
        "", "empty: Vite's and webpack's hashes become `*` (see README), so a renamed chunk is changed, not new",
        _regex)
    ignore: tuple[str, ...] = _setting(
        ("**/*.map", ".vite/**"),
        "source maps load only with devtools open and Vite's manifest is build metadata: neither reaches users",
        _list_of(_text, allow_empty=True))
    min_change: int = _setting(
        1, "bytes of the headline metric from which a file counts as changed (compressed-size-action's 1 B)",
        _byte_count)
    max_rows: int = _setting(
        50, "changed files listed in a PR comment; the rest are counted, keeping it under GitHub's size limit",
        _integer(1, 100_000))
    lighthouse_budget: str = _setting(
        "", "a Lighthouse budget.json whose resourceSizes (KiB) and resourceCounts become error-level budgets",
        _text)


@dataclass(frozen=True)
class WatchConfig:
    quiet_ms: int = _setting(
        200, "a build tool writes a burst of files within this; short enough that outputs follow in a moment",
        _integer(10, 10_000))
    settle_ms: int = _setting(
        50,
        "quiet period while each event put a whole file in place (at most quiet_ms); a tool's next file comes in it",
        _integer(1, 10_000))


@dataclass(frozen=True)
class Budget:
    """One `[budgets]` entry: a limit for a glob, a type, the total, or growth versus the base."""

    name: str
    warn: Limit | None = None
    error: Limit | None = None
    min_bytes: Limit | None = None


@dataclass(frozen=True)
class Config:
    images: ImagesConfig = field(default_factory=ImagesConfig)
    compress: CompressConfig = field(default_factory=CompressConfig)
    html: HtmlConfig = field(default_factory=HtmlConfig)
    upload: UploadConfig = field(default_factory=UploadConfig)
    minify: MinifyConfig = field(default_factory=MinifyConfig)
    diff: DiffConfig = field(default_factory=DiffConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    budgets: tuple[Budget, ...] = ()

    @property
    def has_budgets(self) -> bool:
        """Whether `build` has budgets to check ([budgets] or a Lighthouse budget file)."""
        return bool(self.budgets or self.diff.lighthouse_budget)


_SECTIONS: dict[str, type] = {
    "images": ImagesConfig,
    "compress": CompressConfig,
    "html": HtmlConfig,
    "upload": UploadConfig,
    "minify": MinifyConfig,
    "diff": DiffConfig,
    "watch": WatchConfig,
}
_BUDGET_KEYS = ("warn", "error", "min_bytes")


def with_all_minified(config: Config) -> Config:
    """`--minify`: every [minify] type on for this run."""
    return replace(config, minify=MinifyConfig(html=True, css=True, js=True, svg=True, json=True))


# --- describing (for the README table and config/assetpipe.toml) --------------------------------


@dataclass(frozen=True)
class KeyDoc:
    key: str  # dotted, e.g. "compress.min_ratio"
    default: Any
    reason: str


def describe() -> list[KeyDoc]:
    """Every key with its default and reason, in declaration order."""
    docs: list[KeyDoc] = []
    for section, cls in _SECTIONS.items():
        docs.extend(_describe(cls, section))
    return docs


def _describe(cls: type, prefix: str) -> list[KeyDoc]:
    docs: list[KeyDoc] = []
    instance = cls()
    for f in fields(cls):
        if f.metadata.get("section"):
            docs.extend(_describe(type(getattr(instance, f.name)), f"{prefix}.{f.name}"))
        else:
            docs.append(KeyDoc(f"{prefix}.{f.name}", getattr(instance, f.name), f.metadata["reason"]))
    return docs


def toml_value(value: Any) -> str:
    """A default written as TOML, as the README table and config/assetpipe.toml show it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if value >= 100_000 else str(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


# --- loading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    source: str | None  # the file it came from, for messages; None for the defaults


def load(explicit: Path | None, cwd: Path) -> LoadedConfig:
    """Find and validate the config: --config PATH, ./assetpipe.toml, or [tool.assetpipe] in ./pyproject.toml."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError([f"{explicit}: no such config file"])
        return _load_file(explicit, pyproject=explicit.name == "pyproject.toml")
    own = cwd / "assetpipe.toml"
    if own.is_file():
        return _load_file(own, pyproject=False, label="assetpipe.toml")
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        return _load_file(pyproject, pyproject=True, label="pyproject.toml")
    return LoadedConfig(Config(), None)


def _load_file(path: Path, *, pyproject: bool, label: str | None = None) -> LoadedConfig:
    label = label or str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{label}: invalid TOML: {exc}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{label}: cannot read: {getattr(exc, 'strerror', None) or exc}"]) from None
    if pyproject:
        table = data.get("tool", {}).get("assetpipe")
        if table is None:
            return LoadedConfig(Config(), None)
        label = f"{label} [tool.assetpipe]"
        data = table
    return LoadedConfig(parse(data, label), label)


def parse(data: Mapping[str, Any], label: str) -> Config:
    """Validate a whole config table; raise ConfigError listing every problem."""
    problems: list[str] = []
    known = [*_SECTIONS, "budgets"]
    for key in data:
        if key not in known:
            problems.append(f"{label}: {key}: unknown section{_did_you_mean(key, known)}")
    values: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        if section in data:
            values[section] = _parse_table(cls, data[section], section, label, problems)
    if "budgets" in data:
        values["budgets"] = _parse_budgets(data["budgets"], label, problems)
    if problems:
        raise ConfigError(problems)
    return Config(**values)


def _parse_table(cls: type, raw: Any, prefix: str, label: str, problems: list[str]) -> Any:
    if not isinstance(raw, dict):
        problems.append(f"{label}: {prefix}: expected a table ([{prefix}]), got {raw!r}")
        return cls()
    names = [f.name for f in fields(cls)]
    for key in raw:
        if key not in names:
            problems.append(f"{label}: {prefix}.{key}: unknown key{_did_you_mean(key, names)}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in raw:
            continue
        key = f"{prefix}.{f.name}"
        if f.metadata.get("section"):
            nested = f.default_factory() if f.default_factory is not MISSING else None
            values[f.name] = _parse_table(type(nested), raw[f.name], key, label, problems)
            continue
        try:
            values[f.name] = f.metadata["check"](raw[f.name])
        except ValueError as exc:
            problems.append(f"{label}: {key}: {exc}")
    return replace(cls(), **values)


def _parse_budgets(raw: Any, label: str, problems: list[str]) -> tuple[Budget, ...]:
    if not isinstance(raw, dict):
        problems.append(f"{label}: budgets: expected a table ([budgets]), got {raw!r}")
        return ()
    budgets: list[Budget] = []
    for name in sorted(raw):
        entry, key = raw[name], f"budgets.{name}"
        if not isinstance(entry, dict):
            problems.append(f'{label}: {key}: expected a table such as {{ error = "150 kB" }}, got {entry!r}')
            continue
        limits: dict[str, Limit] = {}
        for part, value in entry.items():
            if part not in _BUDGET_KEYS:
                problems.append(f"{label}: {key}.{part}: unknown key{_did_you_mean(part, _BUDGET_KEYS)}")
                continue
            try:
                limits[part] = parse_limit(value)
            except ValueError as exc:
                problems.append(f"{label}: {key}.{part}: {exc}")
        if not ({"warn", "error"} & entry.keys()):
            problems.append(f"{label}: {key}: needs `warn`, `error` or both")
        growth = any(limit.percent for part, limit in limits.items() if part != "min_bytes")
        if growth and "min_bytes" not in entry:
            problems.append(f'{label}: {key}: a growth limit in % also needs a byte floor, e.g. min_bytes = "1 kB"')
        if "min_bytes" in limits and limits["min_bytes"].percent:
            problems.append(f"{label}: {key}.min_bytes: must be a size in bytes, not a percentage")
        problems.extend(f"{label}: {key}: {p}" for p in _budget_shape(name, entry, limits))
        budgets.append(Budget(name, limits.get("warn"), limits.get("error"), limits.get("min_bytes")))
    return tuple(budgets)


def _budget_shape(name: str, entry: dict[str, Any], limits: dict[str, Limit]) -> list[str]:
    """What a budget's limits must agree on: all bytes or all % (with min_bytes only for %); whole files for count."""
    levels = [limits[p] for p in ("warn", "error") if p in limits]
    if len({limit.percent for limit in levels}) > 1:
        return ["`warn` and `error` must both be sizes or both percentages of growth"]
    if name == "count":
        if any(isinstance(entry.get(p), str) or limit.percent or limit.value != int(limit.value)
               for p, limit in limits.items() if p in ("warn", "error")):
            return ["a file count takes whole numbers, e.g. { error = 200 }"]
        if "min_bytes" in entry:
            return ["min_bytes applies to growth limits in %, not to a file count"]
    if name == "growth" and levels and not levels[0].percent:
        return ['growth takes percentages, e.g. { error = "10%", min_bytes = "1 kB" }; limit sizes with `total`']
    if levels and not levels[0].percent and "min_bytes" in entry:
        return ["min_bytes applies only to growth limits in %"]
    return []
