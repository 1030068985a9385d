#!/usr/bin/env bash
# The web-vitals benchmark of issue 23, one command, run by hand (not in CI):
#
#   bash bench/vitals/run.sh [SITES]        SITES: only the sites whose name contains it (demo, mkdocs,
#                                           nextjs, hydrated-<framework>); default all
#
# Builds the MkDocs-Material and Next.js sites (cached in $ASSETPIPE_BENCH_TMP/vitals), makes the sides
# (eleventy-img's transform, assetpipe build --out, the hand-tuned page), serves them with nginx and loads
# every page at the phone and desktop profiles in headless Chromium (assetpipe.vitals), interleaved.
# Results: $ASSETPIPE_BENCH_RESULTS/vitals.{md,json} and vitals-raw/ (default /tmp/assetpipe-bench-results).
# Environment: ASSETPIPE_BIN (default: assetpipe on PATH, else ../venv/bin/assetpipe), ASSETPIPE_CORPUS,
# ASSETPIPE_BENCH_TMP, ASSETPIPE_BENCH_RESULTS, ASSETPIPE_CHROMIUM, SHARED_BENCH (default ../shared/bench), ROUNDS (default 5), DETECT_LOADS
# (untouched loads that find the LCP element, default 2), PROFILES (default phone,desktop), BENCH_PY
# (default: the python beside ASSETPIPE_BIN, else python3; the measuring side needs only the standard
# library and this checkout's assetpipe/vitals, and brotli when importable, to recompress the hand-tuned page).
set -euo pipefail
unset PYTHONDONTWRITEBYTECODE
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ONLY="${1:-}"
RESULTS="${ASSETPIPE_BENCH_RESULTS:-${TMPDIR:-/tmp}/assetpipe-bench-results}"
ANCHOR="$SHARED_BENCH/anchors/eleventy_transform.sh"
if [ -n "${ASSETPIPE_BIN:-}" ]; then AP="$ASSETPIPE_BIN"
elif command -v assetpipe >/dev/null; then AP="$(command -v assetpipe)"
elif [ -x "$VITALS_REPO/../venv/bin/assetpipe" ]; then AP="$(realpath "$VITALS_REPO/../venv/bin/assetpipe")"
else vdie "no assetpipe: set ASSETPIPE_BIN"; fi
[ -f "$ANCHOR" ] || vdie "no $ANCHOR (the eleventy-img anchor)"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || vdie "no nginx (apt-get install nginx libnginx-mod-http-brotli-static)"
for d in "$VITALS_WORK" "$RESULTS"; do
  case "$(realpath -m "$d")/" in "$VITALS_REPO"/*) vdie "$d is inside the repository; point it elsewhere" ;; esac
done
need_corpus
mkdir -p "$VITALS_WORK/sites" "$RESULTS"
start=$(date +%s)
if [ -z "$ONLY" ] || [[ mkdocs == *"$ONLY"* ]]; then bash "$VITALS_HERE/make_mkdocs.sh" "$VITALS_WORK/sites/mkdocs"; fi
if [ -z "$ONLY" ] || [[ nextjs == *"$ONLY"* ]]; then bash "$VITALS_HERE/make_nextjs.sh" "$VITALS_WORK/sites/nextjs"; fi
BENCH_PY="${BENCH_PY:-$( [ -x "$(dirname "$AP")/python" ] && echo "$(dirname "$AP")/python" || echo python3)}"
vlog "assetpipe: $AP ($("$AP" --version 2>&1))"
PYTHONPATH="$VITALS_REPO${PYTHONPATH:+:$PYTHONPATH}" "$BENCH_PY" "$VITALS_HERE/bench.py" \
  --work "$VITALS_WORK" --results "$RESULTS" --assetpipe-bin "$AP" --repo "$VITALS_REPO" --anchor "$ANCHOR" \
  --rounds "${ROUNDS:-5}" --detect-loads "${DETECT_LOADS:-2}" --profiles "${PROFILES:-phone,desktop}" \
  ${ONLY:+--sites "$ONLY"} ${ASSETPIPE_CHROMIUM:+--chromium "$ASSETPIPE_CHROMIUM"}
vlog "done in $(( $(date +%s) - start )) s: $RESULTS/vitals.md"
