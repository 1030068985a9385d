"""Path globs for budgets and `diff.ignore`, matched against POSIX paths relative to the build folder.

`*` and `?` stay inside one folder, `**/` spans any number of folders (none included) and a trailing
`**` everything below; `[abc]` is a character class. A glob is anchored at the build folder, as
size-limit's and bundlewatch's are: `assets/*.js` does not match `assets/nested/x.js`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def matches(pattern: str, path: str) -> bool:
    return compile_glob(pattern).fullmatch(path) is not None


def is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def matching(pattern: str, paths: Iterable[str]) -> list[str]:
    regex = compile_glob(pattern)
    return [p for p in paths if regex.fullmatch(p)]
