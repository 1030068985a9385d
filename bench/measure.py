"""Time one command under /usr/bin/time -v, several times, and save every run and the medians as JSON.

python measure.py NAME --out DIR [--runs auto|N] [--prep SHELL] [--after SHELL] [--cwd DIR] [--note TEXT] -- CMD ARG...

Before each run it waits (up to --wait-idle s) until the machine is idle: other work skews every figure.
--prep    runs through bash before every run (untimed), then `sync`, so each run starts with no dirty
          pages from the previous run or the copy.
--runs    auto (default): one run, two more when it took under 60 s; N: exactly N runs.
--after   runs once after the last run (untimed); its stdout, if JSON, is saved as "after"
          (e.g. sidecars.py counting the .br/.gz the command left).
Each run also records the CPU seconds the rest of the machine used meanwhile (/proc/stat), so a run
that shared the machine with other work is recognised; such a run is discarded and done again
(--retries, default 3; the discarded runs are kept in the JSON).
The command's stdout, if it is one JSON document (assetpipe --json), is saved per run as "summary".
Before each run, a fixed zlib workload times the CPU itself (calib_ms): the report compares rows with it.
Only the standard library: runs under any Python 3.9+.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

METRICS = ("wall_s", "user_s", "sys_s", "cpu_s", "cpu_percent", "max_rss_mb", "tree_pss_mb", "other_cpu_s", "steal_s",
           "calib_ms")
CALIB_DATA = b"".join(b"%d lorem ipsum dolor sit amet, consectetur %x adipiscing elit\n" % (i, i * 2654435761 % 2**32)
                      for i in range(40000))


def calibrate() -> float:
    """CPU milliseconds zlib level 9 takes on a fixed 2.8 MB text (median of 3): how fast the CPU is now.
    This VM's hypervisor reports no steal time, so a slower or shared host shows only here."""
    times = []
    for _ in range(3):
        t0 = time.process_time()
        zlib.compress(CALIB_DATA, 9)
        times.append(time.process_time() - t0)
    return round(1000 * statistics.median(times), 1)
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_times() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat; (0, 0) elsewhere."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / TICK, steal / TICK


def parse_time_v(text: str) -> dict:
    def grab(label: str) -> str | None:
        m = re.search(r"^\s*" + re.escape(label) + r":\s*(.+)$", text, re.M)
        return m.group(1).strip() if m else None

    secs = 0.0
    for part in (grab("Elapsed (wall clock) time (h:mm:ss or m:ss)") or "0:0").split(":"):
        secs = secs * 60 + float(part)
    user = float(grab("User time (seconds)") or 0)
    system = float(grab("System time (seconds)") or 0)
    return {
        "wall_s": round(secs, 3),
        "user_s": user,
        "sys_s": system,
        "cpu_s": round(user + system, 3),
        # computed, not time's "Percent of CPU" (which rounds to whole percent and reads "?%" at 0 s)
        "cpu_percent": round(100 * (user + system) / secs, 1) if secs else 0.0,
        "max_rss_mb": round(int(grab("Maximum resident set size (kbytes)") or 0) / 1024, 1),
        "major_faults": int(grab("Major (requiring I/O) page faults") or 0),
        "fs_outputs": int(grab("File system outputs") or 0),
        "voluntary_switches": int(grab("Voluntary context switches") or 0),
        "involuntary_switches": int(grab("Involuntary context switches") or 0),
    }


def wait_for_idle(limit: float, name: str) -> float:
    """Wait (at most `limit` s) until the machine used under 0.2 CPU s in 1 s; return the seconds waited."""
    waited = 0.0
    while True:
        b0, _ = cpu_times()
        time.sleep(1)
        b1, _ = cpu_times()
        if b1 - b0 < 0.2 or waited >= limit:
            if b1 - b0 >= 0.2:
                print(f"  {name}: machine still busy after {limit:.0f} s, going on", file=sys.stderr, flush=True)
            return waited
        if waited == 0:
            print(f"  {name}: machine busy ({b1 - b0:.2f} CPU s in 1 s), waiting", file=sys.stderr, flush=True)
        time.sleep(4)
        waited += 5


def busy(run: dict) -> bool:
    """The rest of the machine used over 10 % of a core (+0.5 s for kernel writeback) during the run."""
    return run.get("other_cpu_s", 0) > 0.1 * run.get("wall_s", 0) + 0.5


def shell(cmd: str, cwd: str | None, timeout: float) -> str:
    return subprocess.run(["bash", "-c", cmd], check=True, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd).stdout


def group_pss(pgid: int) -> int:
    """Bytes of memory the process group holds: the sum of its processes' proportional set sizes (a
    page shared by n processes counts 1/n in each, so forked workers' shared pages count once)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # after the name: state, ppid, pgrp
                continue
            with open(f"/proc/{entry.name}/smaps_rollup") as f:
                total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))
        except (OSError, IndexError, ValueError, StopIteration):
            continue
    return total


def sample_tree_pss(pgid: int, stop: threading.Event, peak: list[int]) -> None:
    """/usr/bin/time's maximum RSS is that of the largest single process; a command that runs worker
    processes needs their sum, sampled every 0.2 s (a peak shorter than that can be missed)."""
    while not stop.wait(0.2):
        peak[0] = max(peak[0], group_pss(pgid))


def one_run(cmd: list[str], cwd: str | None, timeout: float) -> dict:
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        busy0, steal0 = cpu_times()
        started = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", tf.name, *cmd], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=cwd, start_new_session=True)
        stop, peak = threading.Event(), [0]
        sampler = threading.Thread(target=sample_tree_pss, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return {"exit": "timeout", "wall_s": round(time.perf_counter() - started, 3), "stderr_tail": err[-2000:]}
        finally:
            stop.set()
            sampler.join()
        busy1, steal1 = cpu_times()
        figures = parse_time_v(tf.read())
    figures["tree_pss_mb"] = round(peak[0] / 2**20, 1)  # sampled; time -v's figure is exact per process
    # CPU time the rest of the machine used meanwhile (other processes, the kernel's writeback, the
    # hypervisor's steal): a run with much of it was not alone on the machine.
    figures["other_cpu_s"] = round(max(0.0, busy1 - busy0 - figures["cpu_s"]), 2)
    figures["steal_s"] = round(steal1 - steal0, 2)
    figures["exit"] = proc.returncode
    text = out.strip()
    if text:
        try:
            figures["summary"] = json.loads(text)
        except json.JSONDecodeError:
            figures["stdout_tail"] = text[-2000:]
    if proc.returncode != 0 or err.strip():
        figures["stderr_tail"] = err[-2000:]
    return figures


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--runs", default="auto")
    ap.add_argument("--prep")
    ap.add_argument("--after")
    ap.add_argument("--cwd")
    ap.add_argument("--note", default="")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--wait-idle", type=float, default=float(os.environ.get("WAIT_IDLE", 300)),
                    help="wait up to this many seconds for an idle machine before each run ($WAIT_IDLE, 300)")
    ap.add_argument("--retries", type=int, default=3,
                    help="redo a run that shared the machine with other work, at most this many times (default 3)")
    argv = sys.argv[1:]
    if "--" not in argv:
        ap.error("the command goes after --")
    split = argv.index("--")
    a = ap.parse_args(argv[:split])
    cmd = argv[split + 1:]

    runs: list[dict] = []
    discarded: list[dict] = []
    planned = 1 if a.runs == "auto" else int(a.runs)
    i = 0
    while i < planned:
        waited = wait_for_idle(a.wait_idle, a.name)
        if a.prep:
            shell(a.prep, a.cwd, a.timeout)
        subprocess.run(["sync"], check=True)
        calib = calibrate()
        r = one_run(cmd, a.cwd, a.timeout)
        r["waited_for_idle_s"] = waited
        r["calib_ms"] = calib
        runs.append(r)
        print(f"  {a.name} run {i + 1}: wall {r['wall_s']} s, cpu {r.get('cpu_s')} s ({r.get('cpu_percent')} %), "
              f"max RSS {r.get('max_rss_mb')} MB (process tree PSS {r.get('tree_pss_mb')} MB), "
              f"other CPU {r.get('other_cpu_s')} s, exit {r['exit']}",
              file=sys.stderr, flush=True)
        if r["exit"] != 0:
            print(r.get("stderr_tail", ""), file=sys.stderr)
            break
        if busy(r) and len(discarded) < a.retries:
            print(f"  {a.name} run {i + 1}: not alone on the machine, run again", file=sys.stderr, flush=True)
            discarded.append(runs.pop())
            continue
        if a.runs == "auto" and i == 0 and r["wall_s"] < 60:
            planned = 3
        i += 1

    ok = [r for r in runs if r["exit"] == 0]
    result: dict = {
        "name": a.name,
        "note": a.note,
        "command": " ".join(cmd),
        "cwd": a.cwd,
        "prep": (a.prep + " && sync") if a.prep else "sync",
        "runs": runs,
        "discarded_runs": discarded,
        "ok": bool(runs) and len(ok) == len(runs),
    }
    if ok:
        result["median"] = {k: round(statistics.median(r[k] for r in ok), 3) for k in METRICS}
        result["median"]["runs"] = len(ok)
    if a.after:
        try:
            result["after"] = json.loads(shell(a.after, a.cwd, a.timeout))
        except (subprocess.SubprocessError, json.JSONDecodeError) as e:
            result["after_error"] = str(e)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{a.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
