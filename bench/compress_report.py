"""Turn the per-row JSON files that compress.sh wrote into compress.json and compress.md.

python compress_report.py RAW_DIR OUT_DIR [--meta KEY=VALUE ...]

Prints the markdown to stdout as well. Only the standard library.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path

# (name, what it measures), in table order
ROWS = [
    ("whitenoise-full", "`python -m whitenoise.compress -q COPY` (its file set, .map included)"),
    ("assetpipe-full", "`assetpipe build COPY` with `[compress] source_maps = true`, empty cache"),
    ("assetpipe-default", "`assetpipe build COPY`, defaults (no .map), empty cache"),
    ("compress-floor-default", "brotli q11 + gzip 9 alone on assetpipe-default's 2,120 files: one thread, in memory"),
    ("assetpipe-ci-one-changed", "fresh copy, {big} +1 line, cache of a default build of the unchanged site"),
    ("assetpipe-ci-one-changed-small", "same, {small} +1 line instead"),
    ("assetpipe-nothing-changed", "second build of a built copy with its cache"),
    ("assetpipe-version", "`assetpipe --version`: interpreter start + CLI import"),
    ("fs-cp-site", "`cp -a` of the site (2,205 files, 27 MB) right after `rm -rf` of the last copy"),
    ("fs-create-4240",
     "Python loop: 4,240 small files (mkstemp + os.replace) next to the text files of a fresh copy"),
    ("fs-create-4240-no-recent-rm",
     "same loop, but no `rm` in the last 60 s (old copies moved aside, deleted at the end)"),
    ("assetpipe-ci-one-changed-no-recent-rm", "CI case ({big}), no `rm` in the last 60 s"),
    ("assetpipe-ci-one-changed-small-no-recent-rm", "CI case ({small}), no `rm` in the last 60 s"),
]
WN = "whitenoise-full"


def sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"error: {e}"


def machine(scratch: str) -> dict:
    dev = sh(f"findmnt -no SOURCE --target '{scratch}' | head -n1")
    name = os.path.basename(dev) if dev else ""
    journal = ""
    if name and os.path.exists(f"/sys/fs/ext4/{name}/journal_task"):
        journal = Path(f"/sys/fs/ext4/{name}/journal_task").read_text().strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p'"),
        "memory": sh("free -g | awk '/^Mem:/{print $2\" GiB\"}'"),
        "kernel": platform.release(),
        "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
        "scratch_fs": sh(f"findmnt -no FSTYPE,OPTIONS --target '{scratch}' | head -n1"),
        "ext4_journal_task": journal or None,
    }


def load_rows(raw: Path) -> dict[str, dict]:
    rows = {}
    for path in sorted(raw.glob("*.json")):
        data = json.loads(path.read_text())
        if "name" in data:
            rows[data["name"]] = data
    return rows


def compare(a: dict, b: dict) -> dict:
    """Bytes of two tools' sidecars, on the originals both compressed, per encoding (a = whitenoise)."""
    out: dict = {}
    pa, pb = a["per_file"], b["per_file"]
    for i, enc in ((1, "br"), (2, "gz")):
        fa = {rel: v for rel, v in pa.items() if v[i] is not None}
        fb = {rel: v for rel, v in pb.items() if v[i] is not None}
        both = sorted(set(fa) & set(fb))
        diffs = sorted(((fb[r][i] - fa[r][i], r) for r in both if fb[r][i] != fa[r][i]), reverse=True)
        out[enc] = {
            "common_files": len(both),
            "common_original_bytes": sum(fa[r][0] for r in both),
            "a_bytes": sum(fa[r][i] for r in both),
            "b_bytes": sum(fb[r][i] for r in both),
            "files_b_larger": sum(1 for d, _ in diffs if d > 0),
            "files_b_smaller": sum(1 for d, _ in diffs if d < 0),
            "b_larger_top": [{"file": r, "a": fa[r][i], "b": fb[r][i], "diff": d} for d, r in diffs[:8] if d > 0],
            "b_smaller_top": [{"file": r, "a": fa[r][i], "b": fb[r][i], "diff": d}
                              for d, r in sorted(diffs)[:8] if d < 0],
            "only_a": _by_ext(set(fa) - set(fb), pa),
            "only_b": _by_ext(set(fb) - set(fa), pb),
        }
    return out


def _by_ext(rels: set[str], per_file: dict) -> dict:
    out: dict[str, dict[str, int]] = {}
    for rel in rels:
        name = rel.rsplit("/", 1)[-1]
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "(none)"
        e = out.setdefault(ext, {"files": 0, "bytes": 0})
        e["files"] += 1
        e["bytes"] += per_file[rel][0]
    return dict(sorted(out.items()))


def fmt_int(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def work_cell(row: dict) -> str:
    runs = [r for r in row.get("runs", []) if "summary" in r]
    if not runs:
        return ""
    s = runs[-1]["summary"]
    if "files_created" in s:
        loops = sorted(r["summary"]["loop_s"] for r in runs)
        mid = loops[len(loops) // 2]
        return (f"{s['files_created']:,} files; loop {mid:.2f} s = {1000 * mid / s['files_created']:.2f} ms/file "
                f"(median; runs {', '.join(f'{x:.2f}' for x in loops)} s)")
    if "brotli_cpu_s" in s:
        return (f"{s['files']:,} files, {s['bytes']:,} B: brotli {s['brotli_cpu_s']:.2f} + gzip {s['gzip_cpu_s']:.2f} "
                f"CPU s; ÷ {s['cores']} cores = {s['ideal_wall_s']:.2f} s ideal wall")
    if "encoded" in s:
        secs = sorted(r["summary"].get("seconds", 0) for r in runs)
        return (f"encoded {s['encoded']}, cache hits {s['cache_hits']}, up to date {s['up_to_date']}, "
                f"written {s['written']}; in-process {secs[len(secs) // 2]:.2f} s")
    return ""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--meta", action="append", default=[])
    a = ap.parse_args()
    meta = dict(kv.split("=", 1) for kv in a.meta)
    rows = load_rows(a.raw)
    wn = rows.get(WN, {}).get("median")
    big, small = meta.get("big_chunk", "?"), meta.get("small_chunk", "?")

    result: dict = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "meta": meta,
        "machine": machine(meta.get("scratch", "/tmp")),
        "rows": {},
        "bytes": {},
        "goals": [],
    }
    md: list[str] = []
    m = result["machine"]
    md.append(f"# assetpipe precompression benchmark ({result['date'][:10]})\n")
    md.append(f"Machine: {m['nproc']} cores, {m['cpu_model']}, {m['memory']}, {m['os']}, kernel {m['kernel']}; "
              f"scratch on {(m['scratch_fs'].split() or ['?'])[0]} (journal: {m['ext4_journal_task'] or 'n/a'}). "
              f"assetpipe {meta.get('assetpipe_version', '?')} (commit {meta.get('git_commit', '?')}"
              f"{' + uncommitted changes in assetpipe/' if meta.get('git_dirty') == '1' else ''}"
              f"{', a snapshot taken at the start of the run' if meta.get('snapshot') == '1' else ''}), "
              f"whitenoise {meta.get('whitenoise_version', '?')}, brotli {meta.get('brotli_version', '?')}, "
              f"Python {platform.python_version()}.\n")
    if meta.get("assetpipe_flags"):
        md.append(f"Every `assetpipe build` here also gets `{meta['assetpipe_flags']}` (precompression only).\n")
    md.append("Every run starts from its own fresh state (prep untimed, then `sync`); medians of 3 runs "
              "(1 run when the first took over 60 s). CPU s = user + sys; CPU % = CPU s / wall; peak RSS "
              "from `/usr/bin/time -v`; other CPU s = CPU the rest of the machine used during the run "
              "(/proc/stat; near 0 when the run had the machine to itself); CPU speed = how fast a fixed zlib "
              "workload ran just before the row's runs, relative to the fastest row of this run (1.00): this VM "
              "reports no steal time, so a busier host shows only there.\n")
    if meta.get("sources_start") != meta.get("sources_end") and meta.get("snapshot") != "1":
        md.append("**Warning: assetpipe's sources changed during this run** (commit "
                  f"{meta.get('git_commit')} at the start, {meta.get('git_commit_end')} at the end); "
                  "rows measured different code.\n")
    calibs = [r["median"]["calib_ms"] for r in rows.values() if (r.get("median") or {}).get("calib_ms")]
    fastest = min(calibs) if calibs else None
    result["fastest_calib_ms"] = fastest
    md.append("| row | what | runs | wall s | wall min-max | CPU s | CPU % | peak RSS MB | other CPU s | CPU speed "
              "| .br files | .br bytes | .gz files | .gz bytes | wall ÷ whitenoise-full | work done |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, what in ROWS:
        row = rows.get(name)
        if row is None:
            continue
        med = row.get("median") or {}
        after = row.get("after") or {}
        entry = {k: row.get(k) for k in ("command", "prep", "cwd", "note", "ok")}
        entry["median"] = med
        entry["runs"] = [{k: v for k, v in r.items() if k != "summary"} | (
            {"summary": {k: v for k, v in r["summary"].items() if k not in ("warnings", "failures")}}
            if isinstance(r.get("summary"), dict) else {}) for r in row.get("runs", [])]
        if after:
            entry["sidecars"] = {k: after[k] for k in ("originals", "br", "gz")}
        ratio = med["wall_s"] / wn["wall_s"] if med and wn and name.startswith(("assetpipe-", "whitenoise-")) \
            and name != "assetpipe-version" else None
        walls = [r["wall_s"] for r in row.get("runs", []) if r.get("exit") == 0]
        speed = round(fastest / med["calib_ms"], 3) if fastest and med.get("calib_ms") else None
        entry["cpu_speed"] = speed
        entry["wall_vs_whitenoise_full"] = round(ratio, 3) if ratio is not None else None
        result["rows"][name] = entry
        br, gz = after.get("br", {}), after.get("gz", {})
        label = what.format(big=f"`{big}`", small=f"`{small}`")
        if not row.get("ok"):
            label += " **(FAILED: see raw JSON)**"
        md.append(f"| {name} | {label} | {med.get('runs', 0)} | {fmt_s(med.get('wall_s'))} | "
                  f"{f'{min(walls):.2f}-{max(walls):.2f}' if len(walls) > 1 else '-'} | "
                  f"{fmt_s(med.get('cpu_s'))} | {med.get('cpu_percent', 0):.1f} | {med.get('max_rss_mb', 0):.0f} | "
                  f"{fmt_s(med.get('other_cpu_s'))} | "
                  f"{f'{speed:.2f}' if speed else '-'} | "
                  f"{fmt_int(br.get('files'))} | {fmt_int(br.get('output_bytes'))} | {fmt_int(gz.get('files'))} | "
                  f"{fmt_int(gz.get('output_bytes'))} | {f'{ratio:.2f}x' if ratio is not None else '-'} | "
                  f"{work_cell(row)} |")

    slow = [n for n, e in result["rows"].items() if e.get("cpu_speed") and e["cpu_speed"] < 0.9]
    if slow:
        md.append(f"\n**Slower CPU during:** {', '.join(slow)} (CPU speed under 0.90: a fixed zlib workload timed "
                  "before each run took over 11 % longer than before the fastest row; the host was busier). "
                  "Their times, and ratios built on them, are skewed.")
    busy = [n for n, _ in ROWS if n in rows and (rows[n].get("median") or {}).get("other_cpu_s", 0)
            > 0.1 * rows[n]["median"]["wall_s"] + 0.5]
    if busy:
        md.append(f"\n**Not alone on the machine:** {', '.join(busy)} (other CPU s over 10 % of the wall time "
                  "+ 0.5 s); their figures, and ratios built on them, are skewed.")

    # ---- bytes, on the originals both tools compressed
    md.append("\n## Bytes on the same original files\n")
    md.append("Sums over the originals for which both tools left that sidecar (`only` = originals just one "
              "tool compressed, by extension).\n")
    md.append("| pair | enc | common originals | original bytes | whitenoise | assetpipe | assetpipe - whitenoise "
              "| files ap larger / smaller | only whitenoise | only assetpipe |")
    md.append("|---|---|---:|---:|---:|---:|---:|---|---|---|")
    for other in ("assetpipe-full", "assetpipe-default"):
        if WN not in rows or other not in rows or "after" not in rows[WN] or "after" not in rows[other]:
            continue
        c = compare(rows[WN]["after"], rows[other]["after"])
        result["bytes"][f"{WN} vs {other}"] = c
        for enc in ("br", "gz"):
            e = c[enc]

            def only(d: dict) -> str:
                return ", ".join(f"{k} {v['files']} ({v['bytes']:,} B)" for k, v in d.items()) or "-"

            md.append(f"| whitenoise-full vs {other} | .{enc} | {e['common_files']:,} | "
                      f"{e['common_original_bytes']:,} | {e['a_bytes']:,} | {e['b_bytes']:,} | "
                      f"{e['b_bytes'] - e['a_bytes']:+,} | {e['files_b_larger']} / {e['files_b_smaller']} | "
                      f"{only(e['only_a'])} | {only(e['only_b'])} |")
    full = result["bytes"].get(f"{WN} vs assetpipe-full")
    if full:
        for enc in ("br", "gz"):
            for key, word in (("b_larger_top", "larger"), ("b_smaller_top", "smaller")):
                items = full[enc][key]
                if items:
                    md.append(f"\nassetpipe-full .{enc} {word} than whitenoise on: " + "; ".join(
                        f"`{x['file']}` {x['b']:,} vs {x['a']:,} ({x['diff']:+,})" for x in items[:5]) + ".")

    # ---- goals
    def med(name: str, key: str = "wall_s") -> float | None:
        return (rows.get(name, {}).get("median") or {}).get(key)

    goals = []
    ap_full, ap_def = med("assetpipe-full"), med("assetpipe-default")
    if wn and ap_full is not None:
        goals.append(("1", "assetpipe-full wall ÷ whitenoise-full", "≤ 1.00x", ap_full / wn["wall_s"],
                      f"{ap_full / wn['wall_s']:.3f}x ({ap_full:.2f} s vs {wn['wall_s']:.2f} s)",
                      ap_full / wn["wall_s"] <= 1.0))
        cpu = med("assetpipe-full", "cpu_percent")
        goals.append(("1", "assetpipe-full CPU %", "≥ 190 %", cpu,
                      f"{cpu:.1f} % (whitenoise {wn['cpu_percent']:.1f} %)", cpu >= 190))
    if full:
        for enc in ("br", "gz"):
            e = full[enc]
            goals.append(("1", f"assetpipe-full .{enc} bytes, common originals", "≤ whitenoise", e["b_bytes"],
                          f"{e['b_bytes']:,} vs {e['a_bytes']:,} ({e['b_bytes'] - e['a_bytes']:+,}; "
                          f"{e['files_b_larger']} files larger)", e["b_bytes"] <= e["a_bytes"]))
    if wn and ap_def is not None:
        floor = [r["summary"] for r in rows.get("compress-floor-default", {}).get("runs", []) if "summary" in r]
        extra = (f"; compression alone ≥ {floor[-1]['ideal_wall_s'] / wn['wall_s']:.2f}x "
                 f"({floor[-1]['ideal_wall_s']:.2f} s)") if floor else ""
        goals.append(("2", "assetpipe-default wall ÷ whitenoise-full", "≤ 0.40x", ap_def / wn["wall_s"],
                      f"{ap_def / wn['wall_s']:.3f}x ({ap_def:.2f} s vs {0.4 * wn['wall_s']:.2f} s allowed{extra})",
                      ap_def / wn["wall_s"] <= 0.4))
    for name, label in (("assetpipe-ci-one-changed", big), ("assetpipe-ci-one-changed-small", small),
                        ("assetpipe-ci-one-changed-no-recent-rm", f"{big}, no recent rm (context only)"),
                        ("assetpipe-ci-one-changed-small-no-recent-rm", f"{small}, no recent rm (context only)")):
        v = med(name)
        if v is not None:
            goals.append(("3", f"CI one changed: {label}", "≤ 1.5 s", v, f"{v:.2f} s", v <= 1.5))
    v = med("assetpipe-nothing-changed")
    if v is not None:
        goals.append(("4", "nothing changed", "≤ 1.0 s", v, f"{v:.2f} s", v <= 1.0))
    md.append("\n## Goals\n")
    md.append("| goal | measure | target | measured | met |")
    md.append("|---|---|---|---|---|")
    for g, what, target, value, text, ok in goals:
        result["goals"].append({"goal": g, "measure": what, "target": target, "value": value, "met": ok})
        md.append(f"| {g} | {what} | {target} | {text} | {'yes' if ok else '**no**'} |")

    md.append("\n## Commands\n")
    for name, _ in ROWS:
        if name in rows:
            md.append(f"- `{name}`: `{rows[name]['command']}` (prep: `{rows[name]['prep']}`)")
    text = "\n".join(md) + "\n"
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "compress.json").write_text(json.dumps(result, indent=1) + "\n")
    (a.out / "compress.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
