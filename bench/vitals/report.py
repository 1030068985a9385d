"""The benchmark's markdown: one row per page and profile (medians), the ratios against the goals of
issue 23, and the checks. `python3 bench/vitals/report.py RESULTS/vitals.json` renders it again."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

GOAL_HAND, GOAL_ELEVENTY, GOAL_BYTES = 1.05, 0.8, 0.9


def _ms(side: dict[str, Any] | None) -> str:
    return "n/a" if side is None or math.isnan(side["lcp_ms"]) else f"{side['lcp_ms']:,.0f}"


def _kb(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1000:,.0f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or not b or math.isnan(a) or math.isnan(b) else a / b


def _judged(ratio: float | None, goal: float) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}" + ("" if ratio <= goal else " **✗**")


def ratios(row: dict[str, Any]) -> dict[str, float | None]:
    s = row["sides"]
    ap, hand, ele = (s.get(k) for k in ("assetpipe", "hand", "eleventy"))
    return {"lcp_vs_hand": _ratio(ap and ap["lcp_ms"], hand and hand["lcp_ms"]),
            "lcp_vs_eleventy": _ratio(ap and ap["lcp_ms"], ele and ele["lcp_ms"]),
            "image_bytes_vs_eleventy": _ratio(ap and ap["bytes_images"], ele and ele["bytes_images"])}


def markdown(data: dict[str, Any]) -> str:
    goals = (f"LCP ≤ {GOAL_HAND}x hand-tuned and ≤ {GOAL_ELEVENTY}x eleventy; "
             f"phone image bytes ≤ {GOAL_BYTES}x eleventy")
    out = [f"# Web vitals: untouched, eleventy-img, assetpipe, hand-tuned ({data['started']})", "",
           f"Medians of {data['rounds']} cold loads per side, interleaved; {data['machine']['cpus']} cores, "
           f"load average at the end {data['machine']['load_average']}; run took {data['duration_s']:.0f} s. "
           "LCP in ms; image and total bytes in kB as transferred. ✗: misses the goal "
           f"({goals}).",
           "",
           "| page | profile | LCP untouched | LCP eleventy | LCP assetpipe | LCP hand | ap/hand | ap/eleventy "
           "| img kB eleventy | img kB assetpipe | img ap/eleventy | total kB ap | CLS ap | LCP element (assetpipe) |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in data["rows"]:
        s, r = row["sides"], ratios(row)
        ap, ele = s.get("assetpipe"), s.get("eleventy")
        bytes_goal = GOAL_BYTES if row["profile"] == "phone" else math.inf
        cls = "n/a" if not ap else f"{ap['cls']:.3f}"
        element = ", ".join(f"{k} x{n}" for k, n in ap["lcp_elements"].items()) if ap else "n/a"
        out.append(f"| {row['site']}{row['page']} | {row['profile']} | {_ms(s.get('untouched'))} | {_ms(ele)} "
                   f"| {_ms(ap)} | {_ms(s.get('hand'))} | {_judged(r['lcp_vs_hand'], GOAL_HAND)} "
                   f"| {_judged(r['lcp_vs_eleventy'], GOAL_ELEVENTY)} | {_kb(ele and ele['bytes_images'])} "
                   f"| {_kb(ap and ap['bytes_images'])} | {_judged(r['image_bytes_vs_eleventy'], bytes_goal)} "
                   f"| {_kb(ap and ap['bytes_total'])} | {cls} | {element} |")
    out += ["", "## Checks (assetpipe's side, every load)", "",
            "| page | profile | double fetches | lazy in first viewport (not the author's) | console errors "
            "(assetpipe / untouched) | hand-tuned page |", "|---|---|---|---|---|---|"]
    for row in data["rows"]:
        ap, un = row["sides"].get("assetpipe"), row["sides"].get("untouched")
        if ap is None:
            continue
        errors = f"{len(ap['console_errors'])} / {len(un['console_errors']) if un else 'n/a'}"
        hand = row["hand"] + ("" if row.get("hand_check", True) else " (**not seen as high in the browser**)")
        doubles = ap["double_fetches"]
        double = "none" if not doubles else f"{len(doubles)}: " + "; ".join(doubles[:3])
        double += "; …" if len(doubles) > 3 else ""
        out.append(f"| {row['site']}{row['page']} | {row['profile']} | {double} "
                   f"| {'; '.join(ap['lazy_in_viewport']) or 'none'} | {errors} | {hand} |")
    errors = [(row, e) for row in data["rows"] for e in row["sides"].get("assetpipe", {}).get("console_errors", [])]
    if errors:
        out += ["", "Console errors on assetpipe's side:", ""]
        out += [f"- {row['site']}{row['page']} ({row['profile']}): `{' '.join(e.split())[:160]}`" for row, e in errors]
    if data["failures"]:
        out += ["", "Loads that failed:", ""] + [f"- {f}" for f in data["failures"]]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    from pathlib import Path
    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
