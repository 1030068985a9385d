"""Loading: find the config file, read it, and validate the whole table at once.

Every problem is reported, not just the first, as `file: key: message`, with a suggestion where a key
looks misspelt; nothing is returned unless all of it is valid.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..model import ConfigError
from ..units import Limit, parse_limit
from .checks import _did_you_mean
from .sections import _SECTIONS, Budget, Config

_BUDGET_KEYS = ("warn", "error", "min_bytes")


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
        tool = data.get("tool", {})
        table = tool.get("assetpipe") if isinstance(tool, dict) else None
        if table is None:
            return LoadedConfig(Config(), None)
        label = f"{label} [tool.assetpipe]"
        if not isinstance(table, dict):
            raise ConfigError([f"{label}: expected a table ([tool.assetpipe] with sections such as [tool.assetpipe."
                               f"images]), got {table!r}"])
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
