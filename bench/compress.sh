#!/usr/bin/env bash
# Precompression benchmark: assetpipe against whitenoise on the corpus site, side by side in one run.
#
# Usage: bash bench/compress.sh [REGEX]     only the rows whose name matches REGEX (default: all);
#                                           the report then also uses rows left by earlier runs.
#
# Reads the corpus that ../shared/bench/make-corpus.sh built. Writes nothing into the repository:
#   scratch copies and caches  $ASSETPIPE_BENCH_TMP/scratch-compress   (default /tmp/assetpipe-bench/...)
#   results                    $ASSETPIPE_BENCH_RESULTS/compress.{json,md} and compress-raw/*.json
#                              (default /tmp/assetpipe-bench-results)
# Environment: ASSETPIPE_CORPUS, ASSETPIPE_BENCH_TMP, ASSETPIPE_BENCH_RESULTS, ASSETPIPE_BIN (the
# assetpipe executable), WHITENOISE_PY (a Python with whitenoise 6.12), BENCH_PY (Python for the
# helpers, stdlib only), ASSETPIPE_SNAPSHOT (1: run a snapshot of assetpipe/ taken at the start, the
# default; 0: the live sources), ASSETPIPE_FLAGS (extra build flags, default --no-images), RUNS
# (auto = 1 run, 3 when under 60 s; or a number), WAIT_IDLE (seconds to wait for an idle machine before
# the run and before each measured run, default 300). About 6-7 minutes on 2 cores when nothing else runs.
set -euo pipefail
# Measure what users get: Python keeps compiled modules in __pycache__ (a shell that sets
# PYTHONDONTWRITEBYTECODE, as this project's VM does, makes every assetpipe start compile them again).
unset PYTHONDONTWRITEBYTECODE

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
ONLY="${1:-.}"
RUNS="${RUNS:-auto}"
TMPROOT="${TMPDIR:-/tmp}"
CORPUS="${ASSETPIPE_CORPUS:-$TMPROOT/assetpipe-corpus}"
BENCH_TMP="${ASSETPIPE_BENCH_TMP:-$TMPROOT/assetpipe-bench}"
RESULTS="${ASSETPIPE_BENCH_RESULTS:-$TMPROOT/assetpipe-bench-results}"
SCRATCH="$BENCH_TMP/scratch-compress"
RAW="$RESULTS/compress-raw"
SITE="$CORPUS/site"
PY="${BENCH_PY:-python3}"
# Extra flags for every `assetpipe build`: precompression only, as whitenoise does. The image stage
# (on by default) would add the responsive variants of the site's photos to every row.
# ASSETPIPE_FLAGS="" measures the whole default build instead.
read -r -a AP_FLAGS <<< "${ASSETPIPE_FLAGS---no-images}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------------ checks
[ -f "$SITE/.vite/manifest.json" ] || die "no corpus site in $SITE: run 'bash ../shared/bench/make-corpus.sh' first"
mkdir -p "$SCRATCH" "$RAW"
for d in "$SCRATCH" "$RESULTS"; do
  case "$(realpath "$d")/" in "$(realpath "$REPO")"/*) die "$d is inside the repository; point it elsewhere" ;; esac
done

if [ -n "${ASSETPIPE_BIN:-}" ]; then AP="$ASSETPIPE_BIN"
elif command -v assetpipe >/dev/null; then AP="$(command -v assetpipe)"
elif [ -x "$REPO/../venv/bin/assetpipe" ]; then AP="$(realpath "$REPO/../venv/bin/assetpipe")"
else die "no assetpipe executable: set ASSETPIPE_BIN"; fi
AP_PY="$(dirname "$AP")/python"

WN_PY="${WHITENOISE_PY:-$BENCH_TMP/venv/bin/python}"
if ! "$WN_PY" -m whitenoise.compress --help >/dev/null 2>&1; then
  WN_VENV="$BENCH_TMP/venv-whitenoise"
  WN_PY="$WN_VENV/bin/python"
  if ! "$WN_PY" -m whitenoise.compress --help >/dev/null 2>&1; then
    log "creating $WN_VENV with whitenoise 6.12.0 and brotli"
    python3 -m venv "$WN_VENV"
    "$WN_VENV/bin/pip" install --quiet --disable-pip-version-check whitenoise==6.12.0 brotli==1.2.1 >&2
  fi
fi

BIG="$(cd "$SITE/assets" && ls EChartsPanel-*.js | head -n1)"      # the largest JS chunk, ~1.1 MB
SMALL="$(cd "$SITE/assets" && ls main-*.js | head -n1)"            # the entry chunk, ~84 kB
[ -n "$BIG" ] && [ -n "$SMALL" ] || die "EChartsPanel-*.js or main-*.js missing from $SITE/assets"

# ------------------------------------------------------------------ layout
C="$SCRATCH/site"          # the copy every row works on
K="$SCRATCH/cache"         # the cache folder every assetpipe row uses (outside the copy)
BUILT="$SCRATCH/built"     # a copy after one default build ...
WARM="$SCRATCH/warm-cache" # ... and the cache that build left
TRASH="$SCRATCH/trash"     # old copies moved aside by the no-recent-rm rows, deleted at the end
FULL_TOML="$SCRATCH/source-maps.toml"
printf '[compress]\nsource_maps = true\n' > "$FULL_TOML"
# Commands run from $SCRATCH, which holds no assetpipe.toml or pyproject.toml, so only --config counts.
[ ! -e "$SCRATCH/assetpipe.toml" ] && [ ! -e "$SCRATCH/pyproject.toml" ] || die "$SCRATCH holds a config file"

FRESH="rm -rf '$C' && cp -a '$SITE' '$C'"
EMPTY_CACHE="rm -rf '$K'"
WARM_CACHE="rm -rf '$K' && cp -a '$WARM' '$K'"
change() {  # change FILE: append one comment line, different on every run, to assets/FILE of the copy
  printf "printf '\\\\n//# bench change %%s\\\\n' \"\$(date +%%s%%N)\" >> '%s/assets/%s'" "$C" "$1"
}
SIDECARS="'$PY' '$HERE/sidecars.py' '$C'"

measure() {   # measure NAME [measure.py options] -- CMD...
  local name="$1"; shift
  if [[ ! "$name" =~ $ONLY ]]; then return 0; fi
  log "== $name"
  "$PY" "$HERE/measure.py" "$name" --out "$RAW" --cwd "$SCRATCH" --runs "$RUNS" "$@" \
    || log "!! $name failed (see $RAW/$name.json)"
}

# The package may be edited while this runs. So that every row measures the same code, the rows run
# a snapshot of $REPO/assetpipe taken now (in $SCRATCH/src, first on PYTHONPATH; the commands run from
# $SCRATCH, so the repository's copy is not on sys.path). ASSETPIPE_SNAPSHOT=0 runs the live sources.
sources() { (cd "$REPO" && find assetpipe -name '*.py' -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16); }
commit() { git -C "$REPO" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo unknown; }
dirty() { git -C "$REPO" --no-optional-locks diff --quiet HEAD -- assetpipe 2>/dev/null && echo 0 || echo 1; }
SOURCES_START="$(sources)"
COMMIT_START="$(commit)"
DIRTY_START="$(dirty)"
SNAPSHOT="${ASSETPIPE_SNAPSHOT:-1}"
if [ "$SNAPSHOT" = 1 ] && [ -d "$REPO/assetpipe" ]; then
  rm -rf "$SCRATCH/src" && mkdir -p "$SCRATCH/src"
  (cd "$REPO" && tar --exclude=__pycache__ -cf - assetpipe) | tar -xf - -C "$SCRATCH/src"
  "$AP_PY" -m compileall -q "$SCRATCH/src/assetpipe" >/dev/null
  export PYTHONPATH="$SCRATCH/src${PYTHONPATH:+:$PYTHONPATH}"
  got="$(cd "$SCRATCH" && "$AP_PY" -c 'import assetpipe; print(assetpipe.__file__)')"
  case "$got" in "$SCRATCH/src/"*) ;; *) die "the snapshot is not what assetpipe imports ($got)" ;; esac
else
  SNAPSHOT=0
fi

# Other work on the machine (a test suite, a build) skews every figure: wait up to WAIT_IDLE seconds
# (default 300) for a quiet machine, i.e. under 0.15 CPU s used in 3 s, then go on with a warning.
busy3() {
  "$PY" -c 'import os, time
def busy():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v[i] for i in (0, 1, 2, 5, 6, 7)) / os.sysconf("SC_CLK_TCK")
b = busy(); time.sleep(3); print(round(busy() - b, 2))'
}
waited=0
while :; do
  b="$(busy3)"
  if awk -v b="$b" 'BEGIN{exit !(b < 0.15)}'; then break; fi
  if [ "$waited" -ge "${WAIT_IDLE:-300}" ]; then log "!! the machine is busy ($b CPU s in 3 s); figures will be noisy"; break; fi
  [ "$waited" -eq 0 ] && log "the machine is busy ($b CPU s in 3 s): waiting up to ${WAIT_IDLE:-300} s for it to be idle"
  sleep 7; waited=$((waited + 10))
done

log "corpus $SITE; assetpipe $AP; whitenoise python $WN_PY; results $RESULTS"
if [ "$ONLY" = "." ]; then rm -f "$RAW"/*.json; fi
rm -rf "$TRASH"

# ------------------------------------------------------------------ 1-3: full builds from nothing
measure whitenoise-full --prep "$FRESH" --after "$SIDECARS" \
  -- "$WN_PY" -m whitenoise.compress -q "$C"
measure assetpipe-full --prep "$FRESH && $EMPTY_CACHE" --after "$SIDECARS" \
  -- "$AP" build "$C" -q --json "${AP_FLAGS[@]}" --cache-dir "$K" --config "$FULL_TOML"
measure assetpipe-default --prep "$FRESH && $EMPTY_CACHE" --after "$SIDECARS" \
  -- "$AP" build "$C" -q --json "${AP_FLAGS[@]}" --cache-dir "$K"
# What brotli q11 + gzip 9 alone cost for assetpipe-default's file set (one thread, in memory, no I/O):
# CPU / cores is the lower bound for the assetpipe-default wall time on this machine.
measure compress-floor-default --runs 1 -- "$AP_PY" "$HERE/compress_floor.py" "$SITE"

# ------------------------------------------------------------------ 4-5: incremental builds
if [[ "assetpipe-ci-one-changed assetpipe-ci-one-changed-small assetpipe-nothing-changed assetpipe-ci-one-changed-no-recent-rm assetpipe-ci-one-changed-small-no-recent-rm" =~ $ONLY ]]; then
  log "preparing the warm cache: one default build of the unchanged site (untimed)"
  rm -rf "$BUILT" "$WARM" && cp -a "$SITE" "$BUILT"
  (cd "$SCRATCH" && "$AP" build "$BUILT" -q "${AP_FLAGS[@]}" --cache-dir "$WARM")
fi
# CI: a fresh copy (no sidecars, as after `vite build`) with one chunk changed, the cache as the
# previous default build of the unchanged site left it.
measure assetpipe-ci-one-changed --prep "$FRESH && $(change "$BIG") && $WARM_CACHE" --note "changed: assets/$BIG" \
  -- "$AP" build "$C" -q --json "${AP_FLAGS[@]}" --cache-dir "$K"
measure assetpipe-ci-one-changed-small --prep "$FRESH && $(change "$SMALL") && $WARM_CACHE" --note "changed: assets/$SMALL" \
  -- "$AP" build "$C" -q --json "${AP_FLAGS[@]}" --cache-dir "$K"
# Nothing changed: the built copy and its cache, built again.
measure assetpipe-nothing-changed --prep "rm -rf '$C' && cp -a '$BUILT' '$C' && $WARM_CACHE" \
  -- "$AP" build "$C" -q --json "${AP_FLAGS[@]}" --cache-dir "$K"
measure assetpipe-version --runs 3 -- "$AP" --version

# ------------------------------------------------------------------ 6: the file-system floor
measure fs-cp-site --prep "rm -rf '$C'" -- cp -a "$SITE" "$C"
measure fs-create-4240 --prep "$FRESH" -- "$PY" "$HERE/fs_floor.py" "$C"

# ------------------------------------------------------------------ context: no recent deletes
# This VM's ext4 has no journal, and then ext4 skips inodes freed in the last 60 s when it allocates
# new ones (ialloc.c: recently_deleted), which makes every file created soon after an `rm -rf` of
# thousands of files cost more. The rows above all pay it (their prep deletes the last copy); these
# three move old copies aside instead and start 65 s after the last delete.
if [[ "fs-create-4240-no-recent-rm assetpipe-ci-one-changed-no-recent-rm assetpipe-ci-one-changed-small-no-recent-rm" =~ $ONLY ]]; then
  mkdir -p "$TRASH"
  log "waiting 65 s so no inode freed by the rows above counts as recently deleted"
  sync; sleep 65
fi
ASIDE="{ [ ! -e '$C' ] || mv '$C' '$TRASH/site-'\$(date +%s%N); } && { [ ! -e '$K' ] || mv '$K' '$TRASH/cache-'\$(date +%s%N); }"
measure fs-create-4240-no-recent-rm --prep "$ASIDE && cp -a '$SITE' '$C'" \
  -- "$PY" "$HERE/fs_floor.py" "$C"
measure assetpipe-ci-one-changed-no-recent-rm --prep "$ASIDE && cp -a '$SITE' '$C' && $(change "$BIG") && cp -a '$WARM' '$K'" \
  --note "changed: assets/$BIG" -- "$AP" build "$C" -q --json "${AP_FLAGS[@]}" --cache-dir "$K"
measure assetpipe-ci-one-changed-small-no-recent-rm --prep "$ASIDE && cp -a '$SITE' '$C' && $(change "$SMALL") && cp -a '$WARM' '$K'" \
  --note "changed: assets/$SMALL" -- "$AP" build "$C" -q --json "${AP_FLAGS[@]}" --cache-dir "$K"
rm -rf "$TRASH"

# ------------------------------------------------------------------ report
SOURCES_END="$(sources)"
if [ "$SOURCES_START" != "$SOURCES_END" ]; then
  if [ "$SNAPSHOT" = 1 ]; then log "note: the repository's assetpipe/ changed during the run ($COMMIT_START -> $(commit)); every row ran the snapshot of $COMMIT_START"
  else log "!! assetpipe's sources changed during the run ($COMMIT_START -> $(commit)): rows measured different code"; fi
fi
"$PY" "$HERE/compress_report.py" "$RAW" "$RESULTS" \
  --meta "big_chunk=$BIG" --meta "small_chunk=$SMALL" --meta "scratch=$SCRATCH" \
  --meta "assetpipe_version=$("$AP" --version 2>/dev/null | awk '{print $NF}')" \
  --meta "whitenoise_version=$("$WN_PY" -c 'import importlib.metadata as m; print(m.version("whitenoise"))')" \
  --meta "brotli_version=$("$AP_PY" -c 'import importlib.metadata as m; print(m.version("brotli"))' 2>/dev/null || echo '?')" \
  --meta "assetpipe_flags=${AP_FLAGS[*]}" --meta "git_commit=$COMMIT_START" --meta "git_dirty=$DIRTY_START" \
  --meta "git_commit_end=$(commit)" --meta "snapshot=$SNAPSHOT" \
  --meta "sources_start=$SOURCES_START" --meta "sources_end=$SOURCES_END"
log "done: $RESULTS/compress.md and compress.json"
