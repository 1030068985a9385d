"""What one page load is judged on besides its timings: images fetched twice, lazy images in the first
viewport, and the summary of several loads of one side (medians). Works on assetpipe.vitals' PageLoad
as plain data; tests/test_vitals.py uses the same checks.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

# assetpipe's variant names (`hero.3f9a1c2e.640w.avif`) and eleventy-img's (`AbC12xYz-640.avif`)
_VARIANT = re.compile(r"(?:\.[0-9a-f]{8,64}\.\d+w|-\d+)\.[A-Za-z0-9]+$")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]+$")


def image_key(url: str) -> str:
    """The image a URL is a rendition of: its path without the variant suffix or the extension."""
    path = urlsplit(url).path
    stem = _VARIANT.sub("", path)
    return _EXTENSION.sub("", stem) if stem == path else stem


def image_requests(load: Any) -> list[Any]:
    return [r for r in load.requests if r.resource_type == "Image" and not r.url.startswith("data:")]


def double_fetches(load: Any) -> list[str]:
    """Image URLs fetched more than once, and renditions fetched though no `<img>` shows them while
    another rendition of the same image is shown (a `<picture>` thrown away by hydration does that)."""
    requests = image_requests(load)
    counts = Counter(r.url for r in requests)
    found = [f"{urlsplit(url).path} fetched {n} times" for url, n in sorted(counts.items()) if n > 1]
    shown = {img.current_src for img in load.images if img.current_src}
    shown_keys = {image_key(url) for url in shown}
    for url in sorted(counts):
        if url not in shown and image_key(url) in shown_keys:
            found.append(f"{urlsplit(url).path} fetched, not shown (another rendition is)")
    return found


def lazy_in_viewport(load: Any, authored_lazy: set[int]) -> list[str]:
    """`<img>` elements in the first viewport that are lazy, but for those the author made lazy."""
    return [f"img {img.index} ({img.src})" for img in load.images
            if img.in_viewport and img.loading == "lazy" and img.index not in authored_lazy]


def lcp_element(load: Any) -> str:
    if load.lcp_image is not None:
        img = load.images[load.lcp_image]
        return f"img {load.lcp_image} {img.src} -> {img.current_src.rsplit('/', 1)[-1]}"
    return load.lcp_tag or "none"


def summarise(loads: list[Any], authored_lazy: set[int]) -> dict[str, Any]:
    """Medians of one side's loads of one page at one profile, and its checks over all loads."""
    def median(values: list[float]) -> float:
        return float(statistics.median(values)) if values else float("nan")

    first = loads[0]
    return {
        "loads": len(loads),
        "lcp_ms": median([x.lcp_ms for x in loads]),
        "lcp_ms_all": [round(x.lcp_ms, 1) for x in loads],
        "cls": median([x.cls for x in loads]),
        "cls_max": max(x.cls for x in loads),
        "bytes_total": median([x.bytes_total for x in loads]),
        "bytes_images": median([x.bytes_images for x in loads]),
        "lcp_elements": dict(Counter(lcp_element(x) for x in loads)),
        "double_fetches": sorted({d for x in loads for d in double_fetches(x)}),
        "lazy_in_viewport": sorted({d for x in loads for d in lazy_in_viewport(x, authored_lazy)}),
        "console_errors": sorted({e[:300] for x in loads for e in x.console_errors}),
        "images": [{"index": i.index, "src": i.src, "current_src": i.current_src, "loading": i.loading,
                    "fetchpriority": i.fetchpriority, "in_viewport": i.in_viewport,
                    "size": [i.width, i.height]} for i in first.images],
        "image_requests": [{"url": r.url, "bytes": r.encoded_bytes, "status": r.status}
                           for r in image_requests(first)],
    }
