"""The web-vitals benchmark (issue 23): every page of every site, four sides, two profiles, in one run.

    python3 bench/vitals/bench.py --work DIR --results DIR --assetpipe-bin BIN [--rounds 5] [--sites S]

(bench/vitals/run.sh builds the generated sites first and calls this.) Sides: `untouched` and `eleventy`
served as a static host does (on-the-fly gzip), `assetpipe` and `hand` with assetpipe's nginx snippets.
The hand-tuned page is assetpipe's output with the untouched page's real LCP element (found by loading
the untouched page at that profile) made eager + `fetchpriority="high"`; it differs per profile.
Loads are cold and interleaved: page x profile x round x side, the side order rotating each round.
Needs only the standard library and assetpipe.vitals (the repository first on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import checks  # noqa: E402
import handtune  # noqa: E402
import report  # noqa: E402
import server  # noqa: E402
import sides  # noqa: E402

from assetpipe.vitals.browser import Browser, find_chromium  # noqa: E402
from assetpipe.vitals.pageload import PageLoadError, load_page  # noqa: E402
from assetpipe.vitals.profiles import DESKTOP, PHONE  # noqa: E402

SIDES = ("untouched", "eleventy", "assetpipe", "hand")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load(browser: Browser, url: str, profile: Any, failures: list[str]) -> Any | None:
    try:
        return load_page(browser, url, profile, timeout_s=120.0)
    except PageLoadError as exc:
        failures.append(f"{profile.name} {exc}")
        log(f"  load failed: {exc}")
        return None


def detect_lcp(browser: Browser, url: str, profile: Any, loads: int, failures: list[str]) -> tuple[int | None, Any]:
    """The untouched page's LCP element at this profile (the most frequent over `loads` loads)."""
    seen = [x for x in (load(browser, url, profile, failures) for _ in range(loads)) if x is not None]
    if not seen:
        return None, None
    index = Counter(x.lcp_image for x in seen).most_common(1)[0][0]
    return index, seen[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--assetpipe-bin", required=True)
    parser.add_argument("--repo", type=Path, default=HERE.parent.parent)
    parser.add_argument("--anchor", type=Path,
                        default=HERE.parent.parent.parent / "shared/bench/anchors/eleventy_transform.sh")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--detect-loads", type=int, default=2)
    parser.add_argument("--sites", default=None, help="only sites whose name contains this")
    parser.add_argument("--profiles", default="phone,desktop")
    parser.add_argument("--chromium", default=None)
    args = parser.parse_args()
    profiles = [p for p in (PHONE, DESKTOP) if p.name in args.profiles.split(",")]
    started = time.time()
    work, results = args.work.resolve(), args.results.resolve()
    results.mkdir(parents=True, exist_ok=True)

    sites_found = sides.discover(args.repo, work, args.sites)
    log(f"sites: {', '.join(f'{s.name} {list(s.pages)}' for s in sites_found)}")
    roots: dict[tuple[str, str], Path] = {}
    notes: dict[str, Any] = {}
    for site in sites_found:
        log(f"{site.name}: eleventy-img transform")
        roots[site.name, "eleventy"], eleventy_note = sides.eleventy_side(site, work, args.anchor)
        log(f"{site.name}: assetpipe build --out")
        roots[site.name, "assetpipe"], code, stderr = sides.assetpipe_side(site, work, args.assetpipe_bin)
        notes[site.name] = {"eleventy": eleventy_note, "assetpipe_exit": code, "assetpipe_stderr": stderr}
        roots[site.name, "untouched"] = site.root
        for profile in profiles:
            hand = work / "sides" / site.name / f"hand-{profile.name}"
            shutil.rmtree(hand, ignore_errors=True)
            shutil.copytree(roots[site.name, "assetpipe"], hand)
            roots[site.name, f"hand-{profile.name}"] = hand

    ports = {key: server.free_port() for key in roots}
    servers = {ports[key]: (root, "assetpipe" if key[1] in ("assetpipe", "hand-phone", "hand-desktop") else "static")
               for key, root in roots.items()}
    failures: list[str] = []
    rows: list[dict[str, Any]] = []
    raw = results / "vitals-raw"
    raw.mkdir(exist_ok=True)
    chromium = find_chromium(args.chromium)
    with server.Nginx(work / "nginx", servers, args.assetpipe_bin), Browser(chromium) as browser:
        for site in sites_found:
            for page in site.pages:
                for profile in profiles:
                    def url(side: str, site: sides.Site = site, page: str = page, profile: Any = profile) -> str:
                        key = f"hand-{profile.name}" if side == "hand" else side
                        return f"http://127.0.0.1:{ports[site.name, key]}{page}"
                    log(f"{site.name}{page} {profile.name}: finding the untouched page's LCP element")
                    index, untouched_first = detect_lcp(browser, url("untouched"), profile, args.detect_loads, failures)
                    hand_file = sides.page_file(roots[site.name, f"hand-{profile.name}"], page)
                    hand_note = "no <img> is the LCP element: the hand-tuned page is assetpipe's output"
                    if index is not None:
                        handtune.write_tuned(hand_file, index)
                        hand_note = f"img {index} made eager + fetchpriority=high"
                    authored_lazy = ({i.index for i in untouched_first.images if i.loading == "lazy"}
                                     if untouched_first else set())
                    loads: dict[str, list[Any]] = {side: [] for side in SIDES}
                    for round_no in range(args.rounds):
                        order = SIDES[round_no % len(SIDES):] + SIDES[:round_no % len(SIDES)]
                        for side in order:
                            done = load(browser, url(side), profile, failures)
                            if done is not None:
                                loads[side].append(done)
                        log(f"  round {round_no + 1}: " + ", ".join(
                            f"{s} {loads[s][-1].lcp_ms:.0f} ms" for s in SIDES if loads[s]))
                    row = {"site": site.name, "page": page, "profile": profile.name, "hydrated": site.hydrated,
                           "untouched_lcp_image": index, "hand": hand_note,
                           "authored_lazy": sorted(authored_lazy),
                           "sides": {s: checks.summarise(v, authored_lazy) for s, v in loads.items() if v}}
                    hand_loads = loads["hand"]
                    if index is not None and hand_loads:
                        row["hand_check"] = hand_loads[0].images[index].fetchpriority == "high"
                    rows.append(row)
                    (raw / f"{site.name}{page.replace('/', '_')}-{profile.name}.json").write_text(
                        json.dumps(row, indent=1, sort_keys=True))
    data = {"schema": 1, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
            "duration_s": round(time.time() - started, 1), "rounds": args.rounds, "chromium": chromium,
            "assetpipe_bin": args.assetpipe_bin, "machine": {"node": platform.node(), "cpus": _cpus(),
                                                              "load_average": _loadavg()},
            "sites": notes, "failures": failures, "rows": rows}
    (results / "vitals.json").write_text(json.dumps(data, indent=1, sort_keys=True))
    table = report.markdown(data)
    (results / "vitals.md").write_text(table)
    print(table)
    return 0


def _cpus() -> int:
    import os
    return os.cpu_count() or 0


def _loadavg() -> list[float]:
    import os
    return [round(x, 2) for x in os.getloadavg()]


if __name__ == "__main__":
    sys.exit(main())
