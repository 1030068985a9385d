"""Byte sizes as people write them ("150 kB", "2 MiB", "10%") and as the terminal shows them.

`kB` and `MB` are decimal (1000), `KiB` and `MiB` binary (1024), as size-limit, Vite and Angular
count them; a bare number is bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS: dict[str, int] = {"B": 1, "kB": 1000, "KiB": 1024, "MB": 1000**2, "MiB": 1024**2}
_SIZE = re.compile(r"^\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z%]*)\s*$")


@dataclass(frozen=True)
class Limit:
    """A budget limit: a number of bytes, or a percentage of growth."""

    value: float
    percent: bool = False


def parse_limit(text: object) -> Limit:
    """Parse "150 kB", "1.5 MiB", "10%" or a bare number of bytes; ValueError says what is accepted."""
    if isinstance(text, bool) or not isinstance(text, int | float | str):
        raise ValueError(f"expected a size such as \"150 kB\" or \"10%\", got {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"a size cannot be negative, got {text!r}")
        return Limit(float(text))
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"expected a size such as \"150 kB\" or \"10%\", got {text!r}")
    number, unit = float(match["num"]), match["unit"] or "B"
    if unit == "%":
        return Limit(number, percent=True)
    if unit not in UNITS:
        hint = next((u for u in UNITS if u.lower() == unit.lower()), None)
        fix = f"; did you mean `{hint}`?" if hint else f"; use one of {', '.join(UNITS)} or %"
        raise ValueError(f"unknown unit {unit!r} in {text!r}{fix}")
    return Limit(number * UNITS[unit])


def human(size: float) -> str:
    """Bytes in decimal units, as the summary line and reports print them."""
    for unit, factor in (("MB", 1000**2), ("kB", 1000)):
        if abs(size) >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{int(size)} B"
