"""The value checks of the config's keys: each takes a value as TOML gave it and returns it normalised,
or raises ValueError with the fix ("did you mean `formats`?"). `_setting` ties a key's default, its
reason and its check together; `sections` declares every key with it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import field
from typing import Any

from ..units import parse_limit

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


def _executor(value: Any) -> str:
    from ..executors.seam import parse_executor

    return parse_executor(value).name


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


def _viewport(value: Any) -> str:
    found = re.fullmatch(r"([0-9]{2,5})x([0-9]{2,5})", value.strip()) if isinstance(value, str) else None
    if found is None or not all(int(n) > 0 for n in found.groups()):
        raise ValueError(f'expected a viewport WIDTHxHEIGHT in CSS px such as "412x915", got {value!r}')
    return f"{int(found.group(1))}x{int(found.group(2))}"


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

