"""How one build counts its work (encoded now, taken from the cache, already on disk) and reports a
file that failed: to the Observer at once, and into the result's failures.
"""

from __future__ import annotations

from types import MappingProxyType

from ..model import Action, Failure, Observer

_COUNTED = MappingProxyType({Action.ENCODE: "encoded", Action.CACHED: "cache_hits", Action.FRESH: "up_to_date"})


def _count(work: Action, counts: dict[str, int]) -> None:
    """One output's work in the build's counts: encoded now, taken from the cache, or already on disk."""
    counts[_COUNTED[work]] += 1


def _report(observer: Observer, failure: Failure) -> Failure:
    observer.failure(failure)
    return failure


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
