"""The rules of a `_headers` file: few path patterns that give every URL its own Cache-Control, and no
URL one it would not have had, as Netlify and Cloudflare Pages read them.

Both platforms apply every rule whose pattern matches a request and join the values of a header set
twice with a comma, so no two rules may reach one URL. A pattern is an exact path or holds one `*`
(Cloudflare takes no more), which matches any run of characters, slashes included: `/assets/*`,
`/icons/arrow-*` (a prefix), `/img/*.avif` (a prefix and a suffix). The URLs are cut into groups by
their characters, from the front (a folder, the start of a name) and, where that takes fewer rules,
from the back (an extension, the end of a name); a group whose URLs share one value is one rule. A
pattern also reaches paths that are no file of the build, and a single-page app's routes (`/dashboard`)
are answered with its index.html by the platform's fallback: so no pattern ends in `*` at the top level
(`/d*`, `/icons*`), where such routes live.

The two platforms read a pattern differently. Cloudflare's rules engine (workers-sdk) turns `*` into `.*`
and matches the rest as written; Netlify (netlify/build's headers-parser) ignores case, lets a trailing
slash be absent, makes the slash before a whole-segment `*` optional (`/icons/*` also matches
`/icons-sprite.svg`) and leaves a `.` in a segment that has a `*` as a regex wildcard. So a pattern is
used only when, read either way, it reaches the URLs of its group and no other (a sidecar, which no
browser asks for by name, only with its original's value); otherwise the group is split further. An
exact path can still reach another URL on Netlify (names that differ only in case, `/about` and
`/about/`): a page's pretty URL then goes without a rule (the platform's default revalidates it, as
`no-cache` does), any other URL is a HeadersError.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..model import AssetpipeError


class HeadersError(AssetpipeError):
    """No set of rules can tell two URLs apart on both platforms."""


@dataclass(frozen=True)
class Rule:
    pattern: str  # an exact path, or a path with one `*`
    value: str  # the Cache-Control it gives
    urls: tuple[str, ...]  # the URLs it is for, sorted


def merge(values: Mapping[str, str], optional: Mapping[str, str] | None = None,
          dispensable: frozenset[str] = frozenset()) -> tuple[Rule, ...]:
    """Rules, sorted by pattern, that give each URL of `values` its value and reach no URL twice. An
    `optional` URL (a sidecar) may be left to the platform's default, never given another value than its
    own; a `dispensable` URL of `values` (a page's pretty URL) may be left to the default when its own
    exact rule would reach another URL."""
    reach = _Reach(values, optional or {})
    rules: list[Rule] = []
    for rule in _cover(reach, sorted(values), 0):
        stray = reach.stray(rule)  # only an exact rule can stray: a splat was checked before it was chosen
        if rule.urls[0] in dispensable and stray:
            continue  # and its own rule, reaching this one's URL in turn, is kept or refused below
        wrong = [url for url in stray if url not in dispensable or values[url] != rule.value]
        if wrong:
            raise HeadersError(f"{rule.pattern} and {wrong[0]} differ only in case or a trailing slash, which "
                               "Netlify does not tell apart: _headers cannot give them different headers")
        rules.append(rule)
    return tuple(sorted(rules, key=lambda rule: rule.pattern))


def _shared(first: str, last: str) -> int:
    """How many characters the two begin with alike."""
    for i, (a, b) in enumerate(zip(first, last, strict=False)):
        if a != b:
            return i
    return min(len(first), len(last))


def _uniform(reach: _Reach, urls: list[str]) -> str | None:
    value = reach.values[urls[0]]
    return value if all(reach.values[url] == value for url in urls) else None


def _cover(reach: _Reach, urls: list[str], start: int) -> list[Rule]:
    """Rules for `urls` (sorted, at least one), which are every URL that begins with their first `start`
    characters."""
    if len(urls) == 1:
        return [reach.exact(urls[0])]
    common = urls[0][: _shared(urls[0], urls[-1])]  # sorted: what the first and last share, all share
    value = _uniform(reach, urls)
    if value is not None:
        ends = sorted(url[::-1] for url in urls)
        suffix = ends[0][: min(_shared(ends[0], ends[-1]), min(map(len, urls)) - len(common))][::-1]
        folder = common[: common.rfind("/") + 1]
        heads = ([folder] if len(folder) >= start else []) + [common]
        # A whole folder reads best; with a suffix, `*` is not a whole segment, whose slash Netlify drops.
        # No prefix splat at the top (`/d*`): a single-page app's routes (`/dashboard`, answered with
        # index.html by the platform's fallback) would get its value.
        candidates = [p for head in heads for p in (head + "*", head + "*" + suffix) if "/" in p[1:] or p[-1] != "*"]
        for pattern in dict.fromkeys(candidates):
            if reach.only(pattern, urls):
                return [Rule(pattern, value, tuple(urls))]
    front = _from_front(reach, urls, len(common))
    back = _from_back(reach, urls, common)
    return back if len(back) < len(front) else front


def _from_front(reach: _Reach, urls: list[str], common: int) -> list[Rule]:
    """Split by the character after the URLs' common prefix: `/icons/a…`, `/icons/b…`."""
    split = _split((url for url in urls if len(url) > common), lambda url: url[common])
    rules = [reach.exact(url) for url in (*(url for url in urls if len(url) == common), *split.apart)]
    for group in split.groups:
        rules += _cover(reach, list(group), common + 1)
    return rules


def _from_back(reach: _Reach, urls: list[str], prefix: str) -> list[Rule]:
    """Split by extension, then by the characters before it: `/img/*.avif`, `/img/*0w.jpg`. A URL whose
    last segment has no extension (`/about`, `/docs/`) gets an exact rule: no suffix pattern can reach it
    without reaching others."""
    def extension(url: str) -> str:
        name = url[len(prefix):].rsplit("/", 1)[-1]
        return name[name.rfind("."):] if "." in name else ""

    split = _split((url for url in urls if extension(url)), extension)
    rules = [reach.exact(url) for url in (*(url for url in urls if not extension(url)), *split.apart)]
    for group in split.groups:
        rules += _cover_back(reach, list(group), prefix, extension(group[0]))
    return rules


def _cover_back(reach: _Reach, urls: list[str], prefix: str, suffix: str) -> list[Rule]:
    """Rules for `urls` (at least one), which are every URL that begins with `prefix` and ends with
    `suffix`, the two not overlapping."""
    if len(urls) == 1:
        return [reach.exact(urls[0])]
    ends = sorted(url[::-1] for url in urls)
    common = min(_shared(ends[0], ends[-1]), min(map(len, urls)) - len(prefix))
    value = _uniform(reach, urls)
    if value is not None and reach.only(prefix + "*" + suffix, urls):
        return [Rule(prefix + "*" + suffix, value, tuple(urls))]
    if value is not None and len(suffix) < common and reach.only(prefix + "*" + ends[0][:common][::-1], urls):
        return [Rule(prefix + "*" + ends[0][:common][::-1], value, tuple(urls))]
    split = _split((url for url in urls if len(url) > len(prefix) + common), lambda url: url[-common - 1])
    rules = [reach.exact(url) for url in (*(url for url in urls if len(url) == len(prefix) + common),
                                          *split.apart)]
    for group in split.groups:
        rules += _cover_back(reach, list(group), prefix, group[0][-common - 1:])
    return rules


@dataclass(frozen=True)
class _Split:
    groups: tuple[tuple[str, ...], ...]  # by key, in key order
    apart: tuple[str, ...]  # the URLs of keys that differ in case only: no pattern separates them on Netlify


def _split(urls: Iterable[str], key: Callable[[str], str]) -> _Split:
    keyed: dict[str, dict[str, list[str]]] = {}
    for url in urls:
        exact = key(url)
        keyed.setdefault(exact.lower(), {}).setdefault(exact, []).append(url)
    groups: list[tuple[str, ...]] = []
    apart: list[str] = []
    for folded in sorted(keyed):
        spellings = keyed[folded]
        if len(spellings) == 1:
            groups.extend(tuple(group) for group in spellings.values())
        else:
            apart.extend(url for spelling in sorted(spellings) for url in spellings[spelling])
    return _Split(tuple(groups), tuple(apart))


class _Reach:
    """Which URLs a pattern reaches on Cloudflare Pages or on Netlify."""

    def __init__(self, values: Mapping[str, str], optional: Mapping[str, str]) -> None:
        self.values = values
        self.everything = {**optional, **values}
        self.by_case = sorted(self.everything)
        self.by_fold = sorted(self.everything, key=str.lower)
        self.folded = [url.lower() for url in self.by_fold]

    def exact(self, url: str) -> Rule:
        return Rule(url, self.values[url], (url,))

    def only(self, pattern: str, urls: list[str]) -> bool:
        """Whether the pattern reaches every one of `urls` and no other URL (a sidecar only with their value)."""
        reached = self.reached(pattern)
        mine = set(urls)
        value = self.values[urls[0]]
        return mine <= reached and all(url not in self.values and self.everything[url] == value
                                       for url in reached - mine)

    def stray(self, rule: Rule) -> list[str]:
        """The URLs the rule reaches but must not."""
        mine = set(rule.urls)
        return sorted(url for url in self.reached(rule.pattern) if url not in mine
                      and (url in self.values or self.everything[url] != rule.value))

    def reached(self, pattern: str) -> set[str]:
        head = pattern.split("*", 1)[0]
        cloudflare = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
        found = {self.by_case[i] for i in _starting(self.by_case, head) if cloudflare.fullmatch(self.by_case[i])}
        # Netlify: no case, `.` a wildcard once a `*` is in its segment, the slash before `*` optional
        netlify = _netlify(pattern)
        loose = head.lower().split(".", 1)[0].rstrip("/")
        found.update(self.by_fold[i] for i in _starting(self.folded, loose) if netlify.match(self.by_fold[i]))
        return found


def _starting(ordered: list[str], prefix: str) -> range:
    """The indexes of the items of a sorted list of ASCII strings that begin with `prefix`."""
    return range(bisect.bisect_left(ordered, prefix), bisect.bisect_right(ordered, prefix + "\x7f"))


def _netlify(pattern: str) -> re.Pattern[str]:
    """A pattern as netlify/build's headers-parser compiles it (getForRegExp)."""
    def segment(part: str) -> str:
        if part == "*":
            return "?(.*)"
        return part.replace("*", "(.*)") if "*" in part else re.escape(part)

    parts = [part.rstrip() for part in pattern.split("/") if part.rstrip()]
    return re.compile("^/" + "/".join(segment(part) for part in parts) + "/?$", re.IGNORECASE)
