#!/usr/bin/env bash
# Minifier benchmark (issue 6): every candidate and assetpipe's minify stage against `esbuild --minify`
# and `lightningcss --minify`, on the same real unminified files, in one run; then lodash-es and three
# run in node before and after assetpipe's minifier.
#
# Usage: bash bench/minify.sh      (RUNS=3 by default; a few minutes on 2 cores)
# Needs the corpus site's node_modules from ../shared/bench/make-corpus.sh. Writes nothing into the
# repository: the venv and npm installs go to $ASSETPIPE_BENCH_TMP (default /tmp/assetpipe-bench),
# results to $ASSETPIPE_BENCH_RESULTS/minify.{md,json} (default /tmp/assetpipe-bench-results).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
TMPROOT="${TMPDIR:-/tmp}"
CORPUS="${ASSETPIPE_CORPUS:-$TMPROOT/assetpipe-corpus}"
BENCH_TMP="${ASSETPIPE_BENCH_TMP:-$TMPROOT/assetpipe-bench}"
RESULTS="${ASSETPIPE_BENCH_RESULTS:-$TMPROOT/assetpipe-bench-results}"
MODULES="$BENCH_TMP/site-src/node_modules"
VENV="$BENCH_TMP/venv-minify"
NPM_DIR="$BENCH_TMP/npm-minify"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ -d "$MODULES/bootstrap" ] || { log "no $MODULES: run 'bash ../shared/bench/make-corpus.sh' first"; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with the candidates"
  python3 -m venv "$VENV"
fi
# Every run, so an older venv gets candidates added since (a no-op when they are there).
"$VENV/bin/pip" install -q "tdewolff-minify==2.24.12" "minify-html==0.18.1" "lightningcss==0.3.2" \
  "rjsmin==1.3.0" "rcssmin==1.3.0" "scour==0.38.2" "pyminifyjs==0.3.0" "minifyjs==0.1.3" \
  click rich brotli zstandard zopfli "tree-sitter>=0.25" "tree-sitter-javascript>=0.25"
if [ ! -x "$NPM_DIR/node_modules/.bin/esbuild" ]; then
  log "installing esbuild and lightningcss (the yardsticks) in $NPM_DIR"
  mkdir -p "$NPM_DIR"
  (cd "$NPM_DIR" && npm init -y >/dev/null && npm install --silent esbuild@0.28.2 lightningcss@1.33.0 lightningcss-cli@1.33.0)
fi
log "CLI check: esbuild $("$NPM_DIR/node_modules/.bin/esbuild" --version), lightningcss-cli $(cd "$NPM_DIR" && node -p 'require("lightningcss-cli/package.json").version')"
log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
PYTHONPATH="$REPO" RUNS="${RUNS:-3}" "$VENV/bin/python" "$HERE/minify_measure.py" "$MODULES" "$CORPUS/site" \
  "$NPM_DIR/node_modules" "$RESULTS"
