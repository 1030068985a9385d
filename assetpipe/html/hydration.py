"""Hydrated pages (SPEC §2.2): which framework hydrates the part of a page an `<img>` sits in, and whether that
framework keeps static markup that differs from what it rendered or replaces it. Pure: a page's text and
its tags in, one decision per tag out.

Each framework is found by its own markers in its real output (fixtures/hydrated/, built by its generate.sh),
and what it does with a `<picture>` in place of its `<img>` was measured in Chromium on that output
(tests/test_hydration.py builds each fixture with `html.hydrated = "picture"` and looks for a hydration
error, a `<picture>` gone, an image fetched twice, the DOM after hydration; docs/hydration.md has the table):

| framework | root | with a `<picture>` |
|---|---|---|
| Next.js (App Router) | the whole document (`self.__next_f` scripts: React hydrates `document`) | replaced (#418) |
| Next.js (Pages Router) | `<div id="__next">` | React, as the App Router |
| Nuxt 3 | `<div id="__nuxt">` | replaced |
| Vue SSR with `data-server-rendered` (Nuxt 2, Vue 2) | that element | not measured; Vue 2 renders again |
| SvelteKit | `<body>` (the start script's parent, where `%sveltekit.body%` is) | bound: dynamic attributes set on it |
| Astro | each `<astro-island>` (static HTML outside islands is never hydrated) | replaced (a React island) |
| VitePress 1 | `<div id="app">` on a page VitePress made (`__VP_SITE_DATA__`) | kept in Markdown, not by a component |

So each of them counts as one that `replaces`: restructuring its markup is not safe.

A marker nearer the image wins (an island inside a page); a framework that hydrates a whole page counts
where no element marks a root. A root of a framework not listed is not recognised: its images get the
`<picture>` as any static page's do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .parse import HTML_NS, _Open, _Tag

ATTRIBUTES, PICTURE, SKIP = "attributes", "picture", "skip"  # the values of `html.hydrated`


@dataclass(frozen=True)
class Framework:
    name: str
    replaces: bool  # re-renders (or binds to) markup that differs from what it rendered: measured, see above


NEXT = Framework("next", replaces=True)
NUXT = Framework("nuxt", replaces=True)
VUE_SSR = Framework("vue-ssr", replaces=True)
SVELTEKIT = Framework("sveltekit", replaces=True)
ASTRO = Framework("astro", replaces=True)
VITEPRESS = Framework("vitepress", replaces=True)

# Whole-page signatures, read from the page's text: the scripts that start hydration.
_NEXT_APP = re.compile(r"self\.__next_f\b")  # the App Router's flight data: React hydrates `document`
_SVELTEKIT = re.compile(r"__sveltekit_[A-Za-z0-9_$]*\s*=")  # the start script's globals, before kit.start(app, …)
_VITEPRESS = re.compile(r"__VP_SITE_DATA__|<meta\s[^>]*content=[\"']?VitePress\b")


@dataclass(frozen=True)
class Hydration:
    """What hydrates a page: the whole-page framework, if any, and whether VitePress made it."""

    whole: Framework | None  # hydrates the whole document (Next.js App Router) or the body (SvelteKit)
    vitepress: bool

    @classmethod
    def of(cls, text: str) -> Hydration:
        whole = NEXT if _NEXT_APP.search(text) else SVELTEKIT if _SVELTEKIT.search(text) else None
        return cls(whole, bool(_VITEPRESS.search(text)))

    def framework(self, tag: _Tag) -> Framework | None:
        """The framework whose root holds this tag, the nearest marker first; None on a static part."""
        for element in reversed(tag.open):
            found = self._root(element)
            if found is not None:
                return found
        if self.whole is SVELTEKIT and not any(el.name == "body" for el in tag.open):
            return None  # SvelteKit hydrates inside the body only
        return self.whole

    def _root(self, element: _Open) -> Framework | None:
        if element.namespace not in (None, HTML_NS):
            return None
        if element.name == "astro-island":
            return ASTRO
        attrs = dict(reversed(element.attrs))
        ident = attrs.get("id")
        if ident == "__next":
            return NEXT
        if ident == "__nuxt":
            return NUXT
        if "data-server-rendered" in attrs:
            return VUE_SSR
        if ident == "app" and self.vitepress:
            return VITEPRESS
        return None

    def treatment(self, tag: _Tag, setting: str) -> str:
        """How an `<img>` (or an earlier run's `<picture>`) at this tag is written: PICTURE where no framework
        hydrates it or its framework keeps markup, else what `html.hydrated` says."""
        framework = self.framework(tag)
        if framework is None or not framework.replaces:
            return PICTURE
        return setting
