"""The settings: every key of every section, its default and the reason for it, in one place.

The config table of docs/config.md (the README links to it) and `config/assetpipe.toml` are checked
against `describe()` by a test, so the three never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..units import Limit
from .checks import (
    _boolean,
    _byte_count,
    _colour,
    _did_you_mean,
    _executor,
    _integer,
    _list_of,
    _number,
    _one_of,
    _regex,
    _setting,
    _text,
    _viewport,
)

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
        "phone, small tablet, laptop and full-HD widths; the image's own width is always added, never upscaled; "
        "[] makes only the same-URL sidecars",
        _list_of(_integer(1, 65_535), allow_empty=True))
    variants_for: tuple[str, ...] = _setting(
        (), "width variants are made for the images a page's <img> shows; globs of images a script or CSS shows "
            "(the same-URL sidecars serve them at full size either way)",
        _list_of(_text, allow_empty=True))
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
        300.0, "seconds per image (0: no limit): a stuck or pathological encode stops there; a 24 MP photo takes "
               "about 15 s here, a 100 MP one about a minute",
        _number(0.0, 86_400.0))
    negotiate: bool = _setting(
        True, "same-URL .avif/.webp sidecars reach images that only JavaScript names (Vite/React apps)",
        _boolean)
    optimize_originals: bool = _setting(
        False,
        "replacing a file the user's build made is opt-in (lossless PNG, smaller JPEG); needs assetpipe[originals]",
        _boolean)
    avif_speed: int = _setting(
        8, "libaom speed 8: a cold build of the corpus photos in 0.65x the time of speed 7 for AVIF files 4 % "
           "larger, median quality still 1.8 above eleventy-img's; 6 or 7 for smaller files; 4 and below take "
           "3-7x the time of 6",
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
    eager: int = _setting(
        2, "the first N content images of a page (not in <nav>, <footer> or a <header> logo) are likely in the "
           "first viewport, so never lazy; the first large one gets fetchpriority high (SPEC 2.2)",
        _integer(0, 1000))
    eager_viewports: tuple[str, ...] = _setting(
        ("412x915", "1350x940"),
        "beyond the first `eager` images, those estimated from the HTML to start inside the first viewport of a "
        "phone (412x915, the tallest per width of the common ones) or a desktop (1350x940) are eager too: a wrong "
        "lazy costs LCP, a wrong eager a few kB; [] leaves the count alone",
        _list_of(_viewport, allow_empty=True))
    hydrated: str = _setting(
        "attributes", "an <img> in a hydrated root (Next.js, Nuxt, SvelteKit, Astro islands, VitePress) gets "
                      "attributes only: measured in Chromium, each framework re-renders a <picture> there or binds to "
                      "it (docs/hydration.md); \"picture\" restructures anyway, \"skip\" leaves such images alone",
        _one_of("attributes", "picture", "skip"))
    measure_lcp: bool = _setting(
        False, "opt-in: loading each page in Chromium finds its real LCP image, but needs Chromium and costs 1-2 s "
               "per page not yet in the cache (docs/build.md)",
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
class CacheConfig:
    immutable: tuple[str, ...] = _setting(
        (), "globs of files whose names carry a content hash, cached for a year like what Vite's manifest lists "
            "(e.g. [\"assets/**\"] when nothing unhashed goes there); empty: the manifest and the name rule decide",
        _list_of(_text, allow_empty=True))
    by_name: bool = _setting(
        True, "outside those, a name whose token looks random (a digit, a capital and a small letter in 8 "
              "characters, or hex with a digit and a letter) still counts as hashed, and each such file is "
              "reported; false: it never does",
        _boolean)


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
        50, "rows per list in a PR comment (changed files, unchanged folders, budgets); the rest counted and summed",
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
class BuildConfig:
    allow_delete: bool = _setting(
        False,
        "a build that would remove over 10 % of the folder's files whose sources are gone stops first "
        "(a lost or copied ledger, not an edit); true, or --allow-delete, goes ahead",
        _boolean)
    executor: str = _setting(
        "local", "this machine's cores need nothing else; \"dask://host:8786\" (a running Dask scheduler) or "
                 "\"dask-local:N\" (N worker processes) run the same plan on Dask, byte for byte; --executor, "
                 "needs assetpipe[dask]",
        _executor)


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
    cache: CacheConfig = field(default_factory=CacheConfig)
    minify: MinifyConfig = field(default_factory=MinifyConfig)
    diff: DiffConfig = field(default_factory=DiffConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
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
    "cache": CacheConfig,
    "minify": MinifyConfig,
    "diff": DiffConfig,
    "watch": WatchConfig,
    "build": BuildConfig,
}


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
