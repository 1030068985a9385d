#!/usr/bin/env bash
# Does a cold image build's peak memory grow with the number of photos? (issue 17: it must not)
#
# Usage: bash bench/images_growth.sh
# Builds four nested subsets of the corpus photos (every 8th, 4th, 2nd photo, then all 65), each subset
# holding the corpus's five largest photos, so the peak reflects how many photos a build has seen, not
# which large photo it met. One cold run each (fresh copy, fresh cache) under measure.py: the largest
# process's max RSS (exact, from time -v) and the process tree's PSS (sampled). Memory figures barely move
# with other load on the machine, so this does not wait for an idle machine.
# Environment: ASSETPIPE_CORPUS, ASSETPIPE_BENCH_TMP, ASSETPIPE_BENCH_RESULTS, ASSETPIPE_BIN (as images.sh).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
TMPROOT="${TMPDIR:-/tmp}"
CORPUS="${ASSETPIPE_CORPUS:-$TMPROOT/assetpipe-corpus}"
SCRATCH="${ASSETPIPE_BENCH_TMP:-$TMPROOT/assetpipe-bench}/scratch-growth"
RESULTS="${ASSETPIPE_BENCH_RESULTS:-$TMPROOT/assetpipe-bench-results}/images-growth"
AP="${ASSETPIPE_BIN:-$REPO/../venv/bin/assetpipe}"
[ -d "$CORPUS/photos" ] || { echo "no $CORPUS/photos: run ../shared/bench/make-corpus.sh" >&2; exit 2; }
mkdir -p "$SCRATCH" "$RESULTS"
printf '[images]\nvariants_for = ["**"]\n' > "$SCRATCH/variants-for-every-photo.toml"
mapfile -t ALL < <(cd "$CORPUS/photos" && ls | LC_ALL=C sort)
mapfile -t LARGEST < <(cd "$CORPUS/photos" && ls -S | head -5)
for step in 8 4 2 1; do
  set_dir="$SCRATCH/photos-$step"
  rm -rf "$set_dir" "$SCRATCH/cache" && mkdir -p "$set_dir"
  for i in "${!ALL[@]}"; do (( i % step == 0 )) && cp -a "$CORPUS/photos/${ALL[$i]}" "$set_dir/"; done
  for f in "${LARGEST[@]}"; do cp -a "$CORPUS/photos/$f" "$set_dir/"; done
  n=$(ls "$set_dir" | wc -l)
  python3 "$HERE/measure.py" "photos-$n" --out "$RESULTS" --cwd "$SCRATCH" --runs 1 --wait-idle 0 --retries 0 \
    -- "$AP" build "$set_dir" --config "$SCRATCH/variants-for-every-photo.toml" --cache-dir "$SCRATCH/cache" -q --json
done
python3 - "$RESULTS" <<'PY'
import json, pathlib, sys
rows = []
for p in sorted(pathlib.Path(sys.argv[1]).glob("photos-*.json"), key=lambda p: int(p.stem.split("-")[1])):
    run = json.loads(p.read_text())["runs"][-1]
    rows.append((p.stem, run.get("wall_s"), run.get("max_rss_mb"), run.get("tree_pss_mb"),
                 (run.get("summary") or {}).get("encoded")))
print("| photos | wall s | largest process max RSS MB | process tree peak PSS MB | encoded |")
print("|---|---:|---:|---:|---:|")
for r in rows:
    print("| " + " | ".join(str(x) for x in r) + " |")
PY
